/* jsonv.h: a small JSON parser into an arena-allocated tree, for the export
 * writers that need a row's values (Parquet shredding, schema inference).
 * Keeps what cJSON loses and a columnar writer needs: whether a number was
 * written as an integer or not, object keys in their order, and string bytes
 * with their length (embedded NUL allowed). One parse per row; the arena is
 * reused, so parsing allocates nothing once warmed up. */
#ifndef AV_EXPORT_JSONV_H
#define AV_EXPORT_JSONV_H

#include <stddef.h>
#include <stdint.h>

typedef enum jv_type {
    JV_NULL = 0,
    JV_FALSE,
    JV_TRUE,
    JV_INT,    /* an integer literal that fits int64 */
    JV_DOUBLE, /* any other number */
    JV_STRING,
    JV_ARRAY,
    JV_OBJECT,
} jv_type;

typedef struct jv {
    uint8_t type;
    uint32_t n;       /* string length, or number of items/members */
    uint32_t klen;    /* when a member of an object: its key */
    const char *key;
    union {
        int64_t i;
        double d;
        const char *s;     /* string bytes (not NUL-terminated) */
        struct jv *items;  /* array items, or object members in order */
    } u;
} jv;

/* A parser owning its arena. Zero-initialise (JV_PARSER_INIT). */
typedef struct jv_parser {
    char *arena;
    size_t arena_len, arena_cap;
    jv *stack;
    size_t stack_len, stack_cap;
    char err[128];
} jv_parser;
#define JV_PARSER_INIT {0}

/* Parses text[0..len) (one JSON value, whitespace around allowed). The tree
 * points into text and into the parser's arena: valid until the next parse
 * or jv_parser_release. NULL on malformed input, with a message in p->err
 * (what and the byte offset). */
const jv *jv_parse(jv_parser *p, const char *text, size_t len);
void jv_parser_release(jv_parser *p);

/* The member of object o named key, or NULL. */
const jv *jv_get(const jv *o, const char *key);

#endif
