/* util.h: small helpers shared by every module: a growable byte buffer,
 * allocation that never returns NULL, JSON string escaping, UTF-8 checks,
 * time formatting and a stderr progress line. No dependencies. */
#ifndef AV_UTIL_H
#define AV_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/banned.h"

/* Allocation: aborts with a message on out-of-memory. */
void *av_xmalloc(size_t n);
void *av_xcalloc(size_t n, size_t size);
void *av_xrealloc(void *p, size_t n);
char *av_xstrdup(const char *s);
char *av_xstrndup(const char *s, size_t n);

/* A growable byte buffer, always NUL-terminated after len. */
typedef struct av_buf {
    char *ptr;
    size_t len, cap;
} av_buf;
#define AV_BUF_INIT {NULL, 0, 0}
void av_buf_grow(av_buf *b, size_t extra);
void av_buf_put(av_buf *b, const void *data, size_t n);
void av_buf_puts(av_buf *b, const char *s);
void av_buf_putc(av_buf *b, char c);
void av_buf_printf(av_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void av_buf_vprintf(av_buf *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal (quotes included), escaping as JSON
 * requires; non-ASCII UTF-8 is copied as is. */
void av_buf_json_str(av_buf *b, const char *s, size_t n);
/* Appends a double the way JSON (and Python's json) prints it: shortest
 * round-trip form, "1.0" style for integral values, null for NaN/inf. */
void av_buf_json_num(av_buf *b, double v);
void av_buf_reset(av_buf *b);
void av_buf_free(av_buf *b);
/* Hands the memory to the caller (never NULL) and resets b. */
char *av_buf_detach(av_buf *b);

/* UTF-8: 1 if s[0..n) is valid UTF-8 (no overlongs, no surrogates), else 0
 * with *bad_at set to the offset of the first bad byte. */
int av_utf8_valid(const char *s, size_t n, size_t *bad_at);
/* Number of code points in valid UTF-8 (Python's len()). */
size_t av_utf8_len(const char *s, size_t n);

/* "2026-11-24T09:30:00Z" for t (UTC). */
void av_time_iso(char out[32], int64_t t);

/* Reads a whole file into a malloc'd NUL-terminated buffer; NULL with errno. */
char *av_read_file(const char *path, size_t *out_len);

/* A progress line on stderr, redrawn at most 5 times a second. enabled=0
 * makes every call a no-op. total 0 means unknown (no percent or ETA). */
typedef struct av_progress {
    int enabled;
    const char *what;
    uint64_t total_bytes, done_bytes, done_items, errors;
    double start, last;
} av_progress;
void av_progress_start(av_progress *p, int enabled, const char *what, uint64_t total_bytes);
void av_progress_update(av_progress *p, uint64_t done_bytes, uint64_t done_items);
void av_progress_end(av_progress *p);
/* Monotonic seconds. */
double av_now(void);

/* Sorts v ascending and drops repeats; returns the new count. Linear time
 * (a bitmap when the values are dense, else a radix sort): row id sets of
 * tens of thousands come out of indexes unsorted. */
size_t av_sort_unique_u64(uint64_t *v, size_t n);
/* Sorts n elements of size bytes by their first 16 bytes (memcmp order),
 * in place. Fast when those bytes are hashes: a radix sort of their leading
 * bits, the elements moved along the permutation's cycles (no second copy),
 * then neighbours whose leading bits tie ordered by the whole 16 bytes.
 * At most 2^32 - 1 elements. */
void av_sort_by_key16(void *base, size_t n, size_t size);

#endif
