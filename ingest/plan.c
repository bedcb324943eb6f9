/* plan.c: row plans and their templates (see plan.h). Cost per row: one
 * walk of the parsed row; each string leaf is compared with the row's
 * message texts (a handful) by length first. Memory: arrays and a block
 * arena reused from row to row. */
#include "ingest/plan.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pl_block {
    struct pl_block *next;
    size_t used, cap;
    char data[];
};

#define GROW(arr, n, cap)                                        \
    do {                                                         \
        if ((n) == (cap)) {                                      \
            (cap) = (cap) ? (cap) * 2 : 16;                      \
            (arr) = av_xrealloc((arr), (cap) * sizeof *(arr));   \
        }                                                        \
    } while (0)

void av_plan_init(av_plan *p)
{
    memset(p, 0, sizeof *p);
    p->main = -1;
}

void av_plan_free(av_plan *p)
{
    if (!p) return;
    free(p->rec);
    free(p->msg);
    free(p->attr);
    free(p->sub);
    free(p->refs);
    free(p->tag);
    av_buf_free(&p->tpl);
    av_buf_free(&p->lits);
    av_buf_free(&p->scratch);
    while (p->arena) {
        struct pl_block *n = p->arena->next;
        free(p->arena);
        p->arena = n;
    }
    memset(p, 0, sizeof *p);
}

void av_plan_reset(av_plan *p, const char *format)
{
    p->format = format;
    p->nrec = p->nmsg = p->nattr = p->nsub = p->nrefs = p->ntag = 0;
    p->main = -1;
    p->err[0] = 0;
    av_buf_reset(&p->tpl);
    av_buf_reset(&p->lits);
    p->nlits = 0;
    /* keep the first (largest kept) block, free the rest */
    if (p->arena) {
        struct pl_block *b = p->arena->next;
        while (b) {
            struct pl_block *n = b->next;
            free(b);
            b = n;
        }
        p->arena->next = NULL;
        p->arena->used = 0;
    }
}

char *pl_alloc(av_plan *p, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (!p->arena || p->arena->cap - p->arena->used < n) {
        size_t cap = n > 8192 ? n : 8192;
        struct pl_block *b = av_xmalloc(sizeof *b + cap);
        b->cap = cap;
        b->used = 0;
        /* new blocks go behind the head so the head stays the one kept */
        if (p->arena && p->arena->cap - p->arena->used >= 4096) {
            b->next = p->arena->next;
            p->arena->next = b;
        } else {
            b->next = p->arena;
            p->arena = b;
        }
        b->used = n;
        return b->data;
    }
    char *r = p->arena->data + p->arena->used;
    p->arena->used += n;
    return r;
}

