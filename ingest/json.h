/* json.h: ingest's JSON parser. One document at a time into a flat node
 * array (document order, each node knows its subtree size), so walking a row
 * allocates nothing. Strict RFC 8259 plus aviary's input rules: strings must
 * be valid UTF-8 (no overlongs, no lone surrogates) and may not contain
 * \u0000; nesting is limited to JSON_MAX_DEPTH; numbers keep their source
 * text, so big integers and "1.0" come back exactly as written. */
#ifndef AV_INGEST_JSON_H
#define AV_INGEST_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define JSON_MAX_DEPTH 64

typedef enum jtype { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

/* A value. Children follow their parent; an object's children alternate key
 * (J_STR) and value. The next sibling of node v is v + v->skip. */
typedef struct jnode {
    uint8_t type;
    uint8_t plain; /* STR: s is the source text itself (no escapes), so it is its own JSON */
    uint32_t n;    /* STR/NUM: bytes of s; ARR: elements; OBJ: members */
    uint32_t skip; /* nodes in the subtree, itself included */
    uint32_t off;  /* byte offset of the value in the input */
    const char *s; /* STR: decoded bytes (not NUL-terminated); NUM: source text */
} jnode;

enum json_flags {
    JSON_ALLOW_NUL = 1 << 0, /* accept \u0000 in strings (aviary's own templates) */
};

typedef struct jdoc {
    jnode *node;
    size_t count, cap;
    char *arena; /* decoded strings with escapes; sized to the input */
    size_t alen, acap;
    unsigned flags;
    unsigned depth;
    size_t err_off;  /* byte offset of a parse error */
    char err[160];   /* the reason, e.g. "expected ',' or '}'" */
} jdoc;

void json_doc_init(jdoc *d);
void json_doc_free(jdoc *d);
/* Parses p[0..n) as one JSON value (whitespace around it allowed). Returns 0,
 * or -1 with d->err and d->err_off set. Strings without escapes point into p,
 * so p must outlive the nodes. */
int json_parse(jdoc *d, const char *p, size_t n, unsigned flags);
static inline const jnode *json_root(const jdoc *d) { return d->node; }

/* The value of member key in object o, or NULL (first match). */
const jnode *json_get(const jnode *o, const char *key);
/* Child i of an array, or NULL. O(i). */
const jnode *json_at(const jnode *a, uint32_t i);
static inline const jnode *json_next(const jnode *v) { return v + v->skip; }
/* 1 if v is a string equal to lit. */
int json_str_is(const jnode *v, const char *lit);
/* The JSON type's name for messages: "a string", "an object", ... */
const char *json_type_name(const jnode *v);
/* Appends v as compact JSON (no whitespace), strings re-escaped. */
void json_write(av_buf *b, const jnode *v);

#endif
