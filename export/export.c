/* export.c: the export driver (export.h). Three passes, memory bounded:
 *
 *  1. select units (query.h), produce rows (av_rows_source or
 *     av_rows_derived) into a spool file beside the target, inferring the
 *     Parquet schema and counting bytes as they pass; one Parquet file is
 *     written while rows are produced, from an in-memory pipe (a single
 *     file needs no spool at all, unless the rows turn out not to fit the
 *     schema of the first ones: then they are produced again);
 *  2. assign rows to splits (exact counts, seeded sequential sampling) and
 *     shards (by JSON bytes) reading only the spool's row headers;
 *  3. write the data files (JSON Lines or Parquet), provenance.json and the
 *     card (card.c) into a staging name, then rename it into place.
 *
 * The spool holds [u64 unit][u32 len][len bytes of JSON] per row. */
#include "export/export.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <libgen.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export/card.h"
#include "export/jsonv.h"
#include "export/parquet.h"
#include "query/query.h"
#include "util/util.h"

#define MAX_SPLITS 16

typedef struct split_def {
    char name[64];
    double frac;
    uint64_t rows, bytes;  /* assigned */
    uint32_t nshards;
    /* writing */
    uint32_t shard;
    uint64_t shard_bytes, shard_rows, done_rows, file_bytes;
    FILE *jf;
    pq_writer *pw;
    char path[4096];
} split_def;

/* Where pass 1 puts rows: a spool file, the schema they need, counts. One
 * per producing thread. */
typedef struct sink {
    FILE *f;
    const char *path;
    int parquet;      /* a schema conflict is an error, not a note */
    pq_node *schema;
    jv_parser jp;
    int schema_err;   /* the rows do not fit one Parquet schema */
    char schema_msg[512];
    uint64_t rows, bytes;
    av_progress *prog; /* or NULL */
    int lines;        /* write plain JSON Lines, no headers, no schema */
    int no_infer;     /* the streaming writer infers instead */
    struct stream *st; /* or NULL: rows also go down its pipe */
    int stopped;       /* production was stopped because the stream ended */
    av_store *store;     /* whose map pages are handed back now and then */
    uint64_t unreleased; /* bytes of rows since */
} sink;

/* Every 2 MB of rows, hands back the store's map pages read so far, so an
 * export's resident memory does not grow with the store (they stay in the
 * page cache). */
static void release_now_and_then(av_store *s, uint64_t *unreleased, size_t len)
{
    *unreleased += len;
    if (!s || *unreleased < (2u << 20))
        return;
    av_store_release_map(s);
    *unreleased = 0;
}

/* Rows on their way to the streaming writer: [u64 unit][u32 len][json]... */
typedef struct pipe_chunk {
    struct pipe_chunk *next;
    size_t len, cap, pos; /* pos: how far the reader is */
    uint8_t data[];
} pipe_chunk;
#define PIPE_CHUNK (1u << 20)
#define PIPE_CHUNKS 16 /* at most this many full chunks wait: memory stays bounded */

/* The streaming Parquet writer (one file): a thread that writes rows while
 * they are produced, taking them from a bounded in-memory pipe, with a
 * schema inferred from the first rows. A later row that does not fit that
 * schema stops it, and the export falls back to writing after production
 * with the schema of all rows. */
typedef struct stream {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* a chunk arrived, or production ended */
    pthread_cond_t cv_space; /* a chunk was taken, or the stream ended */
    pipe_chunk *head, *tail; /* full chunks, oldest first */
    size_t nqueued;
    pipe_chunk *fill;        /* the producer's chunk being filled */
    pipe_chunk *read;        /* the reader's current chunk */
    int done;           /* production ended */
    int ended;          /* the stream stopped (gave up or failed): rows are dropped */
    int gave_up;        /* a row did not fit: fall back */
    size_t chunk;       /* bytes a chunk is filled to (AVIARY_EXPORT_PIPE_CHUNK: less, for tests) */
    int rc;
    char msg[512];
    const char *path;
    uint64_t row_group_bytes;
    uint64_t rows, file_bytes;
    pq_node *schema;    /* on success: the file's schema (the caller frees it) */
} stream;

typedef struct ex {
    av_reader *r;
    uint64_t unreleased; /* row bytes since the map pages were last handed back */
    const av_export_opts *o;
    int parquet, folder, to_stdout;
    char *stage;      /* staging folder or file */
    char *spool_path;
    sink sk;          /* the spool (rows, schema, counts) */
    jv_parser jp;     /* pass 3's parser */
    FILE *direct;     /* one JSON Lines file or stdout: written as rows come */
    int data_done;    /* the streaming writer wrote the one data file */
    uint64_t rows, bytes;
    split_def split[MAX_SPLITS];
    int nsplit;
    av_progress prog;
    } ex;

/* ---- small helpers ----------------------------------------------------- */

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode))
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    else
        unlink(path);
}

/* 1 if path is a folder with nothing in it. */
static int dir_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *de;
    int empty = 1;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            empty = 0;
    closedir(d);
    return empty;
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* ---- splits -------------------------------------------------------------- */