const char *pl_strdup(av_plan *p, const char *s, size_t n)
{
    char *r = pl_alloc(p, n + 1);
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

int pl_add(av_plan *p, av_kind kind)
{
    GROW(p->rec, p->nrec, p->rcap);
    pl_rec *r = &p->rec[p->nrec];
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->ref[0] = r->ref[1] = r->ref[2] = -1;
    r->num = NAN;
    r->slot = -1;
    r->msg0 = (uint32_t)p->nmsg;
    r->attr0 = (uint32_t)p->nattr;
    return (int)p->nrec++;
}

void pl_set_ref(av_plan *p, int rec, int slot, int target)
{
    p->rec[rec].ref[slot] = target;
}

void pl_set_model(av_plan *p, int rec, const char *name, size_t n)
{
    p->rec[rec].model = name;
    p->rec[rec].model_n = n;
}

void pl_set_name(av_plan *p, int rec, const char *name)
{
    p->rec[rec].name = name;
}

/* Messages and attributes of a record must be added while it is the last
 * record to get them: they are contiguous ranges. */
void pl_add_msg(av_plan *p, int rec, const char *role, const char *s, size_t n)
{
    pl_rec *r = &p->rec[rec];
    if (r->nmsg == 0) r->msg0 = (uint32_t)p->nmsg;
    GROW(p->msg, p->nmsg, p->mcap);
    p->msg[p->nmsg++] = (pl_msg){role, s, n};
    r->nmsg++;
}

void pl_add_attr_json(av_plan *p, int rec, const char *key, const char *json)
{
    pl_rec *r = &p->rec[rec];
    if (r->nattr == 0) r->attr0 = (uint32_t)p->nattr;
    GROW(p->attr, p->nattr, p->acap);
    p->attr[p->nattr++] = (pl_attr){key, json, strlen(json)};
    r->nattr++;
}

void pl_add_attr_node(av_plan *p, int rec, const char *key, const jnode *v)
{
    av_buf_reset(&p->scratch);
    json_write(&p->scratch, v);
    pl_add_attr_json(p, rec, key, pl_strdup(p, p->scratch.ptr, p->scratch.len));
}

static void add_sub(av_plan *p, const jnode *node, int rec, char what, char style)
{
    GROW(p->sub, p->nsub, p->scap);
    p->sub[p->nsub++] = (pl_sub){node, rec, what, style};
}

/* An integral |num| < 2^53, as digits ("%.0f" without printf's cost). */
static void put_integral(av_buf *b, double num)
{
    char tmp[24];
    int n = 0;
    uint64_t u = (uint64_t)fabs(num);
    do tmp[n++] = (char)('0' + u % 10);
    while ((u /= 10) > 0);
    if (num < 0) av_buf_putc(b, '-');
    while (n) av_buf_putc(b, tmp[--n]);
}

int pl_render_num(av_buf *b, double num, char style)
{
    switch (style) {
    case 'f':
        if (!isfinite(num)) return -1;
        av_buf_json_num(b, num);
        return 0;
    case 'i':
        if (!isfinite(num) || num != floor(num) || fabs(num) > 9007199254740992.0) return -1;
        put_integral(b, num);
        return 0;
    case 's':
        if (isnan(num)) {
            av_buf_puts(b, "\"N/A\"");
            return 0;
        }
        if (!isfinite(num)) return -1;
        av_buf_putc(b, '"');
        if (num == floor(num) && fabs(num) < 1e15) put_integral(b, num);
        else av_buf_json_num(b, num);
        av_buf_putc(b, '"');
        return 0;
    case 'b':
        if (num == 1) av_buf_puts(b, "true");
        else if (num == 0) av_buf_puts(b, "false");
        else return -1;
        return 0;
    }
    return -1;
}

void pl_set_num(av_plan *p, int rec, double num, const jnode *node, char style)
{
    p->rec[rec].num = num;
    if (!node) return;
    av_buf_reset(&p->scratch);
    if (pl_render_num(&p->scratch, num, style)) return;
    size_t mark = p->scratch.len;
    json_write(&p->scratch, node);
    if (p->scratch.len - mark == mark && !memcmp(p->scratch.ptr, p->scratch.ptr + mark, mark))
        add_sub(p, node, rec, 'N', style);
}

void pl_render_hh(av_buf *b, const pl_msg *msg, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        av_buf_puts(b, strcmp(msg[i].role, "assistant") ? "\n\nHuman: " : "\n\nAssistant: ");
        av_buf_put(b, msg[i].s, msg[i].n);
    }
    av_buf_puts(b, "\n\nAssistant: ");
}

void pl_sub_hh(av_plan *p, int rec, const jnode *node)
{
    if (!node || node->type != J_STR) return;
    av_buf_reset(&p->scratch);
    pl_render_hh(&p->scratch, p->msg + p->rec[rec].msg0, p->rec[rec].nmsg);
    if (p->scratch.len == node->n && !memcmp(p->scratch.ptr, node->s, node->n)) add_sub(p, node, rec, 'H', 0);
}

int pl_fail(av_plan *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
    return -1;
}

/* The template number of plan record i, assigning one if needed. */
static int slot_of(av_plan *p, int i)
{
    pl_rec *r = &p->rec[i];
    if (r->slot < 0) {
        GROW(p->refs, p->nrefs, p->refcap);
        p->refs[p->nrefs] = i;
        r->slot = 4 + (int)p->nrefs++;
    }
    return r->slot;
}

static int order_cmp_slot(const av_plan *p, int a, int b)
{
    int sa = p->rec[a].slot, sb = p->rec[b].slot;
    if (sa < 0) sa = 1 << 20;
    if (sb < 0) sb = 1 << 20;
    return sa - sb;
}

/* Finds a message with exactly these bytes, preferring records that already
 * have a template number. */
