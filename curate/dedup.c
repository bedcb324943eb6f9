/* dedup.c: exact and near-duplicate clustering over MinHash items (see
 * dedup.h). Exact copies are grouped first with a hash table (O(n)); only one
 * member of each exact group (its leader) enters LSH, so repeated texts never
 * make quadratic buckets. LSH buckets come from an LSD radix sort of
 * (band key, slot) per band; candidate pairs are radix-sorted and made
 * distinct before verification. Union-find keeps the smallest slot as root,
 * so a root is its cluster's representative. */
#include "curate/dedup.h"

#include <stdlib.h>
#include <string.h>

#include "store/aviary.h"
#include "util/util.h"

struct av_dedup {
    av_dedup_opts o;
    int rows_per_band;
    size_t n;
    uint64_t *row;
    uint64_t (*exact)[2];
    uint64_t *bkey;     /* n x bands */
    uint32_t *nsh;
    uint32_t **sh;
    unsigned char *set; /* slot filled */
    /* results */
    uint32_t *parent;
    uint32_t *size;
    double *sim;
    void (*on_pair)(void *, size_t, size_t, double);
    void *on_pair_ctx;
};

int av_dedup_new(av_dedup **out, const av_dedup_opts *o, size_t n)
{
    *out = NULL;
    if (!o->exact && !o->near) return av_error_set(AV_EINVAL, "nothing to do: neither exact nor near");
    if (!(o->threshold > 0 && o->threshold <= 1))
        return av_error_set(AV_EINVAL, "threshold must be in (0, 1], not %g", o->threshold);
    if (o->ngram < 1 || o->ngram > AV_MH_NGRAM_MAX)
        return av_error_set(AV_EINVAL, "n-gram size must be 1 to %d, not %d", AV_MH_NGRAM_MAX, o->ngram);
    if (o->perm < 1 || o->perm > AV_MH_PERM_MAX)
        return av_error_set(AV_EINVAL, "permutations must be 1 to %d, not %d", AV_MH_PERM_MAX, o->perm);
    if (o->bands < 1 || o->perm % o->bands)
        return av_error_set(AV_EINVAL, "bands (%d) must divide permutations (%d)", o->bands, o->perm);
    if (n >= UINT32_MAX) return av_error_set(AV_EINVAL, "too many items (%zu)", n);
    av_dedup *d = av_xcalloc(1, sizeof *d);
    d->o = *o;
    d->rows_per_band = o->perm / o->bands;
    d->n = n;
    d->row = av_xcalloc(n, sizeof *d->row);
    d->exact = av_xcalloc(n, sizeof *d->exact);
    d->bkey = av_xcalloc(n * (size_t)o->bands, sizeof *d->bkey);
    d->nsh = av_xcalloc(n, sizeof *d->nsh);
    d->sh = av_xcalloc(n, sizeof *d->sh);
    d->set = av_xcalloc(n, 1);
    *out = d;
    return 0;
}

void av_dedup_free(av_dedup *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) free(d->sh[i]);
    free(d->row);
    free(d->exact);
    free(d->bkey);
    free(d->nsh);
    free(d->sh);
    free(d->set);
    free(d->parent);
    free(d->size);
    free(d->sim);
    free(d);
}

void av_dedup_set(av_dedup *d, size_t i, uint64_t row, av_mh_item *it)
{
    d->row[i] = row;
    d->exact[i][0] = it->exact[0];
    d->exact[i][1] = it->exact[1];
    d->nsh[i] = it->nsh;
    free(d->sh[i]);
    d->sh[i] = it->sh;
    it->sh = NULL;
    it->nsh = 0;
    if (d->o.near && d->nsh[i])
        for (int b = 0; b < d->o.bands; b++)
            d->bkey[i * (size_t)d->o.bands + (size_t)b] = av_mh_band_key(it->sig, b, d->rows_per_band);
    d->set[i] = 1;
}

void av_dedup_on_pair(av_dedup *d, void (*fn)(void *, size_t, size_t, double), void *ctx)
{
    d->on_pair = fn;
    d->on_pair_ctx = ctx;
}

/* ---- union-find ---- */

static uint32_t uf_find(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static void uf_union(uint32_t *parent, uint32_t a, uint32_t b)
{
    a = uf_find(parent, a);
    b = uf_find(parent, b);
    if (a == b) return;
    if (a < b) parent[b] = a;
    else parent[a] = b;
}

/* ---- radix sorts ---- */

typedef struct entry {
    uint64_t key;
    uint32_t slot;
} entry;

static void radix_entries(entry *a, entry *tmp, size_t n)
{
    for (int shift = 0; shift < 64; shift += 8) {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++) count[((a[i].key >> shift) & 0xFF) + 1]++;
        for (int k = 0; k < 256; k++) count[k + 1] += count[k];
        for (size_t i = 0; i < n; i++) tmp[count[(a[i].key >> shift) & 0xFF]++] = a[i];
        memcpy(a, tmp, n * sizeof *a);
    }
}

static void radix_u64(uint64_t *a, uint64_t *tmp, size_t n)
{
    for (int shift = 0; shift < 64; shift += 8) {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++) count[((a[i] >> shift) & 0xFF) + 1]++;
        for (int k = 0; k < 256; k++) count[k + 1] += count[k];
        for (size_t i = 0; i < n; i++) tmp[count[(a[i] >> shift) & 0xFF]++] = a[i];
        memcpy(a, tmp, n * sizeof *a);
    }
}

typedef struct pairs {
    uint64_t *p;
    size_t n, cap;
} pairs;

static void pair_add(pairs *ps, uint32_t a, uint32_t b)
{
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 1024;
        ps->p = av_xrealloc(ps->p, ps->cap * sizeof *ps->p);
    }
    ps->p[ps->n++] = ((uint64_t)a << 32) | b;
}

