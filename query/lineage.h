/* lineage.h: the licences a record carries, derived from its lineage (never
 * typed in per record): the "licence" attribute of every source it or its
 * ancestors came from, plus the latest visible "licence" tag of every model
 * in its chain: the writer of a response, the generator of a prompt, the
 * judges of its ratings and preferences, the taggers of its tags and of its
 * ancestors' tags. A model or source without a licence counts as "unknown".
 * Licences are normalised ids (av_licence_norm: "MIT" -> mit, "Llama 3" ->
 * llama3), as the audit reports them.
 * `aviary query` (the licence field), `aviary audit` and export gating use it.
 *
 * The chain of a record: the record, every record it refers to (ref slots,
 * transitively: a rating's response and that response's prompt), the tags on
 * any of those, and the ratings and preferences that refer to the record
 * itself. Everything is read at the reader's version, so a model's licence
 * can change from one version to the next. */
#ifndef AV_QUERY_LINEAGE_H
#define AV_QUERY_LINEAGE_H

#include <stddef.h>
#include <stdint.h>

#include "store/aviary.h"

/* One source or model in a record's lineage, in the role it played. */
typedef struct av_lineage_item {
    uint64_t row;        /* the AV_SOURCE or AV_MODEL record */
    av_kind kind;        /* AV_SOURCE or AV_MODEL */
    const char *name;    /* its name ("" if none) */
    const char *role;    /* "source", "writer", "generator", "judge", "tagger" or "model" */
    const char *licence; /* its licence; "unknown" when it has none */
} av_lineage_item;

/* A record's lineage. All memory is owned by the struct (av_lineage_free). */
typedef struct av_lineage {
    av_lineage_item *items; /* in the order found; one per (row, role) */
    size_t nitems;
    const char **licences;  /* the distinct licences, sorted bytewise */
    size_t nlicences;
    void *priv_;
} av_lineage;

void av_lineage_init(av_lineage *l);
void av_lineage_free(av_lineage *l);

/* The lineage of record `row` as the reader sees it (row must be visible).
 * Fills out (which must be initialised; it is reset first). AV_ENOTFOUND if
 * row is not visible; other store errors pass through. */
int av_lineage_get(av_reader *r, uint64_t row, av_lineage *out);

/* The same with a cache of model and source licences, for many records read
 * through one reader (a query, an audit). The cache is bound to r. */
typedef struct av_lineage_cache av_lineage_cache;
int av_lineage_cache_new(av_lineage_cache **out, av_reader *r);
void av_lineage_cache_free(av_lineage_cache *c);
int av_lineage_get_cached(av_lineage_cache *c, uint64_t row, av_lineage *out);

/* The licence of one model (its latest visible "licence" tag) or source (its
 * "licence" attribute) into a malloc'd *out; "unknown" when it has none. */
int av_licence_of(av_reader *r, uint64_t model_or_source_row, char **out);

#endif
