/* util.c: allocation, buffers, JSON escaping, UTF-8, time, progress. */
#include "util/util.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void oom(size_t n)
{
    fprintf(stderr, "aviary: out of memory (asked for %zu bytes)\n", n);
    abort();
}

void *av_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *av_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *av_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) oom(n);
    return p;
}

char *av_xstrdup(const char *s) { return av_xstrndup(s, strlen(s)); }

char *av_xstrndup(const char *s, size_t n)
{
    char *p = av_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void av_buf_grow(av_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    b->ptr = av_xrealloc(b->ptr, cap);
    b->cap = cap;
}

void av_buf_put(av_buf *b, const void *data, size_t n)
{
    av_buf_grow(b, n);
    if (n) memcpy(b->ptr + b->len, data, n);
    b->len += n;
    b->ptr[b->len] = 0;
}

void av_buf_puts(av_buf *b, const char *s) { av_buf_put(b, s, strlen(s)); }

void av_buf_putc(av_buf *b, char c)
{
    av_buf_grow(b, 1);
    b->ptr[b->len++] = c;
    b->ptr[b->len] = 0;
}

void av_buf_vprintf(av_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return;
    av_buf_grow(b, (size_t)n);
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void av_buf_printf(av_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    av_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void av_buf_json_str(av_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    av_buf_grow(b, n + 2);
    av_buf_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        /* eight bytes at a time while none needs escaping (a control
         * character, '"' or '\\'; bytes >= 0x80 never match) */
        while (i + 8 <= n) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
            uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
            uint64_t hit = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs);
            if (hit & high) break;
            i += 8;
        }
        if (i >= n) break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        av_buf_put(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': av_buf_puts(b, "\\\""); break;
        case '\\': av_buf_puts(b, "\\\\"); break;
        case '\n': av_buf_puts(b, "\\n"); break;
        case '\r': av_buf_puts(b, "\\r"); break;
        case '\t': av_buf_puts(b, "\\t"); break;
        case '\b': av_buf_puts(b, "\\b"); break;
        case '\f': av_buf_puts(b, "\\f"); break;
        default: {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            av_buf_put(b, e, 6);
        }
        }
    }
    av_buf_put(b, s + run, n - run);
    av_buf_putc(b, '"');
}

/* v's digits to L significant places, nearest (d gets L digits), and the
 * decimal exponent of the first. */
static void digits_at(double v, int L, char *d, int *e)
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.*e", L - 1, fabs(v));
    const char *p = tmp;
    int n = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') d[n++] = *p;
    *e = atoi(p + 1);
}

/* The double that L digits d with exponent e read back as (positive). */
static double digits_value(const char *d, int L, int e)
{
    char tmp[48];
    int n = snprintf(tmp, sizeof tmp, "%c.", d[0]);
    memcpy(tmp + n, d + 1, (size_t)L - 1);
    snprintf(tmp + n + L - 1, sizeof tmp - (size_t)(n + L - 1), "e%d", e);
    return strtod(tmp, NULL);
}

/* d (L digits, exponent *e) one unit up (dir 1) or down (-1) in its last place. */
static void digits_step(char *d, int L, int *e, int dir)
{
    int i = L - 1;
    if (dir > 0) {
        while (i >= 0 && d[i] == '9') d[i--] = '0';
        if (i >= 0) d[i]++;
        else { /* 99..9 + 1 = 10..0, one place up */
            d[0] = '1';
            ++*e;
        }
    } else {
        while (i >= 0 && d[i] == '0') d[i--] = '9';
        if (i >= 0) d[i]--;
        if (d[0] == '0') { /* 10..0 - 1: 9..9 one place down */
            memset(d, '9', (size_t)L);
            --*e;
        }
    }
}

/* The shortest decimal digits that read back as v (no trailing zeros) and
 * the decimal exponent of the first, as Python's repr finds them. Any
 * decimal of at most 15 significant digits survives a round trip through a
 * double (DBL_DIG), so if one reads back as v, v printed to 15 digits does;
 * at 16 digits the nearest may miss where v's interval is lopsided (powers
 * of two: the double above is twice as far as the one below) while its
 * neighbour reads back; 17 always do. Subnormals carry fewer digits: there,
 * every length is tried. */
