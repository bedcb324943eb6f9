/* eval.c: the values of fields for one unit, and predicates over them.
 *
 * A unit (the current row) sees its chain: itself and what it refers to
 * through ref[0] (a rating -> its response -> that response's prompt), the
 * tags on every record of the chain, and the ratings and preferences on the
 * unit or on the chain's response. Everything is loaded lazily, metadata
 * only (av_get without AV_GET_TEXT); texts are loaded (decompressed) only
 * when a text field is asked for, and len() first tries bounds from the byte
 * length (a code point is 1 to 4 bytes) so most length tests need no text.
 *
 * Fields are multi-valued: a comparison holds when it holds for some value
 * (a tag's JSON array counts element by element); `!=` and `not in` are the
 * negations of `=` and `in`. Comparing values of different types (a string
 * with a number) is an error, reported with the record it happened on. */
#include <math.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "query/lineage.h"
#include "query/qint.h"

#define QCHAIN_MAX 8

typedef struct name_map {
    uint64_t *keys;
    char **vals;
    size_t cap, n; /* open addressing; cap a power of two */
} name_map;

struct qeval {
    av_reader *r;
    av_kind unit;
    uint64_t row;
    av_record chain[QCHAIN_MAX];
    uint64_t chain_row[QCHAIN_MAX];
    av_kind chain_kind[QCHAIN_MAX];
    int chain_loaded[QCHAIN_MAX]; /* the record is read (chain[0] always) */
    int nchain;
    int chain_done;
    uint8_t *kbits[AV_KIND_MAX + 1]; /* a bit per row: the visible rows of a kind */
    uint64_t row_end;
    int bulk; /* many units to come: kind bitmaps pay off */
    av_record *kids; /* tags, ratings, preferences around the chain */
    uint64_t *kid_row;
    size_t nkids, kids_cap;
    int kids_done;
    uint64_t *srcs;
    size_t nsrcs, srcs_cap;
    int srcs_done;
    av_lineage lin;
    int lin_done;
    av_lineage_cache *lc;
    name_map names;
    av_record tmp;
    av_buf scratch, text;
};

/* ---- small pieces ---------------------------------------------------- */

static const char *map_get(name_map *m, uint64_t key)
{
    if (!m->cap) return NULL;
    size_t i = (size_t)(key * 0x9E3779B97F4A7C15ull) & (m->cap - 1);
    while (m->keys[i]) {
        if (m->keys[i] == key) return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    return NULL;
}

static void map_put(name_map *m, uint64_t key, char *val)
{
    if ((m->n + 1) * 2 > m->cap) {
        name_map g = {0};
        g.cap = m->cap ? m->cap * 2 : 64;
        g.keys = av_xcalloc(g.cap, sizeof *g.keys);
        g.vals = av_xcalloc(g.cap, sizeof *g.vals);
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) map_put(&g, m->keys[i], m->vals[i]);
        free(m->keys);
        free(m->vals);
        *m = g;
    }
    size_t i = (size_t)(key * 0x9E3779B97F4A7C15ull) & (m->cap - 1);
    while (m->keys[i]) i = (i + 1) & (m->cap - 1);
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
}

/* The name of a model or source record (cached). */
static int name_of(qeval *e, uint64_t row, const char **out)
{
    const char *s = map_get(&e->names, row);
    if (s) {
        *out = s;
        return 0;
    }
    int rc = av_get(e->r, row, AV_GET_ANY | AV_GET_NOHASH, &e->tmp);
    if (rc < 0) return rc;
    char *v = av_xstrdup(e->tmp.name ? e->tmp.name : "");
    map_put(&e->names, row, v);
    *out = v;
    return 0;
}

int q_eval_new(qeval **out, av_reader *r, av_kind unit)
{
    qeval *e = av_xcalloc(1, sizeof *e);
    e->r = r;
    e->unit = unit;
    for (int i = 0; i < QCHAIN_MAX; i++) av_record_init(&e->chain[i]);
    av_record_init(&e->tmp);
    av_lineage_init(&e->lin);
    *out = e;
    return 0;
}