static int find_text(av_plan *p, const char *s, size_t n, int *out_rec, uint32_t *out_msg)
{
    int best = -1;
    uint32_t best_m = 0;
    for (size_t i = 0; i < p->nrec; i++) {
        pl_rec *r = &p->rec[i];
        for (uint32_t m = 0; m < r->nmsg; m++) {
            const pl_msg *g = &p->msg[r->msg0 + m];
            if (g->n != n || memcmp(g->s, s, n)) continue;
            if (best < 0 || order_cmp_slot(p, (int)i, best) < 0) {
                best = (int)i;
                best_m = m;
            }
            break;
        }
    }
    if (best < 0) return 0;
    *out_rec = best;
    *out_msg = best_m;
    return 1;
}

static void put_uint(av_buf *b, unsigned v)
{
    char tmp[12];
    int n = 0;
    do tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    while (n) av_buf_putc(b, tmp[--n]);
}

/* "\u0000" what slot [.msg | style] */
static void put_placeholder(av_buf *b, char what, int slot, int msg, char style)
{
    av_buf_put(b, "\"\\u0000", 7);
    av_buf_putc(b, what);
    put_uint(b, (unsigned)slot);
    if (msg >= 0) {
        av_buf_putc(b, '.');
        put_uint(b, (unsigned)msg);
    }
    if (style) av_buf_putc(b, style);
    av_buf_putc(b, '"');
}

/* A string or number no record holds: out to "_lits", so that rows that
 * differ only in such values share a template. */
static void put_literal(av_plan *p, av_buf *b, const jnode *v)
{
    av_buf_putc(&p->lits, p->nlits ? ',' : '[');
    json_write(&p->lits, v);
    put_placeholder(b, 'L', (int)p->nlits++, -1, 0);
}

/* Writes v into b with substitutions and literals taken out; returns the
 * number of substitutions made. */
static int walk(av_plan *p, av_buf *b, const jnode *v)
{
    for (size_t i = 0; i < p->nsub; i++) {
        if (p->sub[i].node != v) continue;
        int k = slot_of(p, p->sub[i].rec);
        put_placeholder(b, p->sub[i].what, k, -1, p->sub[i].what == 'N' ? p->sub[i].style : 0);
        return 1;
    }
    switch (v->type) {
    case J_STR: {
        int rec;
        uint32_t m;
        if (v->n > 0 && find_text(p, v->s, v->n, &rec, &m)) {
            put_placeholder(b, 'T', slot_of(p, rec), (int)m, 0);
            return 1;
        }
        put_literal(p, b, v);
        return 0;
    }
    case J_NUM: put_literal(p, b, v); return 0;
    case J_ARR: {
        int subs = 0;
        av_buf_putc(b, '[');
        const jnode *c = v + 1;
        for (uint32_t i = 0; i < v->n; i++) {
            if (i) av_buf_putc(b, ',');
            subs += walk(p, b, c);
            c += c->skip;
        }
        av_buf_putc(b, ']');
        return subs;
    }
    case J_OBJ: {
        int subs = 0;
        av_buf_putc(b, '{');
        const jnode *c = v + 1;
        for (uint32_t i = 0; i < v->n; i++) {
            if (i) av_buf_putc(b, ',');
            json_write(b, c);
            av_buf_putc(b, ':');
            subs += walk(p, b, c + 1);
            c = c + 1 + c[1].skip;
        }
        av_buf_putc(b, '}');
        return subs;
    }
    default: json_write(b, v); return 0;
    }
}

