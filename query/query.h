/* query.h: the filter language's public interface (docs/query.md has the
 * language). Other modules use this header only: export, generate, audit and
 * dedup take `--where EXPR` through it.
 *
 * A query selects units: by default responses (a response together with its
 * prompt, one Magpie row); av_query_compile's kind picks another unit kind. */
#ifndef AV_QUERY_H
#define AV_QUERY_H

#include "store/aviary.h"

typedef struct av_query av_query;

/* Compiles expr ("" or NULL selects every visible unit of that kind). On a
 * syntax or field error returns AV_EINVAL and sets *errmsg (malloc'd, caller
 * frees) to a multi-line message: the expression, a caret under the position,
 * and what was expected (or the nearest known fields). */
int av_query_compile(av_query **out, const char *expr, av_kind unit, char **errmsg);
void av_query_free(av_query *q);

/* Calls fn(ctx, row) for each matching visible unit, ascending by row id;
 * stops early when fn returns non-zero and returns that value. */
int av_query_run(av_query *q, av_reader *r, int (*fn)(void *ctx, uint64_t row), void *ctx);

/* 1 if unit `row` matches, 0 if not, negative on error. */
int av_query_match(av_query *q, av_reader *r, uint64_t row);

/* Convenience: every matching row in a malloc'd array (caller frees). */
int av_query_rows(av_query *q, av_reader *r, uint64_t **out, size_t *out_n);

#endif
