/* magpie.c: Magpie's 300K recipe on a store (see curate.h, docs/dedup.md).
 * A row is a visible response with its prompt (a Magpie row): its fields are
 * the tags on the prompt overridden by the tags on the response. One pass over
 * the responses grouped by prompt; texts are loaded only for rows that pass
 * the metadata filters (the instruction's last character, the lengths).
 * O(responses log responses) for the sorts. */
#include "curate/curate.h"

#include <stdlib.h>
#include <string.h>

#include "util/util.h"

void av_curate_shuffle(uint64_t *v, size_t n, uint64_t seed)
{
    uint64_t st = seed;
    for (size_t i = n; i > 1; i--) {
        /* uniform in [0, i) by rejection */
        uint64_t bound = (uint64_t)i, lim = UINT64_MAX - UINT64_MAX % bound, x;
        do {
            uint64_t z = (st += 0x9E3779B97F4A7C15ull);
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
            x = z ^ (z >> 31);
        } while (x >= lim);
        size_t k = (size_t)(x % bound);
        uint64_t t = v[i - 1];
        v[i - 1] = v[k];
        v[k] = t;
    }
}

typedef struct pr {
    uint64_t prompt, response;
} pr;

static int cmp_pr(const void *a, const void *b)
{
    const pr *x = a, *y = b;
    if (x->prompt != y->prompt) return x->prompt < y->prompt ? -1 : 1;
    return x->response < y->response ? -1 : x->response > y->response;
}

typedef struct cand {
    uint64_t response;
    size_t len; /* response length in code points */
} cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->response < y->response ? -1 : x->response > y->response;
}

/* A JSON value as a NUL-terminated copy (the values compared here are short). */
static char *jcopy(av_reader *r, av_record *rec, const av_attr *a)
{
    if (!a) return NULL;
    av_val v = a->json;
    if (!v.ptr && v.len && av_load(r, rec, &v) < 0) return NULL;
    return av_xstrndup(v.ptr ? v.ptr : "", v.len);
}

typedef struct fields {
    char *quality, *reward, *uuid, *similar, *keep;
} fields;

static void fields_free(fields *f)
{
    free(f->quality);
    free(f->reward);
    free(f->uuid);
    free(f->similar);
    free(f->keep);
    memset(f, 0, sizeof *f);
}

static void take(char **slot, char *v)
{
    if (!v) return;
    free(*slot);
    *slot = v;
}

/* Fields from the visible tag records on `target` (a later tag wins), over
 * whatever f already holds. Magpie's columns are on the response (ingest
 * keeps one tag record per row there); dedup's are on the prompt. */
static int tag_fields(av_reader *r, uint64_t target, av_record *rec, fields *f)
{
    av_iter *it = NULL;
    uint64_t row;
    int rc = av_iter_refs(&it, r, target);
    if (rc < 0) return rc;
    while ((rc = av_iter_next(it, &row)) > 0) {
        if ((rc = av_get(r, row, 0, rec)) < 0) break;
        if (rec->kind != AV_TAG || rec->ref[0] != target) continue;
        take(&f->quality, jcopy(r, rec, av_record_attr(rec, "input_quality")));
        take(&f->reward, jcopy(r, rec, av_record_attr(rec, "instruct_reward")));
        take(&f->uuid, jcopy(r, rec, av_record_attr(rec, "uuid")));
        take(&f->similar, jcopy(r, rec, av_record_attr(rec, "min_similar_uuid")));
        take(&f->keep, jcopy(r, rec, av_record_attr(rec, "dedup_keep")));
    }
    av_iter_free(it);
    return rc < 0 ? rc : 0;
}

static char *dup_or_null(const char *s) { return s ? av_xstrdup(s) : NULL; }

static void fields_copy(fields *dst, const fields *src)
{
    fields_free(dst);
    dst->quality = dup_or_null(src->quality);
    dst->reward = dup_or_null(src->reward);
    dst->uuid = dup_or_null(src->uuid);
    dst->similar = dup_or_null(src->similar);
    dst->keep = dup_or_null(src->keep);
}

/* The instruction: the prompt's first user turn. 1 if it ends in ':'. */
static int ends_in_colon(av_reader *r, av_record *rec, int *out)
{
    *out = 0;
    for (uint32_t k = 0; k < rec->nmsg; k++) {
        av_msg *m = &rec->msg[k];
        if (!m->role || strcmp(m->role, "user")) continue;
        if (!m->text.ptr && m->text.len) {
            int rc = av_load(r, rec, &m->text);
            if (rc < 0) return rc;
        }
        *out = m->text.len && m->text.ptr[m->text.len - 1] == ':';
        return 0;
    }
    return 0;
}

