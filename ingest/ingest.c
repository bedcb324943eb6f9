/* ingest.c: streams one file into a store writer. A reader thread reads,
 * decompresses, splits, parses and maps rows into batches of plans (CPU work
 * that needs no store); the calling thread writes each plan's records, the
 * row tag and the provenance links. Bad rows stop the file or, with
 * skip_bad, go verbatim to the rejects file. Memory: a few batches of at
 * most BATCH_ROWS rows / BATCH_BYTES of input each, plus the deferred links
 * (16 bytes per record, at most 128K of them (2 MiB) in memory and the rest
 * in a temporary file; the source record, which carries the file's SHA-256, can only be
 * written after the last byte is read). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "ingest/models.h"
#include "ingest/reader.h"

#define BATCH_ROWS 128
#define BATCH_BYTES (1u << 20)
#define NBATCH 3

typedef struct row_slot {
    char *raw;
    size_t rawlen, rawcap;
    uint64_t index, line;
    jdoc doc;
    av_plan plan;
    int bad;
    char reason[512];
} row_slot;

typedef struct batch {
    row_slot *rows;
    size_t n, cap;
    int last;             /* the reader stopped after this batch */
    int fatal;            /* the file cannot go on (message in fatal_msg) */
    char fatal_msg[600];
    uint64_t raw_bytes;   /* input consumed when the batch was made */
    int full;             /* filled and not yet written */
} batch;

typedef struct ingest_ctx {
    const av_ingest_opts *o;
    const char *shown; /* the file name for messages */
    av_input *in;
    const av_format *fmt;
    int stop;          /* the writer asks the reader to stop */
    batch b[NBATCH];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int threaded;
} ingest_ctx;

/* ---- the reader side -------------------------------------------------- */

static void parse_reason(const row_slot *s, const jdoc *d, char *out, size_t cap, uint64_t *line)
{
    /* line and column of the error inside the record */
    uint64_t l = s->line;
    size_t col = 0;
    for (size_t i = 0; i < d->err_off && i < s->rawlen; i++) {
        if (s->raw[i] == '\n') {
            l++;
            col = 0;
        } else {
            col++;
        }
    }
    *line = l;
    int plain = !strncmp(d->err, "invalid UTF-8", 13) || !strncmp(d->err, "string contains", 15) ||
                !strncmp(d->err, "nesting", 7) || !strncmp(d->err, "lone UTF-16", 11);
    snprintf(out, cap, "%s%s (column %zu)", plain ? "" : "malformed JSON: ", d->err, col + 1);
}

static void fill_batch(ingest_ctx *g, batch *b)
{
    b->n = 0;
    b->last = b->fatal = 0;
    size_t bytes = 0;
    while (b->n < BATCH_ROWS && bytes < BATCH_BYTES) {
        av_inrec r;
        int rc = av_input_next(g->in, &r);
        if (rc == 0) {
            b->last = 1;
            break;
        }
        if (rc < 0) {
            b->last = b->fatal = 1;
            snprintf(b->fatal_msg, sizeof b->fatal_msg, "%s:%llu: %s", g->shown,
                     (unsigned long long)av_input_error_line(g->in), av_input_error(g->in));
            break;
        }
        if (b->n == b->cap) {
            size_t nc = b->cap ? b->cap * 2 : 64;
            b->rows = av_xrealloc(b->rows, nc * sizeof *b->rows);
            for (size_t i = b->cap; i < nc; i++) {
                memset(&b->rows[i], 0, sizeof b->rows[i]);
                json_doc_init(&b->rows[i].doc);
                av_plan_init(&b->rows[i].plan);
            }
            b->cap = nc;
        }
        row_slot *s = &b->rows[b->n++];
        if (s->rawcap < r.n + 1) {
            s->rawcap = r.n + 1 > 4096 ? r.n + 1 : 4096;
            free(s->raw);
            s->raw = av_xmalloc(s->rawcap);
        }
        memcpy(s->raw, r.p, r.n);
        s->raw[r.n] = 0;
        s->rawlen = r.n;
        s->index = r.index;
        s->line = r.line;
        s->bad = 0;
        bytes += r.n;
        if (json_parse(&s->doc, s->raw, s->rawlen, 0)) {
            uint64_t l;
            char why[400];
            parse_reason(s, &s->doc, why, sizeof why, &l);
            snprintf(s->reason, sizeof s->reason, "%s:%llu: %s", g->shown, (unsigned long long)l, why);
            s->bad = 1;
            continue;
        }
        const jnode *root = json_root(&s->doc);
        if (root->type != J_OBJ) {
            snprintf(s->reason, sizeof s->reason, "%s:%llu: a row must be a JSON object, not %s", g->shown,
                     (unsigned long long)s->line, json_type_name(root));
            s->bad = 1;
            continue;
        }
        if (!g->fmt) {
            g->fmt = av_format_detect(root);
            if (!g->fmt) {
                av_buf keys = AV_BUF_INIT;
                const jnode *k = root + 1;
                for (uint32_t i = 0; i < root->n && i < 30; i++, k = json_next(k + 1)) {
                    if (i) av_buf_puts(&keys, ", ");
                    av_buf_printf(&keys, "%.*s", (int)(k->n > 40 ? 40 : k->n), k->s);
                }
                snprintf(b->fatal_msg, sizeof b->fatal_msg,
                         "%s:%llu: unrecognised row shape (keys: %s); known formats: %s; name one with --format",
                         g->shown, (unsigned long long)s->line, keys.ptr ? keys.ptr : "none", av_format_names());
                av_buf_free(&keys);
                b->n--;
                b->last = b->fatal = 1;
                break;
            }
        }
        if (av_format_map(g->fmt, &s->plan, root)) {
            snprintf(s->reason, sizeof s->reason, "%s:%llu: %s", g->shown, (unsigned long long)s->line, s->plan.err);
            s->bad = 1;
        }
    }
    b->raw_bytes = av_input_raw_bytes(g->in);
}

