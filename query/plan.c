/* plan.c: compiling a query and answering it: the planner over the store's
 * indexes, av_query_run, and the field-value API the CLI prints with.
 *
 * The plan: the top-level `and` of the expression is split into conjuncts.
 * A conjunct of equality or `in` on kind, id, model, source or tag.<key>
 * (or an `or` of such) can be answered from an index: tag and source index
 * hits are mapped to the units that see them (a tag on a prompt reaches the
 * prompt's responses; kinds and targets come from the store's row column),
 * model hits are filtered by the unit kind. The planner estimates each
 * such conjunct by counting its raw index entries (stopping at the
 * smallest count so far),
 * materialises the most selective one as a sorted set of unit rows, and
 * checks the other conjuncts on each candidate with metadata reads. Without
 * an indexable conjunct it scans the unit kind's index. Version conditions
 * narrow either to the row range of the matching commits (rows are assigned
 * in commit order). Texts are read only by text predicates.
 *
 * AV_QUERY_NO_INDEX (or AVIARY_QUERY_NO_INDEX=1) forces the scan, so tests
 * can check that both give the same answer. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "query/licence.h"
#include "query/qint.h"
#include "query/query.h"

struct av_query {
    qnode *root;
    av_kind unit;
    unsigned flags;
    qfield *fields;
    size_t nfields, fields_cap;
    qeval *ev;
    av_reader *ev_r;
    uint32_t ev_version;
    uint64_t ev_row; /* the row the evaluator holds, or 0 */
};

/* Licences are reported as normalised ids (mit, llama3): literals compared
 * with the licence field are normalised the same way, so `licence = "MIT"`
 * finds them. */
static void norm_licence_lits(qnode *n)
{
    if (!n) return;
    norm_licence_lits(n->a);
    norm_licence_lits(n->b);
    if (n->field.f != QF_LICENCE || (n->k != QN_CMP && n->k != QN_IN)) return;
    for (size_t i = 0; i < n->nlit; i++) {
        qval *v = &n->lits[i].v;
        if (v->t != QV_STR || !v->len || memchr(v->s, 0, v->len)) continue;
        char norm[128];
        av_licence_norm(norm, sizeof norm, v->s);
        if (!*norm) continue;
        free((char *)v->s);
        v->s = av_xstrdup(norm);
        v->len = strlen(norm);
    }
}

int av_query_compile(av_query **out, const char *expr, av_kind unit, char **errmsg)
{
    *out = NULL;
    if (errmsg) *errmsg = NULL;
    if (unit < AV_KIND_NONE || unit > AV_KIND_MAX) {
        if (errmsg) *errmsg = av_xstrdup("invalid unit kind");
        return AV_EINVAL;
    }
    qnode *root;
    int rc = q_parse(&root, expr, errmsg);
    if (rc < 0) return rc;
    norm_licence_lits(root);
    av_query *q = av_xcalloc(1, sizeof *q);
    q->root = root;
    q->unit = unit;
    const char *env = getenv("AVIARY_QUERY_NO_INDEX");
    if (env && *env && strcmp(env, "0")) q->flags |= AV_QUERY_NO_INDEX;
    *out = q;
    return 0;
}

void av_query_free(av_query *q)
{
    if (!q) return;
    q_node_free(q->root);
    for (size_t i = 0; i < q->nfields; i++) q_field_release(&q->fields[i]);
    free(q->fields);
    q_eval_free(q->ev);
    free(q);
}

void av_query_set_flags(av_query *q, unsigned flags)
{
    q->flags = flags;
}

/* The evaluator for reader r (made anew when the reader changes). */
static int eval_for(av_query *q, av_reader *r, qeval **out)
{
    if (!q->ev || q->ev_r != r || q->ev_version != av_reader_version(r)) {
        q_eval_free(q->ev);
        q->ev = NULL;
        int rc = q_eval_new(&q->ev, r, q->unit);
        if (rc < 0) return rc;
        q->ev_r = r;
        q->ev_version = av_reader_version(r);
        q->ev_row = 0;
    }
    *out = q->ev;
    return 0;
}

static int eval_at(av_query *q, av_reader *r, uint64_t row, qeval **out)
{
    int rc = eval_for(q, r, out);
    if (rc < 0) return rc;
    if (q->ev_row == row && row) return 0;
    q->ev_row = 0;
    if ((rc = q_eval_set(*out, row)) < 0) return rc;
    q->ev_row = row;
    return 0;
}

/* ---- row sets -------------------------------------------------------- */

typedef struct rowset {
    uint64_t *v;
    size_t n, cap;
} rowset;


static void rs_add(rowset *s, uint64_t row)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = av_xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = row;
}

static void rs_sort(rowset *s)
{
    s->n = av_sort_unique_u64(s->v, s->n);
}

/* ---- the planner ----------------------------------------------------- */

enum ix { IX_NONE, IX_KIND, IX_ID, IX_MODEL, IX_SOURCE, IX_TAG, IX_EMPTY, IX_OR, IX_NUM };

typedef struct plan {
    av_query *q;
    av_reader *r;
    av_record rec[8];
    av_buf json;
    uint64_t row_lo, row_hi; /* candidate rows lie in [row_lo, row_hi) */
    int fallback;            /* an index could not answer (an ambiguous id): scan */
    qeval *ev;               /* for its kind bitmaps */
    int bulk;                /* many index hits: tell kinds from bitmaps, not by reading */
    struct numc *num;        /* numeric comparisons looked at (num_look) */
    size_t nnum;
    int want_semi;           /* check tag conjuncts behind the driver from bitmaps (semi_build) */
    uint8_t **sem;           /* by conjunct: its matching tag records as a bitmap, or NULL */
    uint8_t **tgt;           /* by conjunct: the records those visible tags are on */
    size_t sem_len, nsem;    /* conjuncts, and those with a bitmap */
    uint64_t sem_end;        /* rows the bitmaps cover */
    struct rowset sure;      /* units reached from a driver tag that is in every bitmap */
    struct part *part;       /* units of a prompt whose own tags passed some bitmaps */
    size_t npart, part_cap;
} plan;

/* A unit directly below a prompt (a response, a preference), and the semi
 * conjuncts the prompt's tags pass: only the unit's own tags remain. */
typedef struct part {
    uint64_t row;
    uint64_t mask;
} part;

/* Is tag record x in every semi bitmap (so the units that see it pass those
 * conjuncts)? */
/* The semi conjuncts tag record x passes, a bit each. */
static uint64_t tag_mask(const plan *p, uint64_t x)
{
    uint64_t m = 0;
    if (x >= p->sem_end) return 0;
    for (size_t i = 0; i < p->sem_len && i < 64; i++)
        if (p->sem[i] && (p->sem[i][x / 8] >> (x % 8) & 1)) m |= 1ull << i;
    return m;
}

/* All of them. */
static uint64_t full_mask(const plan *p)
{
    uint64_t m = 0;
    for (size_t i = 0; i < p->sem_len && i < 64; i++)
        if (p->sem[i]) m |= 1ull << i;
    return m;
}

/* The semi conjuncts the tags on record x pass. */
static int tags_mask(plan *p, uint64_t x, uint64_t *m)
{
    if (x >= p->sem_end) return 0;
    for (size_t i = 0; i < p->sem_len && i < 64; i++)
        if (p->tgt[i] && (p->tgt[i][x / 8] >> (x % 8) & 1)) *m |= 1ull << i;
    return 0;
}

/* Maps tag record x to the units that see it (units_of its target), and
 * notes them as sure when x passes every semi bitmap. */
