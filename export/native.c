/* native.c: writes a dump, aviary's own JSON Lines schema (see native.h and
 * docs/native-format.md). One pass over the rows in row order; every record is
 * read with its texts (so the dump decompresses everything once). Refs, runs
 * and provenance sources are written by content id, looked up through a small
 * direct-mapped row -> id cache; model names through a map of model rows.
 * Records go version by version, each version's sources first, then its other
 * records in row order. Each record's retract/restore history comes from av_toggles_get. Memory is
 * bounded: the cache, the model names, the commits and one record. */
#include "export/native.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

typedef struct cid_slot {
    uint64_t row; /* 0 = empty */
    av_id cid;
} cid_slot;

typedef struct name_slot {
    uint64_t row;
    char *name;
} name_slot;

#define CID_CACHE_BITS 16

typedef struct dump_ctx {
    av_reader *r;
    uint32_t version;
    cid_slot *cids;
    name_slot *names;
    size_t names_cap, names_n;
    av_record scratch;
    uint32_t *toggles;
    size_t toggles_cap;
} dump_ctx;

/* ---- lookups ------------------------------------------------------------ */

static int row_cid(dump_ctx *d, uint64_t row, av_id *out)
{
    cid_slot *s = &d->cids[(row * 0x9E3779B97F4A7C15ull) >> (64 - CID_CACHE_BITS)];
    if (s->row == row) {
        *out = s->cid;
        return 0;
    }
    int rc = av_get(d->r, row, AV_GET_ANY, &d->scratch);
    if (rc < 0) return av_error_set(AV_ECORRUPT, "a record refers to row %llu, which cannot be read",
                                    (unsigned long long)row);
    s->row = row;
    s->cid = d->scratch.cid;
    *out = s->cid;
    return 0;
}

static int model_name(dump_ctx *d, uint64_t row, const char **out)
{
    if (d->names_n * 2 >= d->names_cap) {
        size_t ncap = d->names_cap ? d->names_cap * 2 : 64;
        name_slot *n = av_xcalloc(ncap, sizeof *n);
        for (size_t i = 0; i < d->names_cap; i++) {
            if (!d->names[i].row) continue;
            size_t j = (size_t)(d->names[i].row * 0x9E3779B97F4A7C15ull) & (ncap - 1);
            while (n[j].row) j = (j + 1) & (ncap - 1);
            n[j] = d->names[i];
        }
        free(d->names);
        d->names = n;
        d->names_cap = ncap;
    }
    size_t j = (size_t)(row * 0x9E3779B97F4A7C15ull) & (d->names_cap - 1);
    while (d->names[j].row && d->names[j].row != row) j = (j + 1) & (d->names_cap - 1);
    if (!d->names[j].row) {
        int rc = av_get(d->r, row, AV_GET_ANY, &d->scratch);
        if (rc < 0) return rc;
        if (d->scratch.kind != AV_MODEL || !d->scratch.name)
            return av_error_set(AV_ECORRUPT, "row %llu is used as a model but is not one", (unsigned long long)row);
        d->names[j].row = row;
        d->names[j].name = av_xstrdup(d->scratch.name);
        d->names_n++;
    }
    *out = d->names[j].name;
    return 0;
}

/* ---- lines -------------------------------------------------------------- */

static void put_hex(av_buf *b, const av_id *id)
{
    char hex[33];
    av_id_hex(hex, id);
    av_buf_putc(b, '"');
    av_buf_put(b, hex, 32);
    av_buf_putc(b, '"');
}

static void put_val(av_buf *b, const av_val *v)
{
    av_buf_json_str(b, v->ptr ? v->ptr : "", v->ptr ? v->len : 0);
}

/* Version names (`aviary tag`) of the versions dumped, in name order. */
typedef struct dump_tag {
    char *name;
    uint32_t version;
} dump_tag;
typedef struct dump_tags {
    dump_tag *v;
    size_t n, cap;
    uint32_t upto;
} dump_tags;