static void *reader_main(void *arg)
{
    ingest_ctx *g = arg;
    for (size_t i = 0;; i = (i + 1) % NBATCH) {
        batch *b = &g->b[i];
        pthread_mutex_lock(&g->mu);
        while (b->full && !g->stop) pthread_cond_wait(&g->cv, &g->mu);
        int stop = g->stop;
        pthread_mutex_unlock(&g->mu);
        if (stop) return NULL;
        fill_batch(g, b);
        pthread_mutex_lock(&g->mu);
        b->full = 1;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        if (b->last) return NULL;
    }
}

/* ---- the writer side -------------------------------------------------- */

typedef struct link {
    uint64_t row, line;
} link;

typedef struct model_ent {
    char *name;
    uint64_t row;
} model_ent;

typedef struct wstate {
    av_writer *w;
    model_ent *models;
    size_t nmodels, capmodels;
    link *links;
    size_t nlinks, caplinks;
    FILE *spill; /* links beyond links_in_memory */
    uint64_t nspilled;
    uint64_t *rows;
    av_id *cids;
    size_t caprows;
    av_msg *msg;
    size_t capmsg;
    av_attr *attr;
    size_t capattr;
    av_buf refs;
    av_ingest_stats *st;
    const char *judge; /* --judge: for verdicts without one */
} wstate;


static int model_row(wstate *ws, const char *name, size_t n, uint64_t *out)
{
    for (size_t i = 0; i < ws->nmodels; i++)
        if (strlen(ws->models[i].name) == n && !memcmp(ws->models[i].name, name, n)) {
            *out = ws->models[i].row;
            return 0;
        }
    char *nm = av_xstrndup(name, n);
    uint64_t row;
    int rc = av_writer_model(ws->w, nm, &row);
    if (rc < 0) {
        free(nm);
        return rc;
    }
    const char *lic = av_model_licence_builtin(nm);
    av_buf j = AV_BUF_INIT;
    av_buf_json_str(&j, lic ? lic : "unknown", strlen(lic ? lic : "unknown"));
    rc = av_writer_tag_once(ws->w, row, "licence", j.ptr);
    av_buf_free(&j);
    if (rc < 0) {
        free(nm);
        return rc;
    }
    if (rc == 1) ws->st->records_new++;
    if (ws->nmodels == ws->capmodels) {
        ws->capmodels = ws->capmodels ? ws->capmodels * 2 : 16;
        ws->models = av_xrealloc(ws->models, ws->capmodels * sizeof *ws->models);
    }
    ws->models[ws->nmodels++] = (model_ent){nm, row};
    *out = row;
    return 0;
}

/* Links wait for the source record; past links_in_memory they go to a
 * temporary file, so memory stays bounded whatever the file's size. */