static int units_of(plan *p, uint64_t x, rowset *out);
static int tag_units(plan *p, uint64_t x, uint64_t target, rowset *out)
{
    size_t from = out->n;
    int rc = units_of(p, target, out);
    if (rc < 0 || !p->nsem || from == out->n) return rc;
    uint64_t full = full_mask(p), m = tag_mask(p, x);
    if (m != full && (p->q->unit == AV_RESPONSE || p->q->unit == AV_PREFERENCE)) {
        /* the target's other tags, once for all its units, when they are a
         * prompt's children (their chains are [unit, prompt]) */
        av_kind tk = AV_KIND_NONE;
        if (p->bulk) {
            if ((rc = q_eval_is_kind(p->ev, AV_PROMPT, target)) < 0) return rc;
            if (rc) tk = AV_PROMPT;
        } else if ((rc = av_row_info(p->r, target, AV_GET_ANY, &tk, NULL)) < 0) {
            return rc;
        }
        if (tk != AV_PROMPT) return 0;
        if ((rc = tags_mask(p, target, &m)) < 0) return rc;
        if (m != full) {
            for (size_t i = from; i < out->n; i++) {
                if (p->npart == p->part_cap) {
                    p->part_cap = p->part_cap ? p->part_cap * 2 : 256;
                    p->part = av_xrealloc(p->part, p->part_cap * sizeof *p->part);
                }
                p->part[p->npart++] = (part){out->v[i], m};
            }
            return 0;
        }
    }
    if (m != full) return 0;
    for (size_t i = from; i < out->n; i++) rs_add(&p->sure, out->v[i]);
    return 0;
}

/* A string as JSON with every non-ASCII character escaped (\u00e9, surrogate
 * pairs above U+FFFF): how Python's json.dumps writes it by default. */
static void json_ascii(av_buf *b, const char *s, size_t n)
{
    av_buf tmp = AV_BUF_INIT;
    av_buf_json_str(&tmp, s, n);
    for (size_t i = 0; i < tmp.len;) {
        unsigned char c = (unsigned char)tmp.ptr[i];
        if (c < 0x80) {
            av_buf_putc(b, (char)c);
            i++;
            continue;
        }
        unsigned cp;
        size_t k;
        if (c >= 0xf0) { cp = c & 0x07; k = 3; }
        else if (c >= 0xe0) { cp = c & 0x0f; k = 2; }
        else { cp = c & 0x1f; k = 1; }
        for (size_t j = 1; j <= k && i + j < tmp.len; j++) cp = (cp << 6) | ((unsigned char)tmp.ptr[i + j] & 0x3f);
        i += k + 1;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            av_buf_printf(b, "\\u%04x\\u%04x", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
        } else {
            av_buf_printf(b, "\\u%04x", cp);
        }
    }
    av_buf_free(&tmp);
}

/* The JSON spellings under which a tag literal may be stored and indexed
 * (the store indexes strings, true, false and null of up to
 * AV_INDEX_VALUE_MAX bytes, not numbers): a string as is and, when it has
 * non-ASCII characters, \u-escaped. 0 if the literal cannot be looked up
 * exactly (a number, a string too long in some spelling). */
static int lit_jsons(const qval *v, av_buf *b, size_t *off, size_t *len)
{
    av_buf_reset(b);
    if (v->t == QV_STR) {
        av_buf_json_str(b, v->s, v->len);
        off[0] = 0;
        len[0] = b->len;
        int ascii = 1;
        for (size_t i = 0; i < v->len && ascii; i++) ascii = (unsigned char)v->s[i] < 0x80;
        int k = 1;
        if (!ascii) {
            json_ascii(b, v->s, v->len);
            off[1] = len[0];
            len[1] = b->len - len[0];
            k = 2;
        }
        for (int i = 0; i < k; i++)
            if (len[i] > AV_INDEX_VALUE_MAX) return 0;
        return k;
    }
    if (v->t == QV_BOOL || v->t == QV_NULL) {
        q_val_json(b, v);
        off[0] = 0;
        len[0] = b->len;
        return 1;
    }
    return 0;
}

static enum ix leaf_ix(const av_query *q, const qnode *n)
{
    if (n->k == QN_OR) {
        enum ix a = leaf_ix(q, n->a), b = leaf_ix(q, n->b);
        return a != IX_NONE && b != IX_NONE ? IX_OR : IX_NONE;
    }
    /* tag.x < N, <=, >, >=, = N: the numeric range index (when every value
     * of the key is a number or null: see num_exact) */
    if (n->k == QN_CMP && n->op != QOP_NE && n->field.f == QF_TAG && n->lits[0].v.t == QV_NUM &&
        !isnan(n->lits[0].v.num))
        return IX_NUM;
    if (!(n->k == QN_IN || (n->k == QN_CMP && n->op == QOP_EQ))) return IX_NONE;
    switch (n->field.f) {
    case QF_KIND: {
        if (q->unit == AV_KIND_NONE) return IX_KIND;
        size_t same = 0;
        for (size_t i = 0; i < n->nlit; i++)
            if (av_kind_parse(n->lits[i].v.s) == q->unit) same++;
        return same == 0 ? IX_EMPTY : IX_NONE;
    }
    case QF_ID: return IX_ID;
    case QF_MODEL: return IX_MODEL;
    case QF_SOURCE: return IX_SOURCE;
    case QF_TAG: {
        av_buf b = AV_BUF_INIT;
        size_t off[2], len[2];
        int ok = 1;
        for (size_t i = 0; i < n->nlit && ok; i++) ok = lit_jsons(&n->lits[i].v, &b, off, len) > 0;
        av_buf_free(&b);
        return ok ? IX_TAG : IX_NONE;
    }
    default: return IX_NONE;
    }
}

/* Can a record of kind k have, below it along ref[0], a unit of kind u? */
static int reaches(av_kind k, av_kind u)
{
    if (u == AV_KIND_NONE || u == AV_TAG) return 1;
    if (k == AV_PROMPT) return u == AV_RESPONSE || u == AV_RATING || u == AV_PREFERENCE;
    if (k == AV_RESPONSE) return u == AV_RATING;
    return 0;
}

/* The kind of a visible row from the kind bitmaps; AV_KIND_NONE if it is
 * not visible. */
static int kind_of(plan *p, uint64_t row, av_kind *out)
{
    int rc = av_row_info(p->r, row, 0, out, NULL);
    if (rc == 0) *out = AV_KIND_NONE;
    return rc < 0 ? rc : 0;
}

/* Does a record of kind ck that refers to one of kind xk do so through
 * ref[0]? By the data model: 1 yes, 0 no, -1 read it to know. */
static int via_ref0(av_kind xk, av_kind ck)
{
    if (ck == AV_TAG) return 1;
    if (xk == AV_PROMPT && (ck == AV_RESPONSE || ck == AV_PREFERENCE)) return 1;
    if (xk == AV_RESPONSE && ck == AV_RATING) return 1;
    if (xk == AV_RESPONSE && (ck == AV_RESPONSE || ck == AV_PREFERENCE)) return 0;
    return -1;
}

/* Adds the units that see record x (of kind k): x itself if it is one, and
 * the units below it along ref[0]. */
static int units_below(plan *p, uint64_t x, av_kind k, int vis, int depth, rowset *out)
{
    av_kind u = p->q->unit;
    if ((u == AV_KIND_NONE || k == u) && (vis >= 0 ? vis : av_visible(p->r, x))) rs_add(out, x);
    if (depth >= 6 || !reaches(k, u) || (k == u && u != AV_TAG && u != AV_KIND_NONE)) return 0;
    av_iter *it;
    int rc = av_iter_refs(&it, p->r, x);
    if (rc < 0) return rc;
    uint64_t c;
    while ((rc = av_iter_next(it, &c)) == 1) {
        av_kind ck = AV_KIND_NONE;
        int below = -1;
        if (p->bulk) {
            if ((rc = kind_of(p, c, &ck)) < 0) break;
            if (ck != AV_KIND_NONE) below = via_ref0(k, ck);
        }
        if (below < 0) {
            uint64_t ref0 = 0;
            if ((rc = av_row_info(p->r, c, 0, &ck, &ref0)) < 0) break;
            below = rc == 1 && ref0 == x;
            rc = 0;
        }
        if (!below) continue;
        if (ck == u || reaches(ck, u))
            if ((rc = units_below(p, c, ck, -1, depth + 1, out)) < 0) break;
    }
    av_iter_free(it);
    return rc < 0 ? rc : 0;
}

static int units_of(plan *p, uint64_t x, rowset *out)
{
    av_kind k = AV_KIND_NONE;
    int vis = av_row_info(p->r, x, 0, &k, NULL), rc = vis;
    if (!vis) rc = av_row_info(p->r, x, AV_GET_ANY, &k, NULL); /* hidden: what is below may not be */
    if (rc <= 0) return rc;
    return units_below(p, x, k, vis, 0, out);
}