static int parse_splits(ex *e, const char *spec)
{
    if (!spec || !*spec) {
        snprintf(e->split[0].name, sizeof e->split[0].name, "train");
        e->split[0].frac = 1;
        e->nsplit = 1;
        return 0;
    }
    double sum = 0;
    const char *p = spec;
    while (*p) {
        if (e->nsplit == MAX_SPLITS)
            return av_error_set(AV_EINVAL, "too many splits in '%s' (at most %d)", spec, MAX_SPLITS);
        const char *eq = strchr(p, '=');
        const char *comma = strchr(p, ',');
        if (!comma)
            comma = p + strlen(p);
        if (!eq || eq > comma || eq == p || (size_t)(eq - p) >= sizeof e->split[0].name)
            return av_error_set(AV_EINVAL, "bad split '%.*s' in '%s' (expected NAME=FRACTION)", (int)(comma - p), p, spec);
        split_def *s = &e->split[e->nsplit];
        memcpy(s->name, p, (size_t)(eq - p));
        s->name[eq - p] = 0;
        for (char *c = s->name; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
                return av_error_set(AV_EINVAL, "bad split name '%s' (letters, digits and _ only)", s->name);
        for (int i = 0; i < e->nsplit; i++)
            if (strcmp(e->split[i].name, s->name) == 0)
                return av_error_set(AV_EINVAL, "split '%s' given twice", s->name);
        char num[64];
        size_t nl = (size_t)(comma - eq - 1);
        if (nl == 0 || nl >= sizeof num)
            return av_error_set(AV_EINVAL, "bad fraction for split '%s'", s->name);
        memcpy(num, eq + 1, nl);
        num[nl] = 0;
        char *end;
        s->frac = strtod(num, &end);
        if (*end || !(s->frac > 0) || s->frac > 1)
            return av_error_set(AV_EINVAL, "bad fraction '%s' for split '%s' (a number in (0, 1])", num, s->name);
        sum += s->frac;
        e->nsplit++;
        p = *comma ? comma + 1 : comma;
    }
    if (fabs(sum - 1) > 1e-6)
        return av_error_set(AV_EINVAL, "split fractions in '%s' add up to %g, not 1", spec, sum);
    return 0;
}

/* Exact counts: floor of each share, the remainder to the largest
 * fractional parts (earlier splits first on ties). */
static void split_counts(ex *e, uint64_t n, uint64_t *cnt)
{
    uint64_t given = 0;
    double rem[MAX_SPLITS];
    for (int i = 0; i < e->nsplit; i++) {
        double x = e->split[i].frac * (double)n;
        cnt[i] = (uint64_t)floor(x);
        rem[i] = x - floor(x);
        given += cnt[i];
    }
    while (given < n) {
        int best = 0;
        for (int i = 1; i < e->nsplit; i++)
            if (rem[i] > rem[best])
                best = i;
        cnt[best]++;
        rem[best] = -1;
        given++;
    }
}

/* The sequential sampler: each row goes to split k with probability
 * remaining_k / remaining, which yields the exact counts in a seeded
 * uniformly random partition, in one pass and O(1) memory. */
typedef struct sampler {
    uint64_t left[MAX_SPLITS], total, state;
    int n;
} sampler;

static void sampler_init(sampler *s, ex *e, uint64_t nrows)
{
    s->n = e->nsplit;
    split_counts(e, nrows, s->left);
    s->total = nrows;
    s->state = mix64(e->o->seed ^ 0xA5A5A5A5ULL);
}

static int sampler_next(sampler *s)
{
    s->state = mix64(s->state);
    uint64_t u = s->state % (s->total ? s->total : 1);
    int k = 0;
    for (; k < s->n - 1; k++) {
        if (u < s->left[k])
            break;
        u -= s->left[k];
    }
    s->left[k]--;
    s->total--;
    return k;
}

/* ---- pass 1: rows into the spool ------------------------------------------- */

/* One JSON Lines file (or stdout): no spool, rows go straight out. */
static int direct_row(void *ctx, const char *json, size_t len, uint64_t unit)
{
    ex *e = ctx;
    (void)unit;
    if ((len && fwrite(json, 1, len, e->direct) != len) || putc('\n', e->direct) == EOF)
        return av_error_set(AV_EIO, "cannot write '%s': %s", e->to_stdout ? "stdout" : e->stage, strerror(errno));
    e->rows++;
    e->bytes += len + 1;
    av_progress_update(&e->prog, e->bytes, e->rows);
    release_now_and_then(av_reader_store(e->r), &e->unreleased, len);
    return 0;
}

/* Hands the producer's chunk to the reader, waiting while the pipe is full. */
static void pipe_push(stream *st)
{
    pipe_chunk *c = st->fill;
    st->fill = NULL;
    pthread_mutex_lock(&st->mu);
    while (st->nqueued >= PIPE_CHUNKS && !st->ended)
        pthread_cond_wait(&st->cv_space, &st->mu);
    if (st->ended) {
        free(c);
    } else {
        c->next = NULL;
        if (st->tail)
            st->tail->next = c;
        else
            st->head = c;
        st->tail = c;
        st->nqueued++;
        pthread_cond_signal(&st->cv);
    }
    pthread_mutex_unlock(&st->mu);
}

/* Puts a row into the pipe; nonzero once the stream has ended. */
static int pipe_put(stream *st, uint64_t unit, const char *json, uint32_t len)
{
    if (__atomic_load_n(&st->ended, __ATOMIC_RELAXED))
        return 1;
    size_t need = 12 + (size_t)len;
    if (st->fill && st->fill->len + need > st->fill->cap)
        pipe_push(st);
    if (!st->fill) {
        size_t cap = need > st->chunk ? need : st->chunk;
        st->fill = av_xmalloc(sizeof *st->fill + cap);
        st->fill->len = st->fill->pos = 0;
        st->fill->cap = cap;
    }
    uint8_t *p = st->fill->data + st->fill->len;
    memcpy(p, &unit, 8);
    memcpy(p + 8, &len, 4);
    if (len)
        memcpy(p + 12, json, len);
    st->fill->len += need;
    return 0;
}

/* The stream stops taking rows (it gave up or failed): frees the pipe and
 * wakes a producer waiting for space. */
static void pipe_end(stream *st)
{
    pthread_mutex_lock(&st->mu);
    __atomic_store_n(&st->ended, 1, __ATOMIC_RELAXED);
    while (st->head) {
        pipe_chunk *c = st->head;
        st->head = c->next;
        free(c);
    }
    st->tail = NULL;
    st->nqueued = 0;
    pthread_cond_broadcast(&st->cv_space);
    pthread_mutex_unlock(&st->mu);
}

static int sink_row(void *ctx, const char *json, size_t len, uint64_t unit)
{
    sink *k = ctx;
    uint32_t l32 = (uint32_t)len;
    release_now_and_then(k->store, &k->unreleased, len);
    if (k->lines) {
        if ((len && fwrite(json, 1, len, k->f) != len) || putc('\n', k->f) == EOF)
            return av_error_set(AV_EIO, "cannot write a temporary file: %s", strerror(errno));
        k->rows++;
        k->bytes += len + 1;
        return 0;
    }
    if (len > UINT32_MAX)
        return av_error_set(AV_EINVAL, "a row of %zu bytes is too large", len);
    if (k->f && (fwrite(&unit, 8, 1, k->f) != 1 || fwrite(&l32, 4, 1, k->f) != 1 ||
                 (len && fwrite(json, 1, len, k->f) != len)))
        return av_error_set(AV_EIO, "cannot write '%s': %s", k->path, strerror(errno));
    if (k->st && pipe_put(k->st, unit, json, l32) != 0 && !k->f) {
        /* the stream ended and there is no spool: no use going on */
        k->stopped = 1;
        return av_error_set(AV_ERROR, "the streaming writer stopped");
    }
    if (!k->schema_err && !k->no_infer) {
        const jv *v = jv_parse(&k->jp, json, len);
        int rc = v ? pq_schema_infer(k->schema, v)
                   : av_error_set(AV_EINVAL, "row %llu is not valid JSON: %s", (unsigned long long)k->rows + 1, k->jp.err);
        if (rc < 0) {
            k->schema_err = 1;
            snprintf(k->schema_msg, sizeof k->schema_msg, "%s", av_errmsg());
            if (k->parquet)
                return av_error_set(AV_EINVAL, "%s", k->schema_msg);
        }
    }
    k->rows++;
    k->bytes += len + 1;
    if (k->prog)
        av_progress_update(k->prog, k->bytes, k->rows);
    return 0;
}

/* The next row from the pipe (valid until the next call); 1 if there is
 * one, 0 at the end. */
static int stream_next(stream *st, const char **json, uint32_t *len)
{
    pipe_chunk *c = st->read;
    if (!c || c->pos >= c->len) {
        free(c);
        st->read = NULL;
        pthread_mutex_lock(&st->mu);
        while (!st->head && !st->done)
            pthread_cond_wait(&st->cv, &st->mu);
        c = st->head;
        if (c) {
            st->head = c->next;
            if (!st->head)
                st->tail = NULL;
            st->nqueued--;
            pthread_cond_signal(&st->cv_space);
        }
        pthread_mutex_unlock(&st->mu);
        if (!c)
            return 0;
        st->read = c;
    }
    memcpy(len, c->data + c->pos + 8, 4);
    *json = (const char *)c->data + c->pos + 12;
    c->pos += 12 + (size_t)*len;
    return 1;
}

#define STREAM_PROBE_ROWS 8192
#define STREAM_PROBE_BYTES (64u << 20)

static void *stream_main(void *arg)
{
    stream *st = arg;
    jv_parser jp = JV_PARSER_INIT;
    pq_node *schema = pq_schema_new();
    pq_writer *pw = NULL;
    av_buf probe = AV_BUF_INIT;
    uint32_t *lens = NULL, len = 0;
    const char *json = NULL;
    size_t nprobe = 0, cap = 0;
    int rc = 0;
    /* The first rows decide the schema (AVIARY_EXPORT_PROBE_ROWS: fewer, for tests). */
    const char *env = getenv("AVIARY_EXPORT_PROBE_ROWS");
    size_t probe_rows = env && atol(env) > 0 ? (size_t)atol(env) : STREAM_PROBE_ROWS;
    while (nprobe < probe_rows && probe.len < STREAM_PROBE_BYTES && (rc = stream_next(st, &json, &len)) == 1) {
        const jv *v = jv_parse(&jp, json, len);
        if (!v || pq_schema_infer(schema, v) < 0) {
            st->gave_up = 1; /* the fallback reports it properly */
            goto out;
        }
        if (nprobe == cap)
            lens = av_xrealloc(lens, (cap = cap ? cap * 2 : 1024) * sizeof *lens);
        lens[nprobe++] = len;
        av_buf_put(&probe, json, len);
    }
    if (rc < 0)
        goto out;
    if (schema->nchild == 0) {
        st->gave_up = 1;
        goto out;
    }
    pq_opts po = PQ_OPTS_INIT;
    po.row_group_bytes = st->row_group_bytes;
    po.created_by = "aviary export";
    if ((rc = pq_writer_open(&pw, st->path, schema, &po)) < 0)
        goto out;
    size_t off = 0;
    for (size_t i = 0; i < nprobe && rc == 0; i++) {
        const jv *v = jv_parse(&jp, probe.ptr + off, lens[i]);
        off += lens[i];
        rc = v ? pq_writer_add(pw, v) : AV_EINVAL;
    }
    av_buf_free(&probe);
    while (rc == 0 && (rc = stream_next(st, &json, &len)) == 1) {
        const jv *v = jv_parse(&jp, json, len);
        if (!v || !pq_schema_fits(schema, v)) {
            st->gave_up = 1;
            rc = 0;
            goto out;
        }
        rc = pq_writer_add(pw, v);
    }
    if (rc == 0) {
        st->rows = pq_writer_rows(pw);
        rc = pq_writer_close(pw, &st->file_bytes);
        pw = NULL;
        if (rc == 0) {
            st->schema = schema;
            schema = NULL;
        }
    }
out:
    if (rc < 0) {
        st->rc = rc;
        snprintf(st->msg, sizeof st->msg, "%s", av_errmsg());
    }
    if (rc < 0 || st->gave_up)
        pipe_end(st);
    pq_writer_abort(pw);
    pq_schema_free(schema);
    jv_parser_release(&jp);
    av_buf_free(&probe);
    free(lens);
    return NULL;
}

/* Ends production for the streaming writer, waits for it and frees the pipe. */
static void stream_finish(stream *st)
{
    if (st->fill && st->fill->len)
        pipe_push(st);
    free(st->fill);
    st->fill = NULL;
    pthread_mutex_lock(&st->mu);
    st->done = 1;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->th, NULL);
    pipe_end(st);
    free(st->read);
    st->read = NULL;
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    pthread_cond_destroy(&st->cv_space);
}