int pl_finish(av_plan *p, const jnode *row)
{
    if (p->main < 0) return pl_fail(p, "nothing to store in this row");
    for (size_t i = 0; i < p->nrec; i++) p->rec[i].slot = -1;
    pl_rec *m = &p->rec[p->main];
    m->slot = 0;
    for (int j = 0; j < 3; j++)
        if (m->ref[j] >= 0 && p->rec[m->ref[j]].slot < 0) p->rec[m->ref[j]].slot = 1 + j;
    av_buf_reset(&p->tpl);
    av_buf_reset(&p->lits);
    p->nlits = 0;
    av_buf_putc(&p->tpl, '{');
    const jnode *c = row + 1;
    for (uint32_t i = 0; i < row->n; i++) {
        const jnode *k = c, *v = c + 1;
        for (const jnode *q = row + 1; q != k; q = q + 1 + q[1].skip)
            if (q->n == k->n && !memcmp(q->s, k->s, k->n))
                return pl_fail(p, "duplicate key '%.*s'", (int)(k->n > 60 ? 60 : k->n), k->s);
        if (i) av_buf_putc(&p->tpl, ',');
        json_write(&p->tpl, k);
        av_buf_putc(&p->tpl, ':');
        size_t mark = p->tpl.len, lmark = p->lits.len;
        uint32_t nlits = p->nlits;
        /* a key the store cannot hold as an attribute stays in the template */
        if (!walk(p, &p->tpl, v) && k->n + 1 <= PL_KEY_MAX) {
            /* not modelled: the value goes to the row tag; keys starting
             * with '_' get one more, so they never clash with "_fmt" etc. */
            size_t kn = k->n + (k->n == 0 || k->s[0] == '_');
            char *key = pl_alloc(p, kn + 1);
            key[0] = '_';
            memcpy(key + (kn - k->n), k->s, k->n);
            key[kn] = 0;
            GROW(p->tag, p->ntag, p->tcap);
            av_buf_reset(&p->scratch);
            json_write(&p->scratch, v);
            p->tag[p->ntag++] = (pl_attr){key, pl_strdup(p, p->scratch.ptr, p->scratch.len), p->scratch.len};
            p->tpl.len = mark; /* and the literals it took out go back in */
            p->lits.len = lmark;
            p->nlits = nlits;
            av_buf_puts(&p->tpl, "\"\\u0000@\"");
        }
        c = v + v->skip;
    }
    av_buf_putc(&p->tpl, '}');
    if (p->nlits) av_buf_putc(&p->lits, ']');
    return 0;
}

/* ---- filling a template back in ---------------------------------------- */

typedef struct rstate {
    av_buf *out;
    const pl_source *src;
    char *err;
    size_t errcap;
    jdoc lits; /* the row tag's "_lits", parsed on first use */
    int have_lits;
    const jnode *lit; /* the element last written, number lit_i (they come in order) */
    long lit_i;
} rstate;

/* Writes literal i of the row tag's "_lits". */
static int put_lit(rstate *x, long i)
{
    if (!x->have_lits) {
        const char *json;
        size_t n;
        if (x->src->field(x->src->ctx, "_lits", &json, &n)) return -1;
        if (json_parse(&x->lits, json, n, 0) || json_root(&x->lits)->type != J_ARR) return -1;
        x->have_lits = 1;
        x->lit = NULL;
    }
    const jnode *arr = json_root(&x->lits), *v;
    if (x->lit && i == x->lit_i + 1) v = (uint32_t)i < arr->n ? json_next(x->lit) : NULL;
    else v = json_at(arr, (uint32_t)i);
    x->lit = v;
    x->lit_i = i;
    if (!v || (v->type != J_STR && v->type != J_NUM)) return -1;
    json_write(x->out, v);
    return 0;
}

static int rfail(rstate *x, const char *what)
{
    snprintf(x->err, x->errcap, "row template: %s", what);
    return -1;
}

