/* text.c: the content-addressed text store.
 *
 * Texts are stored once, keyed by their hash (txt table), and packed into
 * blocks of about AV_BLOCK_RAW bytes that are compressed together with zstd,
 * using the store's newest dictionary (trained on its own texts once there
 * are enough of them; every dictionary stays in the dict table, since old
 * blocks name theirs). Packing keeps LMDB's overflow pages full and lets
 * zstd see context across texts; fetching one text decompresses its block,
 * which a small per-reader cache keeps for the next text (sequential reads
 * such as export touch each block once).
 *
 * Block value: "AVB1" | class << 31 | dict id (u32 BE) | raw length (u32 BE)
 *              | n (u32 BE) | n x (hash (16) + length (u32 BE)) | zstd frame
 * of the texts, back to back in the table's order. The class says whose
 * texts the block holds (AV_TEXTS_RESPONSE: responses' messages; 0: the
 * rest), so a scan of one class skips the other's blocks undecompressed.
 */
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>
#define ZDICT_STATIC_LINKING_ONLY
#include <zdict.h>
#include <zstd.h>

#define CACHE_SLOTS 4

struct cached_block {
    uint64_t id;
    char *raw;
    size_t len;
    unsigned age;
};

struct dict_entry {
    uint32_t id;
    ZSTD_DDict *ddict;
};

struct av_blockcache {
    struct cached_block slot[CACHE_SLOTS];
    unsigned tick;
    ZSTD_DCtx *dctx;
    struct dict_entry *dicts;
    size_t ndicts;
};

av_blockcache *av_blockcache_new(void)
{
    av_blockcache *c = av_xcalloc(1, sizeof *c);
    return c;
}

void av_blockcache_free(av_blockcache *c)
{
    if (!c) return;
    for (int i = 0; i < CACHE_SLOTS; i++) free(c->slot[i].raw);
    for (size_t i = 0; i < c->ndicts; i++) ZSTD_freeDDict(c->dicts[i].ddict);
    free(c->dicts);
    ZSTD_freeDCtx(c->dctx);
    free(c);
}

int av_block_header(const void *val, size_t len, uint32_t *out_ntexts, const uint8_t **out_table, uint32_t *out_dict)
{
    const uint8_t *p = val;
    if (len < 16 || memcmp(p, "AVB1", 4)) return av_error_set(AV_ECORRUPT, "text block is corrupt");
    uint32_t n = av_get_be32(p + 12);
    if ((size_t)n * 20 > len - 16) return av_error_set(AV_ECORRUPT, "text block is corrupt");
    *out_dict = av_get_be32(p + 4) & 0x7fffffffu;
    *out_ntexts = n;
    *out_table = p + 16;
    return 0;
}

static ZSTD_DDict *get_ddict(av_store *s, MDB_txn *txn, av_blockcache *c, uint32_t id)
{
    for (size_t i = 0; i < c->ndicts; i++)
        if (c->dicts[i].id == id) return c->dicts[i].ddict;
    uint8_t k[4];
    av_be32(k, id);
    MDB_val key = {4, k}, val;
    if (mdb_get(txn, s->dbi[DBI_DICT], &key, &val)) return NULL;
    ZSTD_DDict *d = ZSTD_createDDict(val.mv_data, val.mv_size);
    if (!d) return NULL;
    c->dicts = av_xrealloc(c->dicts, (c->ndicts + 1) * sizeof *c->dicts);
    c->dicts[c->ndicts++] = (struct dict_entry){id, d};
    return d;
}