/* ---- pass 3: writing ---------------------------------------------------------- */

static const char *ext_of(ex *e)
{
    return e->parquet ? "parquet" : "jsonl";
}

static int open_shard(ex *e, split_def *s)
{
    if (e->folder)
        snprintf(s->path, sizeof s->path, "%s/data/%s-%05u-of-%05u.%s", e->stage, s->name, s->shard, s->nshards, ext_of(e));
    else
        snprintf(s->path, sizeof s->path, "%s", e->stage);
    if (e->parquet) {
        pq_opts po = PQ_OPTS_INIT;
        po.row_group_bytes = e->o->row_group_bytes;
        po.created_by = "aviary export";
        return pq_writer_open(&s->pw, s->path, e->sk.schema, &po);
    }
    s->jf = fopen(s->path, "wb");
    if (!s->jf)
        return av_error_set(AV_EIO, "cannot create '%s': %s", s->path, strerror(errno));
    setvbuf(s->jf, NULL, _IOFBF, 1u << 20);
    return 0;
}

static int close_shard(ex *e, split_def *s)
{
    int rc = 0;
    uint64_t bytes = 0;
    if (s->pw) {
        rc = pq_writer_close(s->pw, &bytes);
        s->pw = NULL;
    } else if (s->jf) {
        errno = 0;
        if (fflush(s->jf) != 0 || ferror(s->jf))
            rc = av_error_set(AV_EIO, "cannot write '%s': %s", s->path, strerror(errno ? errno : EIO));
        long pos = ftell(s->jf);
        if (fclose(s->jf) != 0 && rc == 0)
            rc = av_error_set(AV_EIO, "cannot write '%s': %s", s->path, strerror(errno));
        s->jf = NULL;
        bytes = pos > 0 ? (uint64_t)pos : 0;
    }
    s->file_bytes += bytes;
    (void)e;
    return rc;
}

