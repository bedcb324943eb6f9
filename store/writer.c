/* writer.c: making one new version.
 *
 * A writer collects records in memory and writes them to LMDB in batches
 * (one LMDB transaction each, of at most ~16 MB or av_tune_batch records),
 * so memory stays bounded however large the input. Entries with random keys
 * (text hashes, content ids, index terms) are held back and merged later in
 * sorted chunks; texts are compressed on a worker thread, and dictionaries
 * trained on another, taken up at fixed points (maybe_train). Provenance
 * links of the writer's own rows go into chunks (pch, prov.c), others one
 * by one (av_writer_link). Nothing it writes is
 * visible before av_writer_commit: readers see rows only below the row_end of
 * a committed version, and the commit record plus meta["head"] are written
 * last, in one transaction.
 *
 * Crash safety: every batch also records what it inserted in the undo
 * table (every write of a writer is an insert of a new key): rows, blocks,
 * and the index chunks and provenance keyed by the writer's own rows as
 * ranges, other keys one by one, old values where one was replaced. A writer that
 * dies leaves its batches and their undo lists; the next writer (or abort)
 * deletes those keys and empties undo, so the store holds no partial
 * records. Row and block ids are never reused (meta next_row/next_block).
 *
 * The map grows by itself: a batch that meets MDB_MAP_FULL is aborted, the
 * map doubled, and the batch written again from memory.
 */
#include "store/internal.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

static size_t batch_records = 0; /* 0: batches are cut by size alone (test hook) */
#define BATCH_BYTES (16u << 20)
#ifndef SAMPLE_BYTES
#define SAMPLE_BYTES (4u << 20)
#endif
/* Text, content-id and index entries held back for a full flush. The check
 * is made between batches and the maps grow by doubling, so a flush can
 * find more (48.8 MB in a 50K Magpie ingest). Fewer, larger merges keep
 * the random-key tables' pages fuller: at 32 MB the store of a 50K Magpie
 * dump was 105.4 MB, at 40 MB 98.3 MB; peak memory 50K rows 124 MB, 300K
 * 183 MB, 600K 170 MB (at 32 MB: 120, 174, 169). */
#define DEFERRED_BYTES (40u << 20)
#define LINKS_PER_BATCH (1u << 16) /* provenance links in one batch */

void av_tune_batch(size_t records) { batch_records = records; }
static size_t stop_after = 0, batches_written = 0;
static uint32_t stop_version = 0;
void av_tune_stop_after(uint32_t version, size_t batches)
{
    stop_version = version;
    stop_after = batches;
    batches_written = 0;
}

/* ---- a small open-addressing map: 16-byte key -> 16-byte value ---- */

typedef struct {
    uint8_t key[16];
    uint8_t val[16];
    int used;
} idslot;

typedef struct {
    idslot *slot;
    size_t cap, n;
} idmap;

static uint64_t idhash(const uint8_t *k)
{
    uint64_t h;
    memcpy(&h, k, 8);
    return h;
}

/* A zeroed table written now, not left to calloc's fresh pages: those map
 * the shared zero page when a lookup first reads them, and the first write
 * then faults again and flushes every core's TLB (with several threads
 * running, that was ~6% of an UltraFeedback ingest). */
static void *zeroed(size_t n, size_t size)
{
    void *p = av_xmalloc(n * size);
    memset(p, 0, n * size);
    return p;
}

static idslot *idmap_find(idmap *m, const uint8_t *key)
{
    if (!m->cap) return NULL;
    for (size_t i = idhash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->slot[i].used) return NULL;
        if (!memcmp(m->slot[i].key, key, 16)) return &m->slot[i];
    }
}

static void idmap_put(idmap *m, const uint8_t *key, const uint8_t *val)
{
    if ((m->n + 1) * 4 > m->cap * 3) { /* keys are hashes: probing stays short at 3/4 */
        idmap old = *m;
        m->cap = m->cap ? m->cap * 2 : 1024;
        m->slot = zeroed(m->cap, sizeof *m->slot);
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.slot[i].used) idmap_put(m, old.slot[i].key, old.slot[i].val);
        free(old.slot);
    }
    size_t i = idhash(key) & (m->cap - 1);
    while (m->slot[i].used && memcmp(m->slot[i].key, key, 16)) i = (i + 1) & (m->cap - 1);
    if (!m->slot[i].used) m->n++;
    m->slot[i].used = 1;
    memcpy(m->slot[i].key, key, 16);
    memcpy(m->slot[i].val, val, 16);
}

static void idmap_clear(idmap *m)
{
    if (m->cap) memset(m->slot, 0, m->cap * sizeof *m->slot);
    m->n = 0;
}

static void idmap_free(idmap *m)
{
    free(m->slot);
    memset(m, 0, sizeof *m);
}

/* ---- postings being built: term -> rows ---- */

typedef struct {
    uint64_t hash;
    size_t off, len; /* term bytes in termmap.arena */
    union {
        uint64_t *rows; /* cap > 0 */
        uint64_t one;   /* cap == 0: the term's only row, kept in the slot (most
                         * values are on one row: a uuid, an intent) */
    };
    size_t n, cap; /* n == 0: a free slot */
} termslot;

static uint64_t *term_rows(termslot *t) { return t->cap ? t->rows : &t->one; }

typedef struct {
    termslot *slot;
    size_t cap, n, nrows;
    size_t heap_rows; /* row slots allocated outside the table (terms of several rows) */
    av_buf arena;
} termmap;

static void termmap_add(termmap *m, const char *term, size_t len, uint64_t row)
{
    if ((m->n + 1) * 2 > m->cap) {
        termmap old = *m;
        m->cap = m->cap ? m->cap * 2 : 256;
        m->slot = zeroed(m->cap, sizeof *m->slot);
        for (size_t i = 0; i < old.cap; i++) {
            if (!old.slot[i].n) continue;
            size_t j = old.slot[i].hash & (m->cap - 1);
            while (m->slot[j].n) j = (j + 1) & (m->cap - 1);
            m->slot[j] = old.slot[i];
        }
        free(old.slot);
    }
    m->nrows++;
    uint64_t h = XXH3_64bits(term, len);
    size_t i = h & (m->cap - 1);
    for (; m->slot[i].n; i = (i + 1) & (m->cap - 1)) {
        termslot *t = &m->slot[i];
        if (t->hash == h && t->len == len && !memcmp(m->arena.ptr + t->off, term, len)) {
            if (term_rows(t)[t->n - 1] == row) return;
            if (!t->cap) { /* a second row: the rows move out of the slot */
                uint64_t first = t->one;
                t->rows = av_xmalloc(4 * sizeof *t->rows);
                t->rows[0] = first;
                t->cap = 4;
                m->heap_rows += 4;
            } else if (t->n == t->cap) {
                m->heap_rows += t->cap;
                t->rows = av_xrealloc(t->rows, (t->cap *= 2) * sizeof *t->rows);
            }
            t->rows[t->n++] = row;
            return;
        }
    }
    termslot *t = &m->slot[i];
    t->hash = h;
    t->off = m->arena.len;
    t->len = len;
    av_buf_put(&m->arena, term, len);
    t->cap = 0;
    t->one = row;
    t->n = 1;
    m->n++;
}

static void termmap_clear(termmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slot[i].cap) free(m->slot[i].rows);
    if (m->cap) memset(m->slot, 0, m->cap * sizeof *m->slot);
    m->n = m->nrows = m->heap_rows = 0;
    av_buf_reset(&m->arena);
}

static void termmap_free(termmap *m)
{
    termmap_clear(m);
    free(m->slot);
    av_buf_free(&m->arena);
    memset(m, 0, sizeof *m);
}

/* ---- the writer ---- */

typedef struct {
    uint8_t dbi;
    size_t koff, klen, voff, vlen; /* in writer.kv */
} pending_put;

/* A block handed to the compression thread: raw texts in, value out. */
typedef struct {
    uint64_t id;
    av_buf raw, hdr, val;
    size_t raw_len;
    uint32_t ntexts, dict_id;
    int cls;
    const void *dict;
    size_t dict_len;
    int rc;
    char err[200];
} sealed_block;

struct av_writer {
    av_store *s;
    uint32_t version, head;
    uint64_t row_lo, next_row, next_block;
    uint64_t rch_floor; /* the lowest target a new reference chunk may hold (refs.c) */
    uint64_t prov_own_hi; /* the highest of this writer's rows it linked (0: none) */
    av_reader rd; /* the writer's own view: committed + flushed */
    int rd_open;

    /* the batch being collected */
    av_buf recbuf;
    uint64_t *rec_row;
    size_t *rec_off, nrecs, caprecs;
    idmap pend_cid;   /* cid -> row */
    idmap pend_text;  /* text hash -> place (8), length (4), as av_txt_pack writes them */
    idmap pend_prov;  /* hash of a link key -> 1: this batch's links one by one */
    av_prov_link *plinks; /* this batch's links into chunks, in row order */
    size_t nplinks, capplinks;
    av_pchenc pch;    /* links of this writer's own rows, in row order (prov.c), being chunked */
    idmap pend_tgl;   /* row (8 bytes, padded) -> 1 */
    termmap terms;
    idmap syms;       /* hash of bytes -> symbol id (all symbols of the store) */
    idmap valcount;   /* hash of a short value -> times seen (interned on the second) */
    uint32_t next_sym;
    av_buf kv;
    pending_put *puts;
    size_t nputs, capputs;
    /* open blocks by class: responses' texts apart from the rest, so a
     * search of responses decompresses only theirs; each reserves its block
     * id when it takes its first text */
    av_block_builder bb[2];
    uint64_t bb_id[2];
    sealed_block **sealed; /* this batch's blocks, compressed by the worker */
    size_t nsealed, capsealed, next_job, ndone;
    pthread_t worker;
    int worker_started, worker_stop;
    pthread_mutex_t mu;
    pthread_cond_t cv_job, cv_done;
    av_buf *dicts; /* every dictionary this writer used (blocks point into them) */
    size_t ndicts;
    size_t batch_bytes;
    av_buf new_dict;      /* a dictionary trained in this batch, to store */
    uint32_t new_dict_id;

    /* aux writes, applied at commit */
    av_buf aux_kv;
    pending_put *aux;
    size_t naux, capaux;

    /* dictionary state */
    uint32_t dict_id;
    av_buf dict;
    uint64_t dict_at;    /* total text bytes when the dictionary was trained */
    /* how the dictionary in use does: bytes in and out of its blocks, over
     * its first RATIO_BASE bytes, then over windows of RATIO_WINDOW */
    uint64_t base_raw, base_out, win_raw, win_out;
    int retrain; /* a window did worse: train again on its samples */
    uint64_t text_total; /* text bytes in the store, committed + this writer */
    av_buf samples;
    size_t *sample_len;
    unsigned nsamples, capsamples;
    struct trainer {      /* a dictionary being trained on its own thread */
        pthread_t th;
        int running, threaded;
        uint64_t switch_at; /* text bytes at which the writer takes it up */
        av_buf samples, dict;
        size_t *sizes, len;
        unsigned n;
    } tr;
    av_compressor *z;
    av_compressor *zmain; /* the writer's thread's, for helping in sealed_wait */