static int shortest_digits(double v, char digits[20], int *exp10)
{
    char d[20], c[20];
    int L = fabs(v) < DBL_MIN ? 1 : 15, e = 0, ce, done = 0;
    for (; L <= 17 && !done; L++) {
        digits_at(v, L, d, &e);
        if (L == 17 || digits_value(d, L, e) == fabs(v)) {
            done = 1;
            break;
        }
        if (L < 16) continue;
        for (int dir = 1; dir >= -1 && !done; dir -= 2) {
            memcpy(c, d, (size_t)L);
            ce = e;
            digits_step(c, L, &ce, dir);
            if (digits_value(c, L, ce) == fabs(v)) {
                memcpy(d, c, (size_t)L);
                e = ce;
                done = 1;
            }
        }
        if (done) break;
    }
    int n = L;
    while (n > 1 && d[n - 1] == '0') n--;
    memcpy(digits, d, (size_t)n);
    digits[n] = 0;
    *exp10 = e;
    return n;
}

void av_buf_json_num(av_buf *b, double v)
{
    if (!isfinite(v)) {
        av_buf_puts(b, "null");
        return;
    }
    /* as Python's repr (what json.dumps writes, so what datasets hold): the
     * shortest digits that read back; plain notation with a '.' (3.0,
     * 15000000000.0, 0.0001) from 1e-4 up to below 1e16, 1e+16 and 1.5e-05
     * outside. */
    char d[20];
    int e, n = v == 0 ? (d[0] = '0', d[1] = 0, e = 0, 1) : shortest_digits(v, d, &e);
    if (signbit(v)) av_buf_putc(b, '-');
    if (e < -4 || e >= 16) {
        av_buf_putc(b, d[0]);
        if (n > 1) {
            av_buf_putc(b, '.');
            av_buf_put(b, d + 1, (size_t)n - 1);
        }
        av_buf_printf(b, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    } else if (e < 0) {
        av_buf_puts(b, "0.");
        for (int i = 0; i < -e - 1; i++) av_buf_putc(b, '0');
        av_buf_put(b, d, (size_t)n);
    } else {
        for (int i = 0; i <= e; i++) av_buf_putc(b, i < n ? d[i] : '0');
        av_buf_putc(b, '.');
        if (n > e + 1) av_buf_put(b, d + e + 1, (size_t)(n - e - 1));
        else av_buf_putc(b, '0');
    }
}

void av_buf_reset(av_buf *b)
{
    b->len = 0;
    if (b->ptr) b->ptr[0] = 0;
}

void av_buf_free(av_buf *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

char *av_buf_detach(av_buf *b)
{
    if (!b->ptr) av_buf_grow(b, 0), b->ptr[0] = 0;
    char *p = b->ptr;
    b->ptr = NULL;
    b->len = b->cap = 0;
    return p;
}

int av_utf8_valid(const char *str, size_t n, size_t *bad_at)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t need;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) need = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF) need = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4) need = 3, cp = c & 0x07;
        else goto bad;
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= n || (s[i + k] & 0xC0) != 0x80) goto bad;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            goto bad;
        i += need + 1;
    }
    return 1;
bad:
    if (bad_at) *bad_at = i;
    return 0;
}

size_t av_utf8_len(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) count++;
    return count;
}

void av_time_iso(char out[32], int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *av_read_file(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    av_buf b = AV_BUF_INIT;
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) av_buf_put(&b, tmp, n);
    int err = ferror(f);
    fclose(f);
    if (err) {
        av_buf_free(&b);
        errno = EIO;
        return NULL;
    }
    if (out_len) *out_len = b.len;
    return av_buf_detach(&b);
}

double av_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void av_progress_start(av_progress *p, int enabled, const char *what, uint64_t total_bytes)
{
    memset(p, 0, sizeof *p);
    p->enabled = enabled;
    p->what = what;
    p->total_bytes = total_bytes;
    p->start = p->last = av_now();
}

static void progress_draw(av_progress *p, double now)
{
    double el = now - p->start;
    if (el <= 0) el = 1e-9;
    double mb = p->done_bytes / 1e6;
    fprintf(stderr, "\r%s: %llu rows, %.0f rows/s, %.1f MB/s", p->what, (unsigned long long)p->done_items,
            p->done_items / el, mb / el);
    if (p->total_bytes) {
        double frac = (double)p->done_bytes / (double)p->total_bytes;
        double eta = frac > 0 ? el / frac - el : 0;
        fprintf(stderr, ", %.0f%%, ETA %.0fs", frac * 100, eta < 0 ? 0 : eta);
    }
    if (p->errors) fprintf(stderr, ", %llu errors", (unsigned long long)p->errors);
    fputs("\033[K", stderr);
    fflush(stderr);
}

