/* qjson.c: decoding of stored attribute values (JSON text) for comparisons:
 * scalars into typed values, arrays element by element. Attribute values
 * are short and were written by aviary, but a store may hold anything, so
 * every path checks bounds and rejects what is not JSON. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "query/qint.h"

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

static int hex4(const char *s, size_t n, size_t i, unsigned *out)
{
    if (i + 4 > n) return -1;
    unsigned v = 0;
    for (size_t k = i; k < i + 4; k++) {
        int c = (unsigned char)s[k], h;
        if (c >= '0' && c <= '9') h = c - '0';
        else if (c >= 'a' && c <= 'f') h = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') h = c - 'A' + 10;
        else return -1;
        v = v * 16 + (unsigned)h;
    }
    *out = v;
    return 0;
}

static void utf8_put(av_buf *b, unsigned cp)
{
    char t[4];
    size_t n;
    if (cp < 0x80) { t[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { t[0] = (char)(0xc0 | (cp >> 6)); t[1] = (char)(0x80 | (cp & 0x3f)); n = 2; }
    else if (cp < 0x10000) {
        t[0] = (char)(0xe0 | (cp >> 12)); t[1] = (char)(0x80 | ((cp >> 6) & 0x3f)); t[2] = (char)(0x80 | (cp & 0x3f)); n = 3;
    } else {
        t[0] = (char)(0xf0 | (cp >> 18)); t[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); t[3] = (char)(0x80 | (cp & 0x3f)); n = 4;
    }
    av_buf_put(b, t, n);
}

/* Decodes the string starting at s[i] == '"'; *end gets the index after it. */
static int json_string(const char *s, size_t n, size_t i, av_buf *out, size_t *end)
{
    i++;
    for (;;) {
        if (i >= n) return AV_EINVAL;
        char c = s[i];
        if (c == '"') break;
        if (c != '\\') {
            size_t j = i;
            while (j < n && s[j] != '"' && s[j] != '\\') j++;
            av_buf_put(out, s + i, j - i);
            i = j;
            continue;
        }
        if (i + 1 >= n) return AV_EINVAL;
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case '"': av_buf_putc(out, '"'); break;
        case '\\': av_buf_putc(out, '\\'); break;
        case '/': av_buf_putc(out, '/'); break;
        case 'n': av_buf_putc(out, '\n'); break;
        case 't': av_buf_putc(out, '\t'); break;
        case 'r': av_buf_putc(out, '\r'); break;
        case 'b': av_buf_putc(out, '\b'); break;
        case 'f': av_buf_putc(out, '\f'); break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(s, n, i, &cp) < 0) return AV_EINVAL;
            i += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u' &&
                hex4(s, n, i + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                i += 6;
            } else if (cp >= 0xd800 && cp < 0xe000) {
                cp = 0xfffd; /* a lone surrogate: the replacement character */
            }
            utf8_put(out, cp);
            break;
        }
        default: return AV_EINVAL;
        }
    }
    *end = i + 1;
    return 0;
}

/* Index just past the JSON value starting at s[i] (strings, nesting). */
static int json_skip(const char *s, size_t n, size_t i, size_t *end)
{
    i = skip_ws(s, n, i);
    if (i >= n) return AV_EINVAL;
    int depth = 0;
    do {
        if (i >= n) return AV_EINVAL;
        char c = s[i];
        if (c == '"') {
            i++;
            while (i < n && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
            if (i >= n) return AV_EINVAL;
            i++;
        } else if (c == '[' || c == '{') {
            depth++;
            i++;
        } else if (c == ']' || c == '}') {
            if (--depth < 0) return AV_EINVAL;
            i++;
        } else if (depth == 0) {
            while (i < n && s[i] != ',' && s[i] != ']' && s[i] != '}' && !isspace((unsigned char)s[i])) i++;
        } else {
            i++;
        }
    } while (depth > 0);
    *end = i;
    return 0;
}

int q_json_value(const char *s, size_t n, qval *out, av_buf *scratch)
{
    memset(out, 0, sizeof *out);
    size_t i = skip_ws(s, n, 0), end = n;
    while (end > i && isspace((unsigned char)s[end - 1])) end--;
    if (i >= end) return AV_EINVAL;
    char c = s[i];
    if (c == '"') {
        av_buf_reset(scratch);
        av_buf_grow(scratch, end - i);
        av_buf_put(scratch, "", 0); /* NUL-terminated even for "" */
        size_t e;
        if (json_string(s, end, i, scratch, &e) < 0 || e != end) return AV_EINVAL;
        out->t = QV_STR;
        out->s = scratch->ptr ? scratch->ptr : "";
        out->len = scratch->len;
        return 0;
    }
    if (c == '[' || c == '{') {
        out->t = c == '[' ? QV_ARRAY : QV_OBJECT;
        out->s = s + i;
        out->len = end - i;
        return 0;
    }
    size_t len = end - i;
    if (len == 4 && !memcmp(s + i, "true", 4)) { out->t = QV_BOOL; out->num = 1; return 0; }
    if (len == 5 && !memcmp(s + i, "false", 5)) { out->t = QV_BOOL; out->num = 0; return 0; }
    if (len == 4 && !memcmp(s + i, "null", 4)) { out->t = QV_NULL; return 0; }
    if (c == '-' || isdigit((unsigned char)c)) {
        char tmp[64];
        if (len >= sizeof tmp) return AV_EINVAL;
        memcpy(tmp, s + i, len);
        tmp[len] = 0;
        char *ep;
        out->num = strtod(tmp, &ep);
        if (*ep || !isfinite(out->num)) return AV_EINVAL;
        out->t = QV_NUM;
        return 0;
    }
    return AV_EINVAL;
}

int q_json_each(const char *s, size_t n, q_val_fn fn, void *ctx)
{
    size_t i = skip_ws(s, n, 0);
    if (i >= n || s[i] != '[') return AV_EINVAL;
    i = skip_ws(s, n, i + 1);
    if (i < n && s[i] == ']') return 0;
    av_buf scratch = AV_BUF_INIT;
    int rc = 0;
    for (;;) {
        size_t start = skip_ws(s, n, i), end;
        if ((rc = json_skip(s, n, start, &end)) < 0) break;
        qval v;
        if ((rc = q_json_value(s + start, end - start, &v, &scratch)) < 0) break;
        if ((rc = fn(ctx, &v)) != 0) break;
        i = skip_ws(s, n, end);
        if (i < n && s[i] == ',') {
            i++;
            continue;
        }
        if (i < n && s[i] == ']') break;
        rc = AV_EINVAL;
        break;
    }
    av_buf_free(&scratch);
    return rc;
}
