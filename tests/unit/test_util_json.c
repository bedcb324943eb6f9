/* test_util_json.c: av_buf_json_str (which skips eight bytes at a time
 * while none needs escaping) against a byte-by-byte reference, on strings
 * built to put quotes, backslashes, control characters and UTF-8 at every
 * position relative to the eight-byte steps, and on random ones. */
#include "tap.h"
#include "util/util.h"

#include <stdlib.h>

/* The reference: one byte at a time. */
static void escape_ref(av_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    av_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': av_buf_puts(b, "\\\""); break;
        case '\\': av_buf_puts(b, "\\\\"); break;
        case '\n': av_buf_puts(b, "\\n"); break;
        case '\r': av_buf_puts(b, "\\r"); break;
        case '\t': av_buf_puts(b, "\\t"); break;
        case '\b': av_buf_puts(b, "\\b"); break;
        case '\f': av_buf_puts(b, "\\f"); break;
        default:
            if (c < 0x20) {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                av_buf_put(b, e, 6);
            } else {
                av_buf_putc(b, (char)c);
            }
        }
    }
    av_buf_putc(b, '"');
}

static int same(const char *s, size_t n)
{
    av_buf a = AV_BUF_INIT, r = AV_BUF_INIT;
    av_buf_json_str(&a, s, n);
    escape_ref(&r, s, n);
    int ok = a.len == r.len && !memcmp(a.ptr, r.ptr, a.len);
    av_buf_free(&a);
    av_buf_free(&r);
    return ok;
}

static void test_util__json_escape_positions(void)
{
    static const char special[] = {'"', '\\', '\n', '\t', 1, 0x1f, 0x7f, (char)0xc3, (char)0xa9, ' '};
    char s[40];
    int bad = 0;
    for (size_t len = 0; len <= 33; len++)
        for (size_t at = 0; at < len; at++)
            for (size_t k = 0; k < sizeof special; k++) {
                memset(s, 'a', len);
                s[at] = special[k];
                if (!same(s, len)) bad++;
            }
    CHECK_EQ_INT(bad, 0);
}

static void test_util__json_escape_random(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    char s[300];
    int bad = 0;
    for (int round = 0; round < 3000; round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = x % sizeof s;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* mostly plain letters, sometimes anything */
            s[i] = (x & 31) ? (char)('a' + x % 26) : (char)(x >> 8);
        }
        if (!same(s, n)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    RUN(test_util__json_escape_positions);
    RUN(test_util__json_escape_random);
    return tap_done();
}
