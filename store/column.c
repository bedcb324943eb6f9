/* column.c: the row column, each row's kind and first reference in a flat
 * array, so that the questions a query planner asks of thousands of rows
 * ("is this row there, what kind is it, what does it refer to?") cost an
 * array read instead of a B-tree search of the record table.
 *
 * Table col: chunk number (u64 BE) -> AV_COL_ROWS entries of 8 bytes, row
 * chunk * AV_COL_ROWS + i at entry i: kind << 56 | ref[0], little-endian;
 * 0 where no record is (a row a killed writer took, or not yet written).
 * A chunk is 8176 bytes, so it fills two LMDB pages exactly. The writer
 * sets entries in the transaction that writes the records; rolling back a
 * killed writer's rows clears theirs.
 */
#include "store/internal.h"

#include <endian.h>
#include <string.h>

static uint64_t entry_at(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return le64toh(v);
}

static void entry_put(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8) p[i] = (uint8_t)v;
}

uint64_t av_col_entry(const void *rec, size_t len)
{
    const uint8_t *p = rec, *end = p + len;
    uint64_t x, ref0 = 0;
    if (len < 19 || p[0] < 1 || p[0] > AV_KIND_MAX) return 0;
    uint64_t kind = p[0];
    p += 17;
    if (av_read_varint(&p, end, &x) < 0 || p >= end) return 0;
    uint8_t bits = *p++;
    if ((bits & 1) && av_read_varint(&p, end, &ref0) < 0) return 0;
    return kind << 56 | (ref0 & AV_COL_REF_MASK);
}

static int col_load(av_colw *w, MDB_txn *txn, av_store *s, uint64_t chunk)
{
    w->chunk = chunk;
    w->loaded = 1;
    w->dirty = 0;
    uint8_t k[8];
    av_be64(k, chunk);
    MDB_val key = {8, k}, val;
    int rc = mdb_get(txn, s->dbi[DBI_COL], &key, &val);
    if (rc == MDB_NOTFOUND) {
        memset(w->buf, 0, sizeof w->buf);
        return 0;
    }
    if (rc) return rc;
    if (val.mv_size != sizeof w->buf) memset(w->buf, 0, sizeof w->buf);
    memcpy(w->buf, val.mv_data, val.mv_size < sizeof w->buf ? val.mv_size : sizeof w->buf);
    return 0;
}

int av_colw_flush(av_colw *w, MDB_txn *txn, av_store *s)
{
    if (!w->loaded || !w->dirty) return 0;
    uint8_t k[8];
    av_be64(k, w->chunk);
    MDB_val key = {8, k}, val = {sizeof w->buf, w->buf};
    int rc = mdb_put(txn, s->dbi[DBI_COL], &key, &val, 0);
    if (!rc) w->dirty = 0;
    return rc;
}

int av_colw_set(av_colw *w, MDB_txn *txn, av_store *s, uint64_t row, uint64_t entry)
{
    uint64_t chunk = row / AV_COL_ROWS;
    int rc;
    if (!w->loaded || w->chunk != chunk) {
        if ((rc = av_colw_flush(w, txn, s))) return rc;
        if ((rc = col_load(w, txn, s, chunk))) return rc;
    }
    entry_put(w->buf + (row % AV_COL_ROWS) * 8, entry);
    w->dirty = 1;
    return 0;
}

/* The entry of row in r's transaction (0 when there is none). */
static int col_get(av_reader *r, uint64_t row, uint64_t *out)
{
    uint64_t chunk = row / AV_COL_ROWS;
    if (!r->col_ptr || r->col_chunk != chunk) {
        uint8_t k[8];
        av_be64(k, chunk);
        MDB_val key = {8, k}, val;
        int rc = mdb_get(r->txn, r->s->dbi[DBI_COL], &key, &val);
        if (rc == MDB_NOTFOUND) {
            *out = 0;
            return 0;
        }
        if (rc) return av_mdb_error(rc, "reading the row column");
        if (val.mv_size != AV_COL_ROWS * 8) return av_error_set(AV_ECORRUPT, "row column chunk %llu is corrupt",
                                                                (unsigned long long)chunk);
        r->col_ptr = val.mv_data;
        r->col_chunk = chunk;
    }
    *out = entry_at(r->col_ptr + (row % AV_COL_ROWS) * 8);
    return 0;
}

int av_row_info(av_reader *r, uint64_t row, unsigned flags, av_kind *kind, uint64_t *ref0)
{
    if (row == 0) return 0;
    if (!(flags & AV_GET_ANY) && (row >= r->row_end || av_is_hidden(r, row))) return 0;
    uint64_t e;
    int rc = col_get(r, row, &e);
    if (rc < 0) return rc;
    if (!e) return 0;
    if (kind) *kind = (av_kind)(e >> 56);
    if (ref0) *ref0 = e & AV_COL_REF_MASK;
    return 1;
}

int av_rows_info(av_reader *r, const uint64_t *rows, size_t n, unsigned flags, av_kind *kinds, uint64_t *ref0s)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t row = rows[i], e = 0;
        kinds[i] = AV_KIND_NONE;
        if (ref0s) ref0s[i] = 0;
        if (row == 0 || (!(flags & AV_GET_ANY) && (row >= r->row_end || (r->nhidden && av_is_hidden(r, row)))))
            continue;
        uint64_t chunk = row / AV_COL_ROWS;
        if (r->col_ptr && r->col_chunk == chunk) {
            e = entry_at(r->col_ptr + (row % AV_COL_ROWS) * 8);
        } else {
            int rc = col_get(r, row, &e);
            if (rc < 0) return rc;
        }
        if (!e) continue;
        kinds[i] = (av_kind)(e >> 56);
        if (ref0s) ref0s[i] = e & AV_COL_REF_MASK;
    }
    return 0;
}
