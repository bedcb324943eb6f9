/* text.c: the content-addressed text store.
 *
 * Texts are stored once (writers find them by hash in the txt table; records
 * name them by place, block + class + raw offset, see av_loc_make, so a read
 * needs no hash lookup: av_text_at), and packed into
 * blocks of about AV_BLOCK_RAW bytes, one LMDB value each (so overflow pages
 * fill). Inside a block, texts are compressed with zstd in frames of about
 * AV_FRAME_RAW bytes, each on its own with the store's newest dictionary
 * (trained on its own texts once there are enough of them; every dictionary
 * stays in the dict table, since old blocks name theirs). With a trained
 * dictionary, small frames lose little against one big frame, and fetching
 * one text decompresses only its frame: a filtered export or a lookup by id
 * reads a few KiB per text, not the whole block. A small per-reader cache
 * keeps the last frames for the next text (sequential reads touch each once).
 *
 * Block value: "AVB3" | class << 31 | dict id (u32 BE) | raw length (u32 BE)
 *   | n (u32 BE) | frames (u32 BE) | lengths' bytes (u32 BE)
 *   | n x length (varint)                     texts, back to back in order
 *     (store format 5: 1-3 bytes a text where a u32 took 4)
 *   | frames x (raw end (u32 BE) + data end (u32 BE))
 *   | the frames' zstd data
 * A frame holds whole texts: it covers raw bytes [previous raw end, raw end)
 * and data [previous data end, data end). The class says whose texts the
 * block holds (AV_TEXTS_RESPONSE: responses' messages; 0: the rest), so a
 * scan of one class skips the other's blocks undecompressed.
 */
#include "store/internal.h"

#include <stdlib.h>
#include <string.h>
#define ZDICT_STATIC_LINKING_ONLY
#include <zdict.h>
#include <zstd.h>

#define CACHE_SLOTS 4
#define HDR 24 /* fixed header bytes */

/* A decompressed frame: raw bytes [lo, hi) of block id. */
struct cached_frame {
    uint64_t id;
    uint32_t lo, hi;
    char *raw;
    size_t cap;
    unsigned age;
};

struct dict_entry {
    uint32_t id;
    ZSTD_DDict *ddict;
};

