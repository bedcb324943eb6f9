/* rows_source.c: export/rows.h's source-shaped row producer, the inverse of
 * the ingest mappers. Each ingested row left a row tag (attrs "_fmt",
 * "_tpl", "_refs" and the unmodelled fields, see plan.h) linked to its
 * source and line; this finds the row tags of the selected units, orders
 * them by (source, line) and fills each template back in from the records,
 * so a file ingested in format F comes back in F with the same JSON values,
 * keys in the source's order. Selected records that came from no row of
 * that format are left out; when none did, that is AV_ENOTFOUND. Cost: per
 * row, a template parse and one av_get per record it names. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "export/rows.h"
#include "ingest/ingest.h"

int av_rows_source_known(const char *format)
{
    return format && av_format_find(format) != NULL;
}

/* One row to rebuild: where it came from (the sort key) and its row tag. */
typedef struct entry {
    uint64_t source, line, tag;
} entry;

/* Rows to rebuild are sorted by where they came from. Past RUN_MAX of them
 * (AVIARY_EXPORT_SORT_RUN: fewer, for tests), sorted runs go to temporary
 * files and are merged while rendering, so memory stays bounded. */
#define RUN_MAX (1u << 19)
#define RUN_BUF 128 /* entries read back at a time, per run */

typedef struct run {
    uint64_t off, left; /* in the temporary file: where the rest starts, how many */
} run;

typedef struct collect {
    entry *e;
    size_t n, cap, run_max;
    FILE *tmp;           /* the spilled sorted runs, one after another */
    run *run;
    size_t nrun;
    int err;             /* a run could not be written: errmsg says why */
    char errmsg[256];
    uint8_t *seen; /* tag rows already collected: a bit per row of the store */
    size_t nbits;
} collect;

static int seen_has(const collect *c, uint64_t row)
{
    return row < c->nbits && (c->seen[row >> 3] >> (row & 7) & 1);
}

static void seen_add(collect *c, uint64_t row)
{
    if (row >= c->nbits) {
        size_t n = c->nbits ? c->nbits : 1u << 16;
        while (n <= row) n *= 2;
        c->seen = av_xrealloc(c->seen, n / 8);
        memset(c->seen + c->nbits / 8, 0, (n - c->nbits) / 8);
        c->nbits = n;
    }
    c->seen[row >> 3] |= (uint8_t)(1u << (row & 7));
}

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->source != y->source) return x->source < y->source ? -1 : 1;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    return x->tag < y->tag ? -1 : x->tag > y->tag;
}

/* Sorts the entries in memory and writes them out as a run. */
static int spill(collect *c)
{
    qsort(c->e, c->n, sizeof *c->e, cmp_entry);
    if (!c->tmp && !(c->tmp = tmpfile()))
        return av_error_set(AV_EIO, "cannot create a temporary file: %s", strerror(errno));
    long off = ftell(c->tmp);
    if (off < 0 || fwrite(c->e, sizeof *c->e, c->n, c->tmp) != c->n)
        return av_error_set(AV_EIO, "cannot write a temporary file: %s", strerror(errno));
    c->run = av_xrealloc(c->run, (c->nrun + 1) * sizeof *c->run);
    c->run[c->nrun++] = (run){(uint64_t)off, c->n};
    c->n = 0;
    return 0;
}

static void add_entry(collect *c, entry e)
{
    if (c->err) return;
    if (c->n == c->run_max && spill(c) < 0) {
        c->err = 1;
        snprintf(c->errmsg, sizeof c->errmsg, "%s", av_errmsg());
        return;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap + c->cap / 2 : 256;
        if (c->cap > c->run_max) c->cap = c->run_max;
        c->e = av_xrealloc(c->e, c->cap * sizeof *c->e);
    }
    c->e[c->n++] = e;
}

/* Reads the entries back in order: from memory, or merging the runs (a
 * few buffered entries each, read with pread). */
typedef struct merger {
    collect *c;
    entry *buf;  /* RUN_BUF entries per run */
    size_t *at, *have;
    size_t pos;  /* in memory: the next entry */
} merger;

