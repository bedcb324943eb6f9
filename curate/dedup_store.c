/* dedup_store.c: `aviary dedup` on a store (see curate.h). Reads the prompts
 * in scope, reuses signatures kept in aux and computes the missing ones in
 * worker threads (one reader each), clusters with the pure core (dedup.c),
 * then writes one tag record per prompt through the caller's writer.
 * Memory: about (bands x 8 + 4 x shingles + 60) bytes per prompt in scope,
 * plus the signatures of one round (AV_ROUND prompts) waiting to be stored. */
#include "curate/curate.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

#define ROUND 16384 /* prompts per round of signature work */
#define CHUNK 64    /* prompts a worker takes at a time */

typedef struct job {
    av_store *s;
    uint32_t base;
    const uint64_t *rows;
    size_t hi;
    atomic_size_t next;
    av_dedup *d;
    const av_dedup_opts *o;
    av_id *cid;
    void **blob;
    size_t *blob_len;
    atomic_size_t computed, reused;
    pthread_mutex_t mu;
    int rc;
    atomic_int failed; /* rc != 0, readable without the lock */
    char err[512];
} job;

static void job_fail(job *j, int rc)
{
    pthread_mutex_lock(&j->mu);
    if (!j->rc) {
        j->rc = rc;
        snprintf(j->err, sizeof j->err, "%s", *av_errmsg() ? av_errmsg() : av_strerror(rc));
        atomic_store(&j->failed, 1);
    }
    pthread_mutex_unlock(&j->mu);
}

static void key_of(unsigned char key[8], uint64_t row)
{
    for (int i = 0; i < 8; i++) key[i] = (unsigned char)(row >> (56 - 8 * i));
}

/* The text dedup compares: the prompt's user turns, one per line (all its
 * texts when it has no user turn). */
static int prompt_text(av_reader *r, av_record *rec, av_buf *out)
{
    int any_user = 0;
    av_buf_reset(out);
    for (uint32_t k = 0; k < rec->nmsg; k++) any_user |= rec->msg[k].role && !strcmp(rec->msg[k].role, "user");
    for (uint32_t k = 0; k < rec->nmsg; k++) {
        av_msg *m = &rec->msg[k];
        if (any_user && !(m->role && !strcmp(m->role, "user"))) continue;
        if (!m->text.ptr && m->text.len) {
            int rc = av_load(r, rec, &m->text);
            if (rc < 0) return rc;
        }
        if (out->len) av_buf_putc(out, '\n');
        av_buf_put(out, m->text.ptr, m->text.len);
    }
    return 0;
}

static int do_slot(job *j, av_reader *r, av_record *rec, av_buf *text, av_buf *scratch, size_t i)
{
    uint64_t row = j->rows[i];
    int rc = av_get(r, row, 0, rec);
    if (rc < 0) return rc;
    j->cid[i] = rec->cid;
    unsigned char key[8];
    key_of(key, row);
    void *val = NULL;
    size_t vlen = 0;
    rc = av_aux_get(r, AV_DEDUP_AUX_NS, key, 8, &val, &vlen);
    if (rc == 0) {
        av_mh_item it = {0};
        int drc = av_mh_decode(&it, val, vlen, j->o->ngram, j->o->perm);
        free(val);
        if (drc == 0) {
            av_dedup_set(j->d, i, row, &it);
            av_mh_item_release(&it);
            atomic_fetch_add(&j->reused, 1);
            return 0;
        }
        /* other parameters, or unreadable: computed again and overwritten */
    } else if (rc != AV_ENOTFOUND) {
        return rc;
    }
    if ((rc = prompt_text(r, rec, text)) < 0) return rc;
    av_mh_item it = {0};
    av_mh_item_compute(&it, text->ptr ? text->ptr : "", text->len, j->o->ngram, j->o->perm, scratch);
    av_mh_encode(&j->blob[i], &j->blob_len[i], &it, j->o->ngram, j->o->perm);
    av_dedup_set(j->d, i, row, &it);
    av_mh_item_release(&it);
    atomic_fetch_add(&j->computed, 1);
    return 0;
}

