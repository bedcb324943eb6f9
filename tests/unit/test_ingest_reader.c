/* test_ingest_reader.c: the record reader: JSON Lines (blank lines, CRLF, no
 * final newline, a BOM), JSON arrays (commas and brackets inside strings,
 * line numbers, elements across read buffers), gzip (several members) and
 * zstd through their magic bytes, the SHA-256 of the raw file, and the errors
 * that end a file (truncated gzip/zstd, unterminated array, trailing data). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "ingest/reader.h"
#include "util/sha256.h"
#include "tap.h"
#include "util/util.h"

static char path[512];

static const char *write_file(const char *name, const void *data, size_t n)
{
    snprintf(path, sizeof path, "%s/%s", tap_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
    return path;
}

/* Reads every record; fills out with "index@line:text|" and returns the
 * av_input_next result that ended it (0 or -1). */
static int read_all(const char *p, av_buf *out, char *err, size_t errcap)
{
    av_input *in;
    char *e = NULL;
    if (av_input_open(&in, p, &e) < 0) {
        snprintf(err, errcap, "%s", e);
        free(e);
        return -2;
    }
    av_inrec r;
    int rc;
    while ((rc = av_input_next(in, &r)) == 1)
        av_buf_printf(out, "%llu@%llu:%.*s|", (unsigned long long)r.index, (unsigned long long)r.line, (int)r.n, r.p);
    if (rc < 0) snprintf(err, errcap, "%llu: %s", (unsigned long long)av_input_error_line(in), av_input_error(in));
    av_input_close(in);
    return rc;
}

static void test_ingest_reader__json_lines(void)
{
    const char text[] = "\xEF\xBB\xBF{\"a\":1}\r\n\n   \n{\"b\":2}\n{\"c\":3}";
    av_buf b = AV_BUF_INIT;
    char err[300] = "";
    CHECK_EQ_INT(read_all(write_file("l.jsonl", text, sizeof text - 1), &b, err, sizeof err), 0);
    CHECK_EQ_STR(b.ptr, "1@1:{\"a\":1}|4@4:{\"b\":2}|5@5:{\"c\":3}|");
    av_buf_free(&b);
}

static void test_ingest_reader__arrays(void)
{
    const char text[] = "[\n  {\"a\": \"x, ] } [ \\\" y\"},\n  {\"b\": [1, {\"c\": 2}]}\n  ,\"s\" , 3\n]\n";
    av_buf b = AV_BUF_INIT;
    char err[300] = "";
    CHECK_EQ_INT(read_all(write_file("a.json", text, sizeof text - 1), &b, err, sizeof err), 0);
    CHECK_EQ_STR(b.ptr, "1@2:{\"a\": \"x, ] } [ \\\" y\"}|2@3:{\"b\": [1, {\"c\": 2}]}|3@4:\"s\"|4@4:3|");
    av_buf_reset(&b);
    CHECK_EQ_INT(read_all(write_file("e.json", "[ ]", 3), &b, err, sizeof err), 0);
    CHECK_EQ_INT(b.len, 0);
    CHECK_EQ_INT(read_all(write_file("u.json", "[{\"a\":1},\n{\"b\":", 15), &b, err, sizeof err), -1);
    CHECK(strstr(err, "2: unterminated JSON array") != NULL);
    CHECK_EQ_INT(read_all(write_file("t.json", "[1] x", 5), &b, err, sizeof err), -1);
    CHECK(strstr(err, "unexpected data after the JSON array") != NULL);
    CHECK_EQ_INT(read_all(write_file("c.json", "[1,]", 4), &b, err, sizeof err), -1);
    CHECK(strstr(err, "trailing comma") != NULL);
    CHECK_EQ_INT(read_all(write_file("cc.json", "[1,\n, 2]", 8), &b, err, sizeof err), -1);
    CHECK(strstr(err, "2: a JSON array element is missing") != NULL);
    /* a big array: elements cross the 1 MiB read buffer */
    av_buf big = AV_BUF_INIT;
    av_buf_putc(&big, '[');
    for (int i = 0; i < 30000; i++) av_buf_printf(&big, "%s{\"i\": %d, \"pad\": \"%0100d\"}", i ? ",\n" : "", i, i);
    av_buf_puts(&big, "]");
    av_input *in;
    char *e = NULL;
    CHECK_EQ_INT(av_input_open(&in, write_file("big.json", big.ptr, big.len), &e), 0);
    av_inrec r;
    int n = 0, ok = 1;
    while (av_input_next(in, &r) == 1) {
        char want[200];
        snprintf(want, sizeof want, "{\"i\": %d, \"pad\": \"%0100d\"}", n, n);
        if (r.n != strlen(want) || memcmp(r.p, want, r.n) || r.line != (uint64_t)n + 1) ok = 0;
        n++;
    }
    CHECK_EQ_INT(n, 30000);
    CHECK(ok);
    CHECK(av_input_is_array(in));
    av_input_close(in);
    av_buf_free(&big);
    av_buf_free(&b);
}

