/* reader.c: streams records out of a JSON Lines file or a JSON array, through
 * gzip or zstd if the magic bytes say so (see reader.h). Cost: one memchr per
 * JSON Lines record; arrays are scanned byte by byte for element bounds.
 * Memory: a window as large as the longest record, plus the raw read buffer. */
#include "ingest/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "util/sha256.h"
#include "util/util.h"

#define RAW_CHUNK (1u << 20)

static size_t max_record = AV_INPUT_MAX_RECORD;

void av_input_tune_max_record(size_t n)
{
    max_record = n ? n : AV_INPUT_MAX_RECORD;
}

enum { COMP_NONE, COMP_GZ, COMP_ZST };
enum { M_UNKNOWN, M_LINES, M_ARRAY, M_DONE };
enum { A_ELEM_OR_END, A_ELEM, A_AFTER };

struct av_input {
    int fd, own_fd;
    uint64_t size, raw_bytes;
    av_sha256 sha;
    int comp;
    z_stream z;
    int z_live;
    ZSTD_DStream *zd;
    size_t zhint;       /* last ZSTD_decompressStream result: 0 = frame complete */
    unsigned char *raw; /* compressed bytes read ahead */
    size_t raw_len, raw_pos;
    int raw_eof;
    char *buf; /* decompressed window [start, end) */
    size_t cap, start, end;
    int eof; /* no more decompressed data */
    int mode, astate;
    uint64_t line, index;
    char err[256];
    uint64_t err_line;
};

static int set_err(av_input *in, uint64_t line, const char *msg)
{
    snprintf(in->err, sizeof in->err, "%s", msg);
    in->err_line = line;
    return -1;
}

static int too_long(av_input *in)
{
    char m[120];
    if (max_record % (1u << 20) == 0)
        snprintf(m, sizeof m, "a row longer than %zu MiB (the reader's limit)", max_record >> 20);
    else
        snprintf(m, sizeof m, "a row longer than %zu bytes (the reader's limit)", max_record);
    in->err_line = in->line;
    snprintf(in->err, sizeof in->err, "%s", m);
    return -1;
}

/* Reads up to cap bytes of the file into dst, hashing and counting them:
 * the number read, 0 at its end (raw_eof set), -1 on an error. */
static ssize_t read_file(av_input *in, void *dst, size_t cap)
{
    ssize_t r;
    do r = read(in->fd, dst, cap);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        char m[200];
        snprintf(m, sizeof m, "read error: %s", strerror(errno));
        return set_err(in, in->line, m);
    }
    if (r == 0) {
        in->raw_eof = 1;
        return 0;
    }
    av_sha256_update(&in->sha, dst, (size_t)r);
    in->raw_bytes += (uint64_t)r;
    return r;
}

static int raw_read(av_input *in)
{
    if (in->raw_eof) return 0;
    if (in->raw_pos < in->raw_len) return 1;
    ssize_t r = read_file(in, in->raw, RAW_CHUNK);
    if (r <= 0) return (int)r;
    in->raw_len = (size_t)r;
    in->raw_pos = 0;
    return 1;
}

