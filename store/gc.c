/* gc.c: repacking a store (aviary gc), as git gc packs loose objects.
 *
 * Writers compress texts fast (zstd level 3, a 256 KiB dictionary trained
 * on the first few MB) and insert random keys into half-full pages; neither
 * is what a finished dataset wants to keep. av_store_gc, holding the writer
 * lock and the store to itself:
 *  1. trains a dictionary per text class (responses' texts, the rest) on
 *     samples from the whole store, 1 MiB and 512 KiB (or keeps the last
 *     gc's while the class has grown less than a quarter, and skips the
 *     blocks it packed), and compresses every
 *     block's frames again with it at a higher level. Texts keep their
 *     places (block, raw offset) and frames their bounds, so records and
 *     readers' caches stay valid; a block whose new value is not smaller
 *     keeps its old one. A few blocks to a transaction: a kill leaves every
 *     block either old or new, both readable.
 *  2. writes the random-key tables (txt, cid, idx, sym) again in key order,
 *     appending, so their pages are full (one transaction each).
 *  3. copies the store compacted (mdb_env_copy2, MDB_CP_COMPACT: the pages
 *     freed above are left out) and renames the copy over data.mdb.
 * Nothing a reader sees changes: records, versions, texts are the same.
 * Every dictionary ever used stays in the dict table. Memory stays bounded:
 * the map's pages are handed back as blocks are read, and by a thread while
 * LMDB copies the file; a table too large for one transaction is kept.
 */
#include "store/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SAMPLE_RESPONSE (32u << 20)
#define SAMPLE_OTHER (16u << 20)
#define DICT_RESPONSE (1u << 20)
#define DICT_OTHER (512u << 10)
/* a class with fewer raw bytes keeps its dictionaries */
static uint64_t min_class_bytes = 8u << 20;
void av_tune_gc_min_class(uint64_t bytes) { min_class_bytes = bytes ? bytes : 8u << 20; }
#define REPACK_TXN_BYTES (16u << 20)

/* Runs one write transaction of fn, growing the map when it is full. */
static int write_txn(av_store *s, int (*fn)(MDB_txn *txn, void *ctx), void *ctx, const char *what)
{
    for (int tries = 0;; tries++) {
        MDB_txn *txn;
        int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (rc) return av_mdb_error(rc, what);
        rc = fn(txn, ctx);
        if (rc == 0) rc = mdb_txn_commit(txn);
        else mdb_txn_abort(txn);
        if (rc == MDB_MAP_FULL && tries < 30) {
            if ((rc = av_store_grow(s, 64u << 20)) < 0) return rc;
            continue;
        }
        if (rc > 0 || rc < -1000) return av_mdb_error(rc, what); /* errno or MDB_* (AV_E* are small) */
        return rc;
    }
}

/* ---- 1. texts ---- */

typedef struct {
    av_store *s;
    av_blockcache *cache;
    av_repacker *z[2]; /* by class */
    uint32_t skip_dict[2]; /* a block with this dictionary is packed already */
    uint64_t next;     /* the next block id to repack */
    int done;
    /* what the transaction did, taken up once it commits (a transaction
     * that meets a full map is run again) */
    uint64_t t_next, t_blocks, t_before, t_after;
    int t_done;
    av_buf out;
    const av_gc_opts *o;
    uint64_t blocks, blocks_total, before, after;
} repack;