void q_eval_free(qeval *e)
{
    if (!e) return;
    for (int i = 0; i < QCHAIN_MAX; i++) av_record_free(&e->chain[i]);
    for (int k = 0; k <= AV_KIND_MAX; k++) free(e->kbits[k]);
    for (size_t i = 0; i < e->kids_cap; i++) av_record_free(&e->kids[i]);
    free(e->kids);
    free(e->kid_row);
    free(e->srcs);
    av_lineage_free(&e->lin);
    av_lineage_cache_free(e->lc);
    for (size_t i = 0; i < e->names.cap; i++) free(e->names.vals[i]);
    free(e->names.keys);
    free(e->names.vals);
    av_record_free(&e->tmp);
    av_buf_free(&e->scratch);
    av_buf_free(&e->text);
    free(e);
}

av_reader *q_eval_reader(const qeval *e) { return e->r; }
av_kind q_eval_kind(const qeval *e) { return e->nchain ? e->chain[0].kind : AV_KIND_NONE; }

int q_eval_set(qeval *e, uint64_t row)
{
    e->row = row;
    e->nchain = 0;
    e->chain_done = e->kids_done = e->srcs_done = e->lin_done = 0;
    e->nkids = e->nsrcs = 0;
    int rc = av_get(e->r, row, AV_GET_NOHASH, &e->chain[0]);
    if (rc < 0) return rc;
    e->chain_row[0] = row;
    e->chain_kind[0] = e->chain[0].kind;
    e->chain_loaded[0] = 1;
    e->nchain = 1;
    return 0;
}

/* Record i of the chain, read on first use. */
static int chain_rec(qeval *e, int i, av_record **out)
{
    if (!e->chain_loaded[i]) {
        int rc = av_get(e->r, e->chain_row[i], AV_GET_ANY | AV_GET_NOHASH, &e->chain[i]);
        if (rc < 0) return rc;
        e->chain_loaded[i] = 1;
    }
    *out = &e->chain[i];
    return 0;
}

/* 1 if row is a visible record of kind k, 0 if not. The first call for a
 * kind reads its index once into a bitmap (a bit per row id: 1.25 MB per
 * ten million rows), so telling the kind of a record that refers to a unit
 * never reads the record itself. */
int q_eval_is_kind(qeval *e, av_kind k, uint64_t row)
{
    if (!e->kbits[k]) {
        e->row_end = av_reader_row_end(e->r);
        e->kbits[k] = av_xcalloc(e->row_end / 8 + 1, 1);
        av_iter *it;
        int rc = av_iter_kind(&it, e->r, k);
        if (rc < 0) return rc;
        uint64_t x;
        while ((rc = av_iter_next(it, &x)) == 1)
            if (x < e->row_end) e->kbits[k][x / 8] |= (uint8_t)(1u << (x % 8));
        av_iter_free(it);
        if (rc < 0) {
            free(e->kbits[k]);
            e->kbits[k] = NULL;
            return rc;
        }
    }
    return row < e->row_end && (e->kbits[k][row / 8] >> (row % 8) & 1);
}

void q_eval_bulk(qeval *e, int bulk)
{
    e->bulk = bulk;
}

/* Is row of kind k? From the bitmaps when many units are evaluated; for a
 * few, reading the record is cheaper than reading a whole kind index.
 * 2 means "read it to know". */
static int is_kind(qeval *e, av_kind k, uint64_t row)
{
    if (!e->bulk && !e->kbits[k]) return 2;
    return q_eval_is_kind(e, k, row);
}

/* Follows ref[0] from the unit: response -> prompt, rating -> response ->
 * prompt, preference -> prompt, tag -> what it tags. A record is read only
 * when its ref[0] or kind is needed to go on: the prompt at the end of a
 * response's chain is not read until one of its fields is. */