int av_curate_magpie(av_writer *w, const av_curate_magpie_opts *o, av_curate_magpie_report *rep,
                     uint64_t **out_rows, size_t *out_n)
{
    memset(rep, 0, sizeof *rep);
    if (out_rows) *out_rows = NULL;
    if (out_n) *out_n = 0;
    av_reader *r = av_writer_reader(w);
    av_iter *it = NULL;
    av_record rec, prec;
    av_record_init(&rec);
    av_record_init(&prec);
    pr *v = NULL;
    cand *c = NULL;
    uint64_t *sel = NULL;
    size_t n = 0, cap = 1024, nc = 0;
    fields f = {0}, pf = {0};
    av_buf b1 = AV_BUF_INIT, b2 = AV_BUF_INIT;
    uint64_t row;

    int rc = r ? av_iter_kind(&it, r, AV_RESPONSE) : AV_ERROR; /* no reader: the writer's message stands */
    if (rc < 0) goto done;
    v = av_xmalloc(cap * sizeof *v);
    while ((rc = av_iter_next(it, &row)) > 0) {
        if ((rc = av_get(r, row, 0, &rec)) < 0) goto done;
        if (!rec.ref[0]) continue;
        if (n == cap) v = av_xrealloc(v, (cap *= 2) * sizeof *v);
        v[n++] = (pr){rec.ref[0], row};
    }
    if (rc < 0) goto done;
    av_iter_free(it);
    it = NULL;
    qsort(v, n, sizeof *v, cmp_pr);
    c = av_xmalloc((n ? n : 1) * sizeof *c);

    for (size_t i = 0; i < n;) {
        size_t e = i + 1;
        while (e < n && v[e].prompt == v[i].prompt) e++;
        uint64_t prompt = v[i].prompt;
        fields_free(&pf);
        if ((rc = tag_fields(r, prompt, &rec, &pf)) < 0) goto done;
        int colon = -1; /* not known yet */
        cand best = {0, 0};
        int have = 0;
        for (size_t k = i; k < e; k++) {
            rep->units++;
            fields_copy(&f, &pf);
            if ((rc = tag_fields(r, v[k].response, &rec, &f)) < 0) goto done;
            if (pf.keep) take(&f.keep, av_xstrdup(pf.keep)); /* dedup is about the prompt */
            if (!(f.quality && (!strcmp(f.quality, "\"good\"") || !strcmp(f.quality, "\"excellent\"")))) continue;
            rep->quality_ok++;
            char *end = NULL;
            double rw = f.reward ? strtod(f.reward, &end) : 0;
            if (!(f.reward && end != f.reward && rw > -10)) continue;
            rep->reward_ok++;
            if (colon < 0) {
                if ((rc = av_get(r, prompt, 0, &prec)) < 0) goto done;
                if ((rc = ends_in_colon(r, &prec, &colon)) < 0) goto done;
            }
            if (colon) continue;
            rep->colon_ok++;
            int keep = 1;
            if (f.keep) keep = !strcmp(f.keep, "true");
            else if (f.similar) keep = !strcmp(f.similar, "null") || (f.uuid && !strcmp(f.similar, f.uuid));
            if (!keep) continue;
            rep->rep_ok++;
            if (!f.keep) rep->no_dedup++;
            /* one row per prompt: its longest passing response (lowest row on a tie) */
            if ((rc = av_get(r, v[k].response, 0, &rec)) < 0) goto done;
            const av_msg *m = av_record_msg(&rec, "assistant");
            if (!m && rec.nmsg) m = &rec.msg[0];
            size_t len = 0;
            if (m) {
                av_val t = m->text;
                if (!t.ptr && t.len && (rc = av_load(r, &rec, &t)) < 0) goto done;
                len = av_utf8_len(t.ptr ? t.ptr : "", t.len);
            }
            if (!have || len > best.len) best = (cand){v[k].response, len};
            have = 1;
        }
        if (have) {
            c[nc++] = best;
            rep->prompts++;
        }
        i = e;
    }
    qsort(c, nc, sizeof *c, cmp_cand);
    size_t take_n = nc < o->top ? nc : o->top;
    sel = av_xmalloc((take_n ? take_n : 1) * sizeof *sel);
    for (size_t k = 0; k < take_n; k++) sel[k] = c[k].response;
    av_curate_shuffle(sel, take_n, o->seed);
    rep->selected = take_n;

    av_buf_json_str(&b1, o->name, strlen(o->name));
    for (size_t k = 0; k < take_n; k++) {
        av_attr attrs[2];
        av_buf_reset(&b2);
        av_buf_printf(&b2, "%zu", k);
        memset(attrs, 0, sizeof attrs);
        attrs[0].key = "curate";
        attrs[0].json.ptr = b1.ptr;
        attrs[0].json.len = b1.len;
        attrs[1].key = "curate_rank";
        attrs[1].json.ptr = b2.ptr;
        attrs[1].json.len = b2.len;
        av_record t;
        av_record_init(&t);
        t.kind = AV_TAG;
        t.ref[0] = sel[k];
        t.nattr = 2;
        t.attr = attrs;
        if ((rc = av_writer_put(w, &t)) < 0) goto done;
        if (rc == 1) rep->tagged++;
        else if ((rc = av_writer_restore(w, t.row)) < 0) goto done;
    }
    rc = 0;
    if (out_rows) {
        *out_rows = sel;
        sel = NULL;
    }
    if (out_n) *out_n = take_n;

done:
    av_iter_free(it);
    av_record_free(&rec);
    av_record_free(&prec);
    fields_free(&f);
    fields_free(&pf);
    av_buf_free(&b1);
    av_buf_free(&b2);
    free(v);
    free(c);
    free(sel);
    return rc < 0 ? rc : 0;
}