static int collect_tag(void *ctx, const char *name, uint32_t version)
{
    dump_tags *t = ctx;
    if (version == 0 || version > t->upto) return 0;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->v = av_xrealloc(t->v, t->cap * sizeof *t->v);
    }
    t->v[t->n].name = av_xstrdup(name);
    t->v[t->n++].version = version;
    return 0;
}

static void write_commit(av_buf *b, const av_commit *c, const dump_tags *tags)
{
    char t[32];
    av_time_iso(t, c->time);
    av_buf_printf(b, "{\"commit\":%u,\"time\":\"%s\",\"message\":", c->version, t);
    av_buf_json_str(b, c->message ? c->message : "", c->message ? strlen(c->message) : 0);
    av_buf_puts(b, ",\"command\":");
    av_buf_json_str(b, c->command ? c->command : "", c->command ? strlen(c->command) : 0);
    av_buf_puts(b, ",\"added\":{");
    int first = 1;
    for (int k = 1; k <= AV_KIND_MAX; k++) {
        if (!c->added[k]) continue;
        av_buf_printf(b, "%s\"%s\":%llu", first ? "" : ",", av_kind_name((av_kind)k),
                      (unsigned long long)c->added[k]);
        first = 0;
    }
    av_buf_printf(b, "},\"retracted\":%llu,\"restored\":%llu,\"linked\":%llu", (unsigned long long)c->retracted,
                  (unsigned long long)c->restored, (unsigned long long)c->linked);
    first = 1;
    for (size_t i = 0; i < tags->n; i++) {
        if (tags->v[i].version != c->version) continue;
        av_buf_puts(b, first ? ",\"tags\":[" : ",");
        av_buf_json_str(b, tags->v[i].name, strlen(tags->v[i].name));
        first = 0;
    }
    av_buf_puts(b, first ? "}\n" : "]}\n");
}

typedef struct prov_out {
    av_id source;
    uint64_t line;
    uint32_t version;
} prov_out;

static int prov_cmp(const void *a, const void *b)
{
    const prov_out *x = a, *y = b;
    if (x->version != y->version) return x->version < y->version ? -1 : 1;
    int c = memcmp(x->source.b, y->source.b, 16);
    if (c) return c;
    return x->line < y->line ? -1 : x->line > y->line;
}