static int load_chain(qeval *e)
{
    if (e->chain_done) return 0;
    e->chain_done = 1;
    while (e->nchain < QCHAIN_MAX) {
        int i = e->nchain - 1;
        av_kind k = e->chain_kind[i];
        if (k != AV_RESPONSE && k != AV_RATING && k != AV_PREFERENCE && k != AV_TAG) break;
        av_record *last;
        int rc = chain_rec(e, i, &last);
        if (rc < 0) return rc;
        uint64_t up = last->ref[0];
        if (!up || up >= e->chain_row[i]) break; /* refs point backwards; anything else is corrupt */
        e->chain_row[e->nchain] = up;
        e->chain_loaded[e->nchain] = 0;
        if (k == AV_RESPONSE || k == AV_PREFERENCE) {
            e->chain_kind[e->nchain++] = AV_PROMPT; /* by the data model; a prompt refers to nothing */
            break;
        }
        if (k == AV_RATING) {
            e->chain_kind[e->nchain++] = AV_RESPONSE;
            continue;
        }
        /* a tag: what it tags can be anything */
        if ((rc = av_get(e->r, up, AV_GET_ANY | AV_GET_NOHASH, &e->chain[e->nchain])) < 0) return rc;
        e->chain_loaded[e->nchain] = 1;
        e->chain_kind[e->nchain] = e->chain[e->nchain].kind;
        e->nchain++;
    }
    return 0;
}

/* The first record of the chain of that kind, or -1. */
static int chain_find(qeval *e, av_kind k)
{
    if (load_chain(e) < 0) return -1;
    for (int i = 0; i < e->nchain; i++)
        if (e->chain_kind[i] == k) return i;
    return -1;
}

/* Tags of every chain record; ratings and preferences of the unit and of
 * the chain's response. */
static int load_kids(qeval *e)
{
    if (e->kids_done) return 0;
    int rc = load_chain(e);
    if (rc < 0) return rc;
    e->kids_done = 1;
    int ri = chain_find(e, AV_RESPONSE);
    uint64_t resp = ri >= 0 ? e->chain_row[ri] : 0;
    for (int i = 0; i < e->nchain; i++) {
        uint64_t c = e->chain_row[i];
        av_kind ck = e->chain_kind[i];
        if (ck == AV_SOURCE || ck == AV_RUN) continue;
        av_iter *it;
        if ((rc = av_iter_refs(&it, e->r, c)) < 0) return rc;
        uint64_t k;
        while ((rc = av_iter_next(it, &k)) == 1) {
            /* tell the kind from the kind indexes first: most records that
             * refer to a prompt are responses, not worth reading here */
            int want = 0;
            if ((rc = is_kind(e, AV_TAG, k)) < 0) break;
            if (rc) want = 1; /* a tag, or unknown (2): read it */
            if (rc == 0 && c == resp) {
                if ((rc = is_kind(e, AV_RATING, k)) < 0) break;
                want = rc != 0;
            }
            if (!want && (i == 0 || c == resp)) {
                if ((rc = is_kind(e, AV_PREFERENCE, k)) < 0) break;
                want = rc != 0;
            }
            rc = 1;
            if (!want) continue;
            if (e->nkids == e->kids_cap) {
                size_t nc = e->kids_cap ? e->kids_cap * 2 : 8;
                e->kids = av_xrealloc(e->kids, nc * sizeof *e->kids);
                e->kid_row = av_xrealloc(e->kid_row, nc * sizeof *e->kid_row);
                for (size_t j = e->kids_cap; j < nc; j++) av_record_init(&e->kids[j]);
                e->kids_cap = nc;
            }
            av_record *kr = &e->kids[e->nkids];
            if ((rc = av_get(e->r, k, AV_GET_NOHASH, kr)) < 0) break;
            int keep = 0;
            if (kr->kind == AV_TAG && kr->ref[0] == c) keep = 1;
            if (kr->kind == AV_RATING && kr->ref[0] == c && c == resp) keep = 1;
            if (kr->kind == AV_PREFERENCE && (i == 0 || c == resp)) keep = 1;
            if (keep) e->kid_row[e->nkids++] = k;
        }
        av_iter_free(it);
        if (rc < 0) return rc;
    }
    return 0;
}

static int load_sources(qeval *e)
{
    if (e->srcs_done) return 0;
    int rc = load_chain(e);
    if (rc < 0) return rc;
    e->srcs_done = 1;
    for (int i = 0; i < e->nchain; i++) {
        av_prov pv[32];
        size_t n = 0;
        if ((rc = av_prov_get(e->r, e->chain_row[i], pv, 32, &n)) < 0) return rc;
        if (n > 32) n = 32; /* more than 32 copies of one row: the first 32 sources */
        for (size_t j = 0; j < n; j++) {
            size_t k;
            for (k = 0; k < e->nsrcs && e->srcs[k] != pv[j].source; k++) {}
            if (k < e->nsrcs) continue;
            if (e->nsrcs == e->srcs_cap) {
                e->srcs_cap = e->srcs_cap ? e->srcs_cap * 2 : 8;
                e->srcs = av_xrealloc(e->srcs, e->srcs_cap * sizeof *e->srcs);
            }
            e->srcs[e->nsrcs++] = pv[j].source;
        }
    }
    return 0;
}

