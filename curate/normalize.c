/* normalize.c: text normalisation for dedup (see normalize.h). One pass over
 * the UTF-8 input, O(n), no allocation beyond the output buffer.
 *
 * Per code point:
 *   A-Z, and Greek/Cyrillic capitals     lowercased
 *   0-9, and superscripts 1 2 3           '0'
 *   U+00C0..U+017F letters                folded to ASCII (e -> e, ss, ae, oe, th, ij)
 *   U+0300..U+036F combining marks        dropped (so decomposed accents go too)
 *   ASCII punctuation and symbols, Latin-1 punctuation (U+00A1..U+00BF but
 *   the letters in it), x and / signs, U+2010..U+2027, U+2030..U+205E,
 *   CJK punctuation U+3001..U+3003, zero-width characters and the BOM     dropped
 *   ASCII whitespace and controls, C1 controls, no-break spaces, U+2000..
 *   U+200A, U+2028/9, U+202F, U+205F, U+3000                              a separator
 *   anything else                          copied unchanged
 * Separators collapse to one space; none at either end. */
#include "curate/normalize.h"

#include <stdint.h>

/* Latin-1 Supplement U+00C0..U+00FF and Latin Extended-A U+0100..U+017F:
 * the ASCII fold of each code point; "" drops it (x and / signs). */
static const char *const latin_fold[192] = {
    /* C0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    /* D0 */ "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "ss",
    /* E0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    /* F0 */ "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "y",
    /* 100 */ "a", "a", "a", "a", "a", "a", "c", "c", "c", "c", "c", "c", "c", "c", "d", "d",
    /* 110 */ "d", "d", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "g", "g", "g", "g",
    /* 120 */ "g", "g", "g", "g", "h", "h", "h", "h", "i", "i", "i", "i", "i", "i", "i", "i",
    /* 130 */ "i", "i", "ij", "ij", "j", "j", "k", "k", "k", "l", "l", "l", "l", "l", "l", "l",
    /* 140 */ "l", "l", "l", "n", "n", "n", "n", "n", "n", "n", "n", "n", "o", "o", "o", "o",
    /* 150 */ "o", "o", "oe", "oe", "r", "r", "r", "r", "r", "r", "s", "s", "s", "s", "s", "s",
    /* 160 */ "s", "s", "t", "t", "t", "t", "t", "t", "u", "u", "u", "u", "u", "u", "u", "u",
    /* 170 */ "u", "u", "u", "u", "w", "w", "y", "y", "y", "z", "z", "z", "z", "z", "z", "s",
};

enum cls { C_DROP, C_SPACE, C_COPY };

/* Decodes one UTF-8 code point at s[0..n); returns its length, or 0 for an
 * invalid sequence (overlong, surrogate, beyond U+10FFFF, truncated). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; v = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

static void put_utf8(av_buf *b, uint32_t cp)
{
    char t[4];
    size_t n;
    if (cp < 0x80) { t[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { t[0] = (char)(0xC0 | (cp >> 6)); t[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | (cp >> 12)); t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        t[0] = (char)(0xF0 | (cp >> 18)); t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); t[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    av_buf_put(b, t, n);
}

/* Classifies a non-ASCII code point and maps it: C_COPY with *out set to the
 * (lowercased) code point, or *fold set to an ASCII replacement. */
static enum cls classify(uint32_t cp, uint32_t *out, const char **fold)
{
    *fold = NULL;
    *out = cp;
    if (cp <= 0xA0) return C_SPACE; /* C1 controls, no-break space */
    if (cp <= 0xBF) {
        switch (cp) {
        case 0xB2: case 0xB3: case 0xB9: *fold = "0"; return C_COPY;
        case 0xAA: *fold = "a"; return C_COPY;
        case 0xBA: *fold = "o"; return C_COPY;
        case 0xB5: return C_COPY; /* micro sign: a letter */
        case 0xAD: return C_DROP; /* soft hyphen */
        default: return C_DROP;
        }
    }
    if (cp <= 0x17F) {
        *fold = latin_fold[cp - 0xC0];
        return **fold ? C_COPY : C_DROP;
    }
    if (cp >= 0x300 && cp <= 0x36F) return C_DROP;
    if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2) { *out = cp + 0x20; return C_COPY; }
    if (cp >= 0x410 && cp <= 0x42F) { *out = cp + 0x20; return C_COPY; }
    if (cp >= 0x400 && cp <= 0x40F) { *out = cp + 0x50; return C_COPY; }
    if (cp >= 0x2000 && cp <= 0x200A) return C_SPACE;
    if (cp >= 0x200B && cp <= 0x200F) return C_DROP;
    if (cp >= 0x2010 && cp <= 0x2027) return C_DROP;
    if (cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000) return C_SPACE;
    if (cp >= 0x202A && cp <= 0x202E) return C_DROP;
    if (cp >= 0x2030 && cp <= 0x205E) return C_DROP;
    if (cp >= 0x3001 && cp <= 0x3003) return C_DROP;
    if (cp == 0xFEFF) return C_DROP;
    return C_COPY;
}

void av_text_normalize(av_buf *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    int pending_space = 0;
    av_buf_reset(out);
    av_buf_grow(out, n);
    out->ptr[0] = 0; /* NUL-terminated even when nothing is kept */
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_decode(p + i, n - i, &cp);
        if (!len) { i++; continue; } /* invalid byte: dropped */
        i += len;
        enum cls c;
        uint32_t mapped = cp;
        const char *fold = NULL;
        if (cp < 0x80) {
            if (cp >= 'A' && cp <= 'Z') { mapped = cp + 32; c = C_COPY; }
            else if ((cp >= 'a' && cp <= 'z')) c = C_COPY;
            else if (cp >= '0' && cp <= '9') { mapped = '0'; c = C_COPY; }
            else if (cp <= 0x20 || cp == 0x7F) c = C_SPACE;
            else c = C_DROP; /* ASCII punctuation and symbols */
        } else {
            c = classify(cp, &mapped, &fold);
        }
        if (c == C_SPACE) { pending_space = 1; continue; }
        if (c == C_DROP) continue;
        if (pending_space && out->len) av_buf_putc(out, ' ');
        pending_space = 0;
        if (fold) av_buf_puts(out, fold);
        else put_utf8(out, mapped);
    }
}