static int repack_some(MDB_txn *txn, void *ctx)
{
    repack *p = ctx;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, p->s->dbi[DBI_BLK], &cur);
    if (rc) return rc;
    uint8_t k8[8];
    av_be64(k8, p->next);
    MDB_val k = {8, k8}, v;
    size_t bytes = 0;
    uint64_t next = p->next, blocks = 0, before = 0, after = 0;
    int done = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && bytes < REPACK_TXN_BYTES;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8) continue;
        uint64_t id = av_get_be64(k.mv_data);
        int cls = v.mv_size > 8 && (((const uint8_t *)v.mv_data)[4] & 0x80);
        uint32_t dict = v.mv_size > 8 ? av_get_be32((const uint8_t *)v.mv_data + 4) & 0x7fffffffu : 0;
        if (p->skip_dict[cls] && dict == p->skip_dict[cls]) {
            next = id + 1;
            blocks++;
            bytes += 64u << 10; /* its header's page and the neighbours a fault maps */
            continue;
        }
        if ((rc = av_block_repack(p->s, txn, p->cache, p->z[cls], id, &v, &p->out)) < 0) break;
        before += v.mv_size;
        next = id + 1;
        blocks++;
        bytes += v.mv_size;
        if (p->out.len < v.mv_size) {
            /* the key by value: k points into the page, which the put
             * rewrites when the value's overflow pages change */
            uint8_t kc[8];
            memcpy(kc, k.mv_data, 8);
            MDB_val ck = {8, kc}, nv = {p->out.len, p->out.ptr};
            if ((rc = mdb_cursor_put(cur, &ck, &nv, MDB_CURRENT))) break;
            after += p->out.len;
        } else {
            after += v.mv_size;
        }
    }
    if (rc == MDB_NOTFOUND) rc = 0, done = 1;
    mdb_cursor_close(cur);
    if (rc) return rc;
    /* the store's text figures: stored bytes change by what was saved */
    MDB_val tk = {5, "texts"}, tv;
    if (before != after && mdb_get(txn, p->s->dbi[DBI_META], &tk, &tv) == 0 && tv.mv_size == 24) {
        uint8_t t[24];
        memcpy(t, tv.mv_data, 24);
        uint64_t stored = av_get_be64(t + 16);
        av_be64(t + 16, stored > before - after ? stored - (before - after) : 0);
        MDB_val nv = {24, t};
        if ((rc = mdb_put(txn, p->s->dbi[DBI_META], &tk, &nv, 0))) return rc;
    }
    p->t_next = next;
    p->t_done = done;
    p->t_blocks = blocks;
    p->t_before = before;
    p->t_after = after;
    return 0;
}

/* meta["gc"]: what the last gc packed with, so the next one reuses it
 * while a class has grown less than a quarter: level (u32), then per class
 * (rest, responses) the dictionary id (u32) and the class's raw bytes when
 * it was trained (u64). 28 bytes, big-endian. */
#define GC_META_LEN 28
#define GC_REUSE_GROWTH 1.25

typedef struct {
    av_store *s;
    int level;
    uint32_t id[2];
    av_buf dict[2];
    int fresh[2];             /* trained now (else the last gc's, or none) */
    uint64_t trained_bytes[2]; /* the class's raw bytes when its dictionary was trained */
    int same_level;           /* the last gc packed at this level too */
} newdicts;

static int put_dicts(MDB_txn *txn, void *ctx)
{
    newdicts *d = ctx;
    uint32_t last = 0;
    for (int c = 0; c < 2; c++) {
        if (!d->fresh[c]) continue;
        uint8_t k4[4];
        av_be32(k4, d->id[c]);
        MDB_val k = {4, k4}, v = {d->dict[c].len, d->dict[c].ptr};
        int rc = mdb_put(txn, d->s->dbi[DBI_DICT], &k, &v, MDB_NOOVERWRITE);
        if (rc) return rc;
        last = d->id[c];
    }
    uint8_t m[GC_META_LEN];
    av_be32(m, (uint32_t)d->level);
    for (int c = 0; c < 2; c++) {
        av_be32(m + 4 + 12 * c, d->id[c]);
        av_be64(m + 8 + 12 * c, d->trained_bytes[c]);
    }
    MDB_val mk = {2, "gc"}, mv = {GC_META_LEN, m};
    int rc = mdb_put(txn, d->s->dbi[DBI_META], &mk, &mv, 0);
    if (rc || !last) return rc;
    /* writers number their dictionaries after these and compress new blocks
     * with the responses' one (the most text) until they train their own */
    return av_meta_put_u64(txn, d->s, "dict_cur", d->fresh[AV_TEXTS_RESPONSE] ? d->id[AV_TEXTS_RESPONSE] : last);
}