/* ---- exact groups ---- */

/* Joins items with the same exact hash; returns 1 in leader[i] for the first
 * (lowest) slot of each group. With near only, items without words are left
 * alone (they have no set to compare). */
static size_t exact_groups(av_dedup *d, unsigned char *leader)
{
    size_t cap = 16;
    while (cap < 2 * d->n) cap *= 2;
    uint32_t *tab = av_xmalloc(cap * sizeof *tab);
    memset(tab, 0xFF, cap * sizeof *tab);
    size_t dups = 0;
    for (size_t i = 0; i < d->n; i++) {
        leader[i] = 1;
        if (!d->o.exact && !d->nsh[i]) continue;
        size_t h = (size_t)(d->exact[i][1] & (cap - 1));
        for (;; h = (h + 1) & (cap - 1)) {
            uint32_t j = tab[h];
            if (j == UINT32_MAX) {
                tab[h] = (uint32_t)i;
                break;
            }
            if (d->exact[j][0] == d->exact[i][0] && d->exact[j][1] == d->exact[i][1]) {
                uf_union(d->parent, j, (uint32_t)i);
                d->sim[i] = d->sim[j] = 1.0;
                leader[i] = 0;
                dups++;
                break;
            }
        }
    }
    free(tab);
    return dups;
}

/* ---- near duplicates ---- */

static void near_pairs(av_dedup *d, const unsigned char *leader, pairs *ps)
{
    size_t m = 0;
    for (size_t i = 0; i < d->n; i++) m += leader[i] && d->nsh[i];
    entry *e = av_xmalloc((m ? m : 1) * sizeof *e);
    entry *tmp = av_xmalloc((m ? m : 1) * sizeof *tmp);
    size_t B = (size_t)d->o.bands;
    for (size_t b = 0; b < B; b++) {
        size_t k = 0;
        for (size_t i = 0; i < d->n; i++)
            if (leader[i] && d->nsh[i]) e[k++] = (entry){d->bkey[i * B + b], (uint32_t)i};
        radix_entries(e, tmp, k);
        for (size_t s = 0; s < k;) {
            size_t t = s + 1;
            while (t < k && e[t].key == e[s].key) t++;
            /* a bucket e[s..t), slots ascending (the sort is stable) */
            for (size_t x = s; x < t; x++) {
                size_t lim = t - s <= AV_DEDUP_BUCKET_CAP ? t : x + 1 + AV_DEDUP_BUCKET_CAP;
                if (lim > t) lim = t;
                for (size_t y = x + 1; y < lim; y++) pair_add(ps, e[x].slot, e[y].slot);
            }
            s = t;
        }
    }
    free(e);
    free(tmp);
    if (ps->n) {
        uint64_t *t2 = av_xmalloc(ps->n * sizeof *t2);
        radix_u64(ps->p, t2, ps->n);
        free(t2);
        size_t u = 0;
        for (size_t i = 0; i < ps->n; i++)
            if (!u || ps->p[u - 1] != ps->p[i]) ps->p[u++] = ps->p[i];
        ps->n = u;
    }
}

int av_dedup_run(av_dedup *d, av_dedup_stats *st)
{
    memset(st, 0, sizeof *st);
    st->items = d->n;
    for (size_t i = 0; i < d->n; i++) {
        if (!d->set[i]) return av_error_set(AV_EINVAL, "dedup slot %zu was not filled", i);
        if (i && d->row[i] <= d->row[i - 1]) return av_error_set(AV_EINVAL, "dedup rows are not ascending");
    }
    free(d->parent);
    free(d->size);
    free(d->sim);
    d->parent = av_xmalloc((d->n ? d->n : 1) * sizeof *d->parent);
    d->size = av_xcalloc(d->n ? d->n : 1, sizeof *d->size);
    d->sim = av_xcalloc(d->n ? d->n : 1, sizeof *d->sim);
    for (size_t i = 0; i < d->n; i++) d->parent[i] = (uint32_t)i;

    unsigned char *leader = av_xmalloc(d->n ? d->n : 1);
    st->exact_dups = exact_groups(d, leader);
    if (!d->o.exact) st->exact_dups = 0; /* counted as near duplicates */

    if (d->o.near) {
        pairs ps = {0};
        near_pairs(d, leader, &ps);
        st->candidates = ps.n;
        for (size_t k = 0; k < ps.n; k++) {
            uint32_t a = (uint32_t)(ps.p[k] >> 32), b = (uint32_t)ps.p[k];
            double j = av_mh_jaccard(d->sh[a], d->nsh[a], d->sh[b], d->nsh[b]);
            if (d->on_pair) d->on_pair(d->on_pair_ctx, a, b, j);
            if (j > d->sim[a]) d->sim[a] = j;
            if (j > d->sim[b]) d->sim[b] = j;
            if (j >= d->o.threshold) {
                uf_union(d->parent, a, b);
                st->joined++;
            }
        }
        free(ps.p);
    }
    free(leader);

    for (size_t i = 0; i < d->n; i++) d->size[uf_find(d->parent, (uint32_t)i)]++;
    for (size_t i = 0; i < d->n; i++) {
        uint32_t r = uf_find(d->parent, (uint32_t)i);
        if (r == i && d->size[i] > 1) st->clusters++;
        if (r != i) st->duplicates++;
    }
    return 0;
}

void av_dedup_result_get(const av_dedup *d, size_t i, av_dedup_result *out)
{
    uint32_t r = i;
    while (d->parent[r] != r) r = d->parent[r];
    out->row = d->row[i];
    out->rep = r;
    out->rep_row = d->row[r];
    out->size = d->size[r];
    out->similarity = d->sim[i];
}
