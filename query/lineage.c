/* lineage.c: the licences a record carries (see lineage.h). Walks the
 * record's chain with metadata reads only (no text is decompressed): the
 * records it refers to, transitively; the tags on each of them; the ratings
 * and preferences on the record itself; and the provenance links of all of
 * them. Model and source licences are cached per reader, so an audit of a
 * whole selection reads each model's tags once. */
#include "query/lineage.h"

#include <stdlib.h>
#include <string.h>

#include "query/licence.h"
#include "query/qint.h"

struct av_lineage_cache {
    av_reader *r;
    uint64_t *rows;  /* models and sources seen */
    char **licence;  /* their licences */
    char **name;     /* their names */
    size_t n, cap;
    av_record rec, child;
    av_buf scratch;
};

void av_lineage_init(av_lineage *l)
{
    memset(l, 0, sizeof *l);
}

void av_lineage_free(av_lineage *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->nitems; i++) {
        free((char *)l->items[i].name);
        free((char *)l->items[i].licence);
    }
    free(l->items);
    free(l->licences);
    memset(l, 0, sizeof *l);
}

int av_lineage_cache_new(av_lineage_cache **out, av_reader *r)
{
    av_lineage_cache *c = av_xcalloc(1, sizeof *c);
    c->r = r;
    av_record_init(&c->rec);
    av_record_init(&c->child);
    *out = c;
    return 0;
}

void av_lineage_cache_free(av_lineage_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->licence[i]);
        free(c->name[i]);
    }
    free(c->rows);
    free(c->licence);
    free(c->name);
    av_record_free(&c->rec);
    av_record_free(&c->child);
    av_buf_free(&c->scratch);
    free(c);
}

/* A licence from a JSON attribute value: the string as a normalised id
 * ("MIT" -> mit, "Llama 3" -> llama3, as the audit reports it), or
 * "unknown". */
static char *licence_from_json(const av_val *v, av_buf *scratch)
{
    qval q;
    if (v->ptr && q_json_value(v->ptr, v->len, &q, scratch) == 0 && q.t == QV_STR && q.len) {
        char norm[128], *raw = av_xstrndup(q.s, q.len); /* q.s may point into the JSON text */
        av_licence_norm(norm, sizeof norm, raw);
        free(raw);
        if (*norm) return av_xstrdup(norm);
    }
    return av_xstrdup("unknown");
}

/* Reads model or source `row` into rec and works out its licence. */
static int licence_lookup(av_reader *r, uint64_t row, av_record *rec, av_record *child, av_buf *scratch,
                          char **out_licence, char **out_name)
{
    *out_licence = NULL;
    *out_name = NULL;
    int rc = av_get(r, row, AV_GET_TEXT, rec);
    if (rc < 0) return rc;
    *out_name = av_xstrdup(rec->name ? rec->name : "");
    if (rec->kind == AV_SOURCE) {
        const av_attr *a = av_record_attr(rec, "licence");
        *out_licence = a ? licence_from_json(&a->json, scratch) : av_xstrdup("unknown");
        return 0;
    }
    /* a model: its latest visible tag with a "licence" attribute */
    av_iter *it = NULL;
    if ((rc = av_iter_refs(&it, r, row)) < 0) goto fail;
    uint64_t c, best = 0;
    char *lic = NULL;
    while ((rc = av_iter_next(it, &c)) == 1) {
        if ((rc = av_get(r, c, AV_GET_TEXT, child)) < 0) break;
        if (child->kind != AV_TAG || child->ref[0] != row) continue;
        const av_attr *a = av_record_attr(child, "licence");
        if (!a || c < best) continue;
        best = c;
        free(lic);
        lic = licence_from_json(&a->json, scratch);
    }
    av_iter_free(it);
    if (rc < 0) {
        free(lic);
        goto fail;
    }
    *out_licence = lic ? lic : av_xstrdup("unknown");
    return 0;
fail:
    free(*out_name);
    *out_name = NULL;
    return rc;
}

static int cache_find(av_lineage_cache *c, uint64_t row, size_t *idx)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->rows[i] == row) {
            *idx = i;
            return 0;
        }
    }
    char *lic, *name;
    int rc = licence_lookup(c->r, row, &c->rec, &c->child, &c->scratch, &lic, &name);
    if (rc < 0) return rc;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->rows = av_xrealloc(c->rows, c->cap * sizeof *c->rows);
        c->licence = av_xrealloc(c->licence, c->cap * sizeof *c->licence);
        c->name = av_xrealloc(c->name, c->cap * sizeof *c->name);
    }
    c->rows[c->n] = row;
    c->licence[c->n] = lic;
    c->name[c->n] = name;
    *idx = c->n++;
    return 0;
}

int av_licence_of(av_reader *r, uint64_t row, char **out)
{
    av_record rec, child;
    av_buf scratch = AV_BUF_INIT;
    av_record_init(&rec);
    av_record_init(&child);
    char *name = NULL;
    int rc = licence_lookup(r, row, &rec, &child, &scratch, out, &name);
    free(name);
    av_record_free(&rec);
    av_record_free(&child);
    av_buf_free(&scratch);
    return rc;
}

typedef struct walk {
    av_lineage_cache *c;
    av_lineage *out;
    size_t items_cap;
    uint64_t *seen;
    size_t nseen, seen_cap;
    uint64_t *stack;
    size_t nstack, stack_cap;
} walk;

static int seen_add(walk *w, uint64_t row)
{
    for (size_t i = 0; i < w->nseen; i++)
        if (w->seen[i] == row) return 0;
    if (w->nseen == w->seen_cap) {
        w->seen_cap = w->seen_cap ? w->seen_cap * 2 : 16;
        w->seen = av_xrealloc(w->seen, w->seen_cap * sizeof *w->seen);
    }
    w->seen[w->nseen++] = row;
    return 1;
}