struct av_blockcache {
    struct cached_frame slot[CACHE_SLOTS];
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

/* A block value's parts. */
typedef struct blockv {
    uint32_t ntexts, nframes, dict, raw_len;
    int cls;
    const uint8_t *table;  /* ntexts x length (varint) */
    size_t table_len;
    const uint8_t *frames; /* nframes x (raw end, data end) */
    const uint8_t *data;
    size_t data_len;
} blockv;

static int block_parse(const void *val, size_t len, blockv *b)
{
    const uint8_t *p = val;
    memset(b, 0, sizeof *b);
    if (len < HDR || memcmp(p, "AVB3", 4)) return av_error_set(AV_ECORRUPT, "text block is corrupt");
    b->cls = p[4] >> 7;
    b->dict = av_get_be32(p + 4) & 0x7fffffffu;
    b->raw_len = av_get_be32(p + 8);
    b->ntexts = av_get_be32(p + 12);
    b->nframes = av_get_be32(p + 16);
    b->table_len = av_get_be32(p + 20);
    size_t tables = b->table_len + (size_t)b->nframes * 8;
    if (tables > len - HDR || !b->nframes || b->table_len < b->ntexts || b->table_len > (size_t)b->ntexts * 5)
        return av_error_set(AV_ECORRUPT, "text block is corrupt");
    b->table = p + HDR;
    b->frames = b->table + b->table_len;
    b->data = b->frames + (size_t)b->nframes * 8;
    b->data_len = len - HDR - tables;
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

/* Frame f's raw range [*lo, *hi) and data range [*dlo, *dhi), checked. */
static int frame_range(const blockv *b, uint64_t id, uint32_t f, uint32_t *lo, uint32_t *hi, size_t *dlo, size_t *dhi)
{
    *lo = f ? av_get_be32(b->frames + 8 * (f - 1)) : 0;
    *hi = av_get_be32(b->frames + 8 * f);
    *dlo = f ? av_get_be32(b->frames + 8 * (f - 1) + 4) : 0;
    *dhi = av_get_be32(b->frames + 8 * f + 4);
    if (*lo > *hi || *hi > b->raw_len || *dlo > *dhi || *dhi > b->data_len)
        return av_error_set(AV_ECORRUPT, "text block %llu is corrupt", (unsigned long long)id);
    return 0;
}

/* Decompresses frame f of block b (id) into out, which has room for it. */
static int frame_decompress(av_store *s, MDB_txn *txn, av_blockcache *c, uint64_t id, const blockv *b, uint32_t f,
                            char *out)
{
    uint32_t lo, hi;
    size_t dlo, dhi;
    int rc = frame_range(b, id, f, &lo, &hi, &dlo, &dhi);
    if (rc < 0) return rc;
    if (!c->dctx) c->dctx = ZSTD_createDCtx();
    size_t got;
    if (b->dict) {
        ZSTD_DDict *dd = get_ddict(s, txn, c, b->dict);
        if (!dd) return av_error_set(AV_ECORRUPT, "zstd dictionary %u is missing", b->dict);
        got = ZSTD_decompress_usingDDict(c->dctx, out, hi - lo, b->data + dlo, dhi - dlo, dd);
    } else {
        got = ZSTD_decompressDCtx(c->dctx, out, hi - lo, b->data + dlo, dhi - dlo);
    }
    if (ZSTD_isError(got) || got != hi - lo)
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
        blockv b;
        if ((rc = block_parse(val.mv_data, val.mv_size, &b)) < 0) break;
        if (b.cls != (cls != 0)) continue;
        if (b.raw_len + 1 > cap) {
            cap = b.raw_len + 1;
            raw = av_xrealloc(raw, cap);
        }
        for (uint32_t f = 0; f < b.nframes && rc == 0; f++) {
            uint32_t flo = f ? av_get_be32(b.frames + 8 * (f - 1)) : 0;
            if (flo > b.raw_len) rc = av_error_set(AV_ECORRUPT, "text block %llu is corrupt", (unsigned long long)id);
            else rc = frame_decompress(s, txn, c, id, &b, f, raw + flo);
        }
        size_t off = 0;
        const uint8_t *tp = b.table, *tend = b.table + b.table_len;
        for (uint32_t i = 0; i < b.ntexts && rc == 0; i++) {
            uint64_t len;
            if (av_read_varint(&tp, tend, &len) < 0 || len > b.raw_len || off + len > b.raw_len) {
                rc = av_error_set(AV_ECORRUPT, "text block %llu is corrupt", (unsigned long long)id);
                break;
            }
            rc = fn(ctx, raw + off, len, av_loc_make(id, b.cls, (uint32_t)off));
            off += len;
        }
    }
    mdb_cursor_close(cur);
    free(raw);
    if (rc) return rc;
    return mrc && mrc != MDB_NOTFOUND ? av_mdb_error(mrc, "reading text blocks") : 0;
}

/* The frame of block id holding raw offset off, from the cache or
 * decompressed into it. */
static int load_frame(av_store *s, MDB_txn *txn, av_blockcache *c, uint64_t id, uint32_t off,
                      struct cached_frame **out)
{
    struct cached_frame *victim = &c->slot[0];
    for (int i = 0; i < CACHE_SLOTS; i++) {
        struct cached_frame *f = &c->slot[i];
        if (f->raw && f->id == id && f->lo <= off && off < f->hi) {
            f->age = ++c->tick;
            *out = f;
            return 0;
        }
        if (!f->raw || f->age < victim->age) victim = f;
    }
    uint8_t k[8];
    av_be64(k, id);
    MDB_val key = {8, k}, val;
    av_store_touch(s);
    int rc = mdb_get(txn, s->dbi[DBI_BLK], &key, &val);
    if (rc) return rc == MDB_NOTFOUND ? av_error_set(AV_ECORRUPT, "text block %llu is missing", (unsigned long long)id)
                                      : av_mdb_error(rc, "reading a text block");
    blockv b = {0};
    if ((rc = block_parse(val.mv_data, val.mv_size, &b)) < 0) return rc;
    /* the first frame ending past off */
    uint32_t lo = 0, hi = b.nframes;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (av_get_be32(b.frames + 8 * mid) <= off) lo = mid + 1;
        else hi = mid;
    }
    if (lo >= b.nframes)
        return av_error_set(AV_ECORRUPT, "a text's place (offset %u) points past text block %llu", off,
                            (unsigned long long)id);
    uint32_t rlo, rhi;
    size_t dlo, dhi;
    if ((rc = frame_range(&b, id, lo, &rlo, &rhi, &dlo, &dhi)) < 0) return rc;
    if (victim->cap < (size_t)(rhi - rlo) + 1) {
        free(victim->raw);
        victim->cap = (size_t)(rhi - rlo) + 1;
        victim->raw = av_xmalloc(victim->cap);
    }
    victim->id = 0;
    victim->lo = victim->hi = 0;
    if ((rc = frame_decompress(s, txn, c, id, &b, lo, victim->raw)) < 0) return rc;
    victim->raw[rhi - rlo] = 0;
    victim->id = id;
    victim->lo = rlo;
    victim->hi = rhi;
    victim->age = ++c->tick;
    *out = victim;
    return 0;
}