/* Decompresses block id (value val, n texts, dictionary dict) into raw. */
static int decompress_block(av_store *s, MDB_txn *txn, av_blockcache *c, uint64_t id, const MDB_val *val, uint32_t n,
                            uint32_t dict, char *raw, size_t raw_len)
{
    const uint8_t *p = val->mv_data;
    size_t off = 16 + (size_t)n * 20;
    if (!c->dctx) c->dctx = ZSTD_createDCtx();
    size_t got;
    if (dict) {
        ZSTD_DDict *dd = get_ddict(s, txn, c, dict);
        if (!dd) return av_error_set(AV_ECORRUPT, "zstd dictionary %u is missing", dict);
        got = ZSTD_decompress_usingDDict(c->dctx, raw, raw_len, p + off, val->mv_size - off, dd);
    } else {
        got = ZSTD_decompressDCtx(c->dctx, raw, raw_len, p + off, val->mv_size - off);
    }
    if (ZSTD_isError(got) || got != raw_len)
        return av_error_set(AV_ECORRUPT, "text block %llu does not decompress: %s", (unsigned long long)id,
                            ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong length");
    return 0;
}

int av_text_scan_blocks(av_store *s, MDB_txn *txn, av_blockcache *c, int cls, uint64_t lo, uint64_t hi,
                        av_text_fn fn, void *ctx)
{
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, s->dbi[DBI_BLK], &cur), rc = 0;
    if (mrc) return av_mdb_error(mrc, "reading text blocks");
    uint8_t k8[8];
    av_be64(k8, lo);
    MDB_val key = {8, k8}, val;
    char *raw = NULL;
    size_t cap = 0;
    for (mrc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); mrc == 0 && rc == 0;
         mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        if (key.mv_size != 8) continue;
        uint64_t id = av_get_be64(key.mv_data);
        if (id >= hi) break;
        uint32_t n, dict;
        const uint8_t *table;
        if ((rc = av_block_header(val.mv_data, val.mv_size, &n, &table, &dict)) < 0) break;
        const uint8_t *p = val.mv_data;
        if ((int)(p[4] >> 7) != (cls != 0)) continue;
        size_t raw_len = av_get_be32(p + 8);
        if (raw_len + 1 > cap) {
            cap = raw_len + 1;
            raw = av_xrealloc(raw, cap);
        }
        if ((rc = decompress_block(s, txn, c, id, &val, n, dict, raw, raw_len)) < 0) break;
        size_t off = 0;
        for (uint32_t i = 0; i < n && rc == 0; i++) {
            size_t len = av_get_be32(table + 20 * i + 16);
            if (off + len > raw_len) {
                rc = av_error_set(AV_ECORRUPT, "text block %llu is corrupt", (unsigned long long)id);
                break;
            }
            av_id h;
            memcpy(h.b, table + 20 * i, 16);
            rc = fn(ctx, &h, raw + off, len);
            off += len;
        }
    }
    mdb_cursor_close(cur);
    free(raw);
    if (rc) return rc;
    return mrc && mrc != MDB_NOTFOUND ? av_mdb_error(mrc, "reading text blocks") : 0;
}

/* The raw bytes of block `id`, from the cache or decompressed into it. */
static int load_block(av_store *s, MDB_txn *txn, av_blockcache *c, uint64_t id, struct cached_block **out)
{
    struct cached_block *victim = &c->slot[0];
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (c->slot[i].raw && c->slot[i].id == id) {
            c->slot[i].age = ++c->tick;
            *out = &c->slot[i];
            return 0;
        }
        if (!c->slot[i].raw || c->slot[i].age < victim->age) victim = &c->slot[i];
    }
    uint8_t k[8];
    av_be64(k, id);
    MDB_val key = {8, k}, val;
    int rc = mdb_get(txn, s->dbi[DBI_BLK], &key, &val);
    if (rc) return rc == MDB_NOTFOUND ? av_error_set(AV_ECORRUPT, "text block %llu is missing", (unsigned long long)id)
                                      : av_mdb_error(rc, "reading a text block");
    uint32_t n, dict;
    const uint8_t *table;
    if ((rc = av_block_header(val.mv_data, val.mv_size, &n, &table, &dict)) < 0) return rc;
    const uint8_t *p = val.mv_data;
    size_t raw_len = av_get_be32(p + 8);
    free(victim->raw);
    victim->raw = av_xmalloc(raw_len + 1);
    victim->raw[raw_len] = 0;
    if ((rc = decompress_block(s, txn, c, id, &val, n, dict, victim->raw, raw_len)) < 0) {
        free(victim->raw), victim->raw = NULL;
        return rc;
    }
    victim->id = id;
    victim->len = raw_len;
    victim->age = ++c->tick;
    *out = victim;
    return 0;
}

