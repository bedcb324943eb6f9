/* qint.h: the query module's internals, shared by parse.c (lexer, parser,
 * field names, error messages), eval.c (values of fields for a unit,
 * predicates) and plan.c (index plans, av_query_run). Not a public header:
 * other modules use query/query.h. */
#ifndef AV_QINT_H
#define AV_QINT_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "store/aviary.h"
#include "util/util.h"

/* What a field names. */
enum qf_kind {
    QF_KIND,
    QF_ID,
    QF_MODEL,
    QF_SOURCE,
    QF_LICENCE,
    QF_VERSION,
    QF_TAG,     /* key = the tag key */
    QF_RATING,  /* key = aspect, judge = model name or NULL */
    QF_PREF_P,
    QF_LEN_INSTRUCTION,
    QF_LEN_RESPONSE,
    QF_TURNS,
    QF_INSTRUCTION,
    QF_RESPONSE,
    QF_NAME,  /* the record's own name: aspect, method, model or source name */
    QF_SCORE, /* the record's own number: a rating's score, a preference's p */
};

/* A field's static type: what its values can be. */
enum q_type { QT_ANY, QT_STR, QT_NUM };

typedef struct qfield {
    enum qf_kind f;
    char *key;   /* QF_TAG: key; QF_RATING: aspect */
    char *judge; /* QF_RATING: judge model name, or NULL for any judge */
    char *name;  /* the field as it is printed: "tag.x", "rating.helpfulness[gpt-4]" */
    enum q_type type;
} qfield;

/* A value of a field, or a literal. For QV_ARRAY and QV_OBJECT, s/len hold
 * the raw JSON. Strings are NUL-terminated at s[len]. */
enum qv_type { QV_NULL, QV_BOOL, QV_NUM, QV_STR, QV_ARRAY, QV_OBJECT };
typedef struct qval {
    enum qv_type t;
    double num;    /* QV_NUM, QV_BOOL (0 or 1) */
    const char *s; /* QV_STR, QV_ARRAY, QV_OBJECT */
    size_t len;
} qval;

enum qn_kind { QN_AND, QN_OR, QN_NOT, QN_CMP, QN_IN, QN_EXISTS, QN_CONTAINS, QN_MATCHES };
enum q_op { QOP_EQ, QOP_NE, QOP_LT, QOP_LE, QOP_GT, QOP_GE };

/* A literal: type in QV_NULL, QV_BOOL, QV_NUM, QV_STR; s owned (malloc'd). */
typedef struct qlit {
    qval v;
    size_t pos; /* byte offset in the expression */
} qlit;

typedef struct qnode {
    enum qn_kind k;
    enum q_op op;    /* QN_CMP */
    size_t pos;      /* byte offset of the node's field or operator */
    struct qnode *a; /* QN_AND, QN_OR, QN_NOT */
    struct qnode *b; /* QN_AND, QN_OR */
    qfield field;    /* QN_CMP, QN_IN, QN_EXISTS, QN_CONTAINS, QN_MATCHES */
    qlit *lits;      /* QN_CMP (1), QN_IN (n), QN_CONTAINS / QN_MATCHES (1) */
    size_t nlit;
    regex_t re; /* QN_MATCHES */
    int has_re;
    struct q_textset *pre; /* QN_CONTAINS on a text: answers by text place while a run lasts (textscan.c) */
} qnode;

/* Texts of one class that contain a literal, found by scanning the blocks
 * (textscan.c). q_textset_lookup: 1 contains, 0 does not, -1 not scanned
 * (check the text itself). */
typedef struct q_textset q_textset;
int q_textset_build(q_textset **out, av_reader *r, int cls, const char *lit, size_t len, int threads);
int q_textset_lookup(const q_textset *t, uint64_t loc);
void q_textset_free(q_textset *t);

/* Parses expr into a tree. NULL or blank expr gives *out = NULL (match all).
 * AV_EINVAL with *errmsg (malloc'd): message, the expression, a caret. */
int q_parse(qnode **out, const char *expr, char **errmsg);
void q_node_free(qnode *n);
/* Parses one field name ("tag.x", "len(response)") for output, ordering and
 * grouping. AV_EINVAL with *errmsg. */
int q_field_parse(qfield *out, const char *text, char **errmsg);
void q_field_release(qfield *f);
/* The multi-line error text: msg at column, the expression, a caret. */
char *q_errmsg_at(const char *expr, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "a string", "a number", ... for messages. */
const char *q_type_name(enum qv_type t);
/* Appends v as JSON to b. */
void q_val_json(av_buf *b, const qval *v);

/* ---- evaluation (eval.c) ------------------------------------------- */

typedef struct qeval qeval;
/* The evaluator: one per query and reader; caches model and source names
 * and the records around the current unit. */
int q_eval_new(qeval **out, av_reader *r, av_kind unit);
void q_eval_free(qeval *e);
/* Makes row the current unit (reads its metadata). AV_ENOTFOUND if it is
 * not visible. */
int q_eval_set(qeval *e, uint64_t row);
/* 1/0 for the current unit, negative on error (a runtime type error sets a
 * message naming the record). */
int q_eval_node(qeval *e, const qnode *n);
/* Calls fn for every value of field f of the current unit (values valid
 * during the call); stops when fn returns non-zero and returns that. */
typedef int (*q_val_fn)(void *ctx, const qval *v);
int q_eval_values(qeval *e, const qfield *f, q_val_fn fn, void *ctx);
/* 1 if row is a visible record of kind k (from a bitmap of the kind's
 * index, built on first use), 0 if not, negative on error. */
int q_eval_is_kind(qeval *e, av_kind k, uint64_t row);
/* Tells the evaluator many units will follow (a scan, a large index set),
 * so reading whole kind indexes into bitmaps pays off. */
void q_eval_bulk(qeval *e, int bulk);
/* Kind and version of the current unit. */
av_kind q_eval_kind(const qeval *e);
/* Disables the cheap text-length bounds (tests). */
av_reader *q_eval_reader(const qeval *e);

/* Sets and returns the error for comparing value v (of the record with
 * content id cid) with literal l, or for a text test (l NULL) on a non-text
 * value: AV_EINVAL. */
int q_type_error(const qnode *n, const qval *v, const qlit *l, const av_id *cid);
/* Every tag attribute the current unit sees. */
int q_eval_tags(qeval *e, int (*fn)(void *ctx, const char *key, const char *json, size_t len), void *ctx);

/* Canonical JSON text of a literal (what av_iter_attr looks up). */
void q_lit_json(av_buf *b, const qval *v);

/* Decodes the JSON value s[0..n) (a stored attribute) into out. Strings are
 * unescaped into scratch (out->s points there, or into s when there is
 * nothing to unescape and s[n] may be read); arrays and objects are left raw.
 * AV_EINVAL for text that is not JSON. */
int q_json_value(const char *s, size_t n, qval *out, av_buf *scratch);
/* Calls fn for each element of a JSON array (raw text); AV_EINVAL if it is
 * not one. Elements are decoded as by q_json_value. */
int q_json_each(const char *s, size_t n, q_val_fn fn, void *ctx);

#endif