    /* what this commit did */
    av_commit counts;
    uint64_t text_count, text_raw, text_stored;
    uint64_t text_xclass; /* response texts found stored in other blocks */
    uint32_t evt_seq;
    uint64_t undo_seq;
    av_colw col; /* the row column chunk being filled */
    unsigned ops_since_release;
    unsigned release_every; /* puts and links between hand-backs (0: not set yet) */
    uint64_t source_ok; /* the last row checked to be a source */
    int changed;
    int lock_fd;
};

static int writer_rd_open(av_writer *w)
{
    int rc = av_txn_begin_read(w->s, &w->rd.txn);
    if (rc < 0) return rc;
    w->rd_open = 1;
    return av_reader_load_view(&w->rd, w->version, w->head, w->next_row);
}

static void writer_rd_close(av_writer *w)
{
    if (!w->rd_open) return;
    mdb_txn_abort(w->rd.txn);
    w->s->nreaders--;
    w->rd_open = 0;
}

static void add_put(av_writer *w, uint8_t dbi, const void *k, size_t kl, const void *v, size_t vl)
{
    if (w->nputs == w->capputs) {
        w->capputs = w->capputs ? w->capputs * 2 : 256;
        w->puts = av_xrealloc(w->puts, w->capputs * sizeof *w->puts);
    }
    pending_put *p = &w->puts[w->nputs++];
    p->dbi = dbi;
    p->koff = w->kv.len;
    p->klen = kl;
    av_buf_put(&w->kv, k, kl);
    p->voff = w->kv.len;
    p->vlen = vl;
    av_buf_put(&w->kv, v, vl);
    w->batch_bytes += kl + vl + 32;
}

/* Puts the open chunk of own-row links into the batch. */
static void pch_close(av_writer *w)
{
    if (!w->pch.n) return;
    uint8_t k8[8];
    av_be64(k8, w->pch.first);
    add_put(w, DBI_PCH, k8, 8, w->pch.val.ptr, w->pch.val.len);
    w->pch.n = 0;
}

#define UNDO_RANGE 0x7e

/* Deletes rows [lo, hi) with their content-id entries, or blocks [lo, hi)
 * with the text entries that point into them (a block lists its texts). */
static int undo_range(MDB_txn *txn, av_store *s, uint8_t which, uint64_t lo, uint64_t hi)
{
    if (which == DBI_PROV || which == DBI_PCH || which == DBI_RCH) {
        /* provenance of the writer's own rows, reference chunks of its own
         * targets (keys start with the row) */
        MDB_cursor *c;
        int rc = mdb_cursor_open(txn, s->dbi[which], &c);
        if (rc) return rc;
        uint8_t k8[8];
        av_be64(k8, lo);
        MDB_val k = {8, k8}, v;
        for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
            if ((rc = mdb_cursor_del(c, 0))) break;
        mdb_cursor_close(c);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    if (which == DBI_IDX) {
        /* index chunks the writer added whose first row is one of its own
         * (from lo on: rows are never reused, so no committed chunk starts
         * there); it noted these as a range instead of key by key */
        MDB_cursor *c;
        int rc = mdb_cursor_open(txn, s->dbi[DBI_IDX], &c);
        if (rc) return rc;
        MDB_val k, v;
        for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            if (k.mv_size > 8 && av_get_be64((const uint8_t *)k.mv_data + k.mv_size - 8) >= lo &&
                (rc = mdb_cursor_del(c, 0)))
                break;
        }
        mdb_cursor_close(c);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    for (uint64_t id = lo; id < hi; id++) {
        uint8_t k8[8];
        av_be64(k8, id);
        MDB_val k = {8, k8}, v;
        int rc = mdb_get(txn, s->dbi[which], &k, &v);
        if (rc == MDB_NOTFOUND) continue;
        if (rc) return rc;
        if (which == DBI_REC && v.mv_size >= 17) {
            av_id cid;
            memcpy(cid.b, (uint8_t *)v.mv_data + 1, 16);
            if ((rc = av_cid_del(txn, s, &cid, id))) return rc;
        }
        if ((rc = mdb_del(txn, s->dbi[which], &k, NULL))) return rc;
    }
    if (which == DBI_BLK && hi > lo) {
        /* and the text entries pointing into them (a scan: blocks list
         * lengths, not hashes, and rollback is rare) */
        MDB_cursor *c;
        int rc = mdb_cursor_open(txn, s->dbi[DBI_TXT], &c);
        if (rc) return rc;
        MDB_val k, v;
        for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            uint64_t loc = 0;
            uint32_t len;
            if (av_txt_unpack(v.mv_data, v.mv_size, &loc, &len) < 0) loc = 0;
            uint64_t b = av_loc_block(loc);
            if (b >= lo && b < hi && (rc = mdb_cursor_del(c, 0))) break;
        }
        mdb_cursor_close(c);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    if (which == DBI_REC) {
        /* and their row column entries */
        av_colw *cw = av_xcalloc(1, sizeof *cw);
        int rc = 0;
        for (uint64_t id = lo; id < hi && !rc; id++) rc = av_colw_set(cw, txn, s, id, 0);
        if (!rc) rc = av_colw_flush(cw, txn, s);
        free(cw);
        return rc;
    }
    return 0;
}

static void undo_note_range(av_buf *undo, uint8_t which, uint64_t lo, uint64_t hi)
{
    av_buf_putc(undo, (char)UNDO_RANGE);
    av_buf_putc(undo, (char)which);
    av_put_varint(undo, lo);
    av_put_varint(undo, hi);
}

/* Undoes what an unfinished writer left: walks the undo lists newest first,
 * deleting inserted keys and putting back overwritten values, then empties
 * undo. An undo entry is: u8 dbi (| 0x80 when an old value follows),
 * varint key length, key, [varint value length, value]; or UNDO_RANGE, u8
 * dbi (rec or blk), varint lo, varint hi: rows or blocks [lo, hi), whose
 * content-id and text entries are found through them. */
static int rollback(av_store *s)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc) return av_mdb_error(rc, "undoing an unfinished write");
    MDB_cursor *c;
    MDB_val k, v;
    if ((rc = mdb_cursor_open(txn, s->dbi[DBI_UNDO], &c))) goto fail;
    int any = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_LAST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
        any = 1;
        /* entries of one list, newest last: index them, then go backwards */
        const uint8_t *p = v.mv_data, *end = p + v.mv_size;
        const uint8_t **ent = NULL;
        size_t n = 0, cap = 0;
        while (p < end) {
            if (n == cap) ent = av_xrealloc(ent, (cap = cap ? cap * 2 : 256) * sizeof *ent);
            ent[n++] = p;
            uint8_t dbi = *p++;
            uint64_t kl, vl = 0;
            if (dbi == UNDO_RANGE) {
                uint64_t lo, hi;
                if (p >= end || (*p != DBI_REC && *p != DBI_BLK && *p != DBI_IDX && *p != DBI_PROV && *p != DBI_PCH &&
                              *p != DBI_RCH))
                    goto corrupt;
                p++;
                if (av_read_varint(&p, end, &lo) < 0 || av_read_varint(&p, end, &hi) < 0 || hi < lo) goto corrupt;
                continue;
            }
            if ((dbi & 0x7f) >= DBI_COUNT || av_read_varint(&p, end, &kl) < 0 || kl > (uint64_t)(end - p)) goto corrupt;
            p += kl;
            if (dbi & 0x80) {
                if (av_read_varint(&p, end, &vl) < 0 || vl > (uint64_t)(end - p)) goto corrupt;
                p += vl;
            }
            continue;
        corrupt:
            free(ent);
            mdb_cursor_close(c);
            mdb_txn_abort(txn);
            return av_error_set(AV_ECORRUPT, "the store's undo list is corrupt");
        }
        while (n > 0) {
            p = ent[--n];
            uint8_t dbi = *p++;
            uint64_t kl, vl = 0;
            if (dbi == UNDO_RANGE) {
                uint8_t which = *p++;
                uint64_t lo, hi;
                av_read_varint(&p, end, &lo);
                av_read_varint(&p, end, &hi);
                int drc = undo_range(txn, s, which, lo, hi);
                if (drc) {
                    free(ent);
                    mdb_cursor_close(c);
                    rc = drc;
                    goto fail;
                }
                continue;
            }
            av_read_varint(&p, end, &kl);
            MDB_val dk = {(size_t)kl, (void *)p};
            p += kl;
            int drc;
            if (dbi & 0x80) {
                av_read_varint(&p, end, &vl);
                MDB_val dv = {(size_t)vl, (void *)p};
                drc = mdb_put(txn, s->dbi[dbi & 0x7f], &dk, &dv, 0);
            } else {
                drc = mdb_del(txn, s->dbi[dbi], &dk, NULL);
                if (drc == MDB_NOTFOUND) drc = 0;
            }
            if (drc) {
                free(ent);
                mdb_cursor_close(c);
                rc = drc;
                goto fail;
            }
        }
        free(ent);
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND) goto fail;
    if (!any) {
        mdb_txn_abort(txn);
        return 0;
    }
    if ((rc = mdb_drop(txn, s->dbi[DBI_UNDO], 0))) goto fail;
    if ((rc = mdb_txn_commit(txn))) return av_mdb_error(rc, "undoing an unfinished write");
    return 0;
fail:
    mdb_txn_abort(txn);
    return av_mdb_error(rc, "undoing an unfinished write");
}

static int meta_get_raw(av_store *s, MDB_txn *txn, const char *key, MDB_val *v)
{
    MDB_val k = {strlen(key), (void *)key};
    return mdb_get(txn, s->dbi[DBI_META], &k, v);
}

int av_store_recover(av_store *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/writer.lock", s->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return 0; /* a read-only directory: nothing to clean by us */
    int rc = 0;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        MDB_txn *txn;
        MDB_stat st;
        int has = 0;
        if (av_txn_begin_read(s, &txn) == 0) {
            has = mdb_stat(txn, s->dbi[DBI_UNDO], &st) == 0 && st.ms_entries > 0;
            mdb_txn_abort(txn);
            s->nreaders--;
        }
        if (has) rc = rollback(s);
        flock(fd, LOCK_UN);
    }
    close(fd);
    return rc;
}

static void set_release_every(av_writer *w);

int av_writer_lock(av_store *s, int *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/writer.lock", s->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return av_error_set(AV_EIO, "cannot open '%s': %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | ((s->flags & AV_OPEN_NOWAIT) ? LOCK_NB : 0)) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK) return av_error_set(AV_EBUSY, "another aviary process is writing to '%s'", s->dir);
        return av_error_set(AV_EIO, "cannot lock '%s': %s", path, strerror(e));
    }
    int rc = rollback(s);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    *out = fd;
    return 0;
}