/* Source rows named name (a dataset may come from several files). */
static int sources_named(plan *p, const char *name, rowset *out)
{
    av_iter *it;
    int rc = av_iter_kind(&it, p->r, AV_SOURCE);
    if (rc < 0) return rc;
    uint64_t s;
    while ((rc = av_iter_next(it, &s)) == 1) {
        if ((rc = av_get(p->r, s, 0, &p->rec[7])) < 0) break;
        if (p->rec[7].name && !strcmp(p->rec[7].name, name)) rs_add(out, s);
    }
    av_iter_free(it);
    return rc < 0 ? rc : 0;
}

static int model_named(plan *p, const char *name, uint64_t *out)
{
    *out = 0;
    uint64_t m;
    int rc = av_find_model(p->r, name, &m);
    if (rc == AV_ENOTFOUND) return 0;
    if (rc < 0) return rc;
    if ((rc = av_get(p->r, m, AV_GET_ANY, &p->rec[7])) < 0) return rc;
    if (p->rec[7].kind == AV_MODEL) {
        *out = m;
        return 0;
    }
    /* a source of that name came first: look through the models */
    av_iter *it;
    if ((rc = av_iter_kind(&it, p->r, AV_MODEL)) < 0) return rc;
    while ((rc = av_iter_next(it, &m)) == 1) {
        if ((rc = av_get(p->r, m, 0, &p->rec[7])) < 0) break;
        if (p->rec[7].name && !strcmp(p->rec[7].name, name)) {
            *out = m;
            break;
        }
    }
    av_iter_free(it);
    return rc < 0 ? rc : 0;
}

/* The raw iterators of one literal of a leaf (up to 2). */
static int leaf_iters(plan *p, const qnode *n, const qlit *l, av_iter **its, int *nits)
{
    *nits = 0;
    int rc = 0;
    switch (n->field.f) {
    case QF_KIND:
        rc = av_iter_kind(&its[0], p->r, av_kind_parse(l->v.s));
        if (rc == 0) *nits = 1;
        return rc;
    case QF_MODEL: {
        uint64_t m;
        if ((rc = model_named(p, l->v.s, &m)) < 0 || !m) return rc;
        if ((rc = av_iter_model(&its[0], p->r, m)) == 0) *nits = 1;
        return rc;
    }
    case QF_TAG: {
        size_t off[2], len[2];
        int k = lit_jsons(&l->v, &p->json, off, len);
        for (int i = 0; i < k; i++) {
            if ((rc = av_iter_attr(&its[i], p->r, n->field.key, p->json.ptr + off[i], len[i])) < 0) {
                for (int j = 0; j < i; j++) av_iter_free(its[j]);
                return rc;
            }
        }
        *nits = k;
        return 0;
    }
    default: return 0;
    }
}

/* ---- the numeric range index ---------------------------------------- */

/* The range of tag.x op N. */
static void num_range(const qnode *n, double *lo, int *lo_incl, double *hi, int *hi_incl)
{
    double x = n->lits[0].v.num;
    *lo = -INFINITY, *hi = INFINITY, *lo_incl = *hi_incl = 1;
    switch (n->op) {
    case QOP_EQ: *lo = *hi = x; break;
    case QOP_GT: *lo = x, *lo_incl = 0; break;
    case QOP_GE: *lo = x; break;
    case QOP_LT: *hi = x, *hi_incl = 0; break;
    case QOP_LE: *hi = x; break;
    default: break;
    }
}

/* The sorted rows of av_iter_num over a range (none for an empty one). */
static int num_rows(plan *p, const char *key, double lo, int li, double hi, int hinc, rowset *out)
{
    if (lo > hi) return 0;
    av_iter *it;
    int rc = av_iter_num(&it, p->r, key, lo, li, hi, hinc);
    if (rc < 0) return rc;
    uint64_t x;
    while ((rc = av_iter_next(it, &x)) == 1) rs_add(out, x);
    av_iter_free(it);
    return rc < 0 ? rc : 0;
}

/* What the numeric index says about one comparison tag.x op N. */
typedef struct numc {
    const qnode *n;
    int exact;   /* the index can answer it (see num_look) */
    rowset cand; /* its candidate tag records, sorted */
    rowset ends; /* those in the range's end buckets (values to check), sorted */
} numc;

/* Rows in both sorted sets, appended to out. */
static void rs_meet(const rowset *a, const rowset *b, rowset *out)
{
    for (size_t i = 0, j = 0; i < a->n && j < b->n;) {
        if (a->v[i] < b->v[j]) i++;
        else if (a->v[i] > b->v[j]) j++;
        else rs_add(out, a->v[i]), i++, j++;
    }
}

/* Looks n up in the numeric index, once per plan. The index holds plain
 * JSON numbers only (not arrays of them), so it answers exactly only when
 * every tag value of the key is a number or null: when the key's records
 * are its numeric ones plus its null ones. The numeric ones are counted as
 * the candidates of the range together with those of the ranges either
 * side of it (which share its end buckets: those shared rows are the ones
 * whose values need checking). Otherwise the conjunct is checked on each
 * unit, as a scan would. */
static int num_look(plan *p, const qnode *n, numc **out)
{
    for (size_t i = 0; i < p->nnum; i++) {
        if (p->num[i].n == n) {
            *out = &p->num[i];
            return 0;
        }
    }
    p->num = av_xrealloc(p->num, (p->nnum + 1) * sizeof *p->num);
    numc *c = &p->num[p->nnum++];
    memset(c, 0, sizeof *c);
    c->n = n;
    *out = c;
    const char *key = n->field.key;
    double lo, hi;
    int li, hinc, rc;
    num_range(n, &lo, &li, &hi, &hinc);
    if ((rc = num_rows(p, key, lo, li, hi, hinc, &c->cand)) < 0) return rc;
    rowset below = {0}, above = {0};
    if (isfinite(lo)) rc = num_rows(p, key, lo, 1, lo, 1, &below);
    if (rc >= 0 && isfinite(hi)) rc = num_rows(p, key, hi, 1, hi, 1, &above);
    if (rc >= 0) {
        rs_meet(&c->cand, &below, &c->ends);
        rs_meet(&c->cand, &above, &c->ends);
        rs_sort(&c->ends);
        /* exact when every record ever tagged with key holds a number or null */
        uint64_t all, num, nul;
        if ((rc = av_attr_counts(p->r, key, &all, &num, &nul)) >= 0) c->exact = num + nul == all;
    }
    free(below.v);
    free(above.v);
    return rc < 0 ? rc : 0;
}

static void num_release(plan *p)
{
    for (size_t i = 0; i < p->nnum; i++) {
        free(p->num[i].cand.v);
        free(p->num[i].ends.v);
    }
    free(p->num);
}

/* leaf_ix with the reader's say: a numeric comparison the index cannot
 * answer exactly is no index conjunct. */
static int ix_of(plan *p, const qnode *n, enum ix *out)
{
    int rc;
    if (n->k == QN_OR) {
        enum ix a, b;
        if ((rc = ix_of(p, n->a, &a)) < 0 || (rc = ix_of(p, n->b, &b)) < 0) return rc;
        *out = a != IX_NONE && b != IX_NONE ? IX_OR : IX_NONE;
        return 0;
    }
    *out = leaf_ix(p->q, n);
    if (*out == IX_NUM) {
        numc *c;
        if ((rc = num_look(p, n, &c)) < 0) return rc;
        if (!c->exact) *out = IX_NONE;
    }
    return 0;
}

/* Does tag record row hold a value of n's key that satisfies n? */
static int num_holds(plan *p, uint64_t row, const qnode *n)
{
    av_record *rec = &p->rec[7];
    int rc = av_get(p->r, row, AV_GET_NOHASH, rec);
    if (rc < 0) return rc;
    double l = n->lits[0].v.num;
    for (uint32_t a = 0; a < rec->nattr; a++) {
        if (strcmp(rec->attr[a].key, n->field.key)) continue;
        av_val *v = &rec->attr[a].json;
        if (!v->ptr && (rc = av_load(p->r, rec, v)) < 0) return rc;
        qval qv;
        if (q_json_value(v->ptr, v->len, &qv, &p->json) < 0 || qv.t != QV_NUM) continue;
        double x = qv.num;
        int c = x < l ? -1 : x > l;
        switch (n->op) {
        case QOP_EQ: if (c == 0) return 1; break;
        case QOP_LT: if (c < 0) return 1; break;
        case QOP_LE: if (c <= 0) return 1; break;
        case QOP_GT: if (c > 0) return 1; break;
        case QOP_GE: if (c >= 0) return 1; break;
        default: break;
        }
    }
    return 0;
}