static size_t links_in_memory = 1u << 17;

void av_ingest_tune_links(size_t n)
{
    links_in_memory = n ? n : 1;
}

static int defer_link(wstate *ws, uint64_t row, uint64_t line)
{
    if (ws->nlinks >= links_in_memory) {
        if (!ws->spill && !(ws->spill = tmpfile()))
            return av_error_set(AV_EIO, "cannot make a temporary file: %s", strerror(errno));
        if (fwrite(ws->links, sizeof *ws->links, ws->nlinks, ws->spill) != ws->nlinks)
            return av_error_set(AV_EIO, "cannot write a temporary file: %s", strerror(errno));
        ws->nspilled += ws->nlinks;
        ws->nlinks = 0;
    }
    if (ws->nlinks == ws->caplinks) {
        ws->caplinks = ws->caplinks ? ws->caplinks * 2 : 4096;
        ws->links = av_xrealloc(ws->links, ws->caplinks * sizeof *ws->links);
    }
    ws->links[ws->nlinks++] = (link){row, line};
    return 0;
}

/* Writes every deferred link to source row src. */
static int write_links(wstate *ws, uint64_t src)
{
    int rc;
    if (ws->spill) {
        rewind(ws->spill);
        link buf[4096];
        size_t got;
        uint64_t left = ws->nspilled;
        while (left && (got = fread(buf, sizeof *buf, left < 4096 ? left : 4096, ws->spill)) > 0) {
            for (size_t i = 0; i < got; i++) {
                if ((rc = av_writer_link(ws->w, buf[i].row, src, buf[i].line)) < 0) return rc;
                if (rc == 1) ws->st->links_new++;
            }
            left -= got;
        }
        if (left) return av_error_set(AV_EIO, "cannot read back a temporary file");
    }
    for (size_t i = 0; i < ws->nlinks; i++) {
        if ((rc = av_writer_link(ws->w, ws->links[i].row, src, ws->links[i].line)) < 0) return rc;
        if (rc == 1) ws->st->links_new++;
    }
    return 0;
}