int av_input_open(av_input **out, const char *path, char **err)
{
    *out = NULL;
    av_input *in = av_xcalloc(1, sizeof *in);
    if (!strcmp(path, "-")) {
        in->fd = 0;
    } else {
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (in->fd < 0) {
            av_buf b = AV_BUF_INIT;
            av_buf_printf(&b, "cannot open '%s': %s", path, strerror(errno));
            *err = av_buf_detach(&b);
            free(in);
            return -1;
        }
        in->own_fd = 1;
    }
    struct stat st;
    if (fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode)) in->size = (uint64_t)st.st_size;
    if (!in->size && in->own_fd && fstat(in->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        av_buf b = AV_BUF_INIT;
        av_buf_printf(&b, "cannot read '%s': it is a directory", path);
        *err = av_buf_detach(&b);
        close(in->fd);
        free(in);
        return -1;
    }
    av_sha256_init(&in->sha);
    in->raw = av_xmalloc(RAW_CHUNK);
    in->cap = 2 * RAW_CHUNK;
    in->buf = av_xmalloc(in->cap + 1);
    in->line = 1;
    if (raw_read(in) < 0) {
        *err = av_xstrdup(in->err);
        av_input_close(in);
        return -1;
    }
    const unsigned char *r = in->raw;
    if (in->raw_len >= 2 && r[0] == 0x1f && r[1] == 0x8b) {
        in->comp = COMP_GZ;
        if (inflateInit2(&in->z, 15 + 32) != Z_OK) {
            *err = av_xstrdup("cannot start the gzip decoder");
            av_input_close(in);
            return -1;
        }
        in->z_live = 1;
    } else if (in->raw_len >= 4 && r[0] == 0x28 && r[1] == 0xb5 && r[2] == 0x2f && r[3] == 0xfd) {
        in->comp = COMP_ZST;
        in->zd = ZSTD_createDStream();
        if (!in->zd || ZSTD_isError(ZSTD_initDStream(in->zd))) {
            *err = av_xstrdup("cannot start the zstd decoder");
            av_input_close(in);
            return -1;
        }
    }
    *out = in;
    return 0;
}

void av_input_close(av_input *in)
{
    if (!in) return;
    if (in->z_live) inflateEnd(&in->z);
    ZSTD_freeDStream(in->zd);
    if (in->own_fd) close(in->fd);
    free(in->raw);
    free(in->buf);
    free(in);
}

/* Makes room at the end of the window, keeping [start, end). */
static int make_room(av_input *in)
{
    if (in->start > 0 && (in->end == in->cap || in->start >= in->cap / 2)) {
        memmove(in->buf, in->buf + in->start, in->end - in->start);
        in->end -= in->start;
        in->start = 0;
    }
    if (in->end == in->cap) {
        if (in->end - in->start > max_record) return too_long(in);
        in->cap *= 2;
        in->buf = av_xrealloc(in->buf, in->cap + 1);
    }
    return 0;
}

/* Appends decompressed bytes to the window: >0 added, 0 at the end, -1 error. */
static int fill(av_input *in)
{
    if (in->eof) return 0;
    if (make_room(in)) return -1;
    if (in->comp == COMP_NONE && in->raw_pos >= in->raw_len && !in->raw_eof) {
        /* plain input, read ahead all used: read straight into the window
         * (one copy of every byte fewer) */
        ssize_t r = read_file(in, in->buf + in->end, in->cap - in->end);
        if (r <= 0) {
            if (r == 0) in->eof = 1;
            return (int)r;
        }
        in->end += (size_t)r;
        return 1;
    }
    for (;;) {
        int rr = raw_read(in);
        if (rr < 0) return -1;
        size_t room = in->cap - in->end;
        if (in->comp == COMP_NONE) {
            if (!rr) {
                in->eof = 1;
                return 0;
            }
            size_t take = in->raw_len - in->raw_pos < room ? in->raw_len - in->raw_pos : room;
            memcpy(in->buf + in->end, in->raw + in->raw_pos, take);
            in->raw_pos += take;
            in->end += take;
            return 1;
        }
        if (in->comp == COMP_GZ) {
            if (!rr) {
                if (in->z_live == 2) { /* a member ended exactly at EOF */
                    in->eof = 1;
                    return 0;
                }
                return set_err(in, in->line, "truncated gzip data (the file ends inside the stream)");
            }
            if (in->z_live == 2) {
                inflateReset(&in->z); /* another gzip member follows */
                in->z_live = 1;
            }
            in->z.next_in = in->raw + in->raw_pos;
            in->z.avail_in = (uInt)(in->raw_len - in->raw_pos);
            in->z.next_out = (Bytef *)in->buf + in->end;
            in->z.avail_out = (uInt)room;
            int zr = inflate(&in->z, Z_NO_FLUSH);
            size_t made = room - in->z.avail_out;
            in->raw_pos = in->raw_len - in->z.avail_in;
            in->end += made;
            if (zr == Z_STREAM_END) {
                in->z_live = 2;
            } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
                char m[200];
                snprintf(m, sizeof m, "corrupt gzip data: %s", in->z.msg ? in->z.msg : "inflate failed");
                return set_err(in, in->line, m);
            }
            if (made) return 1;
            continue;
        }
        /* zstd */
        if (!rr) {
            if (in->zhint == 0) {
                in->eof = 1;
                return 0;
            }
            /* flush what the decoder still holds */
            ZSTD_inBuffer zi = {in->raw, 0, 0};
            ZSTD_outBuffer zo = {in->buf + in->end, room, 0};
            size_t zr = ZSTD_decompressStream(in->zd, &zo, &zi);
            if (!ZSTD_isError(zr) && zo.pos) {
                in->zhint = zr;
                in->end += zo.pos;
                return 1;
            }
            return set_err(in, in->line, "truncated zstd data (the file ends inside a frame)");
        }
        ZSTD_inBuffer zi = {in->raw, in->raw_len, in->raw_pos};
        ZSTD_outBuffer zo = {in->buf + in->end, room, 0};
        size_t zr = ZSTD_decompressStream(in->zd, &zo, &zi);
        if (ZSTD_isError(zr)) {
            char m[200];
            snprintf(m, sizeof m, "corrupt zstd data: %s", ZSTD_getErrorName(zr));
            return set_err(in, in->line, m);
        }
        in->zhint = zr;
        in->raw_pos = zi.pos;
        in->end += zo.pos;
        if (zo.pos) return 1;
    }
}