int av_writer_open(av_writer **out, av_store *s)
{
    *out = NULL;
    if (!(s->flags & AV_OPEN_RDWR)) return av_error_set(AV_EINVAL, "the store was opened read-only");
    int fd;
    int rc = av_writer_lock(s, &fd);
    if (rc < 0) return rc;
    av_writer *w = av_xcalloc(1, sizeof *w);
    w->s = s;
    w->lock_fd = fd;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv_job, NULL);
    pthread_cond_init(&w->cv_done, NULL);
    w->rd.s = s;
    w->rd.writer_owned = 1;
    w->rd.cache = av_blockcache_new();
    av_record_init(&w->rd.scratch);
    w->z = av_compressor_new();
    MDB_txn *txn;
    if ((rc = av_txn_begin_read(s, &txn)) < 0) goto fail;
    uint64_t v;
    av_meta_head(s, txn, &w->head);
    av_meta_u64(s, txn, "next_row", &v);
    w->next_row = v ? v : 1;
    av_meta_u64(s, txn, "next_block", &v);
    w->next_block = v ? v : 1;
    av_meta_u64(s, txn, "dict_cur", &v);
    w->dict_id = (uint32_t)v;
    av_meta_u64(s, txn, "dict_at", &w->dict_at);
    MDB_val mv;
    if (meta_get_raw(s, txn, "texts", &mv) == 0 && mv.mv_size == 24)
        w->text_total = av_get_be64((const uint8_t *)mv.mv_data + 8);
    av_meta_u64(s, txn, "next_sym", &v);
    w->next_sym = v ? (uint32_t)v : 1;
    {
        MDB_cursor *c;
        MDB_val sk = {1, "s"}, sv;
        if (mdb_cursor_open(txn, s->dbi[DBI_SYM], &c) == 0) {
            for (int r2 = mdb_cursor_get(c, &sk, &sv, MDB_SET_RANGE); r2 == 0 && ((const char *)sk.mv_data)[0] == 's';
                 r2 = mdb_cursor_get(c, &sk, &sv, MDB_NEXT)) {
                av_id h;
                av_hash(&h, (const char *)sk.mv_data + 1, sk.mv_size - 1);
                uint8_t val[16] = {0};
                memcpy(val, sv.mv_data, 4);
                idmap_put(&w->syms, h.b, val);
            }
            mdb_cursor_close(c);
        }
    }
    if (w->dict_id) {
        uint8_t k[4];
        av_be32(k, w->dict_id);
        MDB_val dk = {4, k}, dv;
        if (mdb_get(txn, s->dbi[DBI_DICT], &dk, &dv) == 0) av_buf_put(&w->dict, dv.mv_data, dv.mv_size);
        else w->dict_id = 0;
    }
    mdb_txn_abort(txn);
    s->nreaders--;
    w->version = w->head + 1;
    w->row_lo = w->rch_floor = w->next_row;
    w->counts.version = w->version;
    if ((rc = writer_rd_open(w)) < 0) goto fail;
    set_release_every(w);
    *out = w;
    return 0;
fail:
    av_writer_abort(w);
    return rc;
}

uint32_t av_writer_version(const av_writer *w) { return w->version; }

/* ---- texts ---- */

/* The compression thread: takes sealed blocks in order and compresses them,
 * so zstd runs on the second core while the caller parses and puts. */
/* With w->mu held and a block queued: compresses the next one with z (any
 * compressor gives the same bytes) and marks it done. */
static void compress_next(av_writer *w, av_compressor *z)
{
    sealed_block *sb = w->sealed[w->next_job++];
    pthread_mutex_unlock(&w->mu);
    av_block_builder bb = {sb->raw, sb->hdr, sb->ntexts, sb->cls};
    sb->rc = av_block_seal(z, &sb->val, &bb, sb->dict_id, sb->dict, sb->dict_len);
    if (sb->rc < 0) snprintf(sb->err, sizeof sb->err, "%s", av_errmsg());
    av_buf_free(&sb->raw);
    av_buf_free(&sb->hdr);
    pthread_mutex_lock(&w->mu);
    w->ndone++;
    pthread_cond_broadcast(&w->cv_done);
}

static void *compress_worker(void *arg)
{
    av_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->worker_stop && w->next_job >= w->nsealed) pthread_cond_wait(&w->cv_job, &w->mu);
        if (w->next_job >= w->nsealed) break;
        compress_next(w, w->z);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Hands open block c to the compression thread. */
static int seal_one(av_writer *w, int c)
{
    av_block_builder *bb = &w->bb[c];
    if (!bb->ntexts) return 0;
    sealed_block *sb = av_xcalloc(1, sizeof *sb);
    sb->id = w->bb_id[c];
    sb->raw = bb->raw;
    sb->raw_len = bb->raw.len;
    sb->hdr = bb->hdr;
    sb->ntexts = bb->ntexts;
    sb->cls = c;
    sb->dict_id = w->dict_id;
    sb->dict = w->dict_id ? w->dict.ptr : NULL;
    sb->dict_len = w->dict.len;
    memset(bb, 0, sizeof *bb);
    pthread_mutex_lock(&w->mu);
    if (!w->worker_started) {
        if (pthread_create(&w->worker, NULL, compress_worker, w) != 0) {
            pthread_mutex_unlock(&w->mu);
            av_buf_free(&sb->raw);
            av_buf_free(&sb->hdr);
            free(sb);
            return av_error_set(AV_ERROR, "cannot start the compression thread");
        }
        w->worker_started = 1;
    }
    if (w->nsealed == w->capsealed) {
        w->capsealed = w->capsealed ? w->capsealed * 2 : 16;
        w->sealed = av_xrealloc(w->sealed, w->capsealed * sizeof *w->sealed);
    }
    w->sealed[w->nsealed++] = sb;
    pthread_cond_signal(&w->cv_job);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

/* Seals every open block, the lower id first. */
static int seal_block(av_writer *w)
{
    int first = w->bb[0].ntexts && w->bb[1].ntexts && w->bb_id[1] < w->bb_id[0];
    int rc = seal_one(w, first);
    return rc < 0 ? rc : seal_one(w, !first);
}

static int cmp_sealed(const void *a, const void *b)
{
    uint64_t x = (*(sealed_block *const *)a)->id, y = (*(sealed_block *const *)b)->id;
    return x < y ? -1 : x > y;
}

/* Waits for the compression thread to finish this batch's blocks. */
static int sealed_wait(av_writer *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->ndone < w->nsealed) {
        if (w->next_job >= w->nsealed) {
            pthread_cond_wait(&w->cv_done, &w->mu);
            continue;
        }
        /* compress queued blocks here rather than wait for the worker */
        if (!w->zmain) w->zmain = av_compressor_new();
        compress_next(w, w->zmain);
    }
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < w->nsealed; i++)
        if (w->sealed[i]->rc < 0) return av_error_set(w->sealed[i]->rc, "%s", w->sealed[i]->err);
    return 0;
}

/* Training runs beside the writer: the texts of the next TRAIN_LAG bytes
 * (more once a dictionary exists: the old one does well meanwhile) are
 * compressed with the dictionary in use, and the writer takes the new one up
 * when it has put that many more bytes, or at its commit, waiting for the
 * training if it is not done. Fixed points, so a store's bytes do not depend
 * on thread timing. (Training in the writer's thread cost an UltraFeedback
 * ingest ~0.07 s of its 0.7 s.) */
#define TRAIN_LAG_FIRST (1u << 20)
#define TRAIN_LAG (8u << 20)

static void *train_main(void *arg)
{
    struct trainer *t = arg;
    av_buf_grow(&t->dict, AV_DICT_SIZE);
    t->len = av_dict_train(t->dict.ptr, AV_DICT_SIZE, t->samples.ptr, t->sizes, t->n);
    return NULL;
}

/* Waits for the training and puts its dictionary in use. */
static void train_finish(av_writer *w)
{
    struct trainer *t = &w->tr;
    if (!t->running) return;
    if (t->threaded) pthread_join(t->th, NULL);
    t->running = 0;
    av_buf_reset(&t->samples);
    if (!t->len) return;
    /* Texts already in the open block were collected before: seal them with
     * the old dictionary so a block never mixes two. */
    seal_block(w);
    w->dict_id = w->dict_id + 1;
    /* Blocks queued for compression point at the old dictionary: keep it. */
    w->dicts = av_xrealloc(w->dicts, (w->ndicts + 1) * sizeof *w->dicts);
    w->dicts[w->ndicts++] = w->dict;
    memset(&w->dict, 0, sizeof w->dict);
    av_buf_put(&w->dict, t->dict.ptr, t->len);
    av_buf_free(&w->new_dict);
    w->new_dict = t->dict; /* stored with the next batch */
    w->new_dict.len = t->len;
    memset(&t->dict, 0, sizeof t->dict);
    w->new_dict_id = w->dict_id;
    w->base_raw = w->base_out = w->win_raw = w->win_out = 0;
}

static void maybe_train(av_writer *w)
{
    if (w->tr.running) {
        if (w->text_total >= w->tr.switch_at) train_finish(w);
        return;
    }
    if (w->dict_id ? !w->retrain : w->text_total < AV_DICT_FIRST) return;
    if (w->nsamples < 64) return;
    w->retrain = 0;
    struct trainer *t = &w->tr;
    /* the samples go to the trainer; the writer starts a new set */
    av_buf sw = t->samples;
    t->samples = w->samples;
    w->samples = sw;
    av_buf_reset(&w->samples);
    t->sizes = av_xrealloc(t->sizes, w->nsamples * sizeof *t->sizes);
    memcpy(t->sizes, w->sample_len, w->nsamples * sizeof *t->sizes);
    t->n = w->nsamples;
    t->len = 0;
    w->nsamples = 0;
    w->dict_at = w->text_total;
    t->switch_at = w->text_total + (w->dict_id ? TRAIN_LAG : TRAIN_LAG_FIRST);
    t->running = 1;
    t->threaded = pthread_create(&t->th, NULL, train_main, t) == 0;
    if (!t->threaded) train_main(t); /* no thread: train here, take it up as planned */
}

/* A dictionary is trained again only when its blocks compress worse than
 * they did at first: by a tenth, over a window of RATIO_WINDOW bytes (the
 * texts have changed: another dataset, say), from samples of that window.
 * (Retraining at 16x the text bytes, from the 4 MB after the first
 * dictionary, changed Magpie's 133 MB of texts by 21 KB, and stored 256 KB
 * more dictionary.) */
#define RATIO_BASE (8u << 20)
#define RATIO_WINDOW (16u << 20)
static uint64_t ratio_base = RATIO_BASE, ratio_window = RATIO_WINDOW;
void av_tune_retrain(size_t base, size_t window)
{
    ratio_base = base ? base : RATIO_BASE;
    ratio_window = window ? window : RATIO_WINDOW;
}