static int write_record(dump_ctx *d, av_buf *b, const av_record *rec, av_prov **prov, size_t *prov_cap)
{
    int rc;
    const char *kind = av_kind_name(rec->kind);
    if (!kind) return av_error_set(AV_ECORRUPT, "row %llu has an invalid kind %d", (unsigned long long)rec->row, (int)rec->kind);
    av_buf_printf(b, "{\"kind\":\"%s\",\"id\":", kind);
    put_hex(b, &rec->cid);
    av_buf_printf(b, ",\"version\":%u", rec->version);

    int last = -1;
    for (int i = 0; i < 3; i++)
        if (rec->ref[i]) last = i;
    if (last >= 0) {
        av_buf_puts(b, ",\"refs\":[");
        for (int i = 0; i <= last; i++) {
            if (i) av_buf_putc(b, ',');
            if (!rec->ref[i]) {
                av_buf_puts(b, "null");
                continue;
            }
            av_id id;
            if ((rc = row_cid(d, rec->ref[i], &id)) < 0) return rc;
            put_hex(b, &id);
        }
        av_buf_putc(b, ']');
    }
    if (rec->model) {
        const char *name = NULL;
        if ((rc = model_name(d, rec->model, &name)) < 0) return rc;
        av_buf_puts(b, ",\"model\":");
        av_buf_json_str(b, name, strlen(name));
    }
    if (rec->run) {
        av_id id;
        if ((rc = row_cid(d, rec->run, &id)) < 0) return rc;
        av_buf_puts(b, ",\"run\":");
        put_hex(b, &id);
    }
    if (rec->name) {
        av_buf_puts(b, ",\"name\":");
        av_buf_json_str(b, rec->name, strlen(rec->name));
    }
    if (isinf(rec->num)) {
        av_buf_puts(b, rec->num > 0 ? ",\"num\":\"inf\"" : ",\"num\":\"-inf\"");
    } else if (!isnan(rec->num)) {
        av_buf_puts(b, ",\"num\":");
        av_buf_json_num(b, rec->num);
    }
    if (rec->nmsg) {
        av_buf_puts(b, ",\"msgs\":[");
        for (uint32_t i = 0; i < rec->nmsg; i++) {
            const char *role = rec->msg[i].role ? rec->msg[i].role : "";
            av_buf_puts(b, i ? ",{\"role\":" : "{\"role\":");
            av_buf_json_str(b, role, strlen(role));
            av_buf_puts(b, ",\"text\":");
            put_val(b, &rec->msg[i].text);
            av_buf_putc(b, '}');
        }
        av_buf_putc(b, ']');
    }
    if (rec->nattr) {
        av_buf_puts(b, ",\"attrs\":{");
        for (uint32_t i = 0; i < rec->nattr; i++) {
            const char *key = rec->attr[i].key ? rec->attr[i].key : "";
            if (i) av_buf_putc(b, ',');
            av_buf_json_str(b, key, strlen(key));
            av_buf_putc(b, ':');
            const av_val *v = &rec->attr[i].json;
            if (v->ptr && v->len) av_buf_put(b, v->ptr, v->len);
            else av_buf_puts(b, "null");
        }
        av_buf_putc(b, '}');
    }

    size_t np = 0;
    if ((rc = av_prov_get(d->r, rec->row, *prov, *prov_cap, &np)) < 0) return rc;
    if (np > *prov_cap) {
        *prov_cap = np;
        *prov = av_xrealloc(*prov, np * sizeof **prov);
        if ((rc = av_prov_get(d->r, rec->row, *prov, *prov_cap, &np)) < 0) return rc;
    }
    if (np) {
        prov_out *po = av_xmalloc(np * sizeof *po);
        size_t m = 0;
        for (size_t i = 0; i < np; i++) {
            if ((*prov)[i].version > d->version) continue;
            if ((rc = row_cid(d, (*prov)[i].source, &po[m].source)) < 0) {
                free(po);
                return rc;
            }
            po[m].line = (*prov)[i].line;
            po[m].version = (*prov)[i].version;
            m++;
        }
        qsort(po, m, sizeof *po, prov_cmp);
        if (m) av_buf_puts(b, ",\"prov\":[");
        for (size_t i = 0; i < m; i++) {
            av_buf_puts(b, i ? ",{\"source\":" : "{\"source\":");
            put_hex(b, &po[i].source);
            av_buf_printf(b, ",\"line\":%llu,\"version\":%u}", (unsigned long long)po[i].line, po[i].version);
        }
        if (m) av_buf_putc(b, ']');
        free(po);
    }
    /* toggles alternate: the first hid the record, the next restored it, ... */
    size_t nt = 0;
    if ((rc = av_toggles_get(d->r, rec->row, d->toggles, d->toggles_cap, &nt)) < 0) return rc;
    if (nt > d->toggles_cap) {
        d->toggles_cap = nt;
        d->toggles = av_xrealloc(d->toggles, nt * sizeof *d->toggles);
        if ((rc = av_toggles_get(d->r, rec->row, d->toggles, d->toggles_cap, &nt)) < 0) return rc;
    }
    size_t shown = 0;
    for (size_t i = 0; i < nt; i++) {
        if (d->toggles[i] > d->version) break;
        av_buf_printf(b, "%s{\"version\":%u,\"event\":\"%s\"}", shown++ ? "," : ",\"history\":[", d->toggles[i],
                      i & 1 ? "restore" : "retract");
    }
    if (shown) av_buf_putc(b, ']');
    av_buf_puts(b, "}\n");
    return 0;
}

/* ---- the dump ------------------------------------------------------------ */

static int flush_buf(av_buf *b, FILE *out)
{
    if (b->len && fwrite(b->ptr, 1, b->len, out) != b->len)
        return av_error_set(AV_EIO, "cannot write the dump");
    av_buf_reset(b);
    return 0;
}