void av_progress_update(av_progress *p, uint64_t done_bytes, uint64_t done_items)
{
    if (!p->enabled) return;
    p->done_bytes = done_bytes;
    p->done_items = done_items;
    double now = av_now();
    if (now - p->last < 0.2) return;
    p->last = now;
    progress_draw(p, now);
}

void av_progress_end(av_progress *p)
{
    if (!p->enabled) return;
    progress_draw(p, av_now());
    fputc('\n', stderr);
}

size_t av_sort_unique_u64(uint64_t *v, size_t n)
{
    if (n < 2) return n;
    uint64_t max = 0, min = UINT64_MAX;
    int sorted = 1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] > max) max = v[i];
        if (v[i] < min) min = v[i];
        if (i && v[i - 1] >= v[i]) sorted = 0;
    }
    if (sorted) return n;
    uint64_t span = max - min;
    if (span / 64 <= 4 * (uint64_t)n) {
        /* dense: a bitmap over [min, max] */
        size_t words = (size_t)(span / 64 + 1);
        uint64_t *bits = av_xcalloc(words, sizeof *bits);
        for (size_t i = 0; i < n; i++) bits[(v[i] - min) / 64] |= 1ull << ((v[i] - min) % 64);
        size_t m = 0;
        for (size_t w = 0; w < words; w++)
            for (uint64_t b = bits[w]; b; b &= b - 1) v[m++] = min + w * 64 + (uint64_t)__builtin_ctzll(b);
        free(bits);
        return m;
    }
    /* sparse: LSD radix sort, 11 bits a pass, only as many passes as span needs */
    uint64_t *tmp = av_xmalloc(n * sizeof *tmp), *a = v, *b = tmp;
    for (unsigned shift = 0; shift < 64 && (span >> shift); shift += 11) {
        size_t count[2049] = {0};
        for (size_t i = 0; i < n; i++) count[((a[i] - min) >> shift & 2047) + 1]++;
        for (int d = 0; d < 2048; d++) count[d + 1] += count[d];
        for (size_t i = 0; i < n; i++) b[count[(a[i] - min) >> shift & 2047]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    if (a != v) memcpy(v, a, n * sizeof *v);
    free(tmp);
    size_t m = 1;
    for (size_t i = 1; i < n; i++)
        if (v[m - 1] != v[i]) v[m++] = v[i];
    return m;
}

static uint64_t key16_hi(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

void av_sort_by_key16(void *base, size_t n, size_t size)
{
    if (n < 2) return;
    unsigned char *a = base;
    unsigned ib = 1;
    while (ib < 32 && ((size_t)1 << ib) < n) ib++;
    uint64_t hi = ~((1ull << ib) - 1); /* the key's leading bits; the index below them */
    uint64_t *v = av_xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = (key16_hi(a + i * size) & hi) | i;
    av_sort_unique_u64(v, n); /* no repeats: every value has its own index */
    uint32_t *from = av_xmalloc(n * sizeof *from);
    for (size_t j = 0; j < n; j++) from[j] = (uint32_t)(v[j] & ~hi);
    free(v);
    unsigned char *tmp = av_xmalloc(size);
    for (size_t j = 0; j < n; j++) {
        if (from[j] == UINT32_MAX || from[j] == j) continue;
        memcpy(tmp, a + j * size, size);
        size_t k = j;
        while (from[k] != j) {
            size_t f = from[k];
            memcpy(a + k * size, a + f * size, size);
            from[k] = UINT32_MAX;
            k = f;
        }
        memcpy(a + k * size, tmp, size);
        from[k] = UINT32_MAX;
    }
    free(from);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && !((key16_hi(a + (j - 1) * size) ^ key16_hi(a + j * size)) & hi) &&
                           memcmp(a + (j - 1) * size, a + j * size, 16) > 0;
             j--) {
            memcpy(tmp, a + (j - 1) * size, size);
            memcpy(a + (j - 1) * size, a + j * size, size);
            memcpy(a + j * size, tmp, size);
        }
    free(tmp);
}
