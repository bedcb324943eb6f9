/* shortkey.c: the cid and txt tables, keyed by half a hash (store format 5).
 *
 * A content id (cid: id -> row) or a text hash (txt: hash -> place) is an
 * entry keyed by the hash's first 8 bytes: 8 bytes less a key than the whole
 * 16, on ~150,000 records and ~240,000 texts of a 50K Magpie store. What
 * the entry names is checked against the whole hash (a record holds its
 * content id; a text is hashed again, which a writer does only for a text
 * it meets twice), and a second hash with the same first 8 bytes, which a
 * store of a billion entries meets about once in 40, is keyed by all 16.
 *
 * Keys sort as bytes, shorter first: a hash's 8-byte key comes just before
 * the 16-byte keys that share its 8 bytes, so a walk by id prefix meets
 * both.
 */
#include "store/internal.h"

#include <string.h>

/* A record's content id: its bytes 1..16 (codec.c). */
static int row_has_cid(av_store *s, MDB_txn *txn, uint64_t row, const av_id *cid, int *same)
{
    MDB_val v;
    int rc = av_rec_raw(s, txn, row, &v);
    if (rc < 0) return rc;
    if (v.mv_size < 17) return av_error_set(AV_ECORRUPT, "record %llu is corrupt", (unsigned long long)row);
    *same = !memcmp((const uint8_t *)v.mv_data + 1, cid->b, 16);
    return 0;
}

int av_cid_get(MDB_txn *txn, av_store *s, const av_id *cid, uint64_t *row)
{
    for (size_t kl = AV_SHORT_KEY; kl <= 16; kl += 16 - AV_SHORT_KEY) {
        MDB_val k = {kl, (void *)cid->b}, v;
        int rc = mdb_get(txn, s->dbi[DBI_CID], &k, &v);
        if (rc == MDB_NOTFOUND) return MDB_NOTFOUND; /* no 16-byte key without its 8-byte one */
        if (rc) return av_mdb_error(rc, "looking up a content id");
        if ((rc = av_cid_row(v.mv_data, v.mv_size, row)) < 0) return rc;
        if (kl == 16) return 0;
        int same = 0;
        if ((rc = row_has_cid(s, txn, *row, cid, &same)) < 0) return rc;
        if (same) return 0;
    }
    return MDB_NOTFOUND;
}

int av_txt_get(MDB_txn *txn, av_store *s, av_blockcache *cache, const av_id *hash, uint64_t *loc, uint32_t *len)
{
    for (size_t kl = AV_SHORT_KEY; kl <= 16; kl += 16 - AV_SHORT_KEY) {
        MDB_val k = {kl, (void *)hash->b}, v;
        int rc = mdb_get(txn, s->dbi[DBI_TXT], &k, &v);
        if (rc == MDB_NOTFOUND) return MDB_NOTFOUND;
        if (rc) return av_mdb_error(rc, "looking up a text");
        if ((rc = av_txt_unpack(v.mv_data, v.mv_size, loc, len)) < 0) return rc;
        if (kl == 16) return 0;
        const char *p;
        if ((rc = av_text_at(s, txn, cache, *loc, *len, &p)) < 0) return rc;
        av_id h;
        av_hash(&h, p, *len);
        if (!memcmp(h.b, hash->b, 16)) return 0;
    }
    return MDB_NOTFOUND;
}

int av_shortkey_put(MDB_txn *txn, MDB_dbi dbi, const uint8_t hash[16], const void *val, size_t vlen, unsigned flags)
{
    MDB_val k = {AV_SHORT_KEY, (void *)hash}, v = {vlen, (void *)val};
    int rc = mdb_put(txn, dbi, &k, &v, flags | MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST && (flags & MDB_APPEND)) { /* not after the last key: put it in its place */
        v = (MDB_val){vlen, (void *)val};
        rc = mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE);
    }
    if (rc != MDB_KEYEXIST) return rc;
    /* LMDB points v at the value there: the same entry (a batch written
     * again), or another hash with these 8 bytes */
    if (v.mv_size == vlen && !memcmp(v.mv_data, val, vlen)) return 0;
    MDB_val k16 = {16, (void *)hash}, v16 = {vlen, (void *)val};
    rc = mdb_put(txn, dbi, &k16, &v16, MDB_NOOVERWRITE);
    return rc == MDB_KEYEXIST ? 0 : rc;
}

int av_cid_del(MDB_txn *txn, av_store *s, const av_id *cid, uint64_t row)
{
    for (size_t kl = AV_SHORT_KEY; kl <= 16; kl += 16 - AV_SHORT_KEY) {
        MDB_val k = {kl, (void *)cid->b}, v;
        int rc = mdb_get(txn, s->dbi[DBI_CID], &k, &v);
        if (rc == MDB_NOTFOUND) return 0;
        if (rc) return rc;
        uint64_t at;
        if (av_cid_row(v.mv_data, v.mv_size, &at) == 0 && at == row) return mdb_del(txn, s->dbi[DBI_CID], &k, NULL);
    }
    return 0;
}
