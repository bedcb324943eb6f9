/* minhash.h: the per-prompt part of near-duplicate detection, pure code:
 * word n-gram shingles of a normalised text, their MinHash signature, the
 * exact-duplicate hash, LSH band keys, and the byte format in which a
 * prompt's signature is kept in the store's aux space (namespace "minhash")
 * so that a later dedup does not compute it again. */
#ifndef AV_CURATE_MINHASH_H
#define AV_CURATE_MINHASH_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define AV_MH_NGRAM 5      /* words per shingle */
#define AV_MH_PERM 112     /* permutations (signature length) */
#define AV_MH_BANDS 14     /* LSH bands; rows per band = perm / bands */
#define AV_MH_PERM_MAX 1024
#define AV_MH_NGRAM_MAX 64

/* What one prompt contributes: its exact hash, its shingle set (sorted,
 * distinct 32-bit hashes; n == 0 when the text has no words) and its
 * signature (perm values; all 0xFFFFFFFF when n == 0). */
typedef struct av_mh_item {
    uint64_t exact[2];  /* XXH3-128 of the normalised text */
    uint32_t nsh;
    uint32_t *sh;       /* malloc'd, owned by the item */
    uint32_t *sig;      /* malloc'd (perm values), owned by the item; may be NULL once dropped */
} av_mh_item;

/* Normalises text (av_text_normalize), shingles it into n-grams of ngram
 * words (a text with fewer words is one shingle) and computes a perm-long
 * signature. scratch is a buffer reused between calls (one per thread). */
void av_mh_item_compute(av_mh_item *out, const char *text, size_t len, int ngram, int perm, av_buf *scratch);
void av_mh_item_release(av_mh_item *it);

/* The shingle set of an already normalised text: sorted distinct hashes in
 * a malloc'd array (NULL, 0 for ""). */
void av_mh_shingles(uint32_t **out, uint32_t *out_n, const char *norm, size_t len, int ngram);
/* sig[0..perm) = the minimum over the set of each permutation's hash. */
void av_mh_signature(uint32_t *sig, const uint32_t *sh, uint32_t n, int perm);
/* Exact Jaccard of two sorted distinct sets (0 when both are empty). */
double av_mh_jaccard(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb);
/* Fraction of equal signature positions (the MinHash estimate of Jaccard). */
double av_mh_estimate(const uint32_t *a, const uint32_t *b, int perm);
/* The key of band `band` (rows values starting at band*rows). */
uint64_t av_mh_band_key(const uint32_t *sig, int band, int rows);

/* Aux value: "MH" 1 ngram | perm u16 | nsh u32 | exact 2 x u64 | sig perm x u32
 * | sh nsh x u32, all little-endian. */
/* Encodes it into a malloc'd buffer. */
void av_mh_encode(void **out, size_t *out_len, const av_mh_item *it, int ngram, int perm);
/* Decodes val into out (copies). Returns 0, 1 when the value was made with
 * another ngram or perm (then out is untouched; recompute), or AV_ECORRUPT
 * (-6) when the bytes are not a valid value. */
int av_mh_decode(av_mh_item *out, const void *val, size_t len, int ngram, int perm);

#endif