/* The text of the chain's prompt (first user turn) or response. */
static av_val *text_val(qeval *e, int response, av_record **rec)
{
    int i = chain_find(e, response ? AV_RESPONSE : AV_PROMPT);
    if (i < 0) return NULL;
    av_record *r;
    if (chain_rec(e, i, &r) < 0) return NULL; /* an unreadable record has no text */
    for (uint32_t m = 0; m < r->nmsg; m++) {
        const char *role = r->msg[m].role ? r->msg[m].role : "";
        if (!strcmp(role, response ? "assistant" : "user")) {
            *rec = r;
            return &r->msg[m].text;
        }
    }
    if (response && r->nmsg) {
        *rec = r;
        return &r->msg[0].text;
    }
    return NULL;
}

static int text_load(qeval *e, av_record *rec, av_val *v)
{
    if (v->ptr || !v->len) return 0;
    return av_load(e->r, rec, v);
}

/* ---- values of a field ---------------------------------------------- */

int q_eval_values(qeval *e, const qfield *f, q_val_fn fn, void *ctx)
{
    qval v = {0};
    int rc = 0;
    const av_record *u = &e->chain[0];
    switch (f->f) {
    case QF_KIND:
        v.t = QV_STR;
        v.s = av_kind_name(u->kind);
        if (!v.s) return 0;
        v.len = strlen(v.s);
        return fn(ctx, &v);
    case QF_ID: {
        char hex[33];
        av_id_hex(hex, &u->cid);
        v.t = QV_STR;
        v.s = hex;
        v.len = 32;
        return fn(ctx, &v);
    }
    case QF_MODEL: {
        if (!u->model) return 0;
        const char *nm;
        if ((rc = name_of(e, u->model, &nm)) < 0) return rc;
        v.t = QV_STR;
        v.s = nm;
        v.len = strlen(nm);
        return fn(ctx, &v);
    }
    case QF_SOURCE:
        if ((rc = load_sources(e)) < 0) return rc;
        for (size_t i = 0; i < e->nsrcs; i++) {
            const char *nm;
            if ((rc = name_of(e, e->srcs[i], &nm)) < 0) return rc;
            v.t = QV_STR;
            v.s = nm;
            v.len = strlen(nm);
            if ((rc = fn(ctx, &v)) != 0) return rc;
        }
        return 0;
    case QF_LICENCE:
        if (!e->lin_done) {
            if (!e->lc && (rc = av_lineage_cache_new(&e->lc, e->r)) < 0) return rc;
            if ((rc = av_lineage_get_cached(e->lc, e->row, &e->lin)) < 0) return rc;
            e->lin_done = 1;
        }
        for (size_t i = 0; i < e->lin.nlicences; i++) {
            v.t = QV_STR;
            v.s = e->lin.licences[i];
            v.len = strlen(v.s);
            if ((rc = fn(ctx, &v)) != 0) return rc;
        }
        return 0;
    case QF_NAME:
        if (!u->name) return 0;
        v.t = QV_STR;
        v.s = u->name;
        v.len = strlen(u->name);
        return fn(ctx, &v);
    case QF_SCORE:
        if (isnan(u->num)) return 0;
        v.t = QV_NUM;
        v.num = u->num;
        return fn(ctx, &v);
    case QF_VERSION:
        v.t = QV_NUM;
        v.num = u->version;
        return fn(ctx, &v);
    case QF_TAG:
        if ((rc = load_kids(e)) < 0) return rc;
        for (size_t i = 0; i < e->nkids; i++) {
            av_record *k = &e->kids[i];
            if (k->kind != AV_TAG) continue;
            for (uint32_t a = 0; a < k->nattr; a++) {
                if (strcmp(k->attr[a].key, f->key)) continue;
                if ((rc = text_load(e, k, &k->attr[a].json)) < 0) return rc;
                if (q_json_value(k->attr[a].json.ptr, k->attr[a].json.len, &v, &e->scratch) < 0) {
                    char hex[33];
                    av_id_hex(hex, &k->cid);
                    return av_error_set(AV_ECORRUPT, "tag record %.12s holds a value of '%s' that is not JSON", hex, f->key);
                }
                if ((rc = fn(ctx, &v)) != 0) return rc;
            }
        }
        return 0;
    case QF_RATING: {
        if ((rc = load_kids(e)) < 0) return rc;
        int ri = chain_find(e, AV_RESPONSE);
        if (ri < 0) return 0;
        for (size_t i = 0; i < e->nkids; i++) {
            av_record *k = &e->kids[i];
            if (k->kind != AV_RATING || k->ref[0] != e->chain_row[ri]) continue;
            if (!k->name || strcmp(k->name, f->key) || isnan(k->num)) continue;
            if (f->judge) {
                const char *nm;
                if (!k->model) continue;
                if ((rc = name_of(e, k->model, &nm)) < 0) return rc;
                if (strcmp(nm, f->judge)) continue;
            }
            v.t = QV_NUM;
            v.num = k->num;
            if ((rc = fn(ctx, &v)) != 0) return rc;
        }
        return 0;
    }
    case QF_PREF_P: {
        if (u->kind == AV_PREFERENCE) {
            if (isnan(u->num)) return 0;
            v.t = QV_NUM;
            v.num = u->num;
            return fn(ctx, &v);
        }
        if ((rc = load_kids(e)) < 0) return rc;
        int ri = chain_find(e, AV_RESPONSE);
        uint64_t resp = ri >= 0 ? e->chain_row[ri] : 0;
        for (size_t i = 0; i < e->nkids; i++) {
            av_record *k = &e->kids[i];
            if (k->kind != AV_PREFERENCE || isnan(k->num)) continue;
            v.t = QV_NUM;
            if (resp && k->ref[1] == resp) v.num = k->num;
            else if (resp && k->ref[2] == resp) v.num = 1 - k->num;
            else if (!resp && u->kind == AV_PROMPT && k->ref[0] == e->row) v.num = k->num;
            else continue;
            if ((rc = fn(ctx, &v)) != 0) return rc;
        }
        return 0;
    }
    case QF_TURNS: {
        int pi = chain_find(e, AV_PROMPT);
        if (pi < 0) return 0;
        av_record *pr;
        if ((rc = chain_rec(e, pi, &pr)) < 0) return rc;
        double n = 0;
        for (uint32_t m = 0; m < pr->nmsg; m++)
            if (pr->msg[m].role && !strcmp(pr->msg[m].role, "user")) n++;
        v.t = QV_NUM;
        v.num = n;
        return fn(ctx, &v);
    }
    case QF_LEN_INSTRUCTION:
    case QF_LEN_RESPONSE:
    case QF_INSTRUCTION:
    case QF_RESPONSE: {
        int resp = f->f == QF_LEN_RESPONSE || f->f == QF_RESPONSE;
        av_record *rec = NULL;
        av_val *tv = text_val(e, resp, &rec);
        if (!tv) return 0;
        if ((rc = text_load(e, rec, tv)) < 0) return rc;
        const char *s = tv->ptr ? tv->ptr : "";
        if (f->f == QF_LEN_INSTRUCTION || f->f == QF_LEN_RESPONSE) {
            v.t = QV_NUM;
            v.num = (double)av_utf8_len(s, tv->len);
        } else {
            v.t = QV_STR;
            v.s = s;
            v.len = tv->len;
        }
        return fn(ctx, &v);
    }
    }
    return 0;
}