int av_text_ref(av_store *s, MDB_txn *txn, av_blockcache *cache, const av_id *hash, const char **out, size_t *out_len)
{
    MDB_val key = {16, (void *)hash->b}, val;
    int rc = mdb_get(txn, s->dbi[DBI_TXT], &key, &val);
    if (rc == MDB_NOTFOUND) {
        char hex[33];
        av_id_hex(hex, hash);
        return av_error_set(AV_ENOTFOUND, "no text %s in the store", hex);
    }
    if (rc) return av_mdb_error(rc, "looking up a text");
    if (val.mv_size != 16) return av_error_set(AV_ECORRUPT, "text index entry is corrupt");
    const uint8_t *v = val.mv_data;
    uint64_t block = av_get_be64(v);
    uint32_t off = av_get_be32(v + 8), len = av_get_be32(v + 12);
    struct cached_block *b = NULL;
    if ((rc = load_block(s, txn, cache, block, &b)) < 0) return rc;
    if ((size_t)off + len > b->len) return av_error_set(AV_ECORRUPT, "text entry points past its block");
    *out = b->raw + off;
    *out_len = len;
    return 0;
}

int av_text_fetch(av_store *s, MDB_txn *txn, av_blockcache *cache, const av_id *hash, char **out, size_t *out_len)
{
    const char *p;
    size_t len;
    int rc = av_text_ref(s, txn, cache, hash, &p, &len);
    if (rc < 0) return rc;
    *out = av_xstrndup(p, len);
    if (out_len) *out_len = len;
    return 0;
}

struct av_compressor {
    ZSTD_CCtx *cctx;
    ZSTD_CDict *cdict;
    uint32_t cdict_id;
};

av_compressor *av_compressor_new(void) { return av_xcalloc(1, sizeof(av_compressor)); }

void av_compressor_free(av_compressor *z)
{
    if (!z) return;
    ZSTD_freeCCtx(z->cctx);
    ZSTD_freeCDict(z->cdict);
    free(z);
}

int av_block_seal(av_compressor *z, av_buf *out, av_block_builder *bb, uint32_t dict_id, const void *dict,
                  size_t dict_len)
{
    av_buf_reset(out);
    uint8_t h[16];
    memcpy(h, "AVB1", 4);
    av_be32(h + 4, (dict ? dict_id : 0) | (bb->cls ? 0x80000000u : 0));
    av_be32(h + 8, (uint32_t)bb->raw.len);
    av_be32(h + 12, bb->ntexts);
    av_buf_put(out, h, 16);
    av_buf_put(out, bb->hdr.ptr, bb->hdr.len);
    size_t bound = ZSTD_compressBound(bb->raw.len);
    av_buf_grow(out, bound);
    if (!z->cctx) z->cctx = ZSTD_createCCtx();
    size_t n;
    if (dict) {
        if (!z->cdict || z->cdict_id != dict_id) {
            ZSTD_freeCDict(z->cdict);
            z->cdict = ZSTD_createCDict(dict, dict_len, AV_ZSTD_LEVEL);
            z->cdict_id = dict_id;
        }
        n = ZSTD_compress_usingCDict(z->cctx, out->ptr + out->len, bound, bb->raw.ptr, bb->raw.len, z->cdict);
    } else {
        n = ZSTD_compressCCtx(z->cctx, out->ptr + out->len, bound, bb->raw.ptr ? bb->raw.ptr : "", bb->raw.len,
                              AV_ZSTD_LEVEL);
    }
    if (ZSTD_isError(n)) return av_error_set(AV_ERROR, "zstd compression failed: %s", ZSTD_getErrorName(n));
    out->len += n;
    return 0;
}

size_t av_dict_train(void *dict, size_t cap, const void *samples, const size_t *sizes, unsigned n)
{
    if (n < 16) return 0;
    ZDICT_fastCover_params_t p;
    memset(&p, 0, sizeof p);
    p.k = 200;
    p.d = 8;
    p.steps = 4;
    p.zParams.compressionLevel = AV_ZSTD_LEVEL;
    size_t r = ZDICT_trainFromBuffer_fastCover(dict, cap, samples, sizes, n, p);
    if (ZDICT_isError(r)) return 0;
    return r;
}