static int is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Skips whitespace (and a UTF-8 BOM at the very start); returns the next
 * byte, or -1 at the end, -2 on error. */
static int peek_nonws(av_input *in, int bom)
{
    for (;;) {
        while (in->start < in->end) {
            char c = in->buf[in->start];
            if (bom && in->end - in->start >= 3 && !memcmp(in->buf + in->start, "\xEF\xBB\xBF", 3)) {
                in->start += 3;
                bom = 0;
                continue;
            }
            bom = 0;
            if (!is_ws(c)) return (unsigned char)c;
            if (c == '\n') in->line++;
            in->start++;
        }
        int f = fill(in);
        if (f < 0) return -2;
        if (f == 0) return -1;
    }
}

static int next_line(av_input *in, av_inrec *out)
{
    size_t scanned = in->start;
    for (;;) {
        char *nl = memchr(in->buf + scanned, '\n', in->end - scanned);
        size_t stop;
        int last = 0;
        if (!nl) {
            size_t keep_off = scanned - in->start;
            int f = fill(in);
            if (f < 0) return -1;
            scanned = in->start + keep_off;
            if (f > 0) {
                if (in->end - in->start > max_record) return too_long(in);
                continue;
            }
            if (in->start == in->end) return 0;
            stop = in->end;
            last = 1;
        } else {
            stop = (size_t)(nl - in->buf);
        }
        size_t b = in->start, e = stop;
        uint64_t line = in->line++;
        in->start = last ? stop : stop + 1;
        scanned = in->start;
        while (b < e && is_ws(in->buf[b])) b++;
        while (e > b && is_ws(in->buf[e - 1])) e--;
        if (b == e) continue; /* blank line */
        out->p = in->buf + b;
        out->n = e - b;
        out->line = line;
        out->index = line;
        return 1;
    }
}