static int in_sorted(const rowset *s, uint64_t x)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->v[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo < s->n && s->v[lo] == x;
}

/* The units a numeric comparison selects: the index's candidates, values
 * checked for those in the range's end buckets (the others lie strictly
 * inside it), mapped to the units that see their tags. */
/* Tag hits, at most TAG_BATCH at a time, to the units that see them: the
 * tags' targets, then the targets' kinds, from the row column; a target of
 * the unit kind is the unit (the common case), any other goes the general
 * way (tag_units: a prompt's responses, semi bitmaps). */
#define TAG_BATCH 1024
static int tag_hits(plan *p, const uint64_t *x, size_t m, rowset *out)
{
    uint64_t tgt[TAG_BATCH];
    av_kind kind[TAG_BATCH], tkind[TAG_BATCH];
    int rc;
    if ((rc = av_rows_info(p->r, x, m, 0, kind, tgt)) < 0) return rc;
    if ((rc = av_rows_info(p->r, tgt, m, 0, tkind, NULL)) < 0) return rc;
    int direct = !p->nsem && p->q->unit != AV_TAG && p->q->unit != AV_KIND_NONE;
    for (size_t i = 0; i < m; i++) {
        if (kind[i] == AV_KIND_NONE || !tgt[i]) continue;
        if (direct && tkind[i] == p->q->unit) rs_add(out, tgt[i]);
        else if ((rc = tag_units(p, x[i], tgt[i], out)) < 0) return rc;
    }
    return 0;
}

static int num_units(plan *p, const qnode *n, rowset *out)
{
    numc *c;
    int rc = num_look(p, n, &c);
    if (rc < 0) return rc;
    if (out->cap < out->n + c->cand.n) {
        out->cap = out->n + c->cand.n;
        out->v = av_xrealloc(out->v, out->cap * sizeof *out->v);
    }
    uint64_t x[TAG_BATCH];
    size_t m = 0;
    for (size_t i = 0; i < c->cand.n; i++) {
        if (c->ends.n && in_sorted(&c->ends, c->cand.v[i])) { /* an end bucket: check the value */
            if ((rc = num_holds(p, c->cand.v[i], n)) < 0) return rc;
            if (!rc) continue;
        }
        x[m++] = c->cand.v[i];
        if (m == TAG_BATCH) {
            if ((rc = tag_hits(p, x, m, out)) < 0) return rc;
            m = 0;
        }
    }
    return m ? tag_hits(p, x, m, out) : 0;
}

/* Counts raw index entries of a conjunct, stopping at cap. */
static int estimate(plan *p, const qnode *n, size_t cap, size_t *out)
{
    *out = 0;
    if (n->k == QN_OR) {
        size_t a, b;
        int rc = estimate(p, n->a, cap, &a);
        if (rc < 0) return rc;
        if ((rc = estimate(p, n->b, cap, &b)) < 0) return rc;
        *out = a + b < cap ? a + b : cap;
        return 0;
    }
    enum ix t;
    int rc0 = ix_of(p, n, &t);
    if (rc0 < 0) return rc0;
    if (t == IX_EMPTY) return 0;
    if (t == IX_ID) {
        *out = n->nlit;
        return 0;
    }
    if (t == IX_NUM) {
        numc *c;
        if ((rc0 = num_look(p, n, &c)) < 0) return rc0;
        *out = c->cand.n < cap ? c->cand.n : cap;
        return 0;
    }
    size_t total = 0;
    int rc = 0;
    for (size_t i = 0; i < n->nlit && total < cap; i++) {
        if (t == IX_SOURCE) {
            rowset srcs = {0};
            if ((rc = sources_named(p, n->lits[i].v.s, &srcs)) < 0) return rc;
            for (size_t s = 0; s < srcs.n && total < cap && rc >= 0; s++) {
                av_iter *it;
                if ((rc = av_iter_source(&it, p->r, srcs.v[s])) < 0) break;
                uint64_t x;
                while (total < cap && (rc = av_iter_next(it, &x)) == 1) total++;
                av_iter_free(it);
            }
            free(srcs.v);
            if (rc < 0) return rc;
            continue;
        }
        av_iter *its[2];
        int nits;
        if ((rc = leaf_iters(p, n, &n->lits[i], its, &nits)) < 0) return rc;
        for (int k = 0; k < nits; k++) {
            uint64_t x;
            if (p->row_lo > 1 && (rc = av_iter_seek(its[k], p->row_lo)) < 0) {}
            while (rc >= 0 && total < cap && (rc = av_iter_next(its[k], &x)) == 1) {
                if (x >= p->row_hi) break;
                total++;
            }
            av_iter_free(its[k]);
        }
        if (rc < 0) return rc;
    }
    *out = total < cap ? total : cap;
    return 0;
}

/* Is x a visible record of the unit kind? (model hits) From the kind
 * bitmap when many hits come, else from the record's header. (This once
 * walked the kind index with av_iter_seek; the row av_iter_next consumed
 * after a miss was then skipped, losing the response after a prompt.) */
static int unit_kind_has(plan *p, uint64_t x)
{
    if (p->q->unit == AV_KIND_NONE) return 1;
    if (p->bulk) return q_eval_is_kind(p->ev, p->q->unit, x);
    av_kind k;
    int rc = av_row_info(p->r, x, 0, &k, NULL);
    if (rc <= 0) return rc;
    return k == p->q->unit;
}

/* The units a conjunct selects, sorted. */
static int materialise(plan *p, const qnode *n, rowset *out)
{
    int rc = 0;
    if (n->k == QN_OR) {
        if ((rc = materialise(p, n->a, out)) < 0) return rc;
        if ((rc = materialise(p, n->b, out)) < 0) return rc;
        rs_sort(out);
        return 0;
    }
    enum ix t;
    if ((rc = ix_of(p, n, &t)) < 0) return rc;
    if (t == IX_EMPTY) return 0;
    if (t == IX_NUM) {
        if ((rc = num_units(p, n, out)) < 0) return rc;
        rs_sort(out);
        return 0;
    }
    for (size_t i = 0; i < n->nlit && rc >= 0; i++) {
        const qlit *l = &n->lits[i];
        if (t == IX_ID) {
            uint64_t x;
            rc = av_find_hex(p->r, l->v.s, &x);
            if (rc == AV_EAMBIGUOUS) {
                p->fallback = 1;
                return 0;
            }
            if (rc == AV_ENOTFOUND || rc == AV_EINVAL) {
                rc = 0;
                continue;
            }
            if (rc < 0) return rc;
            av_kind xk;
            if ((rc = av_peek(p->r, x, 0, &xk, NULL, NULL)) < 0) return rc == AV_ENOTFOUND ? 0 : rc;
            if (p->q->unit == AV_KIND_NONE || xk == p->q->unit) rs_add(out, x);
            continue;
        }
        if (t == IX_SOURCE) {
            rowset srcs = {0};
            if ((rc = sources_named(p, l->v.s, &srcs)) < 0) return rc;
            for (size_t s = 0; s < srcs.n && rc >= 0; s++) {
                av_iter *it;
                if ((rc = av_iter_source(&it, p->r, srcs.v[s])) < 0) break;
                uint64_t x;
                while ((rc = av_iter_next(it, &x)) == 1)
                    if ((rc = units_of(p, x, out)) < 0) break;
                av_iter_free(it);
            }
            free(srcs.v);
            continue;
        }
        av_iter *its[2];
        int nits;
        if ((rc = leaf_iters(p, n, l, its, &nits)) < 0) return rc;
        for (int k = 0; k < nits; k++) {
            uint64_t x, batch[TAG_BATCH];
            size_t m = 0;
            while (rc >= 0 && (rc = av_iter_next(its[k], &x)) == 1) {
                if (t == IX_KIND) {
                    rs_add(out, x);
                } else if (t == IX_MODEL) {
                    int has = unit_kind_has(p, x);
                    if (has < 0) rc = has;
                    else if (has) rs_add(out, x);
                } else { /* IX_TAG: the tags' targets and what sees them */
                    batch[m++] = x;
                    if (m == TAG_BATCH) rc = tag_hits(p, batch, m, out), m = 0;
                }
            }
            if (rc >= 0 && m) rc = tag_hits(p, batch, m, out);
            av_iter_free(its[k]);
        }
    }
    if (rc < 0) return rc;
    rs_sort(out);
    return 0;
}