static int train_dicts(av_store *s, av_blockcache *cache, newdicts *d)
{
    MDB_txn *txn;
    int rc = av_txn_begin_read(s, &txn);
    if (rc < 0) return rc;
    uint32_t next = 1;
    {
        MDB_cursor *c;
        MDB_val k, v;
        if (mdb_cursor_open(txn, s->dbi[DBI_DICT], &c) == 0) {
            if (mdb_cursor_get(c, &k, &v, MDB_LAST) == 0 && k.mv_size == 4) next = av_get_be32(k.mv_data) + 1;
            mdb_cursor_close(c);
        }
        uint64_t cur = 0;
        av_meta_u64(s, txn, "dict_cur", &cur);
        if (cur + 1 > next) next = (uint32_t)cur + 1;
    }
    uint32_t prev_id[2] = {0, 0};
    uint64_t prev_bytes[2] = {0, 0};
    {
        MDB_val mk = {2, "gc"}, mv;
        if (mdb_get(txn, s->dbi[DBI_META], &mk, &mv) == 0 && mv.mv_size == GC_META_LEN) {
            const uint8_t *m = mv.mv_data;
            d->same_level = av_get_be32(m) == (uint32_t)d->level;
            for (int c = 0; c < 2; c++) {
                prev_id[c] = av_get_be32(m + 4 + 12 * c);
                prev_bytes[c] = av_get_be64(m + 8 + 12 * c);
            }
        }
    }
    for (int cls = 0; cls < 2 && rc == 0; cls++) {
        av_buf samples = AV_BUF_INIT;
        size_t *sizes = NULL;
        unsigned n = 0;
        uint64_t total = 0;
        if ((rc = av_text_class_bytes(s, txn, cls, &total)) < 0) break;
        if (prev_id[cls] && total <= prev_bytes[cls] * GC_REUSE_GROWTH) {
            /* the last gc's dictionary still fits the class: packed blocks
             * stay as they are, and no dictionary is added */
            uint8_t k4[4];
            av_be32(k4, prev_id[cls]);
            MDB_val k = {4, k4}, v;
            if (mdb_get(txn, s->dbi[DBI_DICT], &k, &v) == 0) {
                av_buf_put(&d->dict[cls], v.mv_data, v.mv_size);
                d->id[cls] = prev_id[cls];
                d->trained_bytes[cls] = prev_bytes[cls];
                continue;
            }
        }
        if (total >= min_class_bytes)
            rc = av_text_sample(s, txn, cache, cls, total, cls ? SAMPLE_RESPONSE : SAMPLE_OTHER, &samples, &sizes, &n);
        if (rc == 0 && total >= min_class_bytes) {
            size_t cap = cls ? DICT_RESPONSE : DICT_OTHER;
            if (cap > samples.len / 16) cap = samples.len / 16;
            av_buf_grow(&d->dict[cls], cap);
            size_t got = av_dict_train(d->dict[cls].ptr, cap, samples.ptr, sizes, n);
            if (got) {
                d->dict[cls].len = got;
                d->id[cls] = next++;
                d->fresh[cls] = 1;
                d->trained_bytes[cls] = total;
            }
        }
        av_buf_free(&samples);
        free(sizes);
    }
    mdb_txn_abort(txn);
    s->nreaders--;
    return rc;
}

