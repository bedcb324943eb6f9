/* dedup.h: clustering of exact and near duplicates, pure code (no store).
 *
 * Give it n items (a prompt's row and its av_mh_item), in ascending row
 * order; av_dedup_run clusters them:
 *   exact: items whose normalised texts hash alike (XXH3-128) are one cluster;
 *   near:  MinHash signatures are cut into `bands` bands of perm/bands rows;
 *          items sharing a band key are candidate pairs; each candidate pair
 *          is verified by the EXACT Jaccard similarity of the two shingle sets
 *          and joined (union-find) when it is >= threshold.
 * Every cluster's representative is its lowest row. An item's similarity is
 * the best Jaccard to any other item it was compared with (1 for an exact
 * copy; 0 when LSH proposed no partner). Costs: O(n x bands) memory for the
 * band keys plus the shingle sets; O(n x bands) time for bucketing (radix
 * sort), plus O(pairs x set size) to verify. */
#ifndef AV_CURATE_DEDUP_H
#define AV_CURATE_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "curate/minhash.h"

typedef struct av_dedup_opts {
    int exact;        /* cluster identical normalised texts */
    int near;         /* cluster near duplicates */
    double threshold; /* Jaccard at or above which a candidate pair is joined */
    int ngram, perm, bands;
} av_dedup_opts;
#define AV_DEDUP_OPTS_INIT {1, 1, 0.7, AV_MH_NGRAM, AV_MH_PERM, AV_MH_BANDS}

/* Largest LSH bucket compared all-pairs; in a bigger one each item is
 * compared with the next AV_DEDUP_BUCKET_CAP items (ascending row). */
#define AV_DEDUP_BUCKET_CAP 64

typedef struct av_dedup av_dedup;

/* Checks opts (perm a multiple of bands, 0 < threshold <= 1, 1 <= ngram <=
 * AV_MH_NGRAM_MAX, perm <= AV_MH_PERM_MAX) and returns a set of n empty
 * slots. AV_EINVAL with a message when opts are bad. */
int av_dedup_new(av_dedup **out, const av_dedup_opts *opts, size_t n);
void av_dedup_free(av_dedup *d);
/* Fills slot i (distinct slots may be filled from different threads). Takes
 * over it->sh; reads it->sig (the caller keeps and frees it). */
void av_dedup_set(av_dedup *d, size_t i, uint64_t row, av_mh_item *it);

typedef struct av_dedup_stats {
    size_t items;
    size_t exact_dups;  /* items that are an exact copy of a lower row */
    size_t candidates;  /* distinct candidate pairs LSH proposed */
    size_t joined;      /* candidate pairs at or above the threshold */
    size_t clusters;    /* clusters with two or more members */
    size_t duplicates;  /* items that are not their cluster's representative */
} av_dedup_stats;

/* Clusters the set. AV_EINVAL if a slot is unset or rows are not ascending. */
int av_dedup_run(av_dedup *d, av_dedup_stats *stats);

typedef struct av_dedup_result {
    uint64_t row;
    uint64_t rep_row;   /* the cluster's representative: its lowest row */
    size_t rep;         /* its slot */
    uint64_t size;      /* members of the cluster (1 = unique) */
    double similarity;  /* best Jaccard to another item, 0 if none compared */
} av_dedup_result;
/* Result of slot i after av_dedup_run. */
void av_dedup_result_get(const av_dedup *d, size_t i, av_dedup_result *out);

/* Test hook: calls fn for every candidate pair (slots a < b) with its exact
 * Jaccard, during the next av_dedup_run. */
void av_dedup_on_pair(av_dedup *d, void (*fn)(void *ctx, size_t a, size_t b, double j), void *ctx);

#endif