/* ---- predicates ------------------------------------------------------ */

typedef struct pctx {
    qeval *e;
    const qnode *n;
    int result;
    int err; /* a type error from a test (its code), so arrays pass it up */
} pctx;

int q_type_error(const qnode *n, const qval *v, const qlit *l, const av_id *cid)
{
    av_buf b = AV_BUF_INIT, lit = AV_BUF_INIT;
    char hex[33];
    av_id_hex(hex, cid);
    q_val_json(&b, v);
    if (b.len > 60) {
        b.len = 57;
        av_buf_puts(&b, "...");
    }
    if (l) q_val_json(&lit, &l->v);
    int rc;
    if (l)
        rc = av_error_set(AV_EINVAL, "cannot compare %s with %s: %s is %s (%s) in record %.12s%s", n->field.name,
                          lit.ptr, n->field.name, q_type_name(v->t), b.ptr, hex,
                          v->t == QV_ARRAY ? "; use contains to look inside an array" : "");
    else
        rc = av_error_set(AV_EINVAL, "'%s' needs text, but %s is %s (%s) in record %.12s",
                          n->k == QN_MATCHES ? "matches" : "contains", n->field.name, q_type_name(v->t), b.ptr, hex);
    av_buf_free(&b);
    av_buf_free(&lit);
    return rc;
}