static int repack_texts(av_store *s, const av_gc_opts *o, av_gc_result *res)
{
    av_blockcache *cache = av_blockcache_new();
    newdicts d = {.s = s, .level = o->level, .dict = {AV_BUF_INIT, AV_BUF_INIT}};
    int rc = train_dicts(s, cache, &d);
    if (rc == 0 && (d.id[0] || d.id[1])) rc = write_txn(s, put_dicts, &d, "storing dictionaries");
    repack p = {.s = s, .cache = cache, .out = AV_BUF_INIT, .o = o};
    for (int c = 0; c < 2; c++) {
        p.z[c] = av_repacker_new(o->level, d.id[c], d.dict[c].ptr, d.dict[c].len);
        /* blocks the last gc packed with the same dictionary and level */
        p.skip_dict[c] = d.same_level && !d.fresh[c] ? d.id[c] : 0;
    }
    {
        MDB_txn *txn;
        MDB_stat st;
        if (rc == 0 && av_txn_begin_read(s, &txn) == 0) {
            if (mdb_stat(txn, s->dbi[DBI_BLK], &st) == 0) p.blocks_total = st.ms_entries;
            mdb_txn_abort(txn);
            s->nreaders--;
        }
    }
    while (rc == 0 && !p.done) {
        if ((rc = write_txn(s, repack_some, &p, "repacking texts")) < 0) break;
        p.next = p.t_next;
        p.done = p.t_done;
        p.blocks += p.t_blocks;
        p.before += p.t_before;
        p.after += p.t_after;
        av_store_release_map(s);
        if (o->progress) o->progress(o->ctx, "texts", p.blocks, p.blocks_total);
    }
    res->dicts_added = (unsigned)(d.fresh[0] + d.fresh[1]);
    res->text_before = p.before;
    res->text_after = p.after;
    for (int c = 0; c < 2; c++) {
        av_repacker_free(p.z[c]);
        av_buf_free(&d.dict[c]);
    }
    av_buf_free(&p.out);
    av_blockcache_free(cache);
    return rc;
}

/* ---- 2. the random-key tables, in key order ---- */

#define REWRITE_MAX (128u << 20)

typedef struct {
    av_store *s;
    int dbi;
    FILE *tmp;
    unsigned skipped;
} rewrite;

static int rewrite_table(MDB_txn *txn, void *ctx)
{
    rewrite *w = ctx;
    MDB_dbi dbi = w->s->dbi[w->dbi];
    /* one transaction holds the table's new pages in memory: a table past
     * REWRITE_MAX stays as it is (LMDB holds at most 512 MB of dirty pages) */
    MDB_stat st;
    int rc = mdb_stat(txn, dbi, &st);
    if (rc) return rc;
    if ((st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * (uint64_t)st.ms_psize > REWRITE_MAX) {
        w->skipped++;
        return 0;
    }
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, dbi, &cur))) return rc;
    rewind(w->tmp);
    if (ftruncate(fileno(w->tmp), 0)) return errno;
    MDB_val k, v;
    uint64_t n = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint32_t len[2] = {(uint32_t)k.mv_size, (uint32_t)v.mv_size};
        if (fwrite(len, sizeof len, 1, w->tmp) != 1 || fwrite(k.mv_data, 1, k.mv_size, w->tmp) != k.mv_size ||
            fwrite(v.mv_data, 1, v.mv_size, w->tmp) != v.mv_size) {
            mdb_cursor_close(cur);
            return EIO;
        }
        n++;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) return rc;
    if (fflush(w->tmp)) return EIO;
    if ((rc = mdb_drop(txn, dbi, 0))) return rc;
    rewind(w->tmp);
    av_buf kb = AV_BUF_INIT, vb = AV_BUF_INIT;
    rc = 0;
    for (uint64_t i = 0; i < n && !rc; i++) {
        uint32_t len[2];
        av_buf_reset(&kb);
        av_buf_reset(&vb);
        if (fread(len, sizeof len, 1, w->tmp) != 1) {
            rc = EIO;
            break;
        }
        av_buf_grow(&kb, len[0]);
        av_buf_grow(&vb, len[1] + 1);
        if (fread(kb.ptr, 1, len[0], w->tmp) != len[0] || fread(vb.ptr, 1, len[1], w->tmp) != len[1]) {
            rc = EIO;
            break;
        }
        MDB_val nk = {len[0], kb.ptr}, nv = {len[1], vb.ptr};
        rc = mdb_put(txn, dbi, &nk, &nv, MDB_APPEND);
    }
    av_buf_free(&kb);
    av_buf_free(&vb);
    return rc;
}