/* Top-level conjuncts of n, left to right. */
static void conjuncts(const qnode *n, const qnode ***v, size_t *nv, size_t *cap)
{
    if (!n) return;
    if (n->k == QN_AND) {
        conjuncts(n->a, v, nv, cap);
        conjuncts(n->b, v, nv, cap);
        return;
    }
    if (*nv == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *v = av_xrealloc(*v, *cap * sizeof **v);
    }
    (*v)[(*nv)++] = n;
}

/* Narrows [row_lo, row_hi) by the version conditions among the conjuncts. */
static void version_range(plan *p, const qnode **cj, size_t ncj)
{
    double lo = 1, hi = av_reader_version(p->r);
    for (size_t i = 0; i < ncj; i++) {
        const qnode *n = cj[i];
        if (n->k != QN_CMP || n->field.f != QF_VERSION || n->lits[0].v.t != QV_NUM) continue;
        double x = n->lits[0].v.num;
        switch (n->op) {
        case QOP_EQ: if (ceil(x) > lo) lo = ceil(x); if (floor(x) < hi) hi = floor(x); break;
        case QOP_GE: if (ceil(x) > lo) lo = ceil(x); break;
        case QOP_GT: if (floor(x) + 1 > lo) lo = floor(x) + 1; break;
        case QOP_LE: if (floor(x) < hi) hi = floor(x); break;
        case QOP_LT: if (ceil(x) - 1 < hi) hi = ceil(x) - 1; break;
        default: break;
        }
    }
    if (lo > hi) {
        p->row_lo = p->row_hi = 0;
        return;
    }
    if (lo <= 1 && hi >= av_reader_version(p->r)) return;
    av_commit c;
    if (av_commit_get(p->r, (uint32_t)lo, &c) == 0) {
        if (c.row_lo > p->row_lo) p->row_lo = c.row_lo;
        av_commit_free(&c);
    }
    if (av_commit_get(p->r, (uint32_t)hi, &c) == 0) {
        if (c.row_hi < p->row_hi) p->row_hi = c.row_hi;
        av_commit_free(&c);
    }
}

/* Checks the tag comparisons of n against the type of the first stored
 * value of their key, so that comparing a string with a number fails the
 * same way whether the answer comes from an index (which may never look at
 * such a value) or from a scan. */
static int probe_types(plan *p, const qnode *n)
{
    int rc;
    if (!n) return 0;
    if (n->k == QN_AND || n->k == QN_OR) {
        if ((rc = probe_types(p, n->a)) < 0) return rc;
        return probe_types(p, n->b);
    }
    if (n->k == QN_NOT) return probe_types(p, n->a);
    if (n->field.f != QF_TAG || n->k == QN_EXISTS) return 0;
    av_iter *it;
    if ((rc = av_iter_attr_key(&it, p->r, n->field.key)) < 0) return rc;
    uint64_t row;
    rc = av_iter_next(it, &row);
    av_iter_free(it);
    if (rc <= 0) return rc;
    av_record *rec = &p->rec[7];
    if ((rc = av_get(p->r, row, 0, rec)) < 0) return rc;
    for (uint32_t a = 0; a < rec->nattr; a++) {
        if (strcmp(rec->attr[a].key, n->field.key)) continue;
        av_val *v = &rec->attr[a].json;
        if (!v->ptr && (rc = av_load(p->r, rec, v)) < 0) return rc;
        qval qv;
        if (q_json_value(v->ptr, v->len, &qv, &p->json) < 0) return 0; /* the scan reports it */
        if (qv.t == QV_NULL) return 0;
        if (n->k == QN_CONTAINS || n->k == QN_MATCHES) {
            if (qv.t != QV_STR && qv.t != QV_ARRAY) return q_type_error(n, &qv, NULL, &rec->cid);
            return 0;
        }
        for (size_t i = 0; i < n->nlit; i++) {
            if (n->lits[i].v.t == QV_NULL) continue;
            if (qv.t != n->lits[i].v.t) return q_type_error(n, &qv, &n->lits[i], &rec->cid);
        }
        return 0;
    }
    return 0;
}

/* The plan for q on r: the driver conjunct (or none: scan) and its rows. */
typedef struct chosen {
    const qnode **cj;
    size_t ncj;
    ssize_t driver; /* index into cj, or -1 */
    rowset rows;
    size_t estimate;
    uint8_t *semi; /* by conjunct: checked by semi_filter (or NULL) */
} chosen;

static void plan_init(plan *p, av_query *q, av_reader *r, qeval *ev)
{
    memset(p, 0, sizeof *p);
    p->q = q;
    p->r = r;
    p->ev = ev;
    for (int i = 0; i < 8; i++) av_record_init(&p->rec[i]);
    p->row_lo = 1;
    p->row_hi = av_reader_row_end(r);
}

static void plan_release(plan *p)
{
    for (int i = 0; i < 8; i++) av_record_free(&p->rec[i]);
    num_release(p);
    for (size_t i = 0; i < p->sem_len; i++) free(p->sem[i]), free(p->tgt[i]);
    free(p->sem);
    free(p->tgt);
    free(p->sure.v);
    free(p->part);
    av_buf_free(&p->json);
}

/* ---- tag conjuncts checked against index bitmaps ----------------------
 *
 * Behind a driver, a conjunct on tags that an index answers exactly (tag =
 * or in, a numeric comparison the range index can answer, an `or` of those)
 * is checked without reading a record: its matching tag records become a
 * bitmap, and a unit passes when a tag on a record of its chain is in it.
 * The chain is followed through the records' headers (av_peek) as the
 * evaluator does (eval.c, load_chain), and the tags on a record are the
 * tag rows among the records referring to it (a tag refers through ref[0]
 * only). Used when the bitmap is not much larger than the driver's rows. */

static void bit_set(uint8_t *b, uint64_t row, uint64_t end)
{
    if (row < end) b[row / 8] |= (uint8_t)(1u << (row % 8));
}