static int write_row(ex *e, split_def *s, const char *json, uint32_t len)
{
    if (e->parquet) {
        const jv *v = jv_parse(&e->jp, json, len);
        if (!v)
            return av_error_set(AV_EINVAL, "a row is not valid JSON: %s", e->jp.err);
        return pq_writer_add(s->pw, v);
    }
    if ((len && fwrite(json, 1, len, s->jf) != len) || putc('\n', s->jf) == EOF)
        return av_error_set(AV_EIO, "cannot write '%s': %s", s->path, strerror(errno));
    return 0;
}

/* The schema of every spooled row (when the streaming writer gave up). */
static int infer_spool(ex *e)
{
    av_buf row = AV_BUF_INIT;
    int rc = 0;
    rewind(e->sk.f);
    for (uint64_t i = 0; i < e->sk.rows && rc == 0; i++) {
        uint64_t unit;
        uint32_t len;
        if (fread(&unit, 8, 1, e->sk.f) != 1 || fread(&len, 4, 1, e->sk.f) != 1) {
            rc = av_error_set(AV_EIO, "cannot read '%s' back", e->sk.path);
            break;
        }
        av_buf_reset(&row);
        av_buf_grow(&row, (size_t)len + 1);
        if (len && fread(row.ptr, 1, len, e->sk.f) != len) {
            rc = av_error_set(AV_EIO, "cannot read '%s' back", e->sk.path);
            break;
        }
        const jv *v = jv_parse(&e->sk.jp, row.ptr, len);
        rc = v ? pq_schema_infer(e->sk.schema, v)
               : av_error_set(AV_EINVAL, "row %llu is not valid JSON: %s", (unsigned long long)i + 1, e->sk.jp.err);
    }
    av_buf_free(&row);
    return rc;
}

typedef struct prov_cache {
    uint64_t row;
    char *name;
} prov_cache;

static int write_data(ex *e, FILE *prov)
{
    int rc = 0;
    sampler sm;
    /* Pass 2: bytes per split from the row headers. */
    rewind(e->sk.f);
    sampler_init(&sm, e, e->sk.rows);
    for (uint64_t i = 0; i < e->sk.rows; i++) {
        uint64_t unit;
        uint32_t len;
        if (fread(&unit, 8, 1, e->sk.f) != 1 || fread(&len, 4, 1, e->sk.f) != 1 || fseek(e->sk.f, len, SEEK_CUR) != 0)
            return av_error_set(AV_EIO, "cannot read '%s' back", e->sk.path);
        split_def *s = &e->split[sampler_next(&sm)];
        s->rows++;
        s->bytes += (uint64_t)len + 1;
    }
    uint64_t shard_max = e->o->shard_bytes ? e->o->shard_bytes : (512ull << 20);
    for (int k = 0; k < e->nsplit; k++) {
        split_def *s = &e->split[k];
        s->nshards = e->folder ? (uint32_t)((s->bytes + shard_max - 1) / shard_max) : 1;
        if (s->nshards == 0)
            s->nshards = 1;
        if (s->nshards > 99999)
            return av_error_set(AV_EINVAL, "--shard-size is too small: %u files for split '%s'", s->nshards, s->name);
    }
    /* Splits with no rows still get one (empty) file so the card's configs
     * resolve; for Parquet that needs a schema. */
    for (int k = 0; k < e->nsplit && rc == 0 && !e->data_done; k++)
        rc = open_shard(e, &e->split[k]);
    if (rc < 0)
        return rc;
    rewind(e->sk.f);
    sampler_init(&sm, e, e->sk.rows);
    av_buf row = AV_BUF_INIT;
    av_record rec;
    av_record_init(&rec);
    prov_cache pc[64];
    memset(pc, 0, sizeof pc);
    av_prov links[16];
    for (uint64_t i = 0; i < e->sk.rows && rc == 0; i++) {
        uint64_t unit;
        uint32_t len;
        if (fread(&unit, 8, 1, e->sk.f) != 1 || fread(&len, 4, 1, e->sk.f) != 1) {
            rc = av_error_set(AV_EIO, "cannot read '%s' back", e->sk.path);
            break;
        }
        if (e->data_done) {
            /* Only provenance is left to write. */
            if (fseek(e->sk.f, len, SEEK_CUR) != 0) {
                rc = av_error_set(AV_EIO, "cannot read '%s' back", e->sk.path);
                break;
            }
        } else {
            av_buf_reset(&row);
            av_buf_grow(&row, len + 1);
            if (len && fread(row.ptr, 1, len, e->sk.f) != len) {
                rc = av_error_set(AV_EIO, "cannot read '%s' back", e->sk.path);
                break;
            }
            row.len = len;
            row.ptr[len] = 0;
        }
        split_def *s = &e->split[sampler_next(&sm)];
        /* Next shard once this one has its share of the split's bytes. */
        if (s->shard + 1 < s->nshards && s->shard_bytes >= (s->bytes * (s->shard + 1)) / s->nshards) {
            if ((rc = close_shard(e, s)) < 0 || (s->shard++, rc = open_shard(e, s)) < 0)
                break;
        }
        if (!e->data_done && (rc = write_row(e, s, row.ptr, len)) < 0)
            break;
        s->shard_bytes += (uint64_t)len + 1;
        if (prov) {
            char hex[33] = "";
            if (av_get(e->r, unit, 0, &rec) == 0)
                av_id_hex(hex, &rec.cid);
            fprintf(prov, "%s{\"file\": \"data/%s-%05u-of-%05u.%s\", \"row\": %llu, \"id\": \"%s\", \"sources\": [", i ? ",\n" : "",
                    s->name, s->shard, s->nshards, ext_of(e), (unsigned long long)s->shard_rows, hex);
            size_t nl = 0;
            if (av_prov_get(e->r, unit, links, 16, &nl) < 0)
                nl = 0;
            if (nl > 16)
                nl = 16;
            av_buf tmp = AV_BUF_INIT;
            for (size_t k = 0; k < nl; k++) {
                prov_cache *c = &pc[links[k].source % 64];
                if (c->row != links[k].source) {
                    free(c->name);
                    c->name = NULL;
                    c->row = links[k].source;
                    av_record src;
                    av_record_init(&src);
                    c->name = av_xstrdup(av_get(e->r, links[k].source, AV_GET_ANY, &src) == 0 && src.name ? src.name : "");
                    av_record_free(&src);
                }
                av_buf_reset(&tmp);
                av_buf_json_str(&tmp, c->name, strlen(c->name));
                fprintf(prov, "%s{\"source\": %s, \"line\": %llu}", k ? ", " : "", tmp.ptr, (unsigned long long)links[k].line);
            }
            av_buf_free(&tmp);
            fputs("]}", prov);
        }
        s->shard_rows++;
        s->done_rows++;
    }
    for (int k = 0; k < e->nsplit; k++) {
        int rc2 = close_shard(e, &e->split[k]);
        if (rc == 0)
            rc = rc2;
    }
    for (int k = 0; k < 64; k++)
        free(pc[k].name);
    av_record_free(&rec);
    av_buf_free(&row);
    return rc;
}