static void note_ratio(av_writer *w, const sealed_block *sb)
{
    if (!w->dict_id || sb->dict_id != w->dict_id || w->tr.running) return;
    if (w->base_raw < ratio_base) {
        w->base_raw += sb->raw_len;
        w->base_out += sb->val.len;
        if (w->base_raw >= ratio_base) { /* the first window's samples from here */
            av_buf_reset(&w->samples);
            w->nsamples = 0;
        }
        return;
    }
    w->win_raw += sb->raw_len;
    w->win_out += sb->val.len;
    if (w->win_raw < ratio_window) return;
    /* out/raw grew by a tenth: win_out/win_raw > 1.1 base_out/base_raw */
    if ((double)w->win_out * w->base_raw > 1.1 * (double)w->base_out * w->win_raw) w->retrain = 1;
    w->win_raw = w->win_out = 0;
    if (!w->retrain) { /* the next window's samples */
        av_buf_reset(&w->samples);
        w->nsamples = 0;
    }
}

static void keep_sample(av_writer *w, const char *p, size_t n)
{
    if (w->samples.len + n > SAMPLE_BYTES || n < 16) return;
    if (n > 8192) n = 8192;
    if (w->nsamples == w->capsamples) {
        w->capsamples = w->capsamples ? w->capsamples * 2 : 1024;
        w->sample_len = av_xrealloc(w->sample_len, w->capsamples * sizeof *w->sample_len);
    }
    av_buf_put(&w->samples, p, n);
    w->sample_len[w->nsamples++] = n;
}

/* A text already stored in a block of the other class (texts are stored
 * once): readers then cannot take "not in this class's blocks" for "not
 * one of this class's texts" (av_texts_apart); counted, and saved with the
 * commit. */
static void note_text_class(av_writer *w, int cls, uint64_t loc)
{
    if (av_loc_class(loc) != cls) w->text_xclass++;
}

/* Stores a long value's bytes unless the store has them; either way sets
 * v->loc to where they are. */
static int store_text(av_writer *w, av_val *v, int cls)
{
    av_block_builder *bb = &w->bb[cls];
    idslot *pend = idmap_find(&w->pend_text, v->hash.b);
    if (pend) {
        v->loc = av_get_be64(pend->val);
        note_text_class(w, cls, v->loc);
        return 0;
    }
    uint32_t len;
    int rc = av_txt_get(w->rd.txn, w->s, w->rd.cache, &v->hash, &v->loc, &len);
    if (rc == 0) {
        note_text_class(w, cls, v->loc);
        return 0;
    }
    if (rc != MDB_NOTFOUND) return rc;
    if (v->len > UINT32_MAX) return av_error_set(AV_EINVAL, "a text of %zu bytes is too long (4 GiB at most)", v->len);
    if (bb->raw.len + v->len > AV_BLOCK_RAW && bb->ntexts) {
        if ((rc = seal_one(w, cls)) < 0) return rc;
    }
    if (!bb->ntexts) {
        /* a text's place holds block ids below 2^30 (av_loc_make, codec.c) */
        if (w->next_block >= (1ull << 30))
            return av_error_set(AV_EINVAL, "the store has used all %llu text block ids", 1ull << 30);
        w->bb_id[cls] = w->next_block++;
    }
    uint8_t ent[16] = {0};
    v->loc = av_loc_make(w->bb_id[cls], cls == AV_TEXTS_RESPONSE, (uint32_t)bb->raw.len);
    av_be64(ent, v->loc);
    av_be32(ent + 8, (uint32_t)v->len);
    idmap_put(&w->pend_text, v->hash.b, ent);
    uint8_t h[4];
    av_be32(h, (uint32_t)v->len);
    av_buf_put(&bb->hdr, h, 4);
    av_buf_put(&bb->raw, v->ptr, v->len);
    bb->ntexts++;
    w->batch_bytes += v->len + 60;
    w->text_count++;
    w->text_raw += v->len;
    w->text_total += v->len;
    keep_sample(w, v->ptr, v->len);
    maybe_train(w);
    return 0;
}

/* ---- flushing a batch ---- */

static int cmp_row(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}


static int cmp_put_key(const void *a, const void *b, void *ctx)
{
    const av_writer *w = ctx;
    const pending_put *x = a, *y = b;
    if (x->dbi != y->dbi) return x->dbi - y->dbi;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(w->kv.ptr + x->koff, w->kv.ptr + y->koff, n);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

static void undo_note(av_buf *undo, uint8_t dbi, const void *k, size_t kl)
{
    av_buf_putc(undo, (char)dbi);
    av_put_varint(undo, kl);
    av_buf_put(undo, k, kl);
}

/* Two batches wrote a chunk with the same (term, first row): an old row got
 * a new link. Merge the rows and keep the old value for undo. */
static int merge_chunk(MDB_txn *txn, av_store *s, av_buf *undo, MDB_val *key, MDB_val *val)
{
    MDB_val old;
    int rc = mdb_get(txn, s->dbi[DBI_IDX], key, &old);
    if (rc) return rc;
    uint64_t *rows = NULL;
    size_t n = 0, cap = 0;
    uint64_t first = av_get_be64((const uint8_t *)key->mv_data + key->mv_size - 8);
    if (av_chunk_decode(old.mv_data, old.mv_size, first, &rows, &n, &cap) < 0 ||
        av_chunk_decode(val->mv_data, val->mv_size, first, &rows, &n, &cap) < 0) {
        free(rows);
        return AV_ECORRUPT;
    }
    qsort(rows, n, sizeof *rows, cmp_row);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (!u || rows[u - 1] != rows[i]) rows[u++] = rows[i];
    if (undo) { /* NULL: the chunk is the writer's own, removed by range */
        av_buf_putc(undo, (char)(DBI_IDX | 0x80));
        av_put_varint(undo, key->mv_size);
        av_buf_put(undo, key->mv_data, key->mv_size);
        av_put_varint(undo, old.mv_size);
        av_buf_put(undo, old.mv_data, old.mv_size);
    }
    av_buf nv = AV_BUF_INIT;
    av_chunk_encode(&nv, rows, u);
    MDB_val v2 = {nv.len, nv.ptr};
    rc = mdb_put(txn, s->dbi[DBI_IDX], key, &v2, 0);
    av_buf_free(&nv);
    free(rows);
    return rc;
}

static int put_logged(MDB_txn *txn, av_store *s, av_buf *undo, uint8_t dbi, const void *k, size_t kl, const void *v,
                      size_t vl, unsigned flags)
{
    MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};
    int rc = mdb_put(txn, s->dbi[dbi], &key, &val, flags | MDB_NOOVERWRITE);
    /* on MDB_KEYEXIST, LMDB points val at the existing item */
    MDB_val mine = {vl, (void *)v};
    if (rc == MDB_KEYEXIST && dbi == DBI_IDX) return merge_chunk(txn, s, undo, &key, &mine);
    if (rc == MDB_KEYEXIST) return 0;
    if (rc) return rc;
    if (undo) undo_note(undo, dbi, k, kl); /* NULL: noted as a range */
    return 0;
}

/* Puts keys in ascending order into one table, appending (which keeps
 * LMDB's pages full instead of split in half) while they come after the
 * table's last key. */
typedef struct {
    MDB_txn *txn;
    MDB_dbi dbi;
    av_buf last; /* the table's last key when the txn began */
    int any;     /* the table had keys */
} appender;

static int appender_init(appender *a, MDB_txn *txn, MDB_dbi dbi)
{
    memset(a, 0, sizeof *a);
    a->txn = txn;
    a->dbi = dbi;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc) return rc;
    MDB_val k, v;
    if (mdb_cursor_get(c, &k, &v, MDB_LAST) == 0) {
        av_buf_put(&a->last, k.mv_data, k.mv_size);
        a->any = 1;
    }
    mdb_cursor_close(c);
    return 0;
}

static int key_after(const appender *a, const void *k, size_t kl)
{
    if (!a->any) return 1;
    size_t n = kl < a->last.len ? kl : a->last.len;
    int c = memcmp(k, a->last.ptr, n);
    return c > 0 || (c == 0 && kl > a->last.len);
}

static void appender_free(appender *a) { av_buf_free(&a->last); }

/* Sorts the batch's listed puts (links, toggles, events, symbols). */
static void prepare_batch(av_writer *w)
{
    if (w->nputs) qsort_r(w->puts, w->nputs, sizeof *w->puts, cmp_put_key, w);
}

static int cmp_term(const void *a, const void *b, void *ctx)
{
    const termmap *m = ctx;
    const termslot *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(m->arena.ptr + x->off, m->arena.ptr + y->off, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Appends the undo list of one transaction to the undo table. */
static int undo_save(MDB_txn *txn, av_store *s, const av_buf *undo)
{
    if (!undo->len) return 0;
    MDB_cursor *c;
    MDB_val lk, lv;
    uint64_t seq = 1;
    int rc = mdb_cursor_open(txn, s->dbi[DBI_UNDO], &c);
    if (rc) return rc;
    if (mdb_cursor_get(c, &lk, &lv, MDB_LAST) == 0) seq = av_get_be64(lk.mv_data) + 1;
    mdb_cursor_close(c);
    uint8_t k8[8];
    av_be64(k8, seq);
    MDB_val k = {8, k8}, v = {undo->len, undo->ptr};
    return mdb_put(txn, s->dbi[DBI_UNDO], &k, &v, 0);
}

/* A full flush writes the deferred text, content-id and index entries
 * straight from their maps, one table per transaction (so LMDB's dirty
 * pages stay bounded by one table), in key order. The maps are compacted
 * and sorted in place: they are cleared afterwards. */
static void compact_sorted(idmap *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slot[i].used) m->slot[n++] = m->slot[i];
    /* keys are hashes: a radix sort (a qsort of 40-byte slots by memcmp took
     * ~30% of the end of an UltraFeedback ingest) */
    av_sort_by_key16(m->slot, n, sizeof *m->slot);
    for (size_t i = n; i < m->cap; i++) m->slot[i].used = 0;
    m->n = n;
}

/* Deferred entries go in chunks of this many, a transaction each: the keys
 * are sorted, so a chunk rewrites only its part of the table's pages, and
 * the file grows by that part, not by a copy of the whole table (pages a
 * transaction frees are reused from the next one on). */
#define MERGE_CHUNK 4096
/* ... and within one, the map's pages are handed back every this many keys
 * (safe inside a transaction: they are the file's pages, read again on the
 * next touch): a chunk's random keys touch pages all over a large table,
 * and Linux may map a whole page-cache folio on each touch. */
#define MERGE_RELEASE 512

static int map_txn(av_writer *w, int dbi, idmap *m, av_buf *undo, size_t *from)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(w->s->env, NULL, 0, &txn);
    if (rc) return rc;
    av_buf_reset(undo);
    /* No undo keys: text and content-id entries of new blocks and rows are
     * found through the range notes of the batches that wrote those. */
    appender ap;
    if ((rc = appender_init(&ap, txn, w->s->dbi[dbi]))) {
        mdb_txn_abort(txn);
        return rc;
    }
    size_t end = *from + MERGE_CHUNK < m->n ? *from + MERGE_CHUNK : m->n;
    for (size_t i = *from; i < end && !rc; i++) {
        if ((i - *from) % MERGE_RELEASE == MERGE_RELEASE - 1) av_store_release_map(w->s);
        uint8_t packed[AV_TXT_MAX];
        size_t n = dbi == DBI_TXT ? av_txt_pack(packed, av_get_be64(m->slot[i].val), av_get_be32(m->slot[i].val + 8))
                                  : av_cid_pack(packed, av_get_be64(m->slot[i].val));
        rc = av_shortkey_put(txn, w->s->dbi[dbi], m->slot[i].key, packed, n,
                             key_after(&ap, m->slot[i].key, AV_SHORT_KEY) ? MDB_APPEND : 0);
    }
    appender_free(&ap);
    if (!rc) rc = undo_save(txn, w->s, undo);
    if (!rc && !(rc = mdb_txn_commit(txn))) *from = end;
    else if (rc) mdb_txn_abort(txn);
    return rc;
}