static int merger_fill(merger *m, size_t i)
{
    run *r = &m->c->run[i];
    size_t k = r->left < RUN_BUF ? (size_t)r->left : RUN_BUF, bytes = k * sizeof(entry);
    if (k && pread(fileno(m->c->tmp), m->buf + i * RUN_BUF, bytes, (off_t)r->off) != (ssize_t)bytes)
        return av_error_set(AV_EIO, "cannot read a temporary file back");
    r->off += bytes;
    r->left -= k;
    m->at[i] = 0;
    m->have[i] = k;
    return 0;
}

static int merger_next(merger *m, entry *out)
{
    collect *c = m->c;
    if (!c->nrun) {
        if (m->pos >= c->n) return 0;
        *out = c->e[m->pos++];
        return 1;
    }
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < c->nrun; i++)
        if (m->at[i] < m->have[i] &&
            (best == SIZE_MAX || cmp_entry(&m->buf[i * RUN_BUF + m->at[i]], &m->buf[best * RUN_BUF + m->at[best]]) < 0))
            best = i;
    if (best == SIZE_MAX) return 0;
    *out = m->buf[best * RUN_BUF + m->at[best]++];
    if (m->at[best] == m->have[best]) return merger_fill(m, best) < 0 ? AV_EIO : 1;
    return 1;
}

/* 1 if attr key of rec is the JSON string s. */
static int attr_is(const av_record *rec, const char *key, const char *s)
{
    const av_attr *a = av_record_attr(rec, key);
    size_t l = strlen(s);
    return a && a->json.ptr && a->json.len == l + 2 && a->json.ptr[0] == '"' && !memcmp(a->json.ptr + 1, s, l);
}

/* 1 if unit is among the records row tag t names (main, its refs, _refs). */
static int tag_names(av_reader *r, av_record *t, uint64_t unit)
{
    if (t->ref[0] == unit) return 1;
    av_record m;
    av_record_init(&m);
    int yes = 0;
    if (av_get(r, t->ref[0], AV_GET_ANY, &m) == 0)
        for (int j = 0; j < 3; j++)
            if (m.ref[j] == unit) yes = 1;
    av_record_free(&m);
    if (yes) return 1;
    av_attr *refs = (av_attr *)av_record_attr(t, "_refs");
    if (!refs || (!refs->json.ptr && av_load(r, t, &refs->json) < 0)) return 0;
    av_record u;
    av_record_init(&u);
    if (av_get(r, unit, AV_GET_ANY, &u) == 0) {
        char hex[33];
        av_id_hex(hex, &u.cid);
        if (memmem(refs->json.ptr, refs->json.len, hex, 32)) yes = 1;
    }
    av_record_free(&u);
    return yes;
}

static int add_tags_of(av_reader *r, collect *c, const char *format, uint64_t target, uint64_t unit)
{
    av_iter *it;
    int rc = av_iter_refs(&it, r, target);
    if (rc < 0) return rc;
    av_record t;
    av_record_init(&t);
    uint64_t row;
    while ((rc = av_iter_next(it, &row)) == 1) {
        if (seen_has(c, row)) continue;
        /* "_fmt" is short, so it is there without loading long values */
        if (av_get(r, row, AV_GET_NOHASH, &t) < 0 || t.kind != AV_TAG || t.ref[0] != target) continue;
        if (!attr_is(&t, "_fmt", format)) continue;
        if (target != unit && !tag_names(r, &t, unit)) continue;
        seen_add(c, row);
        av_prov pv[16];
        size_t np = 0;
        if ((rc = av_prov_get(r, row, pv, 16, &np)) < 0) break;
        size_t have = np < 16 ? np : 16;
        if (np > 16) {
            av_prov *all = av_xmalloc(np * sizeof *all);
            if ((rc = av_prov_get(r, row, all, np, &np)) < 0) {
                free(all);
                break;
            }
            for (size_t i = 0; i < np; i++) add_entry(c, (entry){all[i].source, all[i].line, row});
            free(all);
            continue;
        }
        if (!have) pv[0] = (av_prov){0, 0, 0}, have = 1;
        for (size_t i = 0; i < have; i++) add_entry(c, (entry){pv[i].source, pv[i].line, row});
    }
    av_record_free(&t);
    av_iter_free(it);
    return rc < 0 ? rc : 0;
}

/* ---- rendering one row ------------------------------------------------ */

#define MAXREC 256

typedef struct render {
    av_reader *r;
    av_record tag;
    uint64_t rows[MAXREC];
    av_record rec[MAXREC];
    pl_msg *msgs[MAXREC];
    int loaded[MAXREC];
    size_t nrows;
    av_buf out;
} render;

