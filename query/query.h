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

/* ---- additions: planner control, plans, field values ---------------- */

enum av_query_flags {
    AV_QUERY_NO_INDEX = 1 << 0, /* scan metadata instead of using indexes
                                   (also: environment AVIARY_QUERY_NO_INDEX=1) */
    AV_QUERY_FEW = 1 << 1,      /* the caller stops after a few rows (--limit): check texts
                                   unit by unit rather than scanning them all first */
    AV_QUERY_NO_TEXTSCAN = 1 << 2, /* never scan texts first (for tests comparing the two) */
};
void av_query_set_flags(av_query *q, unsigned flags);

/* How av_query_run would answer on r, one line ("index tag.x = ...; check
 * ...", "scan response; check ..."), malloc'd into *out. */
int av_query_explain(av_query *q, av_reader *r, char **out);

/* A value of a field. For ARRAY and OBJECT, str holds the raw JSON. Strings
 * are NUL-terminated at str[len]. Valid only during the callback. */
typedef enum av_qtype { AV_QV_NULL, AV_QV_BOOL, AV_QV_NUM, AV_QV_STR, AV_QV_ARRAY, AV_QV_OBJECT } av_qtype;
typedef struct av_qvalue {
    av_qtype type;
    double num; /* NUM; BOOL as 0 or 1 */
    const char *str;
    size_t len;
} av_qvalue;

/* Adds an output field to q ("tag.task_category", "len(response)", ...) and
 * returns its index (>= 0). AV_EINVAL with *errmsg (as av_query_compile) for
 * an unknown field. */
int av_query_field_add(av_query *q, const char *name, char **errmsg);
/* The field's name as printed ("tag.x"). */
const char *av_query_field_name(const av_query *q, int field);
/* 1 if the field is numeric by definition (version, len(), rating, ...). */
int av_query_field_numeric(const av_query *q, int field);
/* Calls fn for every value of field for unit row (several for multi-valued
 * fields: source, licence, tags found on several records); stops when fn
 * returns non-zero and returns that. */
int av_query_field_each(av_query *q, av_reader *r, uint64_t row, int field,
                        int (*fn)(void *ctx, const av_qvalue *v), void *ctx);
/* Calls fn for every tag attribute the unit sees (its own tags first, then
 * those of what it refers to), with the key and the value's JSON text. */
int av_query_tags_each(av_query *q, av_reader *r, uint64_t row,
                       int (*fn)(void *ctx, const char *key, const char *json, size_t len), void *ctx);

#endif