static void compact_terms(termmap *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slot[i].n) m->slot[n++] = m->slot[i];
    for (size_t i = n; i < m->cap; i++) memset(&m->slot[i], 0, sizeof m->slot[i]);
    if (n) qsort_r(m->slot, n, sizeof *m->slot, cmp_term, m);
    m->n = n;
    for (size_t i = 0; i < n; i++) {
        termslot *t = &m->slot[i];
        /* Rows arrive ascending except links to older rows: sort, unique. */
        int sorted = 1;
        for (size_t j = 1; j < t->n; j++)
            if (t->rows[j] <= t->rows[j - 1]) sorted = 0;
        if (!sorted) {
            qsort(t->rows, t->n, sizeof *t->rows, cmp_row);
            size_t u = 0;
            for (size_t j = 0; j < t->n; j++)
                if (!u || t->rows[u - 1] != t->rows[j]) t->rows[u++] = t->rows[j];
            t->n = u;
        }
    }
}

/* Puts the reference chunk being built into the rch table. */
static int rch_put(MDB_txn *txn, av_store *s, av_rchenc *e)
{
    if (!e->n) return 0;
    uint8_t k8[8];
    av_be64(k8, e->first);
    MDB_val k = {8, k8}, v = {e->val.len, e->val.ptr};
    int rc = mdb_put(txn, s->dbi[DBI_RCH], &k, &v, MDB_APPEND);
    av_rch_reset(e);
    return rc;
}

static int terms_txn(av_writer *w, av_buf *undo, size_t *from)
{
    termmap *m = &w->terms;
    MDB_txn *txn;
    int rc = mdb_txn_begin(w->s->env, NULL, 0, &txn);
    if (rc) return rc;
    av_buf_reset(undo);
    av_buf kb = AV_BUF_INIT, vb = AV_BUF_INIT;
    uint8_t k8[8];
    appender ap;
    if ((rc = appender_init(&ap, txn, w->s->dbi[DBI_IDX]))) {
        mdb_txn_abort(txn);
        return rc;
    }
    size_t end = *from + MERGE_CHUNK / 2 < m->n ? *from + MERGE_CHUNK / 2 : m->n;
    /* chunks starting at one of this writer's rows are noted as a range,
     * not key by key (undo_range); so are its reference chunks, whose
     * targets are its own rows too (rch_floor >= row_lo) */
    undo_note_range(undo, DBI_IDX, w->row_lo, w->row_lo);
    undo_note_range(undo, DBI_RCH, w->row_lo, w->row_lo);
    av_rchenc rch = {AV_BUF_INIT, 0, 0, 0};
    uint64_t floor = w->rch_floor, last = 0;
    for (size_t i = *from; i < end && !rc; i++) {
        if ((i - *from) % MERGE_RELEASE == MERGE_RELEASE - 1) av_store_release_map(w->s);
        termslot *t = &m->slot[i];
        const char *term = m->arena.ptr + t->off;
        const uint64_t *rows = term_rows(t);
        if (t->len == 9 && term[0] == AV_TERM_REF && av_get_be64((const uint8_t *)term + 1) >= floor) {
            /* terms sort by key: these come last, targets ascending */
            last = av_get_be64((const uint8_t *)term + 1);
            av_rch_add(&rch, last, rows, t->n);
            if (rch.val.len >= AV_PCH_BYTES) rc = rch_put(txn, w->s, &rch);
            continue;
        }
        av_buf_reset(&kb);
        av_buf_reset(&vb);
        av_buf_put(&kb, term, t->len);
        av_be64(k8, rows[0]);
        av_buf_put(&kb, k8, 8);
        av_chunk_encode(&vb, rows, t->n);
        rc = put_logged(txn, w->s, rows[0] >= w->row_lo ? NULL : undo, DBI_IDX, kb.ptr, kb.len, vb.ptr, vb.len,
                        key_after(&ap, kb.ptr, kb.len) ? MDB_APPEND : 0);
    }
    if (!rc) rc = rch_put(txn, w->s, &rch);
    av_rch_free(&rch);
    appender_free(&ap);
    av_buf_free(&kb);
    av_buf_free(&vb);
    if (!rc) rc = undo_save(txn, w->s, undo);
    if (!rc && !(rc = mdb_txn_commit(txn))) {
        *from = end;
        if (last) w->rch_floor = last + 1;
    } else if (rc) {
        mdb_txn_abort(txn);
    }
    return rc;
}

/* Writes the prepared batch in one transaction. Returns an MDB code
 * (MDB_MAP_FULL for the caller to grow and retry) or 0. */
static int flush_txn(av_writer *w, av_buf *undo)
{
    av_store *s = w->s;
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc) return rc;
    av_buf_reset(undo);
    uint8_t k8[8];
    if (w->new_dict.len) {
        uint8_t k4[4];
        av_be32(k4, w->new_dict_id);
        if ((rc = put_logged(txn, s, undo, DBI_DICT, k4, 4, w->new_dict.ptr, w->new_dict.len, 0))) goto done;
    }
    /* Blocks and records take new ids in order: the undo list notes their
     * range (rollback finds their text and content-id entries through them). */
    if (w->nsealed) undo_note_range(undo, DBI_BLK, w->sealed[0]->id, w->sealed[w->nsealed - 1]->id + 1);
    for (size_t i = 0; i < w->nsealed; i++) {
        av_be64(k8, w->sealed[i]->id);
        MDB_val k = {8, k8}, v = {w->sealed[i]->val.len, w->sealed[i]->val.ptr};
        if ((rc = mdb_put(txn, s->dbi[DBI_BLK], &k, &v, MDB_APPEND))) goto done;
    }
    if (w->nrecs) undo_note_range(undo, DBI_REC, w->rec_row[0], w->rec_row[w->nrecs - 1] + 1);
    w->col.loaded = 0; /* read its chunk in this transaction (a retried one too) */
    for (size_t i = 0; i < w->nrecs; i++) {
        av_be64(k8, w->rec_row[i]);
        size_t end = i + 1 < w->nrecs ? w->rec_off[i + 1] : w->recbuf.len;
        MDB_val k = {8, k8}, v = {end - w->rec_off[i], w->recbuf.ptr + w->rec_off[i]};
        if ((rc = mdb_put(txn, s->dbi[DBI_REC], &k, &v, MDB_APPEND))) goto done;
        if ((rc = av_colw_set(&w->col, txn, s, w->rec_row[i], av_col_entry(v.mv_data, v.mv_size)))) goto done;
    }
    if ((rc = av_colw_flush(&w->col, txn, s))) goto done;
    {
        /* puts are sorted by table, then key: append where they follow */
        appender ap = {0};
        int cur = -1, noted_prov = 0, noted_pch = 0;
        for (size_t i = 0; i < w->nputs && !rc; i++) {
            pending_put *p = &w->puts[i];
            if (p->dbi != cur) {
                appender_free(&ap);
                if ((rc = appender_init(&ap, txn, s->dbi[p->dbi]))) break;
                cur = p->dbi;
            }
            const char *k = w->kv.ptr + p->koff;
            /* provenance of this writer's own rows: noted as a range */
            int own = p->dbi == DBI_PROV && p->klen >= 8 && av_get_be64((const uint8_t *)k) >= w->row_lo;
            if (own && !noted_prov) undo_note_range(undo, DBI_PROV, w->row_lo, w->row_lo), noted_prov = 1;
            if (p->dbi == DBI_PCH) { /* chunks hold only the writer's own rows */
                if (!noted_pch) undo_note_range(undo, DBI_PCH, w->row_lo, w->row_lo), noted_pch = 1;
                own = 1;
            }
            rc = put_logged(txn, s, own ? NULL : undo, p->dbi, k, p->klen, w->kv.ptr + p->voff, p->vlen,
                            key_after(&ap, k, p->klen) ? MDB_APPEND : 0);
        }
        appender_free(&ap);
        if (rc) goto done;
    }
    /* aux values: each put or delete notes the old value for rollback */
    for (size_t i = 0; i < w->naux; i++) {
        pending_put *p = &w->aux[i];
        MDB_val k = {p->klen, w->aux_kv.ptr + p->koff}, v = {p->vlen, w->aux_kv.ptr + p->voff}, old;
        int g = mdb_get(txn, s->dbi[DBI_AUX], &k, &old);
        if (g && g != MDB_NOTFOUND) {
            rc = g;
            goto done;
        }
        if (g == 0) {
            av_buf_putc(undo, (char)(DBI_AUX | 0x80));
            av_put_varint(undo, k.mv_size);
            av_buf_put(undo, k.mv_data, k.mv_size);
            av_put_varint(undo, old.mv_size);
            av_buf_put(undo, old.mv_data, old.mv_size);
        } else if (p->dbi) {
            undo_note(undo, DBI_AUX, k.mv_data, k.mv_size);
        }
        if (p->dbi) rc = mdb_put(txn, s->dbi[DBI_AUX], &k, &v, 0);
        else rc = g == 0 ? mdb_del(txn, s->dbi[DBI_AUX], &k, NULL) : 0;
        if (rc) goto done;
    }
    if ((rc = av_meta_put_u64(txn, s, "next_row", w->next_row))) goto done;
    if ((rc = av_meta_put_u64(txn, s, "next_block", w->next_block))) goto done;
    if ((rc = av_meta_put_u64(txn, s, "next_sym", w->next_sym))) goto done;
    if ((rc = undo_save(txn, s, undo))) goto done;
    rc = mdb_txn_commit(txn);
    txn = NULL;
done:
    if (txn) mdb_txn_abort(txn);
    return rc;
}

static void batch_clear(av_writer *w, int full)
{
    av_buf_reset(&w->recbuf);
    w->nrecs = 0;
    if (full) {
        idmap_clear(&w->pend_cid);
        idmap_clear(&w->pend_text);
        termmap_clear(&w->terms);
    }
    idmap_clear(&w->pend_prov);
    w->nplinks = 0;
    av_buf_reset(&w->aux_kv);
    w->naux = 0;
    av_buf_reset(&w->kv);
    w->nputs = 0;
    for (size_t i = 0; i < w->nsealed; i++) {
        av_buf_free(&w->sealed[i]->val);
        free(w->sealed[i]);
    }
    w->nsealed = w->next_job = w->ndone = 0;
    av_buf_free(&w->new_dict);
    w->batch_bytes = 0;
}