static int type_error(qeval *e, const qnode *n, const qval *v, const qlit *l)
{
    return q_type_error(n, v, l, &e->chain[0].cid);
}

/* 1 if v op l holds, 0 if not, negative on a type error. */
static int compare(qeval *e, const qnode *n, enum q_op op, const qval *v, const qlit *l)
{
    if (v->t == QV_NULL || l->v.t == QV_NULL) {
        int same = v->t == l->v.t;
        if (op == QOP_EQ) return same;
        return 0; /* ordering a null never holds */
    }
    if (v->t == QV_OBJECT || v->t == QV_ARRAY) return type_error(e, n, v, l);
    if (v->t != l->v.t) return type_error(e, n, v, l);
    if (n->field.f == QF_ID && op == QOP_EQ) /* a prefix of the content id */
        return v->len >= l->v.len && !strncasecmp(v->s, l->v.s, l->v.len);
    int c;
    if (v->t == QV_STR) {
        size_t m = v->len < l->v.len ? v->len : l->v.len;
        c = memcmp(v->s, l->v.s, m);
        if (!c) c = v->len < l->v.len ? -1 : v->len > l->v.len;
    } else if (v->t == QV_BOOL) {
        if (op != QOP_EQ) return type_error(e, n, v, l);
        c = v->num != l->v.num;
    } else {
        c = v->num < l->v.num ? -1 : v->num > l->v.num;
    }
    switch (op) {
    case QOP_EQ: return c == 0;
    case QOP_NE: return c != 0;
    case QOP_LT: return c < 0;
    case QOP_LE: return c <= 0;
    case QOP_GT: return c > 0;
    case QOP_GE: return c >= 0;
    }
    return 0;
}

static int text_test(pctx *p, const qval *v)
{
    if (v->t == QV_NULL) return 0;
    if (v->t != QV_STR) return type_error(p->e, p->n, v, NULL);
    const qlit *l = &p->n->lits[0];
    if (p->n->k == QN_CONTAINS) return l->v.len == 0 || memmem(v->s, v->len, l->v.s, l->v.len) != NULL;
    /* regexec needs a NUL-terminated string */
    av_buf *t = &p->e->text;
    av_buf_reset(t);
    av_buf_put(t, v->s, v->len);
    if (memchr(t->ptr, 0, v->len)) return 0;
    return regexec(&p->n->re, t->ptr, 0, NULL, 0) == 0;
}

static int value_test(void *ctx, const qval *v);

/* A JSON array value: the test holds if it holds for an element. */
static int array_test(pctx *p, const qval *v)
{
    pctx sub = *p;
    sub.result = 0;
    sub.err = 0;
    int rc = q_json_each(v->s, v->len, value_test, &sub);
    if (rc < 0) {
        if (sub.err) return sub.err;
        return av_error_set(AV_ECORRUPT, "a stored value of %s is not valid JSON", p->n->field.name);
    }
    return sub.result;
}