static int next_elem(av_input *in, av_inrec *out)
{
    for (;;) {
        int c = peek_nonws(in, 0);
        if (c == -2) return -1;
        if (in->astate == A_AFTER) {
            if (c == -1) return set_err(in, in->line, "unterminated JSON array (the input ends before ']')");
            in->start++;
            if (c == ',') {
                in->astate = A_ELEM;
                continue;
            }
            if (c == ']') {
                in->mode = M_DONE;
                c = peek_nonws(in, 0);
                if (c == -2) return -1;
                if (c != -1) return set_err(in, in->line, "unexpected data after the JSON array");
                return 0;
            }
            return set_err(in, in->line, "expected ',' or ']' between array elements");
        }
        if (c == -1) return set_err(in, in->line, "unterminated JSON array (the input ends before ']')");
        if (c == ']') {
            if (in->astate == A_ELEM) return set_err(in, in->line, "trailing comma in the JSON array");
            in->start++;
            in->mode = M_DONE;
            c = peek_nonws(in, 0);
            if (c == -2) return -1;
            if (c != -1) return set_err(in, in->line, "unexpected data after the JSON array");
            return 0;
        }
        /* an element: find where it ends at depth 0 */
        uint64_t line0 = in->line, nls = 0;
        size_t pos = in->start;
        int depth = 0, str = 0;
        for (;;) {
            if (pos == in->end) {
                size_t off = pos - in->start;
                int f = fill(in);
                if (f < 0) return -1;
                if (f == 0) return set_err(in, line0 + nls, "unterminated JSON array (the input ends inside an element)");
                pos = in->start + off;
                continue;
            }
            char ch = in->buf[pos];
            if (ch == '\n') nls++;
            if (str) {
                if (ch == '\\') {
                    if (pos + 1 == in->end) {
                        size_t off = pos - in->start;
                        int f = fill(in);
                        if (f < 0) return -1;
                        pos = in->start + off;
                        if (f == 0) continue;
                    }
                    pos += 2;
                    continue;
                }
                if (ch == '"') str = 0;
            } else if (ch == '"') {
                str = 1;
            } else if (ch == '{' || ch == '[') {
                depth++;
            } else if (ch == '}' || ch == ']') {
                if (depth == 0) break;
                depth--;
            } else if (ch == ',' && depth == 0) {
                break;
            }
            pos++;
        }
        size_t b = in->start, e = pos;
        while (e > b && is_ws(in->buf[e - 1])) e--;
        if (e == b) return set_err(in, line0 + nls, "a JSON array element is missing (two commas in a row)");
        in->start = pos;
        in->line = line0 + nls;
        in->astate = A_AFTER;
        out->p = in->buf + b;
        out->n = e - b;
        out->line = line0;
        out->index = ++in->index;
        return 1;
    }
}

int av_input_next(av_input *in, av_inrec *out)
{
    if (in->err[0]) return -1;
    if (in->mode == M_UNKNOWN) {
        int c = peek_nonws(in, 1);
        if (c == -2) return -1;
        if (c == -1) {
            in->mode = M_DONE;
            return 0;
        }
        if (c == '[') {
            in->mode = M_ARRAY;
            in->astate = A_ELEM_OR_END;
            in->start++;
        } else {
            in->mode = M_LINES;
        }
    }
    if (in->mode == M_DONE) {
        /* drain so the hash covers the whole file */
        while (raw_read(in) > 0) in->raw_pos = in->raw_len;
        return 0;
    }
    int r = in->mode == M_LINES ? next_line(in, out) : next_elem(in, out);
    if (r == 0 && in->mode == M_LINES) in->mode = M_DONE;
    if (r == 0) {
        while (raw_read(in) > 0) in->raw_pos = in->raw_len;
    }
    return r;
}

const char *av_input_error(const av_input *in) { return in->err; }
uint64_t av_input_error_line(const av_input *in) { return in->err_line; }
int av_input_is_array(const av_input *in) { return in->mode == M_ARRAY || (in->mode == M_DONE && in->index > 0 && in->astate); }
const char *av_input_compression(const av_input *in)
{
    return in->comp == COMP_GZ ? "gzip" : in->comp == COMP_ZST ? "zstd" : "none";
}
uint64_t av_input_raw_bytes(const av_input *in) { return in->raw_bytes; }
uint64_t av_input_size(const av_input *in) { return in->size; }

void av_input_sha256(av_input *in, char out[65])
{
    av_sha256 c = in->sha;
    av_sha256_final_hex(&c, out);
}