static int batch_empty(const av_writer *w, int full)
{
    return !w->nrecs && !w->nputs && !w->naux && !w->bb[0].ntexts && !w->bb[1].ntexts && !w->nsealed && !w->new_dict.len &&
           (!full || (!w->pend_cid.n && !w->pend_text.n && !w->terms.n));
}

/* Memory held by entries a full flush writes. */
static size_t deferred_bytes(const av_writer *w)
{
    return (w->pend_cid.cap + w->pend_text.cap) * sizeof(idslot) + w->terms.heap_rows * 8 + w->terms.arena.len +
           w->terms.cap * sizeof(termslot);
}

/* Writes what was collected: records, blocks and listed puts always; the
 * text, content-id and index entries too when full (their tables take
 * random keys, so writing them rarely keeps LMDB from copying their pages
 * again and again). */
static int flush(av_writer *w, int full)
{
    if (batch_empty(w, full)) return 0;
    int rc = seal_block(w);
    if (rc < 0 || (rc = sealed_wait(w)) < 0) return rc;
    /* the two classes' blocks were sealed as they filled: write them in id order */
    if (w->nsealed > 1) qsort(w->sealed, w->nsealed, sizeof *w->sealed, cmp_sealed);
    for (size_t i = 0; i < w->nsealed; i++) {
        w->text_stored += w->sealed[i]->val.len;
        note_ratio(w, w->sealed[i]);
    }
    pch_close(w);
    prepare_batch(w);
    if (full) {
        compact_sorted(&w->pend_text);
        compact_sorted(&w->pend_cid);
        compact_terms(&w->terms);
    }
    writer_rd_close(w);
    av_buf undo = AV_BUF_INIT;
    mdb_env_set_flags(w->s->env, MDB_NOSYNC, 1);
    int err = 0;
    /* step 0: records, blocks, listed puts; then (full) one table each */
    for (int step = 0; step < (full ? 4 : 1) && !err && !rc; step++) {
        size_t from = 0, total = step == 1 ? w->pend_text.n : step == 2 ? w->pend_cid.n : w->terms.n;
        for (int tries = 0;; tries++) {
            switch (step) {
            case 0: rc = flush_txn(w, &undo); break;
            case 1: rc = map_txn(w, DBI_TXT, &w->pend_text, &undo, &from); break;
            case 2: rc = map_txn(w, DBI_CID, &w->pend_cid, &undo, &from); break;
            default: rc = terms_txn(w, &undo, &from); break;
            }
            if (rc == 0 && step > 0 && from < total) { /* the next chunk */
                av_store_release_map(w->s); /* the pages it merged into */
                tries = -1;
                continue;
            }
            if (rc != MDB_MAP_FULL || tries > 30) break;
            if ((err = av_store_grow(w->s, w->batch_bytes * 4 + (8u << 20))) < 0) break;
        }
        if (step == 0 && !rc && stop_after && w->version == stop_version && ++batches_written == stop_after)
            raise(SIGSTOP);
        if (step == 0 && !rc) {
            /* what step 0 wrote is on disk: don't write it again */
            av_buf_reset(&w->recbuf);
            w->nrecs = 0;
            av_buf_reset(&w->kv);
            w->nputs = 0;
            av_buf_reset(&w->aux_kv);
            w->naux = 0;
            for (size_t i = 0; i < w->nsealed; i++) {
                av_buf_free(&w->sealed[i]->val);
                free(w->sealed[i]);
            }
            w->nsealed = w->next_job = w->ndone = 0;
            av_buf_free(&w->new_dict);
        }
    }
    mdb_env_set_flags(w->s->env, MDB_NOSYNC, 0);
    av_buf_free(&undo);
    if (err) return err;
    if (rc) return av_mdb_error(rc, "writing a batch");
#ifdef SYNC_FILE_RANGE_WRITE
    {
        /* start writing the batch to disk now, without waiting: the commit's
         * fdatasync then has little left to do (it waited ~25 ms at the end
         * of a 58 MB UltraFeedback ingest) */
        mdb_filehandle_t fd;
        if (mdb_env_get_fd(w->s->env, &fd) == 0) sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    }
#endif
    batch_clear(w, full);
    av_store_release_map(w->s);
    set_release_every(w);
    return writer_rd_open(w);
}

/* ---- putting records ---- */

static int row_cid(av_writer *w, uint64_t row, av_id *out, av_kind *kind)
{
    if (row >= w->next_row || row == 0)
        return av_error_set(AV_EINVAL, "a record refers to row %llu, which does not exist", (unsigned long long)row);
    /* pending rows of this batch */
    if (w->nrecs && row >= w->rec_row[0]) {
        size_t lo = 0, hi = w->nrecs;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (w->rec_row[mid] < row) lo = mid + 1;
            else hi = mid;
        }
        if (lo < w->nrecs && w->rec_row[lo] == row) {
            const uint8_t *p = (const uint8_t *)w->recbuf.ptr + w->rec_off[lo];
            if (kind) *kind = (av_kind)p[0];
            memcpy(out->b, p + 1, 16);
            return 0;
        }
    }
    MDB_val v;
    int rc = av_rec_raw(w->s, w->rd.txn, row, &v);
    if (rc == AV_ENOTFOUND)
        return av_error_set(AV_EINVAL, "a record refers to row %llu, which does not exist", (unsigned long long)row);
    if (rc < 0) return rc;
    if (v.mv_size < 17) return av_error_set(AV_ECORRUPT, "record %llu is corrupt", (unsigned long long)row);
    if (kind) *kind = (av_kind)((const uint8_t *)v.mv_data)[0];
    memcpy(out->b, (const uint8_t *)v.mv_data + 1, 16);
    return 0;
}

static int pending_toggle(av_writer *w, uint64_t row)
{
    uint8_t k[16] = {0};
    av_be64(k, row);
    return idmap_find(&w->pend_tgl, k) != NULL;
}

/* Hidden as of this writer: at head, flipped by a toggle in this commit. */
static int hidden_now(av_writer *w, uint64_t row)
{
    return av_is_hidden(&w->rd, row);
}

static int toggle(av_writer *w, uint64_t row, av_event_type type)
{
    uint8_t k[16] = {0};
    av_be64(k, row);
    if (idmap_find(&w->pend_tgl, k))
        return av_error_set(AV_EINVAL, "record at row %llu is retracted or restored twice in one commit",
                            (unsigned long long)row);
    idmap_put(&w->pend_tgl, k, k);
    uint8_t tk[12];
    av_be64(tk, row);
    av_be32(tk + 8, w->version);
    add_put(w, DBI_TGL, tk, 12, "", 0);
    uint8_t ek[8], ev[25] = {0};
    av_be32(ek, w->version);
    av_be32(ek + 4, ++w->evt_seq);
    ev[0] = (uint8_t)type;
    av_be64(ev + 1, row);
    add_put(w, DBI_EVT, ek, 8, ev, 25);
    if (type == AV_EVENT_RETRACT) w->counts.retracted++;
    else w->counts.restored++;
    w->changed = 1;
    return 1;
}

#define VALCOUNT_MAX (1u << 17) /* values seen once, remembered at most; then forgotten */

/* Symbol ids for the record codec: every key gets one; a short value gets
 * one once it has been seen twice (model names, categories, "safe"), so
 * values that repeat are stored once. */
static uint32_t writer_sym(void *ctx, const char *str, size_t n, int is_key)
{
    av_writer *w = ctx;
    av_id h;
    av_hash(&h, str, n);
    idslot *e = idmap_find(&w->syms, h.b);
    if (e) return av_get_be32(e->val);
    if (!is_key) {
        idslot *c = idmap_find(&w->valcount, h.b);
        if (!c) {
            /* bounded memory: when full, start over (values that repeat,
             * like model names, come back soon and are interned then) */
            if (w->valcount.n >= VALCOUNT_MAX) idmap_clear(&w->valcount);
            uint8_t one[16] = {1};
            idmap_put(&w->valcount, h.b, one);
            return 0;
        }
    }
    uint32_t id = w->next_sym++;
    uint8_t val[16] = {0};
    av_be32(val, id);
    idmap_put(&w->syms, h.b, val);
    av_buf k = AV_BUF_INIT;
    av_buf_putc(&k, 's');
    av_buf_put(&k, str, n);
    add_put(w, DBI_SYM, k.ptr, k.len, val, 4);
    uint8_t ik[5] = {'i'};
    av_be32(ik + 1, id);
    add_put(w, DBI_SYM, ik, 5, str, n);
    av_buf_free(&k);
    return id;
}

static void index_record(av_writer *w, const av_record *rec, uint64_t row)
{
    av_buf t = AV_BUF_INIT;
    av_term_kind(&t, rec->kind);
    termmap_add(&w->terms, t.ptr, t.len, row);
    if (rec->model) {
        av_buf_reset(&t);
        av_term_row(&t, 'm', rec->model);
        termmap_add(&w->terms, t.ptr, t.len, row);
    }
    for (int i = 0; i < 3; i++) {
        if (!rec->ref[i] || (i > 0 && rec->ref[i] == rec->ref[0]) || (i == 2 && rec->ref[2] == rec->ref[1])) continue;
        av_buf_reset(&t);
        av_term_row(&t, AV_TERM_REF, rec->ref[i]);
        termmap_add(&w->terms, t.ptr, t.len, row);
    }
    if (rec->kind == AV_TAG) {
        for (uint32_t i = 0; i < rec->nattr; i++) {
            av_buf_reset(&t);
            av_term_attr_key(&t, rec->attr[i].key);
            termmap_add(&w->terms, t.ptr, t.len, row);
            double num;
            if (av_json_number(rec->attr[i].json.ptr, rec->attr[i].json.len, &num)) {
                av_buf_reset(&t);
                av_term_num(&t, rec->attr[i].key, num);
                termmap_add(&w->terms, t.ptr, t.len, row);
            } else if (av_attr_indexed(rec->attr[i].json.ptr, rec->attr[i].json.len)) {
                av_buf_reset(&t);
                av_term_attr(&t, rec->attr[i].key, rec->attr[i].json.ptr, rec->attr[i].json.len);
                termmap_add(&w->terms, t.ptr, t.len, row);
            }
        }
    }
    av_buf_free(&t);
}

static int check_refs(const av_record *rec)
{
    static const int need[AV_KIND_MAX + 1] = {0, 0, 1, 1, 3, 1, 0, 0, 0};
    for (int i = 0; i < need[rec->kind]; i++)
        if (!rec->ref[i])
            return av_error_set(AV_EINVAL, "a %s record needs %s", av_kind_name(rec->kind),
                                rec->kind == AV_PREFERENCE ? "a prompt and two responses" :
                                rec->kind == AV_RESPONSE   ? "a prompt" :
                                rec->kind == AV_RATING     ? "a response" : "a record to tag");
    if ((rec->kind == AV_SOURCE || rec->kind == AV_MODEL || rec->kind == AV_RUN) && (!rec->name || !*rec->name))
        return av_error_set(AV_EINVAL, "a %s record needs a name", av_kind_name(rec->kind));
    return 0;
}