static av_record *rec_at(render *x, long k)
{
    if (k < 0 || (size_t)k >= x->nrows || !x->rows[k]) return NULL;
    if (!x->loaded[k]) {
        if (av_get(x->r, x->rows[k], AV_GET_TEXT | AV_GET_ANY | AV_GET_NOHASH, &x->rec[k]) < 0) return NULL;
        av_record *rc = &x->rec[k];
        x->msgs[k] = av_xrealloc(x->msgs[k], (rc->nmsg + 1) * sizeof(pl_msg));
        for (uint32_t i = 0; i < rc->nmsg; i++)
            x->msgs[k][i] = (pl_msg){rc->msg[i].role, rc->msg[i].text.ptr ? rc->msg[i].text.ptr : "", rc->msg[i].text.len};
        x->loaded[k] = 1;
    }
    return &x->rec[k];
}

static int rs_msgs(void *ctx, int k, const pl_msg **out, size_t *n)
{
    render *x = ctx;
    av_record *rc = rec_at(x, k);
    if (!rc) return -1;
    *out = x->msgs[k];
    *n = rc->nmsg;
    return 0;
}

static int rs_num(void *ctx, int k, double *out)
{
    render *x = ctx;
    av_record *rc = rec_at(x, k);
    if (!rc) return -1;
    *out = rc->num;
    return 0;
}

static int rs_field(void *ctx, const char *key, const char **json, size_t *n)
{
    render *x = ctx;
    const av_attr *a = av_record_attr(&x->tag, key);
    if (!a || !a->json.ptr) return -1;
    *json = a->json.ptr;
    *n = a->json.len;
    return 0;
}

static int render_row(render *x, jdoc *d, uint64_t tag)
{
    int rc = av_get(x->r, tag, AV_GET_TEXT | AV_GET_ANY | AV_GET_NOHASH, &x->tag);
    if (rc < 0) return rc;
    const av_attr *tpl = av_record_attr(&x->tag, "_tpl");
    if (!tpl || !tpl->json.ptr) return av_error_set(AV_ECORRUPT, "row tag %llu has no template", (unsigned long long)tag);
    memset(x->rows, 0, sizeof x->rows);
    x->nrows = 4;
    x->rows[0] = x->tag.ref[0];
    av_record *m = rec_at(x, 0);
    if (!m) return av_error_set(AV_ECORRUPT, "row tag %llu: its record is missing", (unsigned long long)tag);
    for (int j = 0; j < 3; j++) x->rows[1 + j] = m->ref[j];
    const av_attr *refs = av_record_attr(&x->tag, "_refs");
    if (refs && refs->json.ptr) {
        if (json_parse(d, refs->json.ptr, refs->json.len, 0) || json_root(d)->type != J_ARR)
            return av_error_set(AV_ECORRUPT, "row tag %llu: bad _refs", (unsigned long long)tag);
        const jnode *a = json_root(d), *c = a + 1;
        for (uint32_t i = 0; i < a->n; i++, c = json_next(c)) {
            if (x->nrows >= MAXREC) return av_error_set(AV_ECORRUPT, "row tag names too many records");
            char hex[33];
            av_id id;
            if (c->type != J_STR || c->n != 32) return av_error_set(AV_ECORRUPT, "bad content id in _refs");
            memcpy(hex, c->s, 32);
            hex[32] = 0;
            if (av_id_parse(&id, hex) < 0 || av_find(x->r, &id, &x->rows[x->nrows]) < 0)
                return av_error_set(AV_ECORRUPT, "row tag %llu names a record this store lacks (%s)",
                                    (unsigned long long)tag, hex);
            x->nrows++;
        }
    }
    av_buf_reset(&x->out);
    pl_source src = {x, rs_msgs, rs_num, rs_field};
    char err[200];
    if (pl_render(&x->out, tpl->json.ptr, tpl->json.len, &src, d, err, sizeof err))
        return av_error_set(AV_ECORRUPT, "row tag %llu: %s", (unsigned long long)tag, err);
    return 0;
}