/* Called for each value; sets result and stops at the first that holds. */
static int value_test(void *ctx, const qval *v)
{
    pctx *p = ctx;
    const qnode *n = p->n;
    int r = 0;
    if (v->t == QV_ARRAY && (n->k == QN_CONTAINS || n->k == QN_MATCHES)) {
        r = array_test(p, v);
    } else {
        switch (n->k) {
        case QN_EXISTS: r = v->t != QV_NULL; break;
        case QN_CMP: r = compare(p->e, n, n->op == QOP_NE ? QOP_EQ : n->op, v, &n->lits[0]); break;
        case QN_IN:
            for (size_t i = 0; i < n->nlit && r == 0; i++) r = compare(p->e, n, QOP_EQ, v, &n->lits[i]);
            break;
        case QN_CONTAINS:
        case QN_MATCHES: r = text_test(p, v); break;
        default: break;
        }
    }
    if (r < 0) {
        p->err = r;
        return r;
    }
    if (r) {
        p->result = 1;
        return 1;
    }
    return 0;
}

/* len(): decides from the byte length alone when it can (code points lie
 * in [ceil(bytes/4), bytes]). 1/0 when decided, -1 when the text is needed. */
static int len_bounds(qeval *e, const qnode *n)
{
    av_record *rec = NULL;
    av_val *tv = text_val(e, n->field.f == QF_LEN_RESPONSE, &rec);
    if (!tv) return 0; /* no such text: no value, nothing holds */
    if (tv->ptr) return -1; /* already there: just count */
    double lo = (double)((tv->len + 3) / 4), hi = (double)tv->len;
    if (n->k == QN_CMP) {
        qval a = {.t = QV_NUM, .num = lo}, b = {.t = QV_NUM, .num = hi};
        enum q_op op = n->op == QOP_NE ? QOP_EQ : n->op;
        double x = n->lits[0].v.num;
        if (op == QOP_EQ) {
            if (x < lo || x > hi) return 0;
            return -1;
        }
        int ra = compare(e, n, op, &a, &n->lits[0]), rb = compare(e, n, op, &b, &n->lits[0]);
        return ra == rb ? ra : -1;
    }
    if (n->k == QN_IN) {
        for (size_t i = 0; i < n->nlit; i++)
            if (n->lits[i].v.num >= lo && n->lits[i].v.num <= hi) return -1;
        return 0;
    }
    return -1;
}

int q_eval_node(qeval *e, const qnode *n)
{
    int r;
    switch (n->k) {
    case QN_AND:
        if ((r = q_eval_node(e, n->a)) <= 0) return r;
        return q_eval_node(e, n->b);
    case QN_OR:
        if ((r = q_eval_node(e, n->a)) != 0) return r;
        return q_eval_node(e, n->b);
    case QN_NOT:
        if ((r = q_eval_node(e, n->a)) < 0) return r;
        return !r;
    default: break;
    }
    int negate = n->k == QN_CMP && n->op == QOP_NE;
    if ((n->field.f == QF_LEN_INSTRUCTION || n->field.f == QF_LEN_RESPONSE) && (n->k == QN_CMP || n->k == QN_IN)) {
        if ((r = load_chain(e)) < 0) return r;
        r = len_bounds(e, n);
        if (r >= 0) return negate ? !r : r;
    }
    if (n->pre && n->k == QN_CONTAINS) {
        /* answered by the text's place when the scan saw it */
        if ((r = load_chain(e)) < 0) return r;
        av_record *rec = NULL;
        av_val *tv = text_val(e, n->field.f == QF_RESPONSE, &rec);
        if (!tv) return 0;
        if (!tv->ptr && tv->len && (r = q_textset_lookup(n->pre, tv->loc)) >= 0) return r;
    }
    pctx p = {.e = e, .n = n};
    r = q_eval_values(e, &n->field, value_test, &p);
    if (r < 0) return r;
    return negate ? !p.result : p.result;
}

int q_eval_tags(qeval *e, int (*fn)(void *ctx, const char *key, const char *json, size_t len), void *ctx)
{
    int rc = load_kids(e);
    if (rc < 0) return rc;
    for (size_t i = 0; i < e->nkids; i++) {
        av_record *k = &e->kids[i];
        if (k->kind != AV_TAG) continue;
        for (uint32_t a = 0; a < k->nattr; a++) {
            if ((rc = text_load(e, k, &k->attr[a].json)) < 0) return rc;
            if ((rc = fn(ctx, k->attr[a].key, k->attr[a].json.ptr ? k->attr[a].json.ptr : "null",
                         k->attr[a].json.ptr ? k->attr[a].json.len : 4)) != 0)
                return rc;
        }
    }
    return 0;
}