/* Puts and links look keys up all over the store (content ids, texts,
 * provenance), and the pages they touch count as the writer's memory while
 * mapped (Linux maps 16 neighbours of each): hand them back now and then,
 * so memory does not grow with the store (they stay in the page cache).
 * Every 256 calls while the store is small; every 64 once it passes 512 MB,
 * where 256 calls' lookups mapped ~80 MB (a hand-back costs ~6% of an ingest
 * at 64, nothing measurable at 256). Set after each batch. */
static void release_now_and_then(av_writer *w)
{
    if (++w->ops_since_release >= (w->release_every ? w->release_every : 256)) {
        av_store_release_map(w->s);
        w->ops_since_release = 0;
    }
}

static void set_release_every(av_writer *w)
{
    MDB_envinfo info;
    if (mdb_env_info(w->s->env, &info) == 0)
        w->release_every = (uint64_t)info.me_last_pgno * 4096 > (512ull << 20) ? 64 : 256;
}

int av_writer_put(av_writer *w, av_record *rec)
{
    release_now_and_then(w);
    if (rec->kind < 1 || rec->kind > AV_KIND_MAX) return av_error_set(AV_EINVAL, "invalid record kind %d", rec->kind);
    int rc = check_refs(rec);
    if (rc < 0) return rc;
    av_id ref_cid[3], model_cid;
    for (int i = 0; i < 3; i++)
        if (rec->ref[i] && (rc = row_cid(w, rec->ref[i], &ref_cid[i], NULL)) < 0) return rc;
    if (rec->model) {
        av_kind k;
        if ((rc = row_cid(w, rec->model, &model_cid, &k)) < 0) return rc;
        if (k != AV_MODEL)
            return av_error_set(AV_EINVAL, "row %llu given as a model is a %s", (unsigned long long)rec->model,
                                av_kind_name(k));
    }
    for (uint32_t i = 0; i < rec->nmsg; i++) {
        if (!rec->msg[i].role || !*rec->msg[i].role) return av_error_set(AV_EINVAL, "a message has no role");
        if (!rec->msg[i].text.ptr && rec->msg[i].text.len) return av_error_set(AV_EINVAL, "a message has no text");
        av_hash(&rec->msg[i].text.hash, rec->msg[i].text.ptr ? rec->msg[i].text.ptr : "", rec->msg[i].text.len);
    }
    for (uint32_t i = 0; i < rec->nattr; i++) {
        if (!rec->attr[i].key || !*rec->attr[i].key) return av_error_set(AV_EINVAL, "an attribute has no key");
        if (strlen(rec->attr[i].key) > 400)
            return av_error_set(AV_EINVAL, "attribute key '%.40s...' is too long (400 bytes at most)", rec->attr[i].key);
        if (!rec->attr[i].json.ptr || !rec->attr[i].json.len)
            return av_error_set(AV_EINVAL, "attribute '%s' has no value (use JSON null)", rec->attr[i].key);
        av_hash(&rec->attr[i].json.hash, rec->attr[i].json.ptr, rec->attr[i].json.len);
    }
    av_record_cid(&rec->cid, rec, ref_cid, &model_cid);

    /* Already there? */
    idslot *hit = idmap_find(&w->pend_cid, rec->cid.b);
    if (hit) {
        rec->row = av_get_be64(hit->val);
        return 0;
    }
    rc = av_cid_get(w->rd.txn, w->s, &rec->cid, &rec->row);
    if (rc == 0) {
        if (rec->row < w->row_lo && hidden_now(w, rec->row) && !pending_toggle(w, rec->row)) {
            if ((rc = toggle(w, rec->row, AV_EVENT_RESTORE)) < 0) return rc;
        }
        return 0;
    }
    if (rc != MDB_NOTFOUND) return rc;

    /* New: texts, then the record itself. */
    for (uint32_t i = 0; i < rec->nmsg; i++)
        if (rec->msg[i].text.len > AV_INLINE_MAX &&
            (rc = store_text(w, &rec->msg[i].text, rec->kind == AV_RESPONSE ? AV_TEXTS_RESPONSE : AV_TEXTS_OTHER)) < 0)
            return rc;
    for (uint32_t i = 0; i < rec->nattr; i++)
        if (rec->attr[i].json.len > AV_INLINE_MAX && (rc = store_text(w, &rec->attr[i].json, 0)) < 0) return rc;
    rec->row = w->next_row++;
    rec->version = w->version;
    if (w->nrecs == w->caprecs) {
        w->caprecs = w->caprecs ? w->caprecs * 2 : 1024;
        w->rec_row = av_xrealloc(w->rec_row, w->caprecs * sizeof *w->rec_row);
        w->rec_off = av_xrealloc(w->rec_off, w->caprecs * sizeof *w->rec_off);
    }
    w->rec_row[w->nrecs] = rec->row;
    w->rec_off[w->nrecs] = w->recbuf.len;
    w->nrecs++;
    av_record_encode(&w->recbuf, rec, writer_sym, w);
    uint8_t rv[16] = {0};
    av_be64(rv, rec->row);
    idmap_put(&w->pend_cid, rec->cid.b, rv);
    index_record(w, rec, rec->row);
    w->counts.added[rec->kind]++;
    w->changed = 1;
    w->batch_bytes += (w->recbuf.len - w->rec_off[w->nrecs - 1]) + 128;
    int by_count = batch_records && w->nrecs >= batch_records;
    if (by_count || w->batch_bytes >= BATCH_BYTES) {
        if ((rc = flush(w, deferred_bytes(w) >= DEFERRED_BYTES || by_count)) < 0) return rc;
    }
    return 1;
}

int av_writer_model(av_writer *w, const char *name, uint64_t *out)
{
    av_record m;
    av_record_init(&m);
    m.kind = AV_MODEL;
    m.name = name;
    int rc = av_writer_put(w, &m);
    if (rc < 0) return rc;
    *out = m.row;
    return 0;
}

int av_writer_link(av_writer *w, uint64_t row, uint64_t source_row, uint64_t line)
{
    release_now_and_then(w);
    av_id cid;
    av_kind kind;
    int rc;
    /* Rows this writer made exist: checking them would read every linked
     * record back (and keep its pages in memory) when a file's links are
     * written at its end. The source is checked once. */
    if (!(row >= w->row_lo && row < w->next_row) && (rc = row_cid(w, row, &cid, NULL)) < 0) return rc;
    if (source_row != w->source_ok) {
        if ((rc = row_cid(w, source_row, &cid, &kind)) < 0) return rc;
        if (kind != AV_SOURCE)
            return av_error_set(AV_EINVAL, "row %llu given as a source is a %s", (unsigned long long)source_row,
                                av_kind_name(kind));
        w->source_ok = source_row;
    }
    if (row >= w->row_lo && (row > w->prov_own_hi || (w->pch.n && row == w->pch.last))) {
        /* One of this writer's rows, past the highest it linked (a file's
         * links come at its end, in row order): new, and it goes into a
         * chunk; or another link of the row the open chunk ends with, new
         * unless this batch's chunk links end with it. */
        for (size_t i = w->nplinks; i-- > 0 && w->plinks[i].row == row;)
            if (w->plinks[i].source == source_row && w->plinks[i].line == line) return 0;
        if (w->nplinks == w->capplinks)
            w->plinks = av_xrealloc(w->plinks, (w->capplinks = w->capplinks ? w->capplinks * 2 : 4096) * sizeof *w->plinks);
        w->plinks[w->nplinks++] = (av_prov_link){row, source_row, line};
        w->prov_own_hi = row;
        if (!w->pch.n) av_pch_start(&w->pch, w->version);
        av_pch_add(&w->pch, row, source_row, line);
        if (w->pch.val.len >= AV_PCH_BYTES) pch_close(w);
    } else {
        /* Any other link may be stored already: this batch's, one by one
         * or in chunks, or either table's. */
        uint8_t key[24];
        av_be64(key, row);
        av_be64(key + 8, source_row);
        av_be64(key + 16, line);
        av_id h;
        av_hash(&h, key, 24);
        if (idmap_find(&w->pend_prov, h.b)) return 0;
        size_t lo = 0, hi = w->nplinks;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (w->plinks[mid].row < row) lo = mid + 1;
            else hi = mid;
        }
        for (; lo < w->nplinks && w->plinks[lo].row == row; lo++)
            if (w->plinks[lo].source == source_row && w->plinks[lo].line == line) return 0;
        MDB_val k = {24, key}, v;
        rc = mdb_get(w->rd.txn, w->s->dbi[DBI_PROV], &k, &v);
        if (rc == 0) return 0;
        if (rc != MDB_NOTFOUND) return av_mdb_error(rc, "reading provenance");
        const av_prov_link *l;
        size_t nl;
        uint32_t ver;
        if ((rc = av_pch_links(w->rd.txn, w->s, &w->rd.pch, row, &l, &nl, &ver)) < 0) return rc;
        for (size_t i = 0; i < nl; i++)
            if (l[i].source == source_row && l[i].line == line) return 0;
        uint8_t ver4[4];
        av_be32(ver4, w->version);
        add_put(w, DBI_PROV, key, 24, ver4, 4);
        idmap_put(&w->pend_prov, h.b, h.b);
    }
    if (row < w->row_lo) {
        /* links of this version's own new records are found with av_prov_get */
        uint8_t ek[8], ev[25];
        av_be32(ek, w->version);
        av_be32(ek + 4, ++w->evt_seq);
        ev[0] = AV_EVENT_LINK;
        av_be64(ev + 1, row);
        av_be64(ev + 9, source_row);
        av_be64(ev + 17, line);
        add_put(w, DBI_EVT, ek, 8, ev, 25);
    }
    char term[9] = {'s'}; /* av_term_row's 's' term, without a heap buffer per link */
    av_be64((uint8_t *)term + 1, source_row);
    termmap_add(&w->terms, term, sizeof term, row);
    if (row < w->row_lo) w->counts.linked++;
    w->changed = 1;
    /* links come by the hundred thousand at the end of a file: batches of
     * LINKS_PER_BATCH keep their dedup table and puts small */
    if ((w->batch_bytes >= BATCH_BYTES || w->pend_prov.n + w->nplinks >= LINKS_PER_BATCH) &&
        (rc = flush(w, deferred_bytes(w) >= DEFERRED_BYTES)) < 0)
        return rc;
    return 1;
}