static int rfill(rstate *x, const jnode *v, const jnode *key, int top)
{
    if (v->type == J_STR && v->n >= 2 && v->s[0] == 0) {
        char what = v->s[1];
        if (what == '@') {
            if (!top || !key) return rfail(x, "'@' below the top level");
            size_t kn = key->n + (key->n == 0 || key->s[0] == '_');
            char small[256], *k = kn < sizeof small ? small : av_xmalloc(kn + 1);
            k[0] = '_';
            memcpy(k + (kn - key->n), key->s, key->n);
            k[kn] = 0;
            const char *json;
            size_t n;
            int rc = x->src->field(x->src->ctx, k, &json, &n);
            if (k != small) free(k);
            if (rc) return rfail(x, "a field the row tag lacks");
            av_buf_put(x->out, json, n);
            return 0;
        }
        char tmp[40];
        size_t l = v->n - 2 < sizeof tmp - 1 ? v->n - 2 : sizeof tmp - 1;
        memcpy(tmp, v->s + 2, l);
        tmp[l] = 0;
        char *end;
        long k = strtol(tmp, &end, 10);
        if (end == tmp || k < 0 || k > 100000) return rfail(x, "bad placeholder");
        if (what == 'L') return put_lit(x, k) ? rfail(x, "names a literal the row tag lacks") : 0;
        if (what == 'N') {
            double num;
            if (x->src->num(x->src->ctx, (int)k, &num)) return rfail(x, "names a missing record");
            if (pl_render_num(x->out, num, *end) < 0) return rfail(x, "a number that cannot be rendered");
            return 0;
        }
        const pl_msg *m;
        size_t nm;
        if (x->src->msgs(x->src->ctx, (int)k, &m, &nm)) return rfail(x, "names a missing record");
        if (what == 'T') {
            long i = *end == '.' ? strtol(end + 1, NULL, 10) : -1;
            if (i < 0 || (size_t)i >= nm) return rfail(x, "names a missing message");
            av_buf_json_str(x->out, m[i].s, m[i].n);
            return 0;
        }
        if (what == 'H') {
            av_buf s = AV_BUF_INIT;
            pl_render_hh(&s, m, nm);
            av_buf_json_str(x->out, s.ptr ? s.ptr : "", s.len);
            av_buf_free(&s);
            return 0;
        }
        return rfail(x, "unknown placeholder");
    }
    if (v->type == J_ARR || v->type == J_OBJ) {
        int obj = v->type == J_OBJ;
        av_buf_putc(x->out, obj ? '{' : '[');
        const jnode *c = v + 1;
        for (uint32_t i = 0; i < v->n; i++) {
            if (i) av_buf_putc(x->out, ',');
            const jnode *k = NULL;
            if (obj) {
                k = c;
                json_write(x->out, c);
                av_buf_putc(x->out, ':');
                c++;
            }
            if (rfill(x, c, k, 0)) return -1;
            c = json_next(c);
        }
        av_buf_putc(x->out, obj ? '}' : ']');
        return 0;
    }
    json_write(x->out, v);
    return 0;
}

int pl_render(av_buf *out, const char *tpl, size_t n, const pl_source *src, jdoc *d, char *err, size_t errcap)
{
    rstate x = {out, src, err, errcap, {0}, 0, NULL, -1};
    if (json_parse(d, tpl, n, JSON_ALLOW_NUL) || json_root(d)->type != J_OBJ) return rfail(&x, "not a JSON object");
    json_doc_init(&x.lits);
    /* only the top level's members may be "@" fields */
    const jnode *root = json_root(d), *c = root + 1;
    int rc = 0;
    av_buf_putc(out, '{');
    for (uint32_t i = 0; i < root->n && !rc; i++) {
        if (i) av_buf_putc(out, ',');
        json_write(out, c);
        av_buf_putc(out, ':');
        rc = rfill(&x, c + 1, c, 1);
        c = json_next(c + 1);
    }
    av_buf_putc(out, '}');
    json_doc_free(&x.lits);
    return rc ? -1 : 0;
}

/* template number k -> plan index */
static int plan_index(const av_plan *p, int k)
{
    for (size_t i = 0; i < p->nrec; i++)
        if (p->rec[i].slot == k) return (int)i;
    return -1;
}

static int ps_msgs(void *ctx, int k, const pl_msg **out, size_t *n)
{
    const av_plan *p = ctx;
    int i = plan_index(p, k);
    if (i < 0) return -1;
    *out = p->msg + p->rec[i].msg0;
    *n = p->rec[i].nmsg;
    return 0;
}

static int ps_num(void *ctx, int k, double *out)
{
    const av_plan *p = ctx;
    int i = plan_index(p, k);
    if (i < 0) return -1;
    *out = p->rec[i].num;
    return 0;
}

static int ps_field(void *ctx, const char *key, const char **json, size_t *n)
{
    const av_plan *p = ctx;
    if (!strcmp(key, "_lits")) {
        if (!p->nlits) return -1;
        *json = p->lits.ptr;
        *n = p->lits.len;
        return 0;
    }
    for (size_t i = 0; i < p->ntag; i++)
        if (!strcmp(p->tag[i].key, key)) {
            *json = p->tag[i].json;
            *n = p->tag[i].n;
            return 0;
        }
    return -1;
}

void pl_plan_source(const av_plan *p, pl_source *out)
{
    out->ctx = (void *)p;
    out->msgs = ps_msgs;
    out->num = ps_num;
    out->field = ps_field;
}
