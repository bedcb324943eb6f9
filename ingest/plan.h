/* plan.h: what one source row becomes, before it touches the store. A mapper
 * (formats.c) reads a parsed row and adds records to a plan: prompts,
 * responses, ratings, preferences, with refs between them by plan index.
 * pl_finish() then builds the row's template, so the row can be given back
 * exactly (rows_source.c): the row's JSON with every value that a record
 * holds replaced by a placeholder string that starts with NUL (which real
 * input never holds, see json.h):
 *
 *   "\0T<k>.<i>"  text of message i of record k
 *   "\0N<k><s>"   the number of record k, rendered in style s:
 *                 f float ("9.0"), i integer ("3"), s string ("4", "N/A" for NaN),
 *                 b boolean (true for 1)
 *   "\0H<k>"      the messages of prompt k in the "\n\nHuman: ...\n\nAssistant: " form
 *   "\0L<i>"      element i of the row tag's "_lits": a string or number of
 *                 the row that no record holds, inside a field that holds
 *                 records' values (a model name, "principle", "Type": ["3"])
 *   "\0@"         (top level only) the row tag's attribute of the same key
 *
 * Records are numbered k for the template as: 0 the row's main record, 1..3
 * its ref slots, 4.. the records listed in the row tag's "_refs" (content
 * ids). A top-level field whose value holds no placeholder is a field the
 * mapping does not model: it becomes an attribute of the row tag, in source
 * order. With the literals out, rows of one shape share one template (the
 * store keeps each text once: 16 templates for 5,000 UltraFeedback rows,
 * where each row's literals made its own). Every substitution is checked
 * when it is made, so rebuilding the template gives back the same JSON
 * values by construction. */
#ifndef AV_INGEST_PLAN_H
#define AV_INGEST_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/json.h"
#include "store/aviary.h"
#include "util/util.h"

/* The longest attribute key the store takes; a longer top-level key keeps its
 * value in the template instead of the row tag. */
#define PL_KEY_MAX 400

typedef struct pl_msg {
    const char *role;
    const char *s;
    size_t n;
} pl_msg;

typedef struct pl_attr {
    const char *key;
    const char *json;
    size_t n;
} pl_attr;

typedef struct pl_rec {
    av_kind kind;
    int ref[3];        /* plan index of the record referred to, or -1 */
    const char *model; /* model name, or NULL */
    size_t model_n;
    const char *name;
    double num;
    uint32_t msg0, nmsg, attr0, nattr;
    int slot; /* template number k, or -1 */
} pl_rec;

typedef struct pl_sub {
    const jnode *node;
    int rec;
    char what, style;
} pl_sub;

typedef struct av_plan {
    const char *format;
    pl_rec *rec;
    size_t nrec, rcap;
    pl_msg *msg;
    size_t nmsg, mcap;
    pl_attr *attr;
    size_t nattr, acap;
    pl_sub *sub;
    size_t nsub, scap;
    int main;  /* plan index of the row's main record */
    int *refs; /* plan indices listed in "_refs", template numbers 4.. */
    size_t nrefs, refcap;
    av_buf tpl;   /* the template, once pl_finish succeeded */
    av_buf lits;  /* "_lits": a JSON array of the literals it names (empty: none) */
    uint32_t nlits;
    pl_attr *tag; /* the row tag's field attributes, source order */
    size_t ntag, tcap;
    av_buf scratch;
    struct pl_block *arena;
    char err[300];
} av_plan;

void av_plan_init(av_plan *p);
void av_plan_free(av_plan *p);
void av_plan_reset(av_plan *p, const char *format);
/* Memory that lives until the next reset. */
char *pl_alloc(av_plan *p, size_t n);
const char *pl_strdup(av_plan *p, const char *s, size_t n);

/* Records and their parts. Indices are plan indices. */
int pl_add(av_plan *p, av_kind kind);
void pl_set_ref(av_plan *p, int rec, int slot, int target);
void pl_set_model(av_plan *p, int rec, const char *name, size_t n);
void pl_set_name(av_plan *p, int rec, const char *name);
/* Adds a message from a string node; its text becomes a placeholder wherever
 * the same text appears in the row. */
void pl_add_msg(av_plan *p, int rec, const char *role, const char *s, size_t n);
/* An attribute from a node (written as compact JSON) or from JSON text. */
void pl_add_attr_node(av_plan *p, int rec, const char *key, const jnode *v);
void pl_add_attr_json(av_plan *p, int rec, const char *key, const char *json);
/* Sets the record's number; node (may be NULL) is the source value it came
 * from, replaced by a placeholder if style renders num back to it. */
void pl_set_num(av_plan *p, int rec, double num, const jnode *node, char style);
/* Replaces node by "\0H<k>" if rendering prompt rec that way gives it back. */
void pl_sub_hh(av_plan *p, int rec, const jnode *node);
/* Renders prompt msgs in the Human/Assistant form into b. */
void pl_render_hh(av_buf *b, const pl_msg *msg, size_t n);
/* Renders num in style s into b (as JSON); 0, or -1 if it cannot be. */
int pl_render_num(av_buf *b, double num, char style);

/* Where pl_render() gets what placeholders name. k is a template record
 * number; each returns 0, or -1 if there is no such thing. */
typedef struct pl_source {
    void *ctx;
    int (*msgs)(void *ctx, int k, const pl_msg **out, size_t *n); /* the record's messages */
    int (*num)(void *ctx, int k, double *out);
    int (*field)(void *ctx, const char *key, const char **json, size_t *n); /* a row tag field */
} pl_source;

/* Fills template tpl back in from src into out (appended). d is scratch.
 * 0, or -1 with a message in err (a template that names what src lacks). */
int pl_render(av_buf *out, const char *tpl, size_t n, const pl_source *src, jdoc *d, char *err, size_t errcap);
/* The template source over the plan itself (what the store will hold). */
void pl_plan_source(const av_plan *p, pl_source *out);

/* A mapping error (wrong type, missing field); returns -1. */
int pl_fail(av_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Builds the template and the tag's fields from the row. 0 or -1 (pl_fail:
 * a duplicate top-level key). */
int pl_finish(av_plan *p, const jnode *row);

#endif
