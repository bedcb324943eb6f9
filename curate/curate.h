/* curate.h: dedup and curation on a store (what `aviary dedup` and `aviary
 * curate` run). Built on the pure core in dedup.h and on the store's and the
 * query module's public headers only. docs/dedup.md describes the tags these
 * functions write.
 *
 * Dedup tags: one tag record per prompt in scope (ref[0] = the prompt), with
 * attributes
 *   dedup_cluster         the cluster's representative's row id (a number)
 *   dedup_representative  the representative's content id (32 hex digits)
 *   dedup_keep            true for the representative (lowest row), else false
 *   dedup_similarity      best Jaccard of 5-gram sets to another prompt (0..1)
 *   dedup_cluster_size    members of the cluster (1 = unique)
 * A prompt's earlier dedup tag is retracted when its values change. Prompt
 * signatures are kept in the aux namespace AV_DEDUP_AUX_NS, key = the prompt's
 * row (8 bytes, big-endian). */
#ifndef AV_CURATE_CURATE_H
#define AV_CURATE_CURATE_H

#include "curate/dedup.h"
#include "query/query.h"
#include "store/aviary.h"

#define AV_DEDUP_AUX_NS "minhash"

typedef struct av_curate_dedup_opts {
    av_dedup_opts dd;
    av_query *where;  /* prompts in scope (unit kind AV_PROMPT); NULL = every visible prompt */
    int threads;      /* signature threads; 0 = one per online CPU (at most 16) */
    int progress;     /* draw a progress line on stderr */
} av_curate_dedup_opts;

typedef struct av_curate_dedup_report {
    av_dedup_stats st;
    size_t computed;   /* signatures computed now */
    size_t reused;     /* signatures read back from the store */
    size_t tagged;     /* new tag records */
    size_t retracted;  /* earlier dedup tags hidden */
    double t_sign, t_cluster, t_write; /* seconds */
} av_curate_dedup_report;

/* Runs dedup on the writer's store: the scope is read at the writer's base
 * (the head when it opened), signatures missing from aux are computed in
 * threads and stored, and the tags are put through w. The caller commits.
 * Errors: whatever the store returns; AV_EINVAL for bad options. */
int av_curate_dedup(av_writer *w, const av_curate_dedup_opts *o, av_curate_dedup_report *out);

/* ---- Magpie's 300K recipe ---- */

typedef struct av_curate_magpie_opts {
    size_t top;        /* how many to keep (Magpie: 300000) */
    uint64_t seed;     /* shuffle seed (Magpie: 42) */
    const char *name;  /* the selection's name: the label and the tag value */
} av_curate_magpie_opts;

typedef struct av_curate_magpie_report {
    size_t units;        /* rows considered: visible responses with a prompt */
    size_t quality_ok;   /* ... with input_quality good or excellent */
    size_t reward_ok;    /* ... and instruct_reward > -10 */
    size_t colon_ok;     /* ... and instruction not ending in ':' */
    size_t rep_ok;       /* ... and cluster representative */
    size_t no_dedup;     /* of those, rows whose prompt has no dedup tag (Magpie's min_similar_uuid used) */
    size_t prompts;      /* distinct prompts among rep_ok rows (one row each goes on) */
    size_t selected;
    size_t tagged;       /* new tag records */
} av_curate_magpie_report;

/* Selects by the recipe (docs/dedup.md) and tags each chosen response with
 * {"curate": name, "curate_rank": position in the shuffled order}. The
 * caller commits and names the version. *out_rows (may be NULL) gets the
 * chosen response rows in shuffled order (malloc'd, caller frees). */
int av_curate_magpie(av_writer *w, const av_curate_magpie_opts *o, av_curate_magpie_report *out,
                     uint64_t **out_rows, size_t *out_n);

/* The seeded shuffle the recipe uses (Fisher-Yates over a splitmix64
 * stream), exposed for tests. */
void av_curate_shuffle(uint64_t *v, size_t n, uint64_t seed);

#endif