int av_loc_class(uint64_t loc) { return (loc >> 32 & 1) ? AV_TEXTS_RESPONSE : AV_TEXTS_OTHER; }

int av_text_at(av_store *s, MDB_txn *txn, av_blockcache *cache, uint64_t loc, size_t len, const char **out)
{
    uint64_t block = av_loc_block(loc);
    uint32_t off = av_loc_off(loc);
    struct cached_frame *f = NULL;
    if (len == 0) {
        *out = "";
        return 0;
    }
    if (!block) return av_error_set(AV_ECORRUPT, "a record names no place for its text");
    int rc = load_frame(s, txn, cache, block, off, &f);
    if (rc < 0) return rc;
    if ((size_t)off + len > f->hi) return av_error_set(AV_ECORRUPT, "a text's place points past its frame");
    *out = f->raw + (off - f->lo);
    return 0;
}

int av_text_fetch(av_store *s, MDB_txn *txn, av_blockcache *cache, const av_id *hash, char **out, size_t *out_len)
{
    av_store_touch(s);
    uint64_t loc;
    uint32_t len;
    int rc = av_txt_get(txn, s, cache, hash, &loc, &len);
    if (rc == MDB_NOTFOUND) {
        char hex[33];
        av_id_hex(hex, hash);
        return av_error_set(AV_ENOTFOUND, "no text %s in the store", hex);
    }
    if (rc < 0) return rc;
    const char *p = NULL;
    if ((rc = av_text_at(s, txn, cache, loc, len, &p)) < 0) return rc;
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
    /* frames: whole texts, cut once a frame reaches its size (responses'
     * frames larger: they are mostly scanned whole, by text searches) */
    size_t frame_raw = bb->cls ? AV_FRAME_RAW_RESPONSE : AV_FRAME_RAW;
    uint32_t nframes = 0;
    av_buf ends = AV_BUF_INIT;
    size_t pos = 0, start = 0;
    for (uint32_t i = 0; i < bb->ntexts; i++) {
        pos += av_get_be32((const uint8_t *)bb->hdr.ptr + 4 * i);
        if (pos - start >= frame_raw || i + 1 == bb->ntexts) {
            uint8_t e[4];
            av_be32(e, (uint32_t)pos);
            av_buf_put(&ends, e, 4);
            nframes++;
            start = pos;
        }
    }
    if (!nframes) { /* an empty block still has its (empty) frame */
        uint8_t e[4] = {0};
        av_buf_put(&ends, e, 4);
        nframes = 1;
    }
    av_buf_reset(out);
    uint8_t h[HDR];
    memcpy(h, "AVB3", 4);
    av_be32(h + 4, (dict ? dict_id : 0) | (bb->cls ? 0x80000000u : 0));
    av_be32(h + 8, (uint32_t)bb->raw.len);
    av_be32(h + 12, bb->ntexts);
    av_be32(h + 16, nframes);
    av_buf_put(out, h, HDR);
    for (uint32_t i = 0; i < bb->ntexts; i++) av_put_varint(out, av_get_be32((const uint8_t *)bb->hdr.ptr + 4 * i));
    av_be32((uint8_t *)out->ptr + 20, (uint32_t)(out->len - HDR));
    size_t ftable = out->len;
    av_buf_grow(out, (size_t)nframes * 8);
    memset(out->ptr + ftable, 0, (size_t)nframes * 8);
    out->len += (size_t)nframes * 8;
    size_t data = out->len;
    if (!z->cctx) z->cctx = ZSTD_createCCtx();
    if (dict && (!z->cdict || z->cdict_id != dict_id)) {
        ZSTD_freeCDict(z->cdict);
        z->cdict = ZSTD_createCDict(dict, dict_len, AV_ZSTD_LEVEL);
        z->cdict_id = dict_id;
    }
    int rc = 0;
    size_t lo = 0;
    for (uint32_t f = 0; f < nframes; f++) {
        size_t hi = av_get_be32((const uint8_t *)ends.ptr + 4 * f);
        const char *src = bb->raw.ptr ? bb->raw.ptr + lo : "";
        size_t bound = ZSTD_compressBound(hi - lo);
        av_buf_grow(out, bound);
        size_t n = dict ? ZSTD_compress_usingCDict(z->cctx, out->ptr + out->len, bound, src, hi - lo, z->cdict)
                        : ZSTD_compressCCtx(z->cctx, out->ptr + out->len, bound, src, hi - lo, AV_ZSTD_LEVEL);
        if (ZSTD_isError(n)) {
            rc = av_error_set(AV_ERROR, "zstd compression failed: %s", ZSTD_getErrorName(n));
            break;
        }
        out->len += n;
        av_be32((uint8_t *)out->ptr + ftable + 8 * f, (uint32_t)hi);
        av_be32((uint8_t *)out->ptr + ftable + 8 * f + 4, (uint32_t)(out->len - data));
        lo = hi;
    }
    av_buf_free(&ends);
    return rc;
}