/* ---- the whole export ---------------------------------------------------------- */

static int query_units(ex *e, av_kind kind, uint64_t **units, size_t *n)
{
    av_query *q = NULL;
    char *errmsg = NULL;
    int rc = av_query_compile(&q, e->o->where, kind, &errmsg);
    if (rc < 0) {
        rc = av_error_set(AV_EINVAL, "%s", errmsg ? errmsg : av_errmsg());
        free(errmsg);
        return rc;
    }
    rc = av_query_rows(q, e->r, units, n);
    av_query_free(q);
    return rc < 0 ? rc : 0;
}

/* Units are responses; a store of prompts alone (Magpie instructions
 * before any response) exports its prompts in the source-shaped formats. */
static int select_units(ex *e, uint64_t **units, size_t *n)
{
    int rc = query_units(e, AV_RESPONSE, units, n);
    if (rc == 0 && *n == 0 && !av_rows_derived_known(e->o->format)) {
        free(*units);
        *units = NULL;
        rc = query_units(e, AV_PROMPT, units, n);
    }
    if (rc < 0 || !e->o->filter)
        return rc;
    size_t k = 0;
    for (size_t i = 0; i < *n; i++) {
        int keep = e->o->filter(e->o->filter_ctx, e->r, (*units)[i]);
        if (keep < 0)
            return keep;
        if (keep)
            (*units)[k++] = (*units)[i];
    }
    *n = k;
    return 0;
}

/* Source-shaped rows for half of a large selection, on a second thread. */
typedef struct half {
    ex *e;
    av_reader *r;
    const uint64_t *units;
    size_t n;
    sink sk;
    int rc;
    char msg[1024];
} half;