static int rewrite_tables(av_store *s, const av_gc_opts *o, av_gc_result *res)
{
    static const int tables[] = {DBI_TXT, DBI_CID, DBI_IDX, DBI_SYM};
    rewrite w = {s, 0, tmpfile(), 0};
    if (!w.tmp) return av_error_set(AV_EIO, "cannot make a temporary file: %s", strerror(errno));
    int rc = 0;
    for (size_t i = 0; i < sizeof tables / sizeof tables[0] && rc == 0; i++) {
        w.dbi = tables[i];
        rc = write_txn(s, rewrite_table, &w, "writing a table again");
        av_store_release_map(s);
        if (o->progress) o->progress(o->ctx, "tables", i + 1, sizeof tables / sizeof tables[0]);
    }
    fclose(w.tmp);
    res->tables_kept = w.skipped;
    return rc;
}

/* ---- 3. a compact copy in place of the file ---- */

/* While LMDB copies the store, this thread hands the map's pages back every
 * 20 ms: the copy reads every page of the store through the map, and
 * without it a 300K-row store's gc peaked at 599 MB. */
typedef struct {
    av_store *s;
    atomic_int stop;
} releaser;

static void *release_loop(void *arg)
{
    releaser *r = arg;
    while (!atomic_load(&r->stop)) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        av_store_release_map(r->s);
    }
    return NULL;
}

static int compact_file(av_store *s)
{
    char tmp[4096], from[4200], to[4200];
    snprintf(tmp, sizeof tmp, "%s/gc.tmp", s->dir);
    snprintf(from, sizeof from, "%s/data.mdb", tmp);
    snprintf(to, sizeof to, "%s/data.mdb", s->dir);
    unlink(from); /* a killed gc's copy */
    if (mkdir(tmp, 0755) && errno != EEXIST) return av_error_set(AV_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    releaser rl = {s, 0};
    pthread_t th;
    int threaded = pthread_create(&th, NULL, release_loop, &rl) == 0;
    int rc = mdb_env_copy2(s->env, tmp, MDB_CP_COMPACT);
    if (threaded) {
        atomic_store(&rl.stop, 1);
        pthread_join(th, NULL);
    }
    if (rc) {
        unlink(from);
        rmdir(tmp);
        return av_mdb_error(rc, "copying the store compacted");
    }
    int fd = open(from, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    if (rename(from, to)) {
        int e = errno;
        unlink(from);
        rmdir(tmp);
        return av_error_set(AV_EIO, "cannot put the compacted copy in place: %s", strerror(e));
    }
    rmdir(tmp);
    if ((fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        fsync(fd);
        close(fd);
    }
    return av_store_reopen(s);
}

static uint64_t file_bytes(const av_store *s)
{
    char p[4200];
    struct stat st;
    snprintf(p, sizeof p, "%s/data.mdb", s->dir);
    return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

int av_store_gc(av_store *s, const av_gc_opts *opts, av_gc_result *res)
{
    av_gc_opts o = opts ? *opts : (av_gc_opts){0};
    if (o.level <= 0) o.level = AV_GC_LEVEL;
    if (o.level > 22) return av_error_set(AV_EINVAL, "zstd level %d is out of range (1 to 22)", o.level);
    memset(res, 0, sizeof *res);
    if (!(s->flags & AV_OPEN_RDWR)) return av_error_set(AV_EINVAL, "the store was opened read-only");
    /* the store to itself first: a writer elsewhere has it open too, so
     * gc fails at once instead of waiting for the writer lock */
    int rc = av_store_exclusive(s, 1), lock_fd;
    if (rc < 0) return rc;
    if ((rc = av_writer_lock(s, &lock_fd)) < 0) {
        av_store_exclusive(s, 0);
        return rc;
    }
    res->file_before = file_bytes(s);
    if (s->nreaders > 0) rc = av_error_set(AV_EBUSY, "this process holds %d readers of the store", s->nreaders);
    if (rc == 0) rc = repack_texts(s, &o, res);
    if (rc == 0) rc = rewrite_tables(s, &o, res);
    if (rc == 0) rc = compact_file(s);
    res->file_after = file_bytes(s);
    av_store_exclusive(s, 0);
    flock(lock_fd, LOCK_UN);
    close(lock_fd);
    return rc;
}