size_t av_dict_train(void *dict, size_t cap, const void *samples, const size_t *sizes, unsigned n)
{
    if (n < 16) return 0;
    ZDICT_fastCover_params_t p;
    memset(&p, 0, sizeof p);
    p.k = 200;
    p.d = 8;
    p.steps = 4;
    /* counts every 10th position of the samples: on 4 MB of Magpie texts
     * training took 0.034 s instead of 0.071 s, and 4 KiB frames compressed
     * 2.582x instead of 2.587x (the writer waits for it) */
    p.accel = 10;
    p.zParams.compressionLevel = AV_ZSTD_LEVEL;
    size_t r = ZDICT_trainFromBuffer_fastCover(dict, cap, samples, sizes, n, p);
    if (ZDICT_isError(r)) return 0;
    return r;
}

/* ---- repacking (gc.c): a block's frames compressed again ---- */

struct av_repacker {
    ZSTD_CCtx *cctx;
    ZSTD_CDict *cdict; /* NULL: each block keeps its own dictionary */
    uint32_t dict_id;
    int level;
    ZSTD_CDict *old; /* the block's own dictionary, at level */
    uint32_t old_id;
    char *raw;
    size_t cap;
};

av_repacker *av_repacker_new(int level, uint32_t dict_id, const void *dict, size_t dict_len)
{
    av_repacker *z = av_xcalloc(1, sizeof *z);
    z->cctx = ZSTD_createCCtx();
    z->level = level;
    if (dict_len) {
        z->cdict = ZSTD_createCDict(dict, dict_len, level);
        z->dict_id = dict_id;
    }
    return z;
}

void av_repacker_free(av_repacker *z)
{
    if (!z) return;
    ZSTD_freeCCtx(z->cctx);
    ZSTD_freeCDict(z->cdict);
    ZSTD_freeCDict(z->old);
    free(z->raw);
    free(z);
}

