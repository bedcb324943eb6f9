/* prov.c: provenance links on disk, in two tables.
 *
 * A link says that record `row` came from row `line` of the file of source
 * record `source`, and which version made it.
 *
 *  - `pch` (store format 4): a writer's links of its own new records. They
 *    come in row order (a file's links are written at its end), so they are
 *    kept as chunks: key = the first row (u64 BE), value = varint version,
 *    then for each link varint (row - previous row), zigzag varint (source -
 *    previous source), zigzag varint (line - previous line), the first
 *    link's "previous" being (first row, 0, 0). A link costs ~3 bytes where
 *    an LMDB entry of its own took 38. Chunks never overlap, so the chunk
 *    that can hold row X is the last one whose key is <= X.
 *  - `prov`: every other link (to a record an earlier version made, or out
 *    of row order): key = row, source, line (u64 BE each), value = version
 *    (u32 BE).
 *
 * Readers and writers go through av_pch_links, which keeps the last chunk
 * it decoded (a cache per reader): reading the links of rows in order costs
 * one decode per chunk.
 */
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

void av_pch_start(av_pchenc *e, uint32_t version)
{
    av_buf_reset(&e->val);
    av_put_varint(&e->val, version);
    e->n = 0;
}

void av_pch_add(av_pchenc *e, uint64_t row, uint64_t source, uint64_t line)
{
    if (!e->n) {
        e->first = e->last = row;
        e->source = e->line = 0;
    }
    av_put_varint(&e->val, row - e->last);
    av_put_varint(&e->val, zigzag((int64_t)(source - e->source)));
    av_put_varint(&e->val, zigzag((int64_t)(line - e->line)));
    e->last = row;
    e->source = source;
    e->line = line;
    e->n++;
}

void av_pch_free(av_pchenc *e) { av_buf_free(&e->val); }

struct av_pchcache {
    /* rows [lo, hi) are answered from here: the chunk starting at lo (or
     * none, when there is no chunk there), up to the next chunk's key */
    uint64_t lo, hi;
    int valid;
    uint32_t version;
    av_prov_link *links;
    size_t n, cap;
};

void av_pchcache_free(av_pchcache *c)
{
    if (!c) return;
    free(c->links);
    free(c);
}

void av_pchcache_forget(av_pchcache *c)
{
    if (c) c->valid = 0;
}

static int decode_chunk(av_pchcache *c, uint64_t first, const MDB_val *v)
{
    const uint8_t *p = v->mv_data, *end = p + v->mv_size;
    uint64_t ver, gap, ds, dl;
    c->n = 0;
    if (av_read_varint(&p, end, &ver) < 0 || ver > UINT32_MAX) goto corrupt;
    c->version = (uint32_t)ver;
    uint64_t row = first, source = 0, line = 0;
    while (p < end) {
        if (av_read_varint(&p, end, &gap) < 0 || av_read_varint(&p, end, &ds) < 0 || av_read_varint(&p, end, &dl) < 0)
            goto corrupt;
        if (gap > UINT64_MAX - row) goto corrupt;
        row += gap;
        source += (uint64_t)unzigzag(ds);
        line += (uint64_t)unzigzag(dl);
        if (c->n == c->cap) c->links = av_xrealloc(c->links, (c->cap = c->cap ? c->cap * 2 : 256) * sizeof *c->links);
        c->links[c->n++] = (av_prov_link){row, source, line};
    }
    if (!c->n || c->links[0].row != first) goto corrupt;
    return 0;
corrupt:
    c->valid = 0;
    return av_error_set(AV_ECORRUPT, "a provenance chunk (first row %llu) is corrupt", (unsigned long long)first);
}

int av_chunk_find(MDB_txn *txn, MDB_dbi dbi, uint64_t x, uint64_t *first, MDB_val *val, uint64_t *next,
                  const char *what)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc) return av_mdb_error(rc, what);
    uint8_t k8[8];
    av_be64(k8, x);
    MDB_val k = {8, k8}, v;
    *next = UINT64_MAX;
    int found = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && k.mv_size == 8 && av_get_be64(k.mv_data) == x) {
        /* a chunk starts at x; the next key bounds it (k and v stay valid:
         * values live as long as the transaction) */
        MDB_val k2, v2;
        int r2 = mdb_cursor_get(cur, &k2, &v2, MDB_NEXT);
        if (r2 == 0) *next = k2.mv_size == 8 ? av_get_be64(k2.mv_data) : 0;
        else if (r2 != MDB_NOTFOUND) rc = r2;
        found = 1;
    } else {
        if (rc == 0) {
            *next = k.mv_size == 8 ? av_get_be64(k.mv_data) : 0;
            rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
        } else if (rc == MDB_NOTFOUND) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        }
        if (rc == 0) found = 1;
        else if (rc == MDB_NOTFOUND) rc = 0; /* no chunk at or before x */
    }
    mdb_cursor_close(cur);
    if (rc) return av_mdb_error(rc, what);
    if (*next == 0 || (found && k.mv_size != 8)) return av_error_set(AV_ECORRUPT, "%s: a chunk key is corrupt", what);
    if (!found) return 0;
    *first = av_get_be64(k.mv_data);
    *val = v;
    return 1;
}

/* Loads the chunk that can hold row into c. */
static int load(MDB_txn *txn, av_store *s, av_pchcache *c, uint64_t row)
{
    av_store_touch(s);
    MDB_val v;
    uint64_t next;
    int rc = av_chunk_find(txn, s->dbi[DBI_PCH], row, &c->lo, &v, &next, "reading provenance");
    c->valid = 0;
    if (rc < 0) return rc;
    if (rc == 0) { /* no chunk at or before row */
        c->lo = 0;
        c->n = 0;
    } else {
        if ((rc = decode_chunk(c, c->lo, &v)) < 0) return rc;
        if (next <= c->links[c->n - 1].row)
            return av_error_set(AV_ECORRUPT, "provenance chunks at rows %llu and %llu overlap", (unsigned long long)c->lo,
                                (unsigned long long)next);
    }
    c->hi = next;
    c->valid = 1;
    return 0;
}

int av_pch_links(MDB_txn *txn, av_store *s, av_pchcache **cp, uint64_t row, const av_prov_link **out, size_t *n,
                 uint32_t *version)
{
    if (!*cp) *cp = av_xcalloc(1, sizeof **cp);
    av_pchcache *c = *cp;
    *out = NULL;
    *n = 0;
    *version = 0;
    if (!c->valid || row < c->lo || row >= c->hi) {
        int rc = load(txn, s, c, row);
        if (rc < 0) return rc;
    }
    /* links are in row order: find row's run */
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->links[mid].row < row) lo = mid + 1;
        else hi = mid;
    }
    size_t end = lo;
    while (end < c->n && c->links[end].row == row) end++;
    *out = c->links + lo;
    *n = end - lo;
    *version = c->version;
    return 0;
}