int av_writer_retract(av_writer *w, uint64_t row)
{
    av_id cid;
    int rc = row_cid(w, row, &cid, NULL);
    if (rc < 0) return rc;
    if (row >= w->row_lo)
        return av_error_set(AV_EINVAL, "record at row %llu was added in this same commit and cannot be retracted in it",
                            (unsigned long long)row);
    if (hidden_now(w, row) || pending_toggle(w, row)) return 0;
    return toggle(w, row, AV_EVENT_RETRACT);
}

int av_writer_restore(av_writer *w, uint64_t row)
{
    av_id cid;
    int rc = row_cid(w, row, &cid, NULL);
    if (rc < 0) return rc;
    if (row >= w->row_lo || !hidden_now(w, row) || pending_toggle(w, row)) return 0;
    return toggle(w, row, AV_EVENT_RESTORE);
}

int av_writer_aux_put(av_writer *w, const char *ns, const void *key, size_t klen, const void *val, size_t vlen)
{
    if (!ns || !*ns || strchr(ns, 0) == ns) return av_error_set(AV_EINVAL, "an aux namespace is needed");
    if (strlen(ns) + 1 + klen > 500) return av_error_set(AV_EINVAL, "aux key too long (at most ~500 bytes)");
    if (w->naux == w->capaux) {
        w->capaux = w->capaux ? w->capaux * 2 : 64;
        w->aux = av_xrealloc(w->aux, w->capaux * sizeof *w->aux);
    }
    pending_put *p = &w->aux[w->naux++];
    p->dbi = val ? 1 : 0; /* 1 = put, 0 = delete */
    p->koff = w->aux_kv.len;
    av_buf_puts(&w->aux_kv, ns);
    av_buf_putc(&w->aux_kv, 0);
    av_buf_put(&w->aux_kv, key, klen);
    p->klen = w->aux_kv.len - p->koff;
    p->voff = w->aux_kv.len;
    p->vlen = val ? vlen : 0;
    if (val) av_buf_put(&w->aux_kv, val, vlen);
    w->batch_bytes += p->klen + p->vlen + 32;
    if (w->batch_bytes >= BATCH_BYTES) return flush(w, deferred_bytes(w) >= DEFERRED_BYTES);
    return 0;
}

int av_writer_find(av_writer *w, const av_id *cid, uint64_t *out)
{
    idslot *hit = idmap_find(&w->pend_cid, cid->b);
    if (hit) {
        *out = av_get_be64(hit->val);
        return 0;
    }
    int rc = av_cid_get(w->rd.txn, w->s, cid, out);
    if (rc == MDB_NOTFOUND) {
        char hex[33];
        av_id_hex(hex, cid);
        return av_error_set(AV_ENOTFOUND, "no record %s", hex);
    }
    return rc;
}

/* Rows of the deferred postings of term (not yet in the index), or NULL. */
static const termslot *deferred_term(const av_writer *w, const av_buf *term)
{
    const termmap *m = &w->terms;
    if (!m->cap) return NULL;
    uint64_t h = XXH3_64bits(term->ptr, term->len);
    for (size_t i = h & (m->cap - 1); m->slot[i].n; i = (i + 1) & (m->cap - 1)) {
        const termslot *t = &m->slot[i];
        if (t->hash == h && t->len == term->len && !memcmp(m->arena.ptr + t->off, term->ptr, term->len)) return t;
    }
    return NULL;
}

static int is_tag_with(av_writer *w, uint64_t tag_row, uint64_t target, const char *key, av_record *rec)
{
    if (av_get(&w->rd, tag_row, AV_GET_ANY | AV_GET_NOHASH, rec) < 0) return 0;
    return rec->kind == AV_TAG && rec->ref[0] == target && av_record_attr(rec, key) != NULL;
}

int av_writer_tagged(av_writer *w, uint64_t row, const char *key)
{
    /* records on disk (a small flush: the random-key tables stay deferred) */
    int rc = flush(w, 0);
    if (rc < 0) return rc;
    av_record rec;
    av_record_init(&rec);
    int found = 0;
    av_buf term = AV_BUF_INIT;
    av_term_row(&term, AV_TERM_REF, row);
    const termslot *t = deferred_term(w, &term);
    for (size_t i = 0; t && i < t->n && !found; i++) found = is_tag_with(w, t->cap ? t->rows[i] : t->one, row, key, &rec);
    av_buf_free(&term);
    if (!found) {
        av_iter *it;
        if ((rc = av_iter_refs(&it, &w->rd, row)) < 0) {
            av_record_free(&rec);
            return rc;
        }
        uint64_t r;
        while (!found && (rc = av_iter_next(it, &r)) == 1) found = is_tag_with(w, r, row, key, &rec);
        av_iter_free(it);
    }
    av_record_free(&rec);
    return rc < 0 ? rc : found;
}

int av_writer_tag_once(av_writer *w, uint64_t row, const char *key, const char *json)
{
    int rc = av_writer_tagged(w, row, key);
    if (rc != 0) return rc < 0 ? rc : 0;
    av_attr a = {key, {json, strlen(json), {{0}}, 0}};
    av_record t;
    av_record_init(&t);
    t.kind = AV_TAG;
    t.ref[0] = row;
    t.nattr = 1;
    t.attr = &a;
    rc = av_writer_put(w, &t);
    return rc < 0 ? rc : 1;
}

av_reader *av_writer_reader(av_writer *w)
{
    if (flush(w, 1) < 0) return NULL;
    if (!w->rd_open && writer_rd_open(w) < 0) return NULL;
    return &w->rd;
}

static void writer_free(av_writer *w)
{
    if (w->worker_started) {
        pthread_mutex_lock(&w->mu);
        w->worker_stop = 1;
        pthread_cond_broadcast(&w->cv_job);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->worker, NULL);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv_job);
    pthread_cond_destroy(&w->cv_done);
    for (size_t i = 0; i < w->ndicts; i++) av_buf_free(&w->dicts[i]);
    free(w->dicts);
    writer_rd_close(w);
    av_blockcache_free(w->rd.cache);
    av_pchcache_free(w->rd.pch);
    av_rchcache_free(w->rd.rch);
    av_symtab_free(&w->rd.syms);
    av_record_free(&w->rd.scratch);
    free(w->rd.hidden);
    batch_clear(w, 1);
    av_buf_free(&w->recbuf);
    free(w->rec_row);
    free(w->rec_off);
    idmap_free(&w->pend_cid);
    idmap_free(&w->pend_text);
    idmap_free(&w->pend_prov);
    free(w->plinks);
    av_pch_free(&w->pch);
    idmap_free(&w->pend_tgl);
    idmap_free(&w->syms);
    idmap_free(&w->valcount);
    termmap_free(&w->terms);
    av_buf_free(&w->kv);
    free(w->puts);
    for (int c = 0; c < 2; c++) av_buf_free(&w->bb[c].raw), av_buf_free(&w->bb[c].hdr);
    free(w->sealed);
    av_buf_free(&w->new_dict);
    av_buf_free(&w->aux_kv);
    free(w->aux);
    av_buf_free(&w->dict);
    if (w->tr.running && w->tr.threaded) pthread_join(w->tr.th, NULL);
    av_buf_free(&w->tr.samples);
    av_buf_free(&w->tr.dict);
    free(w->tr.sizes);
    av_buf_free(&w->samples);
    free(w->sample_len);
    av_compressor_free(w->z);
    av_compressor_free(w->zmain);
    if (w->lock_fd > 0) {
        flock(w->lock_fd, LOCK_UN);
        close(w->lock_fd);
    }
    free(w);
}

void av_writer_abort(av_writer *w)
{
    if (!w) return;
    writer_rd_close(w);
    rollback(w->s);
    writer_free(w);
}

static int commit_txn(av_writer *w, const av_commit_opts *opts, int make_version)
{
    av_store *s = w->s;
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc) return rc;
    if (make_version) {
        av_commit c = w->counts;
        c.version = w->version;
        c.time = opts && opts->time ? opts->time : (int64_t)time(NULL);
        c.message = opts && opts->message ? opts->message : "";
        c.command = opts && opts->command ? opts->command : "";
        c.row_lo = w->row_lo;
        c.row_hi = w->next_row;
        av_buf cb = AV_BUF_INIT;
        av_commit_encode(&cb, &c);
        uint8_t k4[4];
        av_be32(k4, w->version);
        MDB_val k = {4, k4}, v = {cb.len, cb.ptr};
        rc = mdb_put(txn, s->dbi[DBI_COMMIT], &k, &v, MDB_NOOVERWRITE);
        av_buf_free(&cb);
        if (rc) goto fail;
        if ((rc = av_meta_put_u64(txn, s, "head", w->version))) goto fail;
        uint8_t t[24];
        MDB_val tk = {5, "texts"}, tv;
        uint64_t count = 0, raw = 0, stored = 0;
        if (mdb_get(txn, s->dbi[DBI_META], &tk, &tv) == 0 && tv.mv_size == 24) {
            count = av_get_be64(tv.mv_data);
            raw = av_get_be64((const uint8_t *)tv.mv_data + 8);
            stored = av_get_be64((const uint8_t *)tv.mv_data + 16);
        }
        av_be64(t, count + w->text_count);
        av_be64(t + 8, raw + w->text_raw);
        av_be64(t + 16, stored + w->text_stored);
        tv.mv_size = 24;
        tv.mv_data = t;
        if ((rc = mdb_put(txn, s->dbi[DBI_META], &tk, &tv, 0))) goto fail;
        if (w->text_xclass) {
            uint64_t x = 0;
            MDB_val xk = {6, "xclass"}, xv;
            if (mdb_get(txn, s->dbi[DBI_META], &xk, &xv) == 0 && xv.mv_size == 8) x = av_get_be64(xv.mv_data);
            if ((rc = av_meta_put_u64(txn, s, "xclass", x + w->text_xclass))) goto fail;
        }
        if ((rc = av_meta_put_u64(txn, s, "dict_cur", w->dict_id))) goto fail;
        if ((rc = av_meta_put_u64(txn, s, "dict_at", w->dict_at))) goto fail;
    }
    if ((rc = mdb_drop(txn, s->dbi[DBI_UNDO], 0))) goto fail;
    return mdb_txn_commit(txn);
fail:
    mdb_txn_abort(txn);
    return rc;
}

int av_writer_commit(av_writer *w, const av_commit_opts *opts, uint32_t *out_version)
{
    train_finish(w); /* a dictionary being trained is taken up now, and stored */
    int rc = flush(w, 1);
    if (rc < 0) {
        av_writer_abort(w);
        return rc;
    }
    int make = w->changed || (opts && opts->allow_empty);
    writer_rd_close(w);
    int err = 0;
    for (int tries = 0;; tries++) {
        rc = commit_txn(w, opts, make);
        if (rc != MDB_MAP_FULL || tries > 30) break;
        if ((err = av_store_grow(w->s, 8u << 20)) < 0) break;
    }
    if (err || rc) {
        if (!err) err = av_mdb_error(rc, "committing");
        av_writer_abort(w);
        return err;
    }
    if (out_version) *out_version = make ? w->version : w->head;
    writer_free(w);
    return make ? 1 : 0;
}