int av_block_repack(av_store *s, MDB_txn *txn, av_blockcache *c, av_repacker *z, uint64_t id, const MDB_val *old,
                    av_buf *out)
{
    blockv b;
    int rc = block_parse(old->mv_data, old->mv_size, &b);
    if (rc < 0) return rc;
    const ZSTD_CDict *cd = z->cdict;
    uint32_t dict_id = z->dict_id;
    if (!cd && b.dict) { /* the block's own dictionary, at the new level */
        if (!z->old || z->old_id != b.dict) {
            uint8_t k[4];
            av_be32(k, b.dict);
            MDB_val key = {4, k}, val;
            if (mdb_get(txn, s->dbi[DBI_DICT], &key, &val))
                return av_error_set(AV_ECORRUPT, "zstd dictionary %u is missing", b.dict);
            ZSTD_freeCDict(z->old);
            z->old = ZSTD_createCDict(val.mv_data, val.mv_size, z->level);
            z->old_id = b.dict;
        }
        cd = z->old;
        dict_id = b.dict;
    }
    if (b.raw_len + 1 > z->cap) z->raw = av_xrealloc(z->raw, z->cap = b.raw_len + 1);
    av_buf_reset(out);
    uint8_t h[HDR];
    memcpy(h, old->mv_data, HDR);
    av_be32(h + 4, dict_id | (b.cls ? 0x80000000u : 0));
    av_buf_put(out, h, HDR);
    av_buf_put(out, b.table, b.table_len);
    size_t ftable = out->len;
    av_buf_grow(out, (size_t)b.nframes * 8);
    out->len += (size_t)b.nframes * 8;
    size_t data = out->len;
    for (uint32_t f = 0; f < b.nframes; f++) {
        uint32_t lo, hi;
        size_t dlo, dhi;
        if ((rc = frame_range(&b, id, f, &lo, &hi, &dlo, &dhi)) < 0) return rc;
        if ((rc = frame_decompress(s, txn, c, id, &b, f, z->raw + lo)) < 0) return rc;
        size_t bound = ZSTD_compressBound(hi - lo);
        av_buf_grow(out, bound);
        size_t n = cd ? ZSTD_compress_usingCDict(z->cctx, out->ptr + out->len, bound, z->raw + lo, hi - lo, cd)
                      : ZSTD_compressCCtx(z->cctx, out->ptr + out->len, bound, z->raw + lo, hi - lo, z->level);
        if (ZSTD_isError(n)) return av_error_set(AV_ERROR, "zstd compression failed: %s", ZSTD_getErrorName(n));
        out->len += n;
        av_be32((uint8_t *)out->ptr + ftable + 8 * f, hi);
        av_be32((uint8_t *)out->ptr + ftable + 8 * f + 4, (uint32_t)(out->len - data));
    }
    return 0;
}

struct sampler {
    av_buf *samples;
    size_t **sizes;
    unsigned *n, cap;
};

static int take_sample(void *ctx, const char *text, size_t len, uint64_t loc)
{
    (void)loc;
    struct sampler *sm = ctx;
    if (!len) return 0;
    if (*sm->n == sm->cap) *sm->sizes = av_xrealloc(*sm->sizes, (sm->cap = sm->cap ? sm->cap * 2 : 1024) * sizeof **sm->sizes);
    (*sm->sizes)[(*sm->n)++] = len;
    av_buf_put(sm->samples, text, len);
    return 0;
}

int av_text_class_bytes(av_store *s, MDB_txn *txn, int cls, uint64_t *out)
{
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, s->dbi[DBI_BLK], &cur);
    if (mrc) return av_mdb_error(mrc, "reading text blocks");
    uint64_t total = 0, i = 0;
    MDB_val key, val;
    for (mrc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); mrc == 0; mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        blockv b;
        if (block_parse(val.mv_data, val.mv_size, &b) == 0 && b.cls == (cls != 0)) total += b.raw_len;
        if (++i % 16 == 0) av_store_release_map(s); /* a header's fault maps its neighbours too */
    }
    mdb_cursor_close(cur);
    av_store_release_map(s);
    *out = total;
    return mrc == MDB_NOTFOUND ? 0 : av_mdb_error(mrc, "reading text blocks");
}

int av_text_sample(av_store *s, MDB_txn *txn, av_blockcache *c, int cls, uint64_t class_bytes, size_t want,
                   av_buf *samples, size_t **sizes, unsigned *n)
{
    /* every k-th block's texts, so the samples come from the whole store
     * and only those blocks are decompressed */
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, s->dbi[DBI_BLK], &cur);
    if (mrc) return av_mdb_error(mrc, "reading text blocks");
    *n = 0;
    uint64_t every = class_bytes > want ? (class_bytes + want - 1) / want : 1, i = 0;
    struct sampler sm = {samples, sizes, n, 0};
    int rc = 0;
    MDB_val key, val;
    for (mrc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); mrc == 0 && rc == 0 && samples->len < want;
         mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        blockv b;
        if (key.mv_size != 8 || block_parse(val.mv_data, val.mv_size, &b) < 0 || b.cls != (cls != 0)) continue;
        if (i++ % every) continue;
        uint64_t id = av_get_be64(key.mv_data);
        rc = av_text_scan_blocks(s, txn, c, cls, id, id + 1, take_sample, &sm);
        av_store_release_map(s); /* the block's pages (a block is ~25 of them) */
    }
    mdb_cursor_close(cur);
    av_store_release_map(s);
    if (rc) return rc;
    return mrc && mrc != MDB_NOTFOUND ? av_mdb_error(mrc, "reading text blocks") : 0;
}