int av_native_dump(av_store *s, uint32_t version, FILE *out)
{
    av_reader *r = NULL;
    av_commit *commits = NULL;
    av_buf b = AV_BUF_INIT;
    av_prov *prov = NULL;
    size_t prov_cap = 16;
    dump_ctx d = {0};
    dump_tags tags = {0};
    av_record rec;
    av_record_init(&rec);
    av_record_init(&d.scratch);
    uint32_t head = 0, c;
    uint64_t nrows = 0;
    int rc;

    /* One reader for everything: a snapshot of one version. */
    if ((rc = av_store_head(s, &head)) < 0) goto done;
    if (version > head) {
        rc = av_error_set(AV_ENOTFOUND, "version %u does not exist (head is %u)", version, head);
        goto done;
    }
    if ((rc = av_reader_open(&r, s, version)) < 0) goto done;
    version = av_reader_version(r);
    if (version) {
        commits = av_xcalloc(version, sizeof *commits);
        for (c = 1; c <= version; c++)
            if ((rc = av_commit_get(r, c, &commits[c - 1])) < 0) goto done;
        nrows = av_reader_row_end(r);
    }

    tags.upto = version;
    if ((rc = av_label_each(s, collect_tag, &tags)) < 0) goto done;
    av_buf_printf(&b, "{\"aviary\":\"dump\",\"format\":%d,\"version\":%u}\n", AV_NATIVE_FORMAT, version);
    for (c = 1; c <= version; c++) {
        write_commit(&b, &commits[c - 1], &tags);
        if (b.len > (1u << 16) && (rc = flush_buf(&b, out)) < 0) goto done;
    }
    if (!version) goto flush;

    d.r = r;
    d.version = version;
    d.cids = av_xcalloc((size_t)1 << CID_CACHE_BITS, sizeof *d.cids);
    prov = av_xmalloc(prov_cap * sizeof *prov);
    d.toggles_cap = 16;
    d.toggles = av_xmalloc(d.toggles_cap * sizeof *d.toggles);
    /* Version by version; within one, its sources first (ingest puts a
       source after the rows that link to it: written first, a reader can
       link at once instead of holding every link back), then the rest in
       row order. A replay adds them in this order, so its dump is the same. */
    for (c = 1; c <= version; c++) {
        uint64_t lo = commits[c - 1].row_lo, hi = commits[c - 1].row_hi;
        if (hi > nrows) hi = nrows;
        for (int pass = 0; pass < 2; pass++) {
            for (uint64_t row = lo; row < hi; row++) {
                if (pass == 0) {
                    rc = av_get(r, row, AV_GET_ANY, &rec);
                    if (rc == AV_ENOTFOUND) continue;
                    if (rc < 0) goto done;
                    if (rec.kind != AV_SOURCE) continue;
                }
                rc = av_get(r, row, AV_GET_ANY | AV_GET_TEXT, &rec);
                if (rc == AV_ENOTFOUND) continue;
                if (rc < 0) goto done;
                if (rec.version != c || (pass == 1 && rec.kind == AV_SOURCE)) continue;
                if ((rc = write_record(&d, &b, &rec, &prov, &prov_cap)) < 0) goto done;
                /* remember this record's id: later refs mostly point at recent rows */
                cid_slot *sl = &d.cids[(row * 0x9E3779B97F4A7C15ull) >> (64 - CID_CACHE_BITS)];
                sl->row = row;
                sl->cid = rec.cid;
                if (b.len > (1u << 16) && (rc = flush_buf(&b, out)) < 0) goto done;
            }
        }
    }
flush:
    if ((rc = flush_buf(&b, out)) < 0) goto done;
    if (fflush(out) != 0 || ferror(out)) rc = av_error_set(AV_EIO, "cannot write the dump");
done:
    if (commits)
        for (c = 0; c < version; c++) av_commit_free(&commits[c]);
    free(commits);
    for (size_t i = 0; i < tags.n; i++) free(tags.v[i].name);
    free(tags.v);
    free(prov);
    free(d.toggles);
    free(d.cids);
    for (size_t i = 0; i < d.names_cap; i++) free(d.names[i].name);
    free(d.names);
    av_record_free(&d.scratch);
    av_record_free(&rec);
    av_reader_close(r);
    av_buf_free(&b);
    return rc < 0 ? rc : 0;
}