static void *half_main(void *arg)
{
    half *h = arg;
    h->rc = av_rows_source(h->r, h->e->o->format, h->units, h->n, sink_row, &h->sk);
    if (h->rc < 0)
        snprintf(h->msg, sizeof h->msg, "%s", av_errmsg());
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Where to cut units so that no prompt has units on both sides (rows that
 * group a prompt's responses then come out once); 0 when there is no such
 * place near the middle. */
static size_t split_point(av_reader *r, const uint64_t *units, size_t n)
{
    uint64_t *p = av_xmalloc(n * sizeof *p);
    av_record rec;
    av_record_init(&rec);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (av_get(r, units[i], 0, &rec) < 0)
            goto done;
        p[i] = rec.kind == AV_RESPONSE && rec.ref[0] ? rec.ref[0] : units[i];
    }
    m = n / 2;
    while (m < n && p[m] == p[m - 1])
        m++;
    if (m >= n - n / 8) {
        m = 0;
        goto done;
    }
    qsort(p, m, sizeof *p, cmp_u64);
    qsort(p + m, n - m, sizeof *p, cmp_u64);
    /* A prompt on both sides is harmless unless a row hangs on it: a row tag
     * (ingest's "_fmt" tags, see ingest/rows_source.c) or a preference,
     * which both halves would then produce. */
    for (size_t i = 0, j = m; i < m && j < n && m;) {
        if (p[i] < p[j]) {
            i++;
            continue;
        }
        if (p[i] > p[j]) {
            j++;
            continue;
        }
        uint64_t shared = p[i];
        av_iter *it = NULL;
        uint64_t row;
        if (av_iter_refs(&it, r, shared) < 0) {
            m = 0;
            break;
        }
        while (m && av_iter_next(it, &row) == 1) {
            if (av_get(r, row, 0, &rec) < 0 || rec.kind == AV_PREFERENCE ||
                (rec.kind == AV_TAG && rec.ref[0] == shared && av_record_attr(&rec, "_fmt")))
                m = 0;
        }
        av_iter_free(it);
        while (i < m && p[i] == shared)
            i++;
        while (j < n && p[j] == shared)
            j++;
    }
    if (!m)
        goto done;
    /* Rows come out in (source, line) order: the halves may only be joined
     * end to end when every line behind the first half comes before every
     * line behind the second (duplicates linked to far-apart lines spoil it). */
    {
        av_prov links[8];
        uint64_t amax_s = 0, amax_l = 0, bmin_s = UINT64_MAX, bmin_l = UINT64_MAX;
        for (size_t i = 0; i < n && m; i++) {
            size_t nl = 0;
            if (av_prov_get(r, units[i], links, 8, &nl) < 0 || nl > 8 || nl == 0) {
                m = 0;
                break;
            }
            for (size_t k = 0; k < nl; k++) {
                uint64_t s = links[k].source, l = links[k].line;
                if (i < m && (s > amax_s || (s == amax_s && l > amax_l)))
                    amax_s = s, amax_l = l;
                if (i >= m && (s < bmin_s || (s == bmin_s && l < bmin_l)))
                    bmin_s = s, bmin_l = l;
            }
        }
        if (m && !(amax_s < bmin_s || (amax_s == bmin_s && amax_l < bmin_l)))
            m = 0;
    }
done:
    av_record_free(&rec);
    free(p);
    return m;
}

/* Appends a temporary file's bytes to out. */
static int append_file(FILE *out, FILE *src, const char *out_name)
{
    char buf[1 << 16];
    size_t k;
    if (fflush(src) != 0)
        return av_error_set(AV_EIO, "cannot write a temporary file: %s", strerror(errno));
    rewind(src);
    while ((k = fread(buf, 1, sizeof buf, src)) > 0)
        if (fwrite(buf, 1, k, out) != k)
            return av_error_set(AV_EIO, "cannot write '%s': %s", out_name, strerror(errno));
    if (ferror(src))
        return av_error_set(AV_EIO, "cannot read a temporary file back");
    return 0;
}

/* Appends src's spool to dst's and merges their schemas. */
static int sink_join(sink *dst, sink *src)
{
    int rc = append_file(dst->f, src->f, dst->path);
    if (rc < 0)
        return rc;
    dst->rows += src->rows;
    dst->bytes += src->bytes;
    if (!dst->schema_err && src->schema_err) {
        dst->schema_err = 1;
        memcpy(dst->schema_msg, src->schema_msg, sizeof dst->schema_msg);
    }
    if (!dst->schema_err && pq_schema_merge(dst->schema, src->schema) < 0) {
        dst->schema_err = 1;
        snprintf(dst->schema_msg, sizeof dst->schema_msg, "%s", av_errmsg());
    }
    if (dst->schema_err && dst->parquet)
        return av_error_set(AV_EINVAL, "%s", dst->schema_msg);
    return 0;
}

/* Large source-shaped selections are produced in two halves at once (the
 * second on its own reader and thread), always cut the same way, so the
 * output does not depend on the number of cores. */
#define PARALLEL_MIN_UNITS 1024

static int produce_source(ex *e, const uint64_t *units, size_t n, av_row_fn fn, void *ctx)
{
    /* AVIARY_EXPORT_PARALLEL_MIN lowers the threshold, for tests. */
    const char *env = getenv("AVIARY_EXPORT_PARALLEL_MIN");
    size_t min = env && atol(env) > 1 ? (size_t)atol(env) : PARALLEL_MIN_UNITS;
    /* (Not while streaming: the stream takes rows in order, as they come.) */
    size_t m = n >= min && !(fn == sink_row && e->sk.st) ? split_point(e->r, units, n) : 0;
    if (!m)
        return av_rows_source(e->r, e->o->format, units, n, fn, ctx);
    half h;
    memset(&h, 0, sizeof h);
    h.e = e;
    h.units = units + m;
    h.n = n - m;
    h.sk.path = e->sk.path;
    h.sk.store = av_reader_store(e->r);
    h.sk.parquet = e->sk.parquet;
    h.sk.lines = fn == direct_row;
    h.sk.no_infer = e->sk.no_infer;
    h.sk.schema = pq_schema_new();
    int rc = av_reader_open(&h.r, av_reader_store(e->r), av_reader_version(e->r));
    if (rc == 0) {
        h.sk.f = tmpfile();
        if (!h.sk.f)
            rc = av_error_set(AV_EIO, "cannot create a temporary file: %s", strerror(errno));
    }
    pthread_t th;
    int threaded = 0;
    if (rc == 0)
        threaded = pthread_create(&th, NULL, half_main, &h) == 0;
    if (rc == 0) {
        rc = av_rows_source(e->r, e->o->format, units, m, fn, ctx);
        if (threaded)
            pthread_join(th, NULL);
        else
            half_main(&h);
        if (rc == 0 && h.rc != 0)
            rc = h.rc < 0 ? av_error_set(h.rc, "%s", h.msg) : h.rc;
        if (rc == 0 && h.sk.lines) {
            rc = append_file(e->direct, h.sk.f, e->to_stdout ? "stdout" : e->o->out);
            e->rows += h.sk.rows;
            e->bytes += h.sk.bytes;
        } else if (rc == 0) {
            rc = sink_join(&e->sk, &h.sk);
        }
    }
    if (h.sk.f)
        fclose(h.sk.f);
    av_reader_close(h.r);
    pq_schema_free(h.sk.schema);
    jv_parser_release(&h.sk.jp);
    return rc;
}

/* Derived formats come from derive.c, except sharegpt rows that were
 * ingested as sharegpt: those are rebuilt as they were. Everything else is
 * source-shaped (ingest/'s av_rows_source). */
static int produce(ex *e, const uint64_t *units, size_t n)
{
    const char *f = e->o->format;
    av_row_fn fn = e->direct ? direct_row : sink_row;
    void *ctx = e->direct ? (void *)e : (void *)&e->sk;
    int as_source = av_rows_source_known(f) &&
                    (!av_rows_derived_known(f) || (strcmp(f, "sharegpt") == 0 && ex_units_from_format(e->r, units, n, f)));
    if (n == 0)
        return 0;
    if (as_source)
        return produce_source(e, units, n, fn, ctx);
    return av_rows_derived(e->r, f, &e->o->derive, units, n, fn, ctx);
}

/* Target checks: AV_EINVAL when it exists and is not empty (without force). */
static int check_target(const av_export_opts *o, int folder)
{
    struct stat st;
    if (stat(o->out, &st) != 0)
        return 0;
    if (folder && !S_ISDIR(st.st_mode) && !o->force)
        return av_error_set(AV_EINVAL, "'%s' exists and is not a folder (use --force to replace it)", o->out);
    if (!folder && S_ISDIR(st.st_mode))
        return av_error_set(AV_EINVAL, "'%s' is a folder", o->out);
    if (o->force)
        return 0;
    if (!folder)
        return av_error_set(AV_EINVAL, "'%s' exists (use --force to replace it)", o->out);
    if (!dir_empty(o->out))
        return av_error_set(AV_EINVAL, "'%s' is not empty (use --force to replace it)", o->out);
    return 0;
}

static char *sibling(const char *path, const char *tag)
{
    char *dup1 = av_xstrdup(path), *dup2 = av_xstrdup(path);
    const char *dir = dirname(dup1), *base = basename(dup2);
    av_buf b = AV_BUF_INIT;
    av_buf_printf(&b, "%s/.%s.%s-%ld", dir, base, tag, (long)getpid());
    free(dup1);
    free(dup2);
    return av_buf_detach(&b);
}

static int install(ex *e)
{
    const char *out = e->o->out;
    struct stat st;
    if (!e->folder || stat(out, &st) != 0) {
        if (rename(e->stage, out) != 0)
            return av_error_set(AV_EIO, "cannot rename '%s' to '%s': %s", e->stage, out, strerror(errno));
        return 0;
    }
    /* An existing folder: empty ones are replaced, full ones (with force)
     * moved aside first so the swap is two renames. */
    if (dir_empty(out)) {
        if (rmdir(out) != 0 || rename(e->stage, out) != 0)
            return av_error_set(AV_EIO, "cannot replace '%s': %s", out, strerror(errno));
        return 0;
    }
    char *old = sibling(out, "aviary-old");
    int rc = 0;
    if (rename(out, old) != 0) {
        rc = av_error_set(AV_EIO, "cannot move '%s' aside: %s", out, strerror(errno));
    } else if (rename(e->stage, out) != 0) {
        rc = av_error_set(AV_EIO, "cannot rename '%s' to '%s': %s", e->stage, out, strerror(errno));
        rename(old, out);
    } else {
        rm_rf(old);
    }
    free(old);
    return rc;
}

/* Option checks that need no store; fills the layout fields of e. */
static int check_opts(ex *e, const av_export_opts *o)
{
    if (!o->format)
        return av_error_set(AV_EINVAL, "no format given");
    if (!o->out)
        return av_error_set(AV_EINVAL, "no output given (--out DIR|FILE)");
    e->to_stdout = strcmp(o->out, "-") == 0;
    int file_ext = ends_with(o->out, ".jsonl") || ends_with(o->out, ".json") || ends_with(o->out, ".parquet");
    e->folder = !e->to_stdout && !file_ext;
    if (o->container && strcmp(o->container, "jsonl") && strcmp(o->container, "parquet"))
        return av_error_set(AV_EINVAL, "unknown container '%s' (jsonl, parquet)", o->container);
    e->parquet = o->container ? strcmp(o->container, "parquet") == 0 : (e->folder || ends_with(o->out, ".parquet"));
    if (e->to_stdout && e->parquet)
        return av_error_set(AV_EINVAL, "Parquet cannot go to stdout; give --out FILE.parquet");
    if (file_ext && o->container && (ends_with(o->out, ".parquet") != e->parquet))
        return av_error_set(AV_EINVAL, "'%s' does not end in .%s", o->out, e->parquet ? "parquet" : "jsonl");
    if (!e->folder && o->split && *o->split)
        return av_error_set(AV_EINVAL, "--split needs a folder for --out (one file per split)");
    if (!av_rows_derived_known(o->format) && !av_rows_source_known(o->format))
        return av_error_set(AV_EINVAL, "unknown export format '%s'", o->format);
    return parse_splits(e, o->split);
}

int av_export_check(const av_export_opts *o)
{
    ex e;
    memset(&e, 0, sizeof e);
    return check_opts(&e, o);
}

int av_export_run(av_reader *r, const av_export_opts *o, av_export_stats *out)
{
    ex e;
    memset(&e, 0, sizeof e);
    e.r = r;
    e.o = o;
    FILE *spool = NULL; /* the spool, also while a lone file's stream needs none */
    if (out)
        memset(out, 0, sizeof *out);
    int rc = check_opts(&e, o);
    if (rc < 0)
        return rc;
    if (!e.to_stdout && (rc = check_target(o, e.folder)) < 0)
        return rc;

    uint64_t *units = NULL;
    size_t n = 0;
    if ((rc = select_units(&e, &units, &n)) < 0)
        return rc;
    if (out)
        out->units = n;
    e.sk.schema = pq_schema_new();
    e.sk.parquet = e.parquet;
    e.sk.prog = &e.prog;
    if (e.to_stdout) {
        e.direct = stdout;
        rc = produce(&e, units, n);
        goto done;
    }
    /* Staging: a hidden sibling of the target, so the final rename stays on
     * one file system. */
    e.stage = sibling(o->out, "aviary-tmp");
    rm_rf(e.stage);
    if (e.folder) {
        av_buf d = AV_BUF_INIT;
        av_buf_printf(&d, "%s/data", e.stage);
        if (mkdir(e.stage, 0777) != 0 || mkdir(d.ptr, 0777) != 0) {
            rc = av_error_set(AV_EIO, "cannot create '%s': %s", e.folder ? o->out : e.stage, strerror(errno));
            av_buf_free(&d);
            goto done;
        }
        av_buf_free(&d);
    }
    if (!e.folder && !e.parquet) {
        e.direct = fopen(e.stage, "wb");
        if (!e.direct) {
            rc = av_error_set(AV_EIO, "cannot write beside '%s': %s", o->out, strerror(errno));
            goto done;
        }
        setvbuf(e.direct, NULL, _IOFBF, 1u << 20);
        av_progress_start(&e.prog, o->progress, "export", 0);
        if ((rc = produce(&e, units, n)) != 0)
            goto done;
        FILE *f = e.direct;
        e.direct = NULL;
        errno = 0;
        int bad = fflush(f) != 0 || ferror(f);
        if (fclose(f) != 0)
            bad = 1;
        if (bad) {
            rc = av_error_set(AV_EIO, "cannot write '%s': %s", o->out, strerror(errno ? errno : EIO));
            goto done;
        }
        if ((rc = install(&e)) < 0)
            goto done;
        if (out) {
            out->rows = e.rows;
            out->bytes = e.bytes;
            out->files = 1;
        }
        goto done;
    }
    e.spool_path = sibling(o->out, "aviary-spool");
    e.sk.path = e.spool_path;
    e.sk.store = av_reader_store(e.r);
    e.sk.f = fopen(e.spool_path, "w+b");
    if (!e.sk.f) {
        rc = av_error_set(AV_EIO, "cannot write beside '%s': %s", o->out, strerror(errno));
        goto done;
    }
    unlink(e.spool_path); /* gone when closed, whatever happens */
    setvbuf(e.sk.f, NULL, _IOFBF, 1u << 20);
    av_progress_start(&e.prog, o->progress, "export", 0);
    /* One Parquet file: written while the rows are produced. A folder gets
     * its one data file this way when it needs no second shard (checked at
     * the end), and keeps the spool for that case and for provenance.json;
     * a lone file needs none. */
    stream st;
    memset(&st, 0, sizeof st);
    int streaming = 0;
    av_buf spath = AV_BUF_INIT;
    spool = e.sk.f;
    if (e.parquet && e.nsplit == 1) {
        if (e.folder)
            av_buf_printf(&spath, "%s/data/%s-00000-of-00001.parquet", e.stage, e.split[0].name);
        else
            av_buf_puts(&spath, e.stage);
        st.path = spath.ptr;
        st.row_group_bytes = o->row_group_bytes;
        const char *pc = getenv("AVIARY_EXPORT_PIPE_CHUNK");
        st.chunk = pc && atol(pc) > 0 ? (size_t)atol(pc) : PIPE_CHUNK;
        pthread_mutex_init(&st.mu, NULL);
        pthread_cond_init(&st.cv, NULL);
        pthread_cond_init(&st.cv_space, NULL);
        if (pthread_create(&st.th, NULL, stream_main, &st) == 0) {
            streaming = 1;
            e.sk.st = &st;
            e.sk.no_infer = 1;
            if (!e.folder)
                e.sk.f = NULL;
        } else {
            pthread_mutex_destroy(&st.mu);
            pthread_cond_destroy(&st.cv);
            pthread_cond_destroy(&st.cv_space);
        }
    }
    rc = produce(&e, units, n);
    if (streaming) {
        stream_finish(&st);
        if (rc < 0 && e.sk.stopped)
            rc = 0; /* st says why */
        e.sk.st = NULL;
        e.sk.no_infer = 0;
        if (rc == 0 && st.rc < 0)
            rc = av_error_set(st.rc, "%s", st.msg);
        uint64_t shard_max = o->shard_bytes ? o->shard_bytes : (512ull << 20);
        if (rc == 0 && !st.gave_up && e.folder && e.sk.bytes > shard_max) {
            st.gave_up = 1; /* more than one shard: written again below */
            unlink(spath.ptr);
        }
        if (rc == 0 && !st.gave_up && !e.folder) {
            if ((rc = install(&e)) == 0 && out) {
                out->rows = st.rows;
                out->bytes = st.file_bytes;
                out->files = 1;
            }
            pq_schema_free(st.schema);
            av_buf_free(&spath);
            goto done;
        }
        av_buf_free(&spath);
        if (rc == 0 && !st.gave_up) {
            pq_schema_free(e.sk.schema);
            e.sk.schema = st.schema;
            st.schema = NULL;
            e.data_done = 1;
            e.split[0].file_bytes = st.file_bytes;
        } else if (rc == 0 && e.folder) {
            rc = fflush(e.sk.f) != 0 ? av_error_set(AV_EIO, "cannot write beside '%s': %s", o->out, strerror(errno))
                                     : infer_spool(&e);
        } else if (rc == 0) {
            /* A lone file whose rows did not fit the first ones' schema:
             * produce them again, into the spool, inferring as they pass. */
            e.sk.f = spool;
            e.sk.rows = e.sk.bytes = 0;
            e.sk.stopped = 0;
            av_progress_end(&e.prog);
            av_progress_start(&e.prog, o->progress, "export", 0);
            rc = produce(&e, units, n);
        }
        pq_schema_free(st.schema);
        if (rc == 0 && e.sk.schema_err)
            rc = av_error_set(AV_EINVAL, "%s", e.sk.schema_msg);
    }
    if (rc != 0)
        goto done;
    if (fflush(e.sk.f) != 0 || ferror(e.sk.f)) {
        rc = av_error_set(AV_EIO, "cannot write beside '%s': %s", o->out, strerror(errno));
        goto done;
    }
    if (e.parquet && e.sk.schema->nchild == 0) {
        rc = av_error_set(AV_ENOTFOUND, "the selection gives no rows, and an empty Parquet file has no columns");
        goto done;
    }
    FILE *prov = NULL;
    av_buf pp = AV_BUF_INIT;
    if (e.folder) {
        av_buf_printf(&pp, "%s/provenance.json", e.stage);
        prov = fopen(pp.ptr, "wb");
        if (!prov) {
            rc = av_error_set(AV_EIO, "cannot create '%s': %s", pp.ptr, strerror(errno));
            av_buf_free(&pp);
            goto done;
        }
        ex_provenance_head(prov, r, o);
    }
    rc = write_data(&e, prov);
    if (prov) {
        fputs("\n]}\n", prov);
        errno = 0;
        if ((fflush(prov) != 0 || ferror(prov)) && rc == 0)
            rc = av_error_set(AV_EIO, "cannot write '%s': %s", pp.ptr, strerror(errno ? errno : EIO));
        if (fclose(prov) != 0 && rc == 0)
            rc = av_error_set(AV_EIO, "cannot write '%s': %s", pp.ptr, strerror(errno));
    }
    av_buf_free(&pp);
    if (rc < 0)
        goto done;
    if (e.folder) {
        ex_card_split splits[MAX_SPLITS];
        for (int k = 0; k < e.nsplit; k++) {
            splits[k].name = e.split[k].name;
            splits[k].rows = e.split[k].rows;
            splits[k].bytes = e.split[k].file_bytes;
            splits[k].json_bytes = e.split[k].bytes;
        }
        rc = ex_card_write(e.stage, r, o, units, n, e.sk.schema_err ? NULL : e.sk.schema, splits, e.nsplit);
        if (rc < 0)
            goto done;
    }
    if ((rc = install(&e)) < 0)
        goto done;
    if (out) {
        out->rows = e.sk.rows;
        for (int k = 0; k < e.nsplit; k++) {
            out->bytes += e.split[k].file_bytes;
            out->files += e.split[k].nshards;
        }
    }
done:
    av_progress_end(&e.prog);
    if (e.to_stdout && out)
        out->rows = e.rows, out->bytes = e.bytes;
    for (int k = 0; k < e.nsplit; k++) {
        if (e.split[k].pw)
            pq_writer_abort(e.split[k].pw);
        if (e.split[k].jf)
            fclose(e.split[k].jf);
    }
    if (e.sk.f)
        fclose(e.sk.f);
    else if (spool)
        fclose(spool);
    if (e.direct && e.direct != stdout)
        fclose(e.direct);
    if (rc != 0 && e.stage)
        rm_rf(e.stage);
    free(e.stage);
    free(e.spool_path);
    pq_schema_free(e.sk.schema);
    jv_parser_release(&e.sk.jp);
    jv_parser_release(&e.jp);
    free(units);
    return rc > 0 ? 0 : rc;
}