int av_rows_source(av_reader *r, const char *format, const uint64_t *units, size_t n, av_row_fn fn, void *ctx)
{
    if (!av_rows_source_known(format))
        return av_error_set(AV_EINVAL, "'%s' is not a source format (known: %s)", format ? format : "",
                            av_format_names());
    collect c = {0};
    const char *env = getenv("AVIARY_EXPORT_SORT_RUN");
    c.run_max = env && atol(env) > 0 ? (size_t)atol(env) : RUN_MAX;
    /* about one row per unit: no doubling past that */
    c.cap = n ? n + n / 16 + 16 : 0;
    if (c.cap > c.run_max) c.cap = c.run_max;
    c.e = c.cap ? av_xmalloc(c.cap * sizeof *c.e) : NULL;
    av_record u;
    av_record_init(&u);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if ((rc = av_get(r, units[i], AV_GET_NOHASH, &u)) < 0) break;
        if ((rc = add_tags_of(r, &c, format, units[i], units[i])) < 0) break;
        if (u.kind == AV_RESPONSE && u.ref[0] && (rc = add_tags_of(r, &c, format, u.ref[0], units[i])) < 0) break;
        /* preferences that involve the unit carry the preference formats' rows */
        av_iter *it;
        if ((rc = av_iter_refs(&it, r, units[i])) < 0) break;
        uint64_t row;
        av_record p;
        av_record_init(&p);
        uint64_t *prefs = NULL;
        size_t np = 0, cp = 0;
        while ((rc = av_iter_next(it, &row)) == 1) {
            if (av_get(r, row, 0, &p) == 0 && p.kind == AV_PREFERENCE) {
                if (np == cp) prefs = av_xrealloc(prefs, (cp = cp ? cp * 2 : 8) * sizeof *prefs);
                prefs[np++] = row;
            }
        }
        av_iter_free(it);
        av_record_free(&p);
        if (rc < 0) {
            free(prefs);
            break;
        }
        rc = 0;
        for (size_t k = 0; k < np && rc == 0; k++) rc = add_tags_of(r, &c, format, prefs[k], prefs[k]);
        free(prefs);
    }
    av_record_free(&u);
    if (rc == 0 && c.err) rc = av_error_set(AV_EIO, "%s", c.errmsg);
    if (rc == 0 && c.nrun && c.n) rc = spill(&c);
    if (rc == 0 && n > 0 && c.n == 0 && !c.nrun)
        rc = av_error_set(AV_ENOTFOUND,
                          "none of the %zu selected records came from a file ingested as '%s' (rows are rebuilt "
                          "only in the format they were ingested in)",
                          n, format);
    if (rc == 0) {
        if (c.n && !c.nrun) qsort(c.e, c.n, sizeof *c.e, cmp_entry);
        merger mg = {&c, NULL, NULL, NULL, 0};
        if (c.nrun) {
            free(c.e); /* the runs have it all */
            c.e = NULL;
            mg.buf = av_xmalloc(c.nrun * RUN_BUF * sizeof *mg.buf);
            mg.at = av_xcalloc(c.nrun, sizeof *mg.at);
            mg.have = av_xcalloc(c.nrun, sizeof *mg.have);
            if (fflush(c.tmp) != 0) rc = av_error_set(AV_EIO, "cannot write a temporary file: %s", strerror(errno));
            for (size_t i = 0; i < c.nrun && rc == 0; i++) rc = merger_fill(&mg, i);
        }
        render *x = av_xcalloc(1, sizeof *x);
        x->r = r;
        av_record_init(&x->tag);
        for (size_t i = 0; i < MAXREC; i++) av_record_init(&x->rec[i]);
        jdoc d;
        json_doc_init(&d);
        entry en;
        while (rc == 0 && (rc = merger_next(&mg, &en)) == 1) {
            memset(x->loaded, 0, sizeof x->loaded);
            if ((rc = render_row(x, &d, en.tag)) < 0) break;
            rc = fn(ctx, x->out.ptr, x->out.len, x->tag.ref[0]);
        }
        free(mg.buf);
        free(mg.at);
        free(mg.have);
        json_doc_free(&d);
        for (size_t i = 0; i < MAXREC; i++) {
            av_record_free(&x->rec[i]);
            free(x->msgs[i]);
        }
        av_record_free(&x->tag);
        av_buf_free(&x->out);
        free(x);
    }
    free(c.e);
    free(c.seen);
    if (c.tmp) fclose(c.tmp);
    free(c.run);
    return rc;
}
