/* refs.c: the reference index of a writer's new rows, in chunks (table
 * `rch`, store format 5).
 *
 * "Which records refer to row X" (a prompt's responses and tags, a
 * response's ratings) was one idx entry per target row: key '~' + X + first
 * row, 29 bytes with LMDB's node header for what is mostly one or two rows.
 * Most references point at a row written a moment before (a response at its
 * prompt, a tag at its row), so when a writer flushes its index, the
 * reference terms of targets it has not chunked yet go here instead, in
 * target order: key = the chunk's first target (u64 BE), value = for each
 * target, varint (target - previous target; 0 for the first), varint n,
 * zigzag varint (first source - target), then n - 1 varint gaps between the
 * sources (ascending). A target with one reference costs ~3 bytes.
 *
 * Chunks never overlap: a writer chunks only targets above the last one it
 * (or an earlier writer) chunked; a later reference to a chunked target is an
 * ordinary '~' idx entry. So the chunk that can hold X is the last one whose
 * key is <= X, and av_iter_refs reads both and merges them. Each reader
 * keeps the chunk it decoded last (as it does provenance chunks, prov.c):
 * following the references of rows in order decodes each chunk once.
 */
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

void av_rch_add(av_rchenc *e, uint64_t target, const uint64_t *rows, size_t n)
{
    if (!e->n) e->first = e->last = target;
    av_put_varint(&e->val, target - e->last);
    av_put_varint(&e->val, n);
    av_put_varint(&e->val, zigzag((int64_t)(rows[0] - target)));
    for (size_t i = 1; i < n; i++) av_put_varint(&e->val, rows[i] - rows[i - 1]);
    e->last = target;
    e->n++;
}

void av_rch_reset(av_rchenc *e)
{
    av_buf_reset(&e->val);
    e->n = 0;
}

void av_rch_free(av_rchenc *e) { av_buf_free(&e->val); }

struct av_rchcache {
    /* targets [lo, hi) are answered from here: the chunk starting at lo (or
     * none), up to the next chunk's key */
    uint64_t lo, hi;
    int valid;
    uint64_t *target; /* ascending */
    size_t *at;       /* target i's sources: src[at[i] .. at[i + 1]) */
    uint64_t *src;
    size_t nt, ns, capt, caps;
};

void av_rchcache_free(av_rchcache *c)
{
    if (!c) return;
    free(c->target);
    free(c->at);
    free(c->src);
    free(c);
}

void av_rchcache_forget(av_rchcache *c)
{
    if (c) c->valid = 0;
}

static int corrupt(av_rchcache *c, uint64_t first)
{
    c->valid = 0;
    return av_error_set(AV_ECORRUPT, "a reference chunk (first target %llu) is corrupt", (unsigned long long)first);
}

static int decode_chunk(av_rchcache *c, uint64_t first, const MDB_val *v)
{
    const uint8_t *p = v->mv_data, *end = p + v->mv_size;
    uint64_t t = first;
    c->nt = c->ns = 0;
    while (p < end) {
        uint64_t gap, cnt, z;
        if (av_read_varint(&p, end, &gap) < 0 || av_read_varint(&p, end, &cnt) < 0 ||
            av_read_varint(&p, end, &z) < 0 || cnt == 0 || cnt > (uint64_t)(end - p) + 1 || (!c->nt && gap) ||
            (c->nt && !gap) || gap > UINT64_MAX - t)
            return corrupt(c, first);
        t += gap;
        if (c->nt + 2 > c->capt) {
            c->capt = c->capt ? c->capt * 2 : 512;
            c->target = av_xrealloc(c->target, c->capt * sizeof *c->target);
            c->at = av_xrealloc(c->at, c->capt * sizeof *c->at);
        }
        if (c->ns + cnt > c->caps) {
            c->caps = (c->ns + cnt) * 2;
            c->src = av_xrealloc(c->src, c->caps * sizeof *c->src);
        }
        c->target[c->nt] = t;
        c->at[c->nt++] = c->ns;
        uint64_t row = t + (uint64_t)unzigzag(z);
        c->src[c->ns++] = row;
        for (uint64_t i = 1; i < cnt; i++) {
            uint64_t g;
            if (av_read_varint(&p, end, &g) < 0 || g == 0) return corrupt(c, first);
            c->src[c->ns++] = row += g;
        }
    }
    if (!c->nt) return corrupt(c, first);
    c->at[c->nt] = c->ns;
    return 0;
}

/* Loads the chunk that can hold target into c. */
static int load(MDB_txn *txn, av_store *s, av_rchcache *c, uint64_t target)
{
    av_store_touch(s);
    MDB_val v;
    uint64_t next;
    int rc = av_chunk_find(txn, s->dbi[DBI_RCH], target, &c->lo, &v, &next, "reading the reference index");
    c->valid = 0;
    if (rc < 0) return rc;
    if (rc == 0) { /* no chunk at or before target */
        c->lo = 0;
        c->nt = c->ns = 0;
    } else {
        if ((rc = decode_chunk(c, c->lo, &v)) < 0) return rc;
        if (next <= c->target[c->nt - 1])
            return av_error_set(AV_ECORRUPT, "reference chunks at targets %llu and %llu overlap", (unsigned long long)c->lo,
                                (unsigned long long)next);
    }
    c->hi = next;
    c->valid = 1;
    return 0;
}

int av_rch_sources(MDB_txn *txn, av_store *s, av_rchcache **cp, uint64_t target, const uint64_t **out, size_t *n)
{
    if (!*cp) *cp = av_xcalloc(1, sizeof **cp);
    av_rchcache *c = *cp;
    *out = NULL;
    *n = 0;
    if (!c->valid || target < c->lo || target >= c->hi) {
        int rc = load(txn, s, c, target);
        if (rc < 0) return rc;
    }
    size_t lo = 0, hi = c->nt;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->target[mid] < target) lo = mid + 1;
        else hi = mid;
    }
    if (lo < c->nt && c->target[lo] == target) {
        *out = c->src + c->at[lo];
        *n = c->at[lo + 1] - c->at[lo];
    }
    return 0;
}