static void *worker(void *arg)
{
    job *j = arg;
    av_reader *r = NULL;
    av_record rec;
    av_record_init(&rec);
    av_buf text = AV_BUF_INIT, scratch = AV_BUF_INIT;
    /* the store counts its open readers in a plain int: open and close
     * them one thread at a time */
    pthread_mutex_lock(&j->mu);
    int rc = av_reader_open(&r, j->s, j->base);
    pthread_mutex_unlock(&j->mu);
    if (rc < 0) {
        job_fail(j, rc);
        return NULL;
    }
    for (;;) {
        size_t lo = atomic_fetch_add(&j->next, CHUNK);
        if (lo >= j->hi || atomic_load(&j->failed)) break;
        size_t hi = lo + CHUNK < j->hi ? lo + CHUNK : j->hi;
        for (size_t i = lo; i < hi; i++) {
            if ((rc = do_slot(j, r, &rec, &text, &scratch, i)) < 0) {
                job_fail(j, rc);
                goto done;
            }
        }
    }
done:
    av_record_free(&rec);
    av_buf_free(&text);
    av_buf_free(&scratch);
    pthread_mutex_lock(&j->mu);
    av_reader_close(r);
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

static int nthreads(int asked)
{
    if (asked > 0) return asked > 64 ? 64 : asked;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 16 ? 16 : (int)n;
}

/* Rows of the prompts in scope, ascending. */
static int scope_rows(av_reader *r, av_query *q, uint64_t **out, size_t *out_n)
{
    if (q) return av_query_rows(q, r, out, out_n);
    av_iter *it = NULL;
    int rc = av_iter_kind(&it, r, AV_PROMPT);
    if (rc < 0) return rc;
    size_t n = 0, cap = 1024;
    uint64_t *v = av_xmalloc(cap * sizeof *v), row;
    while ((rc = av_iter_next(it, &row)) > 0) {
        if (n == cap) v = av_xrealloc(v, (cap *= 2) * sizeof *v);
        v[n++] = row;
    }
    av_iter_free(it);
    if (rc < 0) {
        free(v);
        return rc;
    }
    *out = v;
    *out_n = n;
    return 0;
}

typedef struct oldtag {
    uint64_t prompt, tag;
} oldtag;

static int cmp_oldtag(const void *a, const void *b)
{
    const oldtag *x = a, *y = b;
    if (x->prompt != y->prompt) return x->prompt < y->prompt ? -1 : 1;
    return x->tag < y->tag ? -1 : x->tag > y->tag;
}

/* Visible dedup tags (prompt, tag row), sorted by prompt. */
static int old_tags(av_reader *r, oldtag **out, size_t *out_n)
{
    av_iter *it = NULL;
    av_record rec;
    av_record_init(&rec);
    size_t n = 0, cap = 256;
    oldtag *v = av_xmalloc(cap * sizeof *v);
    uint64_t row;
    int rc = av_iter_attr_key(&it, r, "dedup_cluster");
    if (rc < 0) goto done;
    while ((rc = av_iter_next(it, &row)) > 0) {
        if ((rc = av_get(r, row, 0, &rec)) < 0) goto done;
        if (rec.kind != AV_TAG) continue;
        if (n == cap) v = av_xrealloc(v, (cap *= 2) * sizeof *v);
        v[n++] = (oldtag){rec.ref[0], row};
    }
done:
    av_iter_free(it);
    av_record_free(&rec);
    if (rc < 0) {
        free(v);
        return rc;
    }
    qsort(v, n, sizeof *v, cmp_oldtag);
    *out = v;
    *out_n = n;
    return 0;
}

static void set_attr(av_attr *a, const char *key, av_buf *b)
{
    a->key = key;
    memset(&a->json, 0, sizeof a->json);
    a->json.ptr = b->ptr;
    a->json.len = b->len;
}

int av_curate_dedup(av_writer *w, const av_curate_dedup_opts *o, av_curate_dedup_report *rep)
{
    memset(rep, 0, sizeof *rep);
    av_reader *wr = av_writer_reader(w);
    if (!wr) return AV_ERROR; /* the writer's message stands */
    av_store *s = av_reader_store(wr);
    uint32_t base = av_writer_version(w) - 1;
    uint64_t *rows = NULL;
    size_t n = 0, nold = 0;
    av_dedup *d = NULL;
    oldtag *old = NULL;
    job j = {0};
    av_progress prog;
    double t0 = av_now();
    int rc = scope_rows(wr, o->where, &rows, &n);
    if (rc < 0) return rc;
    if ((rc = av_dedup_new(&d, &o->dd, n)) < 0) goto done;

    j.s = s;
    j.base = base;
    j.rows = rows;
    j.d = d;
    j.o = &o->dd;
    j.cid = av_xcalloc(n ? n : 1, sizeof *j.cid);
    j.blob = av_xcalloc(n ? n : 1, sizeof *j.blob);
    j.blob_len = av_xcalloc(n ? n : 1, sizeof *j.blob_len);
    pthread_mutex_init(&j.mu, NULL);
    int nt = nthreads(o->threads);
    pthread_t *th = av_xcalloc((size_t)nt, sizeof *th);
    av_progress_start(&prog, o->progress, "signatures", 0);
    for (size_t lo = 0; lo < n && !j.rc; lo += ROUND) {
        j.hi = lo + ROUND < n ? lo + ROUND : n;
        atomic_store(&j.next, lo);
        int started = 0;
        for (int t = 0; t < nt; t++) {
            if (pthread_create(&th[t], NULL, worker, &j) != 0) break;
            started++;
        }
        if (!started) worker(&j); /* no threads to be had: do it here */
        for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
        /* store the new signatures of this round */
        for (size_t i = lo; i < j.hi && !j.rc; i++) {
            if (!j.blob[i]) continue;
            unsigned char key[8];
            key_of(key, rows[i]);
            rc = av_writer_aux_put(w, AV_DEDUP_AUX_NS, key, 8, j.blob[i], j.blob_len[i]);
            free(j.blob[i]);
            j.blob[i] = NULL;
            if (rc < 0) job_fail(&j, rc);
        }
        av_progress_update(&prog, 0, j.hi);
    }
    av_progress_end(&prog);
    free(th);
    pthread_mutex_destroy(&j.mu);
    if (j.rc) {
        rc = av_error_set(j.rc, "%s", j.err);
        goto done;
    }
    rep->computed = atomic_load(&j.computed);
    rep->reused = atomic_load(&j.reused);
    double t1 = av_now();
    rep->t_sign = t1 - t0;

    if ((rc = av_dedup_run(d, &rep->st)) < 0) goto done;
    double t2 = av_now();
    rep->t_cluster = t2 - t1;

    if (!(wr = av_writer_reader(w))) {
        rc = AV_ERROR;
        goto done;
    }
    if ((rc = old_tags(wr, &old, &nold)) < 0) goto done;

    av_buf vcl = AV_BUF_INIT, vrep = AV_BUF_INIT, vkeep = AV_BUF_INIT, vsim = AV_BUF_INIT, vsize = AV_BUF_INIT;
    size_t oi = 0;
    for (size_t i = 0; i < n && rc >= 0; i++) {
        av_dedup_result res;
        av_dedup_result_get(d, i, &res);
        char hex[33];
        av_id_hex(hex, &j.cid[res.rep]);
        av_buf_reset(&vcl);
        av_buf_printf(&vcl, "%llu", (unsigned long long)res.rep_row);
        av_buf_reset(&vrep);
        av_buf_printf(&vrep, "\"%s\"", hex);
        av_buf_reset(&vkeep);
        av_buf_puts(&vkeep, res.rep == i ? "true" : "false");
        av_buf_reset(&vsim);
        av_buf_json_num(&vsim, round(res.similarity * 10000) / 10000);
        av_buf_reset(&vsize);
        av_buf_printf(&vsize, "%llu", (unsigned long long)res.size);
        av_attr attrs[5];
        set_attr(&attrs[0], "dedup_cluster", &vcl);
        set_attr(&attrs[1], "dedup_representative", &vrep);
        set_attr(&attrs[2], "dedup_keep", &vkeep);
        set_attr(&attrs[3], "dedup_similarity", &vsim);
        set_attr(&attrs[4], "dedup_cluster_size", &vsize);
        av_record rec;
        av_record_init(&rec);
        rec.kind = AV_TAG;
        rec.ref[0] = res.row;
        rec.nattr = 5;
        rec.attr = attrs;
        rc = av_writer_put(w, &rec);
        if (rc < 0) break;
        if (rc == 1) rep->tagged++;
        else if ((rc = av_writer_restore(w, rec.row)) < 0) break;
        /* retract this prompt's other dedup tags */
        while (oi < nold && old[oi].prompt < res.row) oi++;
        for (; oi < nold && old[oi].prompt == res.row; oi++) {
            if (old[oi].tag == rec.row) continue;
            if ((rc = av_writer_retract(w, old[oi].tag)) < 0) break;
            rep->retracted += (size_t)rc;
        }
        if (rc >= 0) rc = 0;
    }
    av_buf_free(&vcl);
    av_buf_free(&vrep);
    av_buf_free(&vkeep);
    av_buf_free(&vsim);
    av_buf_free(&vsize);
    rep->t_write = av_now() - t2;

done:
    if (j.blob)
        for (size_t i = 0; i < n; i++) free(j.blob[i]);
    free(j.blob);
    free(j.blob_len);
    free(j.cid);
    free(old);
    free(rows);
    av_dedup_free(d);
    return rc < 0 ? rc : 0;
}
