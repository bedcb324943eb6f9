/* test_util_json.c: av_buf_json_str (which skips eight bytes at a time
 * while none needs escaping) against a byte-by-byte reference, on strings
 * built to put quotes, backslashes, control characters and UTF-8 at every
 * position relative to the eight-byte steps, and on random ones; and
 * av_buf_json_num against what Python's json.dumps writes. */
#include "tap.h"
#include "util/util.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reference: one byte at a time, from RFC 8259's rules written out as a
 * table (the short escapes) and snprintf for the other control characters,
 * not as the code under test spells them. */
static void escape_ref(av_buf *b, const char *s, size_t n)
{
    static const char named[] = "\"\\\n\r\t\b\f", letter[] = "\"\\nrtbf";
    av_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *k = c ? memchr(named, c, sizeof named - 1) : NULL;
        char e[8];
        if (k) {
            e[0] = '\\', e[1] = letter[k - named];
            av_buf_put(b, e, 2);
        } else if (c < 0x20) {
            snprintf(e, sizeof e, "\\u%04x", c);
            av_buf_put(b, e, 6);
        } else {
            av_buf_putc(b, (char)c);
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

/* Numbers as Python's repr writes them (json.dumps, so the datasets): each
 * expected string was printed by python3 -c 'print(repr(x))'. */
static void test_util__json_num_as_python(void)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {10.0, "10.0"}, {100.0, "100.0"}, {1.5e10, "15000000000.0"}, {7.0, "7.0"}, {0.0001, "0.0001"},
        {1e-05, "1e-05"}, {4.333333333333333, "4.333333333333333"}, {1e16, "1e+16"},
        {123456789012345678.0, "1.2345678901234568e+17"}, {-0.0, "-0.0"}, {0.0, "0.0"}, {0.1, "0.1"},
        {0.1 + 0.2, "0.30000000000000004"}, {1e22, "1e+22"}, {5e-324, "5e-324"}, {-3.5, "-3.5"},
        {1.7976931348623157e308, "1.7976931348623157e+308"}, {9999999999999998.0, "9999999999999998.0"},
        {0.00012345, "0.00012345"}, {2.2250738585072014e-308, "2.2250738585072014e-308"},
        {1e-320, "1e-320"}, {3.725039, "3.725039"}, {-1e100, "-1e+100"},
        /* powers of two, where the nearest 16 digits miss and a neighbour reads back */
        {0x1p-24, "5.960464477539063e-08"}, {0x1p-44, "5.684341886080802e-14"},
        {0x1p-77, "6.617444900424222e-24"}, {0x1p89, "6.189700196426902e+26"},
        {-0x1p122, "-5.316911983139664e+36"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        av_buf b = AV_BUF_INIT;
        av_buf_json_num(&b, cases[i].v);
        CHECK_EQ_STR(b.ptr, cases[i].want);
        av_buf_free(&b);
    }
    av_buf b = AV_BUF_INIT;
    av_buf_json_num(&b, NAN);
    CHECK_EQ_STR(b.ptr, "null");
    av_buf_free(&b);
    /* any double: reads back as itself, with at most 17 digits */
    uint64_t x = 99;
    int ok = 1;
    for (int i = 0; i < 100000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        double v;
        memcpy(&v, &x, 8);
        if (!isfinite(v)) continue;
        av_buf_reset(&b);
        av_buf_json_num(&b, v);
        int digits = 0;
        for (const char *p = b.ptr; *p && *p != 'e'; p++) digits += *p >= '0' && *p <= '9';
        ok &= strtod(b.ptr, NULL) == v && (digits <= 17 || strchr(b.ptr, 'e') == NULL);
    }
    CHECK(ok);
    av_buf_free(&b);
}

int main(void)
{
    RUN(test_util__json_escape_positions);
    RUN(test_util__json_escape_random);
    RUN(test_util__json_num_as_python);
    return tap_done();
}