/* Sets the bits of n's matching tag records; 1 if n is not such a conjunct. */
static int semi_bits(plan *p, const qnode *n, uint8_t *bits, uint64_t end)
{
    int rc;
    if (n->k == QN_OR) {
        if ((rc = semi_bits(p, n->a, bits, end)) != 0) return rc;
        return semi_bits(p, n->b, bits, end);
    }
    enum ix t;
    if ((rc = ix_of(p, n, &t)) < 0) return rc;
    if (t == IX_EMPTY) return 0;
    if (t == IX_NUM) {
        numc *c;
        if ((rc = num_look(p, n, &c)) < 0) return rc;
        for (size_t i = 0; i < c->cand.n; i++) {
            uint64_t x = c->cand.v[i];
            if (in_sorted(&c->ends, x)) {
                if ((rc = num_holds(p, x, n)) < 0) return rc;
                if (!rc) continue;
            }
            bit_set(bits, x, end);
        }
        return 0;
    }
    if (t != IX_TAG) return 1;
    for (size_t i = 0; i < n->nlit; i++) {
        av_iter *its[2];
        int nits;
        if ((rc = leaf_iters(p, n, &n->lits[i], its, &nits)) < 0) return rc;
        for (int k = 0; k < nits; k++) {
            uint64_t x;
            while ((rc = av_iter_next(its[k], &x)) == 1) bit_set(bits, x, end);
            av_iter_free(its[k]);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

/* Is n a conjunct semi_bits can take, and how many index entries has it
 * (up to cap)? */
static int semi_able(plan *p, const qnode *n, size_t cap, size_t *est)
{
    int rc;
    if (n->k == QN_OR) {
        size_t a, b;
        if ((rc = semi_able(p, n->a, cap, &a)) <= 0) return rc;
        if ((rc = semi_able(p, n->b, cap, &b)) <= 0) return rc;
        *est = a + b;
        return 1;
    }
    enum ix t;
    if ((rc = ix_of(p, n, &t)) < 0) return rc;
    if (t != IX_TAG && t != IX_NUM && t != IX_EMPTY) return 0;
    if ((rc = estimate(p, n, cap, est)) < 0) return rc;
    return 1;
}

/* The rows of the chain of unit row, as load_chain walks it. */
static int chain_rows(plan *p, uint64_t row, uint64_t *out, av_kind *kinds, int *n)
{
    av_kind k = AV_KIND_NONE;
    uint64_t ref0 = 0;
    int rc = av_row_info(p->r, row, AV_GET_ANY, &k, &ref0);
    if (rc < 0) return rc;
    out[0] = row;
    kinds[0] = k;
    *n = 1;
    while (*n < 8) {
        if (k != AV_RESPONSE && k != AV_RATING && k != AV_PREFERENCE && k != AV_TAG) break;
        uint64_t up = ref0;
        if (!up || up >= out[*n - 1]) break;
        if ((rc = av_row_info(p->r, up, AV_GET_ANY, &k, &ref0)) < 0) return rc;
        if (!rc) break;
        out[*n] = up;
        kinds[(*n)++] = k;
        if (kinds[*n - 2] == AV_RESPONSE || kinds[*n - 2] == AV_PREFERENCE) break;
    }
    return 0;
}

/* 1 if unit row passes every semi conjunct (p->sem[i] set), 0 if not. */
static int semi_pass(plan *p, const chosen *c, uint64_t row)
{
    (void)c;
    uint64_t ch[8];
    av_kind kinds[8];
    int nch;
    int rc = chain_rows(p, row, ch, kinds, &nch);
    if (rc < 0) return rc;
    uint64_t full = full_mask(p), m = 0;
    for (int j = 0; j < nch && m != full; j++) {
        if (kinds[j] == AV_SOURCE || kinds[j] == AV_RUN) continue;
        tags_mask(p, ch[j], &m);
    }
    return m == full;
}

/* The records the visible tags in sem are on, as a bitmap. */
static int semi_targets(plan *p, const uint8_t *sem, uint8_t *tgt)
{
    uint64_t end = p->sem_end;
    for (uint64_t w = 0; w < end / 8 + 1; w++) {
        if (!sem[w]) continue;
        for (unsigned b = 0; b < 8; b++) {
            if (!(sem[w] >> b & 1)) continue;
            uint64_t x = w * 8 + b, target = 0;
            int rc = av_row_info(p->r, x, 0, NULL, &target);
            if (rc < 0) return rc;
            if (rc && target) bit_set(tgt, target, end);
        }
    }
    return 0;
}

/* Builds the bitmaps of the conjuncts worth it (not much larger than the
 * driver's estimate). */
static int semi_build(plan *p, const chosen *c)
{
    if (c->driver < 0 || c->ncj < 2) return 0;
    p->sem_end = av_reader_row_end(p->r);
    p->sem = av_xcalloc(c->ncj, sizeof *p->sem);
    p->tgt = av_xcalloc(c->ncj, sizeof *p->tgt);
    p->sem_len = c->ncj;
    size_t cap = c->estimate * 16 + 4096;
    int rc = 0;
    for (size_t i = 0; i < c->ncj && i < 64; i++) {
        if ((ssize_t)i == c->driver) continue;
        size_t est = 0;
        if ((rc = semi_able(p, c->cj[i], cap, &est)) < 0) return rc;
        if (!rc || est >= cap) continue;
        p->sem[i] = av_xcalloc(p->sem_end / 8 + 1, 1);
        if ((rc = semi_bits(p, c->cj[i], p->sem[i], p->sem_end)) != 0) {
            free(p->sem[i]);
            p->sem[i] = NULL;
            if (rc < 0) return rc;
            continue;
        }
        p->tgt[i] = av_xcalloc(p->sem_end / 8 + 1, 1);
        if ((rc = semi_targets(p, p->sem[i], p->tgt[i])) < 0) return rc;
        p->nsem++;
    }
    return 0;
}

/* Keeps the driver's rows that pass the semi conjuncts (c->rows filtered in
 * place; c->semi marks those conjuncts as checked). */
static int cmp_part(const void *a, const void *b)
{
    uint64_t x = ((const part *)a)->row, y = ((const part *)b)->row;
    return x < y ? -1 : x > y;
}

static const part *part_find(const plan *p, uint64_t row)
{
    size_t lo = 0, hi = p->npart;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->part[mid].row < row) lo = mid + 1;
        else hi = mid;
    }
    return lo < p->npart && p->part[lo].row == row ? &p->part[lo] : NULL;
}

static int semi_filter(plan *p, chosen *c)
{
    if (c->driver < 0 || !p->nsem) return 0;
    rs_sort(&p->sure);
    if (p->npart) qsort(p->part, p->npart, sizeof *p->part, cmp_part);
    uint64_t full = full_mask(p);
    size_t w = 0;
    int rc = 0;
    for (size_t k = 0; k < c->rows.n; k++) {
        uint64_t row = c->rows.v[k];
        const part *pt;
        if (in_sorted(&p->sure, row)) {
            rc = 1;
        } else if ((pt = part_find(p, row))) {
            uint64_t m = pt->mask;
            if ((rc = tags_mask(p, row, &m)) < 0) return rc;
            rc = m == full;
        } else if ((rc = semi_pass(p, c, row)) < 0) {
            return rc;
        }
        if (rc) c->rows.v[w++] = row;
        rc = 0;
    }
    c->rows.n = w;
    c->semi = av_xcalloc(c->ncj, 1);
    for (size_t i = 0; i < c->ncj; i++) c->semi[i] = p->sem[i] != NULL;
    return 0;
}

static int choose(plan *p, chosen *c)
{
    memset(c, 0, sizeof *c);
    c->driver = -1;
    size_t cap = 0;
    conjuncts(p->q->root, &c->cj, &c->ncj, &cap);
    int rc = probe_types(p, p->q->root);
    if (rc < 0) return rc;
    version_range(p, c->cj, c->ncj);
    if (p->q->flags & AV_QUERY_NO_INDEX) return 0;
    size_t best = (size_t)-1;
    for (size_t i = 0; i < c->ncj; i++) {
        enum ix t;
        if ((rc = ix_of(p, c->cj[i], &t)) < 0) return rc;
        if (t == IX_NONE) continue;
        size_t est;
        rc = estimate(p, c->cj[i], best, &est);
        if (rc < 0) return rc;
        if (c->driver < 0 || est < best) {
            best = est;
            c->driver = (ssize_t)i;
        }
    }
    c->estimate = best;
    if (c->driver < 0) return 0;
    p->bulk = best > 1000;
    if (p->want_semi && (rc = semi_build(p, c)) < 0) return rc;
    rc = materialise(p, c->cj[c->driver], &c->rows);
    if (rc < 0) return rc;
    if (p->fallback) {
        free(c->rows.v);
        memset(&c->rows, 0, sizeof c->rows);
        c->driver = -1;
    }
    return 0;
}

/* Checks every conjunct but the driver (and those semi_filter checked) on
 * the evaluator's current row. */
static int check_rest(qeval *e, const chosen *c)
{
    for (size_t i = 0; i < c->ncj; i++) {
        if ((ssize_t)i == c->driver || (c->semi && c->semi[i])) continue;
        int r = q_eval_node(e, c->cj[i]);
        if (r <= 0) return r;
    }
    return 1;
}

/* ---- checking many units that need their texts, on several threads ---
 *
 * Decompressing texts is most of a text search's time, and a reader is one
 * thread's: units are checked in batches, each batch cut into slices, the
 * first checked on this thread, the others on threads of their own, each
 * with its own reader of the same version and its own evaluator. Matches
 * are then passed to fn in row order (so fn sees what a one-thread run
 * would, and an error stops at the same row). Batches start small and
 * grow, so `--limit 10` does not check thousands of units. Off with
 * AVIARY_QUERY_THREADS=1. */

#define PAR_MAX 4

/* Does n test a text (contains, matches, =, len() of instruction or response)? */
static int reads_text(const qnode *n)
{
    if (!n) return 0;
    if (n->k == QN_AND || n->k == QN_OR || n->k == QN_NOT) return reads_text(n->a) || reads_text(n->b);
    enum qf_kind f = n->field.f;
    return f == QF_INSTRUCTION || f == QF_RESPONSE || f == QF_LEN_INSTRUCTION || f == QF_LEN_RESPONSE;
}

typedef struct slice {
    qeval *e;
    const chosen *c;
    const uint64_t *rows;
    size_t n;
    uint8_t *hit;  /* per row: 1 matches */
    size_t done;   /* rows checked before an error (n when none) */
    int rc;        /* the error, or 0 */
    char *err;     /* its message (av_errmsg is per thread) */
} slice;

static void slice_run(slice *sl)
{
    sl->rc = 0;
    sl->done = sl->n;
    for (size_t i = 0; i < sl->n; i++) {
        int rc = q_eval_set(sl->e, sl->rows[i]);
        if (rc >= 0) rc = check_rest(sl->e, sl->c);
        if (rc < 0) {
            sl->rc = rc;
            sl->done = i;
            sl->err = av_xstrdup(av_errmsg());
            return;
        }
        sl->hit[i] = rc > 0;
    }
}

static void *slice_thread(void *arg)
{
    slice_run(arg);
    return NULL;
}

typedef struct par {
    int n;                     /* threads in all (1: none of its own) */
    av_reader *r[PAR_MAX];     /* r[0] is the caller's */
    qeval *e[PAR_MAX];         /* e[0] is the query's */
    uint8_t *hit;
    size_t hit_cap;
} par;

/* Readers and evaluators for the extra threads, when the machine has cores
 * for them and the reader can be opened again (not a writer's own view). */
static void par_init(par *pp, av_query *q, av_reader *r, qeval *e)
{
    memset(pp, 0, sizeof *pp);
    pp->n = 1;
    pp->r[0] = r;
    pp->e[0] = e;
    const char *env = getenv("AVIARY_QUERY_THREADS");
    long want = env && *env ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    if (want > PAR_MAX) want = PAR_MAX;
    for (int i = 1; i < want; i++) {
        av_reader *r2;
        if (av_reader_open(&r2, av_reader_store(r), av_reader_version(r)) < 0) break;
        if (av_reader_row_end(r2) != av_reader_row_end(r)) {
            av_reader_close(r2);
            break;
        }
        qeval *e2;
        if (q_eval_new(&e2, r2, q->unit) < 0) {
            av_reader_close(r2);
            break;
        }
        q_eval_bulk(e2, 1);
        pp->r[pp->n] = r2;
        pp->e[pp->n++] = e2;
    }
}

static void par_release(par *pp)
{
    for (int i = 1; i < pp->n; i++) {
        q_eval_free(pp->e[i]);
        av_reader_close(pp->r[i]);
    }
    free(pp->hit);
}

/* Checks rows[0..n) and passes the matches to fn in order; what fn
 * returns (non-zero stops) or an error. */
static int par_rows(par *pp, av_query *q, const chosen *c, const uint64_t *rows, size_t n,
                    int (*fn)(void *ctx, uint64_t row), void *ctx)
{
    if (n > pp->hit_cap) {
        pp->hit_cap = n;
        pp->hit = av_xrealloc(pp->hit, n);
    }
    int k = n >= 64 ? pp->n : 1;
    slice sl[PAR_MAX];
    pthread_t th[PAR_MAX];
    int started[PAR_MAX] = {0};
    size_t per = (n + (size_t)k - 1) / (size_t)k;
    for (int i = 0; i < k; i++) {
        size_t lo = per * (size_t)i < n ? per * (size_t)i : n, hi = lo + per < n ? lo + per : n;
        sl[i] = (slice){.e = pp->e[i], .c = c, .rows = rows + lo, .n = hi - lo, .hit = pp->hit + lo};
    }
    for (int i = 1; i < k; i++) started[i] = pthread_create(&th[i], NULL, slice_thread, &sl[i]) == 0;
    q->ev_row = 0;
    slice_run(&sl[0]);
    for (int i = 1; i < k; i++) {
        if (started[i]) pthread_join(th[i], NULL);
        else slice_run(&sl[i]);
    }
    int rc = 0;
    for (int i = 0; i < k && !rc; i++) {
        for (size_t j = 0; j < sl[i].done && !rc; j++)
            if (sl[i].hit[j]) rc = fn(ctx, sl[i].rows[j]);
        if (!rc && sl[i].rc < 0) rc = av_error_set(sl[i].rc, "%s", sl[i].err);
    }
    for (int i = 0; i < k; i++) free(sl[i].err);
    return rc;
}

/* ---- text tests answered by a scan of the texts (textscan.c) ---- */

static int scan_threads(void)
{
    const char *env = getenv("AVIARY_QUERY_THREADS");
    long want = env && *env ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    return want < 1 ? 1 : want > PAR_MAX ? PAR_MAX : (int)want;
}

/* Gives each `instruction/response contains "..."` in n its text set. */
static int prescan(qnode *n, av_reader *r)
{
    if (!n) return 0;
    int rc;
    if (n->k == QN_AND || n->k == QN_OR || n->k == QN_NOT) {
        if ((rc = prescan(n->a, r)) < 0) return rc;
        return prescan(n->b, r);
    }
    if (n->k != QN_CONTAINS || n->pre || !n->nlit || n->lits[0].v.t != QV_STR || !n->lits[0].v.len) return 0;
    if (n->field.f != QF_RESPONSE && n->field.f != QF_INSTRUCTION) return 0;
    int cls = n->field.f == QF_RESPONSE ? AV_TEXTS_RESPONSE : AV_TEXTS_OTHER;
    return q_textset_build(&n->pre, r, cls, n->lits[0].v.s, n->lits[0].v.len, scan_threads());
}

static void prescan_free(qnode *n)
{
    if (!n) return;
    prescan_free(n->a);
    prescan_free(n->b);
    q_textset_free(n->pre);
    n->pre = NULL;
}

int av_query_run(av_query *q, av_reader *r, int (*fn)(void *ctx, uint64_t row), void *ctx)
{
    qeval *e;
    int rc = eval_for(q, r, &e);
    if (rc < 0) return rc;
    plan p;
    plan_init(&p, q, r, e);
    chosen c;
    p.want_semi = 1;
    if ((rc = choose(&p, &c)) < 0) goto done;
    if ((rc = semi_filter(&p, &c)) < 0) goto done;
    if (p.row_lo >= p.row_hi) goto done;
    q_eval_bulk(e, c.driver < 0 || c.rows.n > 1000);
    /* many units to check a text of: find the texts that pass first, once */
    const char *nts = getenv("AVIARY_QUERY_NO_TEXTSCAN");
    if (!(q->flags & (AV_QUERY_FEW | AV_QUERY_NO_TEXTSCAN)) && !(nts && *nts && strcmp(nts, "0")) &&
        (c.driver < 0 || c.rows.n >= 4096) && (rc = prescan(q->root, r)) < 0)
        goto done;
    if (c.driver >= 0) {
        /* the driver alone: its rows are the answer (visible units of the
         * kind, exact), nothing to read */
        int alone = 1;
        for (size_t i = 0; i < c.ncj && alone; i++)
            if ((ssize_t)i != c.driver && !(c.semi && c.semi[i])) alone = 0;
        if (!alone && c.rows.n >= 512 && reads_text(q->root)) {
            par pp;
            par_init(&pp, q, r, e);
            if (pp.n > 1) {
                size_t lo = 0, hi = c.rows.n, want = 256;
                while (lo < hi && c.rows.v[lo] < p.row_lo) lo++;
                while (hi > lo && c.rows.v[hi - 1] >= p.row_hi) hi--;
                rc = 0;
                while (lo < hi && rc == 0) {
                    size_t n = hi - lo < want ? hi - lo : want;
                    rc = par_rows(&pp, q, &c, c.rows.v + lo, n, fn, ctx);
                    lo += n;
                    if (want < 8192) want *= 2;
                }
                par_release(&pp);
                goto done;
            }
            par_release(&pp);
        }
        for (size_t i = 0; i < c.rows.n; i++) {
            uint64_t row = c.rows.v[i];
            if (row < p.row_lo || row >= p.row_hi) continue;
            if (alone) {
                if ((rc = fn(ctx, row)) != 0) goto done;
                continue;
            }
            q->ev_row = 0;
            if ((rc = q_eval_set(e, row)) < 0) {
                if (rc == AV_ENOTFOUND) continue;
                goto done;
            }
            q->ev_row = row;
            if ((rc = check_rest(e, &c)) < 0) goto done;
            if (rc && (rc = fn(ctx, row)) != 0) goto done;
        }
        rc = 0;
        goto done;
    }
    /* the scan */
    av_iter *it;
    rc = q->unit == AV_KIND_NONE ? av_iter_all(&it, r) : av_iter_kind(&it, r, q->unit);
    if (rc < 0) goto done;
    if (p.row_lo > 1 && (rc = av_iter_seek(it, p.row_lo)) < 0) {
        av_iter_free(it);
        goto done;
    }
    uint64_t row;
    if (reads_text(q->root)) {
        par pp;
        par_init(&pp, q, r, e);
        if (pp.n > 1) {
            rowset batch = {0};
            size_t want = 256;
            int end = 0;
            rc = 0;
            while (!end && rc == 0) {
                batch.n = 0;
                while (batch.n < want) {
                    int got = av_iter_next(it, &row);
                    if (got < 0) rc = got;
                    if (got <= 0 || row >= p.row_hi) {
                        end = 1;
                        break;
                    }
                    rs_add(&batch, row);
                }
                if (rc == 0 && batch.n) rc = par_rows(&pp, q, &c, batch.v, batch.n, fn, ctx);
                if (want < 8192) want *= 2;
            }
            free(batch.v);
            par_release(&pp);
            av_iter_free(it);
            goto done;
        }
        par_release(&pp);
    }
    while ((rc = av_iter_next(it, &row)) == 1) {
        if (row >= p.row_hi) {
            rc = 0;
            break;
        }
        q->ev_row = 0;
        if ((rc = q_eval_set(e, row)) < 0) break;
        q->ev_row = row;
        if ((rc = check_rest(e, &c)) < 0) break;
        if (rc && (rc = fn(ctx, row)) != 0) break;
        rc = 0;
    }
    av_iter_free(it);
done:
    prescan_free(q->root);
    free(c.cj);
    free(c.rows.v);
    free(c.semi);
    plan_release(&p);
    return rc;
}

int av_query_match(av_query *q, av_reader *r, uint64_t row)
{
    qeval *e;
    int rc = eval_at(q, r, row, &e);
    if (rc == AV_ENOTFOUND) return 0;
    if (rc < 0) return rc;
    if (q->unit != AV_KIND_NONE && q_eval_kind(e) != q->unit) return 0;
    if (!q->root) return 1;
    return q_eval_node(e, q->root);
}

static int collect(void *ctx, uint64_t row)
{
    rs_add(ctx, row);
    return 0;
}

int av_query_rows(av_query *q, av_reader *r, uint64_t **out, size_t *out_n)
{
    rowset s = {0};
    int rc = av_query_run(q, r, collect, &s);
    if (rc < 0) {
        free(s.v);
        *out = NULL;
        *out_n = 0;
        return rc;
    }
    *out = s.v ? s.v : av_xmalloc(1);
    *out_n = s.n;
    return 0;
}

/* ---- explain --------------------------------------------------------- */

static void node_str(av_buf *b, const qnode *n, int top)
{
    static const char *const ops[] = {"=", "!=", "<", "<=", ">", ">="};
    switch (n->k) {
    case QN_AND:
    case QN_OR:
        if (!top) av_buf_putc(b, '(');
        node_str(b, n->a, 0);
        av_buf_puts(b, n->k == QN_AND ? " and " : " or ");
        node_str(b, n->b, 0);
        if (!top) av_buf_putc(b, ')');
        return;
    case QN_NOT:
        av_buf_puts(b, "not ");
        node_str(b, n->a, 0);
        return;
    case QN_EXISTS: av_buf_printf(b, "exists %s", n->field.name); return;
    case QN_CMP: av_buf_printf(b, "%s %s ", n->field.name, ops[n->op]); break;
    case QN_IN: av_buf_printf(b, "%s in ", n->field.name); break;
    case QN_CONTAINS: av_buf_printf(b, "%s contains ", n->field.name); break;
    case QN_MATCHES: av_buf_printf(b, "%s matches ", n->field.name); break;
    }
    if (n->k == QN_IN) av_buf_putc(b, '(');
    for (size_t i = 0; i < n->nlit; i++) {
        if (i) av_buf_puts(b, ", ");
        q_val_json(b, &n->lits[i].v);
    }
    if (n->k == QN_IN) av_buf_putc(b, ')');
}

int av_query_explain(av_query *q, av_reader *r, char **out)
{
    qeval *e;
    int rc = eval_for(q, r, &e);
    if (rc < 0) return rc;
    plan p;
    plan_init(&p, q, r, e);
    chosen c;
    rc = choose(&p, &c);
    av_buf b = AV_BUF_INIT;
    const char *unit = q->unit == AV_KIND_NONE ? "all records" : av_kind_name(q->unit);
    if (rc >= 0) {
        if (c.driver >= 0) {
            av_buf_puts(&b, "index ");
            node_str(&b, c.cj[c.driver], 1);
            av_buf_printf(&b, " -> %zu %s", c.rows.n, unit);
        } else {
            av_buf_printf(&b, "scan %s", unit);
        }
        if (p.row_lo > 1 || p.row_hi < av_reader_row_end(r))
            av_buf_printf(&b, " in rows [%llu, %llu)", (unsigned long long)p.row_lo, (unsigned long long)p.row_hi);
        int first = 1;
        for (size_t i = 0; i < c.ncj; i++) {
            if ((ssize_t)i == c.driver) continue;
            av_buf_puts(&b, first ? "; check " : " and ");
            node_str(&b, c.cj[i], 0);
            first = 0;
        }
    }
    free(c.cj);
    free(c.rows.v);
    plan_release(&p);
    if (rc < 0) {
        av_buf_free(&b);
        return rc;
    }
    *out = av_buf_detach(&b);
    return 0;
}

/* ---- field values ---------------------------------------------------- */

int av_query_field_add(av_query *q, const char *name, char **errmsg)
{
    qfield f;
    int rc = q_field_parse(&f, name, errmsg);
    if (rc < 0) return rc;
    if (q->nfields == q->fields_cap) {
        q->fields_cap = q->fields_cap ? q->fields_cap * 2 : 8;
        q->fields = av_xrealloc(q->fields, q->fields_cap * sizeof *q->fields);
    }
    q->fields[q->nfields] = f;
    return (int)q->nfields++;
}

const char *av_query_field_name(const av_query *q, int field)
{
    return field >= 0 && (size_t)field < q->nfields ? q->fields[field].name : NULL;
}

int av_query_field_numeric(const av_query *q, int field)
{
    return field >= 0 && (size_t)field < q->nfields && q->fields[field].type == QT_NUM;
}

typedef struct field_cb {
    int (*fn)(void *ctx, const av_qvalue *v);
    void *ctx;
} field_cb;

static int field_value(void *ctx, const qval *v)
{
    field_cb *c = ctx;
    av_qvalue o = {(av_qtype)v->t, v->num, v->s, v->len};
    return c->fn(c->ctx, &o);
}

int av_query_field_each(av_query *q, av_reader *r, uint64_t row, int field,
                        int (*fn)(void *ctx, const av_qvalue *v), void *ctx)
{
    if (field < 0 || (size_t)field >= q->nfields) return av_error_set(AV_EINVAL, "no output field %d", field);
    qeval *e;
    int rc = eval_at(q, r, row, &e);
    if (rc < 0) return rc;
    field_cb c = {fn, ctx};
    return q_eval_values(e, &q->fields[field], field_value, &c);
}

int av_query_tags_each(av_query *q, av_reader *r, uint64_t row,
                       int (*fn)(void *ctx, const char *key, const char *json, size_t len), void *ctx)
{
    qeval *e;
    int rc = eval_at(q, r, row, &e);
    if (rc < 0) return rc;
    return q_eval_tags(e, fn, ctx);
}