static void test_ingest_reader__gzip_and_zstd(void)
{
    const char a[] = "{\"a\":1}\n", c[] = "{\"c\":3}\n";
    /* two gzip members back to back */
    av_buf gz = AV_BUF_INIT;
    for (int m = 0; m < 2; m++) {
        z_stream z = {0};
        deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        unsigned char out[256];
        z.next_in = (Bytef *)(m ? c : a);
        z.avail_in = 8;
        z.next_out = out;
        z.avail_out = sizeof out;
        deflate(&z, Z_FINISH);
        av_buf_put(&gz, out, sizeof out - z.avail_out);
        deflateEnd(&z);
    }
    av_buf b = AV_BUF_INIT;
    char err[300] = "";
    CHECK_EQ_INT(read_all(write_file("x.jsonl.gz", gz.ptr, gz.len), &b, err, sizeof err), 0);
    CHECK_EQ_STR(b.ptr, "1@1:{\"a\":1}|2@2:{\"c\":3}|");
    av_buf_reset(&b);
    CHECK_EQ_INT(read_all(write_file("cut.gz", gz.ptr, gz.len / 2 - 4), &b, err, sizeof err), -1);
    CHECK(strstr(err, "truncated gzip data") != NULL);

    av_buf text = AV_BUF_INIT;
    for (int i = 0; i < 5000; i++) av_buf_printf(&text, "{\"n\": %d}\n", i);
    size_t cap = ZSTD_compressBound(text.len);
    char *zs = malloc(cap);
    size_t zn = ZSTD_compress(zs, cap, text.ptr, text.len, 3);
    CHECK(!ZSTD_isError(zn));
    av_input *in;
    char *e = NULL;
    CHECK_EQ_INT(av_input_open(&in, write_file("x.jsonl.zst", zs, zn), &e), 0);
    CHECK_EQ_STR(av_input_compression(in), "zstd");
    av_inrec r;
    int n = 0;
    while (av_input_next(in, &r) == 1) n++;
    CHECK_EQ_INT(n, 5000);
    /* the hash is of the file as it is on disk */
    char h1[65], h2[65];
    av_input_sha256(in, h1);
    av_sha256 s;
    av_sha256_init(&s);
    av_sha256_update(&s, zs, zn);
    av_sha256_final_hex(&s, h2);
    CHECK_EQ_STR(h1, h2);
    av_input_close(in);
    CHECK_EQ_INT(read_all(write_file("cut.zst", zs, zn - 10), &b, err, sizeof err), -1);
    CHECK(strstr(err, "truncated zstd data") != NULL);
    free(zs);
    av_buf_free(&text);
    av_buf_free(&gz);
    av_buf_free(&b);
}

static void test_ingest_reader__sha256_vectors(void)
{
    char h[65];
    av_sha256 s;
    av_sha256_init(&s);
    av_sha256_final_hex(&s, h);
    CHECK_EQ_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    av_sha256_init(&s);
    av_sha256_update(&s, "abc", 3);
    av_sha256_final_hex(&s, h);
    CHECK_EQ_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    av_sha256_hex(h, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56);
    CHECK_EQ_STR(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* 1,000,000 x 'a', fed in uneven pieces */
    char *m = malloc(1000000);
    memset(m, 'a', 1000000);
    av_sha256_init(&s);
    for (size_t off = 0, step = 1; off < 1000000; off += step, step = step * 3 % 1000 + 1)
        av_sha256_update(&s, m + off, off + step > 1000000 ? 1000000 - off : step);
    av_sha256_final_hex(&s, h);
    CHECK_EQ_STR(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(m);
}

static void test_ingest_reader__missing_file(void)
{
    av_input *in;
    char *e = NULL;
    CHECK_EQ_INT(av_input_open(&in, "/nonexistent/x.jsonl", &e), -1);
    CHECK(e && strstr(e, "cannot open '/nonexistent/x.jsonl'"));
    free(e);
    av_buf b = AV_BUF_INIT;
    char err[300] = "";
    CHECK_EQ_INT(read_all(write_file("empty.jsonl", "", 0), &b, err, sizeof err), 0);
    CHECK_EQ_INT(b.len, 0);
    av_buf_free(&b);
}

/* rows past the limit are an error that names it, in lines and in arrays */
static void test_ingest_reader__row_too_long(void)
{
    av_input_tune_max_record(4000);
    av_buf text = AV_BUF_INIT, b = AV_BUF_INIT;
    char err[300] = "";
    av_buf_puts(&text, "{\"a\": 1}\n{\"b\": \"");
    for (int i = 0; i < 3000000; i++) av_buf_putc(&text, 'x');
    av_buf_puts(&text, "\"}\n");
    CHECK_EQ_INT(read_all(write_file("long.jsonl", text.ptr, text.len), &b, err, sizeof err), -1);
    CHECK(strstr(err, "2: a row longer than 4000 bytes (the reader's limit)") != NULL);
    CHECK_EQ_STR(b.ptr, "1@1:{\"a\": 1}|");
    av_buf_reset(&text);
    av_buf_reset(&b);
    av_buf_puts(&text, "[{\"a\": 1},\n {\"b\": \"");
    for (int i = 0; i < 3000000; i++) av_buf_putc(&text, 'x');
    av_buf_puts(&text, "\"}]");
    CHECK_EQ_INT(read_all(write_file("long.json", text.ptr, text.len), &b, err, sizeof err), -1);
    CHECK(strstr(err, "a row longer than 4000 bytes") != NULL);
    /* under the limit, a long row is fine */
    av_input_tune_max_record(0);
    av_buf_reset(&b);
    CHECK_EQ_INT(read_all(write_file("long2.json", text.ptr, text.len), &b, err, sizeof err), 0);
    CHECK(b.len > 3000000);
    av_buf_free(&text);
    av_buf_free(&b);
}

int main(void)
{
    RUN(test_ingest_reader__json_lines);
    RUN(test_ingest_reader__arrays);
    RUN(test_ingest_reader__gzip_and_zstd);
    RUN(test_ingest_reader__sha256_vectors);
    RUN(test_ingest_reader__missing_file);
    RUN(test_ingest_reader__row_too_long);
    return tap_done();
}
