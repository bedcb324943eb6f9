/* minhash.c: shingles, MinHash signatures, band keys and the aux codec (see
 * minhash.h). Costs per prompt: O(words) to normalise and shingle, O(shingles
 * x perm) for the signature (one multiply per pair), O(shingles log
 * shingles) to sort the set. */
#include "curate/minhash.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "curate/normalize.h"
#include "store/aviary.h"

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The permutation constants: fixed for all time (stored signatures depend on
 * them). Computed once; read-only afterwards. */
static uint64_t perm_a[AV_MH_PERM_MAX], perm_b[AV_MH_PERM_MAX];
static void perm_init(void)
{
    uint64_t st = 0x6176696172792131ull; /* "aviary!1" */
    for (int i = 0; i < AV_MH_PERM_MAX; i++) {
        perm_a[i] = splitmix64(&st) | 1;
        perm_b[i] = splitmix64(&st);
    }
}
static pthread_once_t perm_once = PTHREAD_ONCE_INIT;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void av_mh_shingles(uint32_t **out, uint32_t *out_n, const char *norm, size_t len, int ngram)
{
    *out = NULL;
    *out_n = 0;
    if (!len) return;
    /* word starts; the text has single spaces and no space at the ends */
    size_t nw = 1;
    for (size_t i = 0; i < len; i++) nw += norm[i] == ' ';
    size_t *start = av_xmalloc((nw + 1) * sizeof *start);
    size_t w = 0;
    start[w++] = 0;
    for (size_t i = 0; i < len; i++)
        if (norm[i] == ' ') start[w++] = i + 1;
    start[nw] = len + 1; /* as if a space followed the last word */
    size_t nsh = nw >= (size_t)ngram ? nw - (size_t)ngram + 1 : 1;
    uint32_t *sh = av_xmalloc(nsh * sizeof *sh);
    for (size_t i = 0; i < nsh; i++) {
        size_t end = i + (size_t)ngram < nw ? start[i + (size_t)ngram] - 1 : len;
        uint64_t h = XXH3_64bits(norm + start[i], end - start[i]);
        sh[i] = (uint32_t)(h ^ (h >> 32));
    }
    free(start);
    qsort(sh, nsh, sizeof *sh, cmp_u32);
    size_t k = 0;
    for (size_t i = 0; i < nsh; i++)
        if (!k || sh[k - 1] != sh[i]) sh[k++] = sh[i];
    *out = sh;
    *out_n = (uint32_t)k;
}

void av_mh_signature(uint32_t *sig, const uint32_t *sh, uint32_t n, int perm)
{
    pthread_once(&perm_once, perm_init);
    for (int i = 0; i < perm; i++) sig[i] = UINT32_MAX;
    for (uint32_t k = 0; k < n; k++) {
        uint64_t x = sh[k];
        /* multiply-add-shift: a 2-universal family on the (already well
         * mixed) 32-bit shingle hashes; one multiply per pair */
        for (int i = 0; i < perm; i++) {
            uint32_t h = (uint32_t)((x * perm_a[i] + perm_b[i]) >> 32);
            if (h < sig[i]) sig[i] = h;
        }
    }
}

double av_mh_jaccard(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb)
{
    if (!na && !nb) return 0;
    uint32_t i = 0, j = 0, inter = 0;
    while (i < na && j < nb) {
        if (a[i] == b[j]) { inter++; i++; j++; }
        else if (a[i] < b[j]) i++;
        else j++;
    }
    return (double)inter / (double)(na + nb - inter);
}

double av_mh_estimate(const uint32_t *a, const uint32_t *b, int perm)
{
    int eq = 0;
    for (int i = 0; i < perm; i++) eq += a[i] == b[i];
    return perm ? (double)eq / perm : 0;
}

uint64_t av_mh_band_key(const uint32_t *sig, int band, int rows)
{
    return XXH3_64bits_withSeed(sig + (size_t)band * rows, (size_t)rows * sizeof *sig, (uint64_t)band);
}

void av_mh_item_compute(av_mh_item *out, const char *text, size_t len, int ngram, int perm, av_buf *scratch)
{
    av_text_normalize(scratch, text, len);
    XXH128_hash_t h = XXH3_128bits(scratch->ptr ? scratch->ptr : "", scratch->len);
    out->exact[0] = h.high64;
    out->exact[1] = h.low64;
    av_mh_shingles(&out->sh, &out->nsh, scratch->ptr, scratch->len, ngram);
    out->sig = av_xmalloc((size_t)perm * sizeof *out->sig);
    av_mh_signature(out->sig, out->sh, out->nsh, perm);
}

void av_mh_item_release(av_mh_item *it)
{
    if (!it) return;
    free(it->sh);
    free(it->sig);
    it->sh = it->sig = NULL;
    it->nsh = 0;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

#define MH_HEAD 28 /* magic 2, format 1, ngram 1, perm 2, pad 2, nsh 4, exact 16 */

void av_mh_encode(void **out, size_t *out_len, const av_mh_item *it, int ngram, int perm)
{
    size_t len = MH_HEAD + 4 * ((size_t)perm + it->nsh);
    unsigned char *p = av_xcalloc(1, len);
    p[0] = 'M';
    p[1] = 'H';
    p[2] = 1;
    p[3] = (unsigned char)ngram;
    p[4] = (unsigned char)(perm & 0xFF);
    p[5] = (unsigned char)(perm >> 8);
    put_u32(p + 8, it->nsh);
    put_u64(p + 12, it->exact[0]);
    put_u64(p + 20, it->exact[1]);
    unsigned char *q = p + MH_HEAD;
    for (int i = 0; i < perm; i++, q += 4) put_u32(q, it->sig[i]);
    for (uint32_t i = 0; i < it->nsh; i++, q += 4) put_u32(q, it->sh[i]);
    *out = p;
    *out_len = len;
}

int av_mh_decode(av_mh_item *out, const void *val, size_t len, int ngram, int perm)
{
    const unsigned char *p = val;
    if (len < MH_HEAD || p[0] != 'M' || p[1] != 'H' || p[2] != 1)
        return av_error_set(AV_ECORRUPT, "bad minhash value (%zu bytes)", len);
    int vngram = p[3], vperm = p[4] | (p[5] << 8);
    uint32_t nsh = get_u32(p + 8);
    if (len != MH_HEAD + 4 * ((size_t)vperm + nsh))
        return av_error_set(AV_ECORRUPT, "bad minhash value (%zu bytes)", len);
    if (vngram != ngram || vperm != perm) return 1;
    out->nsh = nsh;
    out->exact[0] = get_u64(p + 12);
    out->exact[1] = get_u64(p + 20);
    out->sig = av_xmalloc((size_t)perm * sizeof *out->sig);
    out->sh = nsh ? av_xmalloc((size_t)nsh * sizeof *out->sh) : NULL;
    const unsigned char *q = p + MH_HEAD;
    for (int i = 0; i < perm; i++, q += 4) out->sig[i] = get_u32(q);
    for (uint32_t i = 0; i < nsh; i++, q += 4) {
        out->sh[i] = get_u32(q);
        if (i && out->sh[i] <= out->sh[i - 1]) {
            av_mh_item_release(out);
            return av_error_set(AV_ECORRUPT, "bad minhash value (unsorted set)");
        }
    }
    return 0;
}