static void push(walk *w, uint64_t row)
{
    if (!row) return;
    if (w->nstack == w->stack_cap) {
        w->stack_cap = w->stack_cap ? w->stack_cap * 2 : 16;
        w->stack = av_xrealloc(w->stack, w->stack_cap * sizeof *w->stack);
    }
    w->stack[w->nstack++] = row;
}

static int item_add(walk *w, uint64_t row, av_kind kind, const char *role)
{
    for (size_t i = 0; i < w->out->nitems; i++)
        if (w->out->items[i].row == row && !strcmp(w->out->items[i].role, role)) return 0;
    size_t idx;
    int rc = cache_find(w->c, row, &idx);
    if (rc < 0) return rc;
    if (w->out->nitems == w->items_cap) {
        w->items_cap = w->items_cap ? w->items_cap * 2 : 8;
        w->out->items = av_xrealloc(w->out->items, w->items_cap * sizeof *w->out->items);
    }
    av_lineage_item *it = &w->out->items[w->out->nitems++];
    it->row = row;
    it->kind = kind;
    it->role = role;
    it->name = av_xstrdup(w->c->name[idx]);
    it->licence = av_xstrdup(w->c->licence[idx]);
    return 0;
}

static const char *model_role(av_kind k)
{
    switch (k) {
    case AV_RESPONSE: return "writer";
    case AV_PROMPT: return "generator";
    case AV_RATING:
    case AV_PREFERENCE: return "judge";
    case AV_TAG: return "tagger";
    default: return "model";
    }
}

/* The model and sources of one record of the chain. */
static int add_record(walk *w, uint64_t row, const av_record *rec)
{
    int rc;
    if (rec->model && (rc = item_add(w, rec->model, AV_MODEL, model_role(rec->kind))) < 0) return rc;
    if (rec->kind == AV_MODEL && (rc = item_add(w, row, AV_MODEL, "model")) < 0) return rc;
    if (rec->kind == AV_SOURCE && (rc = item_add(w, row, AV_SOURCE, "source")) < 0) return rc;
    av_prov prov[16];
    size_t n = 0;
    if ((rc = av_prov_get(w->c->r, row, prov, 16, &n)) < 0) return rc;
    av_prov *pv = prov;
    av_prov *big = NULL;
    if (n > 16) {
        big = av_xmalloc(n * sizeof *big);
        size_t n2;
        if ((rc = av_prov_get(w->c->r, row, big, n, &n2)) < 0) {
            free(big);
            return rc;
        }
        if (n2 < n) n = n2;
        pv = big;
    }
    for (size_t i = 0; i < n && rc >= 0; i++) rc = item_add(w, pv[i].source, AV_SOURCE, "source");
    free(big);
    return rc < 0 ? rc : 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int av_lineage_get_cached(av_lineage_cache *c, uint64_t row, av_lineage *out)
{
    av_lineage_free(out);
    walk w = {.c = c, .out = out};
    av_record rec, child;
    av_record_init(&rec);
    av_record_init(&child);
    av_iter *it = NULL;
    int rc = 0;
    push(&w, row);
    while (w.nstack) {
        uint64_t x = w.stack[--w.nstack];
        if (!seen_add(&w, x)) continue;
        if ((rc = av_get(c->r, x, 0, &rec)) < 0) goto done;
        if ((rc = add_record(&w, x, &rec)) < 0) goto done;
        for (int k = 0; k < 3; k++) push(&w, rec.ref[k]);
        if (rec.kind == AV_SOURCE || rec.kind == AV_MODEL || rec.kind == AV_RUN) continue;
        /* tags on every record of the chain; ratings and preferences on the
         * record itself */
        if ((rc = av_iter_refs(&it, c->r, x)) < 0) goto done;
        uint64_t ch;
        while ((rc = av_iter_next(it, &ch)) == 1) {
            if ((rc = av_get(c->r, ch, 0, &child)) < 0) goto done;
            int take = 0;
            if (child.kind == AV_TAG && child.ref[0] == x) take = 1;
            if (x == row && child.kind == AV_RATING && child.ref[0] == x) take = 1;
            if (x == row && child.kind == AV_PREFERENCE) take = 1;
            if (!take) continue;
            if (!seen_add(&w, ch)) continue;
            if ((rc = add_record(&w, ch, &child)) < 0) goto done;
        }
        av_iter_free(it);
        it = NULL;
        if (rc < 0) goto done;
    }
    /* the distinct licences, sorted */
    out->licences = av_xcalloc(out->nitems ? out->nitems : 1, sizeof *out->licences);
    for (size_t i = 0; i < out->nitems; i++) out->licences[i] = out->items[i].licence;
    qsort(out->licences, out->nitems, sizeof *out->licences, cmp_str);
    size_t m = 0;
    for (size_t i = 0; i < out->nitems; i++)
        if (!m || strcmp(out->licences[m - 1], out->licences[i])) out->licences[m++] = out->licences[i];
    out->nlicences = m;
    rc = 0;
done:
    av_iter_free(it);
    av_record_free(&rec);
    av_record_free(&child);
    free(w.seen);
    free(w.stack);
    if (rc < 0) av_lineage_free(out);
    return rc;
}

int av_lineage_get(av_reader *r, uint64_t row, av_lineage *out)
{
    av_lineage_cache *c;
    int rc = av_lineage_cache_new(&c, r);
    if (rc < 0) return rc;
    rc = av_lineage_get_cached(c, row, out);
    av_lineage_cache_free(c);
    return rc;
}