/* Writes one mapped row; *out_new = 1 if any record was new. */
static int write_row(wstate *ws, const av_plan *p, uint64_t line, int *out_new)
{
    int rc, any = 0;
    if (ws->caprows < p->nrec) {
        ws->caprows = p->nrec * 2;
        ws->rows = av_xrealloc(ws->rows, ws->caprows * sizeof *ws->rows);
        ws->cids = av_xrealloc(ws->cids, ws->caprows * sizeof *ws->cids);
    }
    for (size_t i = 0; i < p->nrec; i++) {
        const pl_rec *pr = &p->rec[i];
        av_record rec;
        av_record_init(&rec);
        rec.kind = pr->kind;
        for (int j = 0; j < 3; j++) rec.ref[j] = pr->ref[j] >= 0 ? ws->rows[pr->ref[j]] : 0;
        if (pr->model && (rc = model_row(ws, pr->model, pr->model_n, &rec.model)) < 0) return rc;
        if (!pr->model && ws->judge && (pr->kind == AV_RATING || pr->kind == AV_PREFERENCE) &&
            (rc = model_row(ws, ws->judge, strlen(ws->judge), &rec.model)) < 0)
            return rc;
        rec.name = pr->name;
        rec.num = pr->num;
        if (ws->capmsg < pr->nmsg) {
            ws->capmsg = pr->nmsg * 2;
            ws->msg = av_xrealloc(ws->msg, ws->capmsg * sizeof *ws->msg);
        }
        for (uint32_t m = 0; m < pr->nmsg; m++) {
            const pl_msg *g = &p->msg[pr->msg0 + m];
            ws->msg[m] = (av_msg){g->role, {g->s, g->n, {{0}}, 0}};
        }
        rec.nmsg = pr->nmsg;
        rec.msg = ws->msg;
        if (ws->capattr < pr->nattr) {
            ws->capattr = pr->nattr * 2;
            ws->attr = av_xrealloc(ws->attr, ws->capattr * sizeof *ws->attr);
        }
        for (uint32_t a = 0; a < pr->nattr; a++) {
            const pl_attr *g = &p->attr[pr->attr0 + a];
            ws->attr[a] = (av_attr){g->key, {g->json, g->n, {{0}}, 0}};
        }
        rec.nattr = pr->nattr;
        rec.attr = ws->attr;
        if ((rc = av_writer_put(ws->w, &rec)) < 0) return rc;
        if (rc == 1) {
            any = 1;
            ws->st->records_new++;
        }
        ws->rows[i] = rec.row;
        ws->cids[i] = rec.cid;
        if ((rc = defer_link(ws, rec.row, line)) < 0) return rc;
    }
    /* the row tag: format, template, extra refs, then the unmodelled fields */
    size_t na = 2 + (p->nrefs ? 1 : 0) + (p->nlits ? 1 : 0) + p->ntag;
    if (ws->capattr < na) {
        ws->capattr = na * 2;
        ws->attr = av_xrealloc(ws->attr, ws->capattr * sizeof *ws->attr);
    }
    char fmt[48];
    int fl = snprintf(fmt, sizeof fmt, "\"%s\"", p->format);
    size_t k = 0;
    ws->attr[k++] = (av_attr){"_fmt", {fmt, (size_t)fl, {{0}}, 0}};
    ws->attr[k++] = (av_attr){"_tpl", {p->tpl.ptr, p->tpl.len, {{0}}, 0}};
    if (p->nrefs) {
        av_buf_reset(&ws->refs);
        av_buf_putc(&ws->refs, '[');
        for (size_t i = 0; i < p->nrefs; i++) {
            char q[36] = ",\"";
            av_id_hex(q + 2, &ws->cids[p->refs[i]]);
            q[34] = '"';
            av_buf_put(&ws->refs, i ? q : q + 1, i ? 35 : 34);
        }
        av_buf_putc(&ws->refs, ']');
        ws->attr[k++] = (av_attr){"_refs", {ws->refs.ptr, ws->refs.len, {{0}}, 0}};
    }
    if (p->nlits) ws->attr[k++] = (av_attr){"_lits", {p->lits.ptr, p->lits.len, {{0}}, 0}};
    for (size_t i = 0; i < p->ntag; i++) ws->attr[k++] = (av_attr){p->tag[i].key, {p->tag[i].json, p->tag[i].n, {{0}}, 0}};
    av_record tag;
    av_record_init(&tag);
    tag.kind = AV_TAG;
    tag.ref[0] = ws->rows[p->main];
    tag.nattr = (uint32_t)k;
    tag.attr = ws->attr;
    if ((rc = av_writer_put(ws->w, &tag)) < 0) return rc;
    if (rc == 1) {
        any = 1;
        ws->st->records_new++;
    }
    if ((rc = defer_link(ws, tag.row, line)) < 0) return rc;
    *out_new = any;
    return 0;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int put_source(wstate *ws, ingest_ctx *g, uint64_t *out)
{
    const av_ingest_opts *o = g->o;
    av_buf v[6];
    av_attr a[6];
    const char *keys[6];
    size_t n = 0;
    char sha[65];
    av_input_sha256(g->in, sha);
    const char *vals[6] = {0};
    keys[n] = "file", vals[n++] = !strcmp(o->path, "-") ? "-" : base_name(o->path);
    keys[n] = "sha256", vals[n++] = sha;
    if (o->url) keys[n] = "url", vals[n++] = o->url;
    if (o->licence) keys[n] = "licence", vals[n++] = o->licence;
    keys[n] = "format", vals[n++] = g->fmt ? av_format_name(g->fmt) : "unknown";
    for (size_t i = 0; i < n; i++) {
        v[i] = (av_buf)AV_BUF_INIT;
        av_buf_json_str(&v[i], vals[i], strlen(vals[i]));
        a[i] = (av_attr){keys[i], {v[i].ptr, v[i].len, {{0}}, 0}};
    }
    av_record rec;
    av_record_init(&rec);
    rec.kind = AV_SOURCE;
    rec.name = o->source;
    rec.nattr = (uint32_t)n;
    rec.attr = a;
    int rc = av_writer_put(ws->w, &rec);
    for (size_t i = 0; i < n; i++) av_buf_free(&v[i]);
    if (rc < 0) return rc;
    if (rc == 1) ws->st->records_new++;
    *out = rec.row;
    return 0;
}

int av_ingest_file(av_writer *w, const av_ingest_opts *o, av_ingest_stats *st)
{
    memset(st, 0, sizeof *st);
    ingest_ctx g = {0};
    g.o = o;
    g.shown = !strcmp(o->path, "-") ? "<stdin>" : o->path;
    if (o->format && strcmp(o->format, "auto")) {
        g.fmt = av_format_find(o->format);
        if (!g.fmt)
            return av_error_set(AV_EINVAL, "unknown format '%s' (known: %s)", o->format, av_format_names());
    }
    char *err = NULL;
    if (av_input_open(&g.in, o->path, &err) < 0) {
        int rc = av_error_set(AV_EIO, "%s", err);
        free(err);
        return rc;
    }
    FILE *rej = o->rejects_fp;
    int own_rej = 0;
    wstate ws = {.w = w, .st = st, .judge = o->judge};
    av_progress prog;
    av_progress_start(&prog, o->progress, base_name(g.shown), av_input_size(g.in));
    int rc = 0;
    pthread_t th;
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    g.threaded = o->threads != 1 && pthread_create(&th, NULL, reader_main, &g) == 0;
    for (size_t bi = 0;; bi = (bi + 1) % NBATCH) {
        batch *b = &g.b[bi];
        if (g.threaded) {
            pthread_mutex_lock(&g.mu);
            while (!b->full) pthread_cond_wait(&g.cv, &g.mu);
            pthread_mutex_unlock(&g.mu);
        } else {
            fill_batch(&g, b);
        }
        for (size_t i = 0; i < b->n && rc == 0; i++) {
            row_slot *s = &b->rows[i];
            st->rows++;
            if (s->bad) {
                st->rows_bad++;
                prog.errors++;
                if (!o->skip_bad) {
                    rc = av_error_set(AV_EINVAL, "%s", s->reason);
                    break;
                }
                fprintf(stderr, "aviary: %s (skipped)\n", s->reason);
                if (!rej && o->rejects) {
                    rej = fopen(o->rejects, "wb");
                    if (!rej) {
                        rc = av_error_set(AV_EIO, "cannot write '%s': %s", o->rejects, strerror(errno));
                        break;
                    }
                    own_rej = 1;
                }
                if (rej) {
                    fwrite(s->raw, 1, s->rawlen, rej);
                    fputc('\n', rej);
                }
                continue;
            }
            int isnew = 0;
            if ((rc = write_row(&ws, &s->plan, s->index, &isnew)) < 0) break;
            if (isnew) st->rows_new++;
            else st->rows_present++;
        }
        av_progress_update(&prog, b->raw_bytes, st->rows);
        int last = b->last, fatal = b->fatal;
        if (fatal && rc == 0) rc = av_error_set(AV_EINVAL, "%s", b->fatal_msg);
        if (g.threaded) {
            pthread_mutex_lock(&g.mu);
            b->full = 0;
            if (rc) g.stop = 1;
            pthread_cond_broadcast(&g.cv);
            pthread_mutex_unlock(&g.mu);
        }
        if (last || rc) break;
    }
    if (g.threaded) pthread_join(th, NULL);
    av_progress_end(&prog);
    st->bytes = av_input_raw_bytes(g.in);
    if (g.fmt) snprintf(st->format, sizeof st->format, "%s", av_format_name(g.fmt));
    if (rc == 0 && rej && ferror(rej)) rc = av_error_set(AV_EIO, "cannot write '%s'", o->rejects ? o->rejects : "rejects");
    if (own_rej && fclose(rej) != 0 && rc == 0) rc = av_error_set(AV_EIO, "cannot write '%s'", o->rejects);
    if (rc == 0 && st->rows == 0) rc = av_error_set(AV_EINVAL, "%s: no rows in the file", g.shown);
    uint64_t src = 0;
    if (rc == 0 && (rc = put_source(&ws, &g, &src)) == 0) rc = write_links(&ws, src);
    if (ws.spill) fclose(ws.spill);
    for (size_t i = 0; i < NBATCH; i++) {
        for (size_t k = 0; k < g.b[i].cap; k++) {
            free(g.b[i].rows[k].raw);
            json_doc_free(&g.b[i].rows[k].doc);
            av_plan_free(&g.b[i].rows[k].plan);
        }
        free(g.b[i].rows);
    }
    for (size_t i = 0; i < ws.nmodels; i++) free(ws.models[i].name);
    free(ws.models);
    free(ws.links);
    free(ws.rows);
    free(ws.cids);
    free(ws.msg);
    free(ws.attr);
    av_buf_free(&ws.refs);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
    av_input_close(g.in);
    return rc < 0 ? rc : 0;
}
