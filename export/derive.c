/* derive.c: the dataset formats built from store records rather than
 * rebuilt from a source file: preference (H4 binarized: prompt, prompt_id,
 * chosen, rejected, messages, score_chosen, score_rejected), sft
 * ({"messages"}), sharegpt ({"conversations"}), kto (prompt, completion,
 * label) and stepwise (TRL process reward: prompt, completions, labels).
 *
 * Units are responses. Pair formats group them by prompt (one sort of
 * (prompt, response) pairs: 24 bytes per unit) and score each response from
 * its ratings; texts are read once per prompt group. Everything is in row
 * order or seeded, so the output is deterministic. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"
#include "util/sha256.h"
#include "util/util.h"

/* Rows need the texts' bytes, not their hashes. */
#define GET_TEXT (AV_GET_TEXT | AV_GET_NOHASH)

typedef struct unit_ent {
    uint64_t prompt, resp;
    double score;
} unit_ent;

typedef struct dctx {
    av_reader *r;
    const av_derive_opts *o;
    const char *format;
    av_row_fn fn;
    void *fctx;
    av_buf row;
    av_record prompt_rec, a_rec, b_rec, tmp;
    uint64_t prompt_loaded;
} dctx;

int av_rows_derived_known(const char *format)
{
    static const char *names[] = {"preference", "sft", "sharegpt", "kto", "stepwise"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (format && strcmp(format, names[i]) == 0)
            return 1;
    return 0;
}

static int cmp_unit(const void *a, const void *b)
{
    const unit_ent *x = a, *y = b;
    if (x->prompt != y->prompt)
        return x->prompt < y->prompt ? -1 : 1;
    return x->resp < y->resp ? -1 : x->resp > y->resp;
}

/* ---- scores ---------------------------------------------------------------- */

static int is_summary(const char *name)
{
    return !name || strcmp(name, "overall") == 0 || strcmp(name, "fine-grained") == 0 ||
           strcmp(name, "step") == 0 || strcmp(name, "kto_label") == 0;
}

/* The response's score by o->score (NAN if it has none). */
static int response_score(dctx *d, uint64_t resp, double *out)
{
    const char *how = d->o->score ? d->o->score : "mean-aspects";
    int mean_aspects = strcmp(how, "mean-aspects") == 0;
    av_iter *it = NULL;
    int rc = av_iter_refs(&it, d->r, resp);
    if (rc < 0)
        return rc;
    double sum = 0;
    int n = 0;
    uint64_t row;
    while ((rc = av_iter_next(it, &row)) == 1) {
        if ((rc = av_get(d->r, row, 0, &d->tmp)) < 0)
            break;
        if (d->tmp.kind != AV_RATING || d->tmp.ref[0] != resp || isnan(d->tmp.num))
            continue;
        const char *name = d->tmp.name;
        if (mean_aspects ? is_summary(name) : !(name && strcmp(name, how) == 0))
            continue;
        sum += d->tmp.num;
        n++;
    }
    av_iter_free(it);
    if (rc < 0)
        return rc;
    *out = n ? sum / n : NAN;
    return 0;
}

/* ---- JSON pieces ----------------------------------------------------------- */

static const char *sharegpt_from(const char *role)
{
    if (strcmp(role, "user") == 0)
        return "human";
    if (strcmp(role, "assistant") == 0)
        return "gpt";
    return role;
}

/* Message key order: sft writes {"role", "content"} (OpenAI); the H4
 * preference schema and KTO write {"content", "role"}. */
enum { STYLE_OPENAI = 0, STYLE_SHAREGPT = 1, STYLE_H4 = 2 };

static void put_msg(av_buf *b, int style, const char *role, const char *text, size_t len)
{
    if (style == STYLE_SHAREGPT) {
        av_buf_puts(b, "{\"from\": ");
        av_buf_json_str(b, sharegpt_from(role), strlen(sharegpt_from(role)));
        av_buf_puts(b, ", \"value\": ");
        av_buf_json_str(b, text, len);
    } else if (style == STYLE_H4) {
        av_buf_puts(b, "{\"content\": ");
        av_buf_json_str(b, text, len);
        av_buf_puts(b, ", \"role\": ");
        av_buf_json_str(b, role, strlen(role));
    } else {
        av_buf_puts(b, "{\"role\": ");
        av_buf_json_str(b, role, strlen(role));
        av_buf_puts(b, ", \"content\": ");
        av_buf_json_str(b, text, len);
    }
    av_buf_putc(b, '}');
}

/* The prompt's turns in a message style. */
static void put_turns(av_buf *b, const av_record *p, int style)
{
    int first = 1;
    for (uint32_t i = 0; i < p->nmsg; i++) {
        const av_msg *m = &p->msg[i];
        if (strcmp(m->role, "system") && strcmp(m->role, "user") && strcmp(m->role, "assistant"))
            continue;
        if (!first)
            av_buf_puts(b, ", ");
        first = 0;
        put_msg(b, style, m->role, m->text.ptr ? m->text.ptr : "", m->text.len);
    }
}

static const av_val *response_text(const av_record *r)
{
    const av_msg *m = av_record_msg(r, "assistant");
    if (!m && r->nmsg)
        m = &r->msg[0];
    return m ? &m->text : NULL;
}

static void put_conv(av_buf *b, const av_record *p, const av_record *resp, int style)
{
    av_buf_putc(b, '[');
    put_turns(b, p, style);
    const av_val *t = response_text(resp);
    if (p->nmsg)
        av_buf_puts(b, ", ");
    put_msg(b, style, "assistant", t && t->ptr ? t->ptr : "", t ? t->len : 0);
    av_buf_putc(b, ']');
}

/* The last user turn: the `prompt` string of single-prompt schemas. */
static const av_val *last_user(const av_record *p)
{
    const av_val *v = NULL;
    for (uint32_t i = 0; i < p->nmsg; i++)
        if (strcmp(p->msg[i].role, "user") == 0)
            v = &p->msg[i].text;
    return v;
}

static void put_prompt_str(av_buf *b, const av_record *p)
{
    const av_val *u = last_user(p);
    av_buf_json_str(b, u && u->ptr ? u->ptr : "", u ? u->len : 0);
}

static void put_score(av_buf *b, double s)
{
    if (isnan(s))
        av_buf_puts(b, "null");
    else
        av_buf_json_num(b, s);
}

static int load_prompt(dctx *d, uint64_t prompt)
{
    if (d->prompt_loaded == prompt)
        return 0;
    d->prompt_loaded = 0;
    int rc = av_get(d->r, prompt, GET_TEXT, &d->prompt_rec);
    if (rc < 0)
        return rc;
    d->prompt_loaded = prompt;
    return 0;
}

static int emit(dctx *d, uint64_t unit)
{
    return d->fn(d->fctx, d->row.ptr, d->row.len, unit);
}

/* ---- pair formats ---------------------------------------------------------- */

static int emit_pair(dctx *d, const unit_ent *c, const unit_ent *rj)
{
    int rc;
    if ((rc = load_prompt(d, c->prompt)) < 0 || (rc = av_get(d->r, c->resp, GET_TEXT, &d->a_rec)) < 0 ||
        (rc = av_get(d->r, rj->resp, GET_TEXT, &d->b_rec)) < 0)
        return rc;
    av_buf *b = &d->row;
    av_buf_reset(b);
    if (strcmp(d->format, "kto") == 0) {
        for (int k = 0; k < 2; k++) {
            av_buf_reset(b);
            av_buf_puts(b, "{\"prompt\": [");
            put_turns(b, &d->prompt_rec, STYLE_H4);
            av_buf_puts(b, "], \"completion\": [");
            const av_val *t = response_text(k == 0 ? &d->a_rec : &d->b_rec);
            put_msg(b, STYLE_H4, "assistant", t && t->ptr ? t->ptr : "", t ? t->len : 0);
            av_buf_printf(b, "], \"label\": %s}", k == 0 ? "true" : "false");
            if ((rc = emit(d, k == 0 ? c->resp : rj->resp)) != 0)
                return rc;
        }
        return 0;
    }
    const av_val *u = last_user(&d->prompt_rec);
    char hex[65];
    av_sha256_hex(hex, u && u->ptr ? u->ptr : "", u ? u->len : 0);
    av_buf_puts(b, "{\"prompt\": ");
    put_prompt_str(b, &d->prompt_rec);
    av_buf_printf(b, ", \"prompt_id\": \"%s\", \"chosen\": ", hex);
    put_conv(b, &d->prompt_rec, &d->a_rec, STYLE_H4);
    av_buf_puts(b, ", \"rejected\": ");
    put_conv(b, &d->prompt_rec, &d->b_rec, STYLE_H4);
    av_buf_puts(b, ", \"messages\": ");
    put_conv(b, &d->prompt_rec, &d->a_rec, STYLE_H4);
    av_buf_puts(b, ", \"score_chosen\": ");
    put_score(b, c->score);
    av_buf_puts(b, ", \"score_rejected\": ");
    put_score(b, rj->score);
    av_buf_putc(b, '}');
    return emit(d, c->resp);
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static int ok_pair(dctx *d, double a, double b)
{
    if (a == b)
        return d->o->keep_ties && d->o->min_margin <= 0;
    /* A margin is met up to rounding: 13/3 - 10/3 counts as 1. */
    return a > b && a - b >= d->o->min_margin - 1e-9;
}

/* Pairs of one prompt's scored responses g[0..n). */
static int pairs_from_scores(dctx *d, unit_ent *g, size_t n)
{
    const char *how = d->o->pairs ? d->o->pairs : "best-worst";
    size_t best = n, worst = n;
    for (size_t i = 0; i < n; i++) {
        if (isnan(g[i].score))
            continue;
        if (best == n || g[i].score > g[best].score)
            best = i;
        if (worst == n || g[i].score <= g[worst].score)
            worst = i;
    }
    if (best == n)
        return 0;
    int rc = 0;
    if (strcmp(how, "best-worst") == 0) {
        if (worst != best && ok_pair(d, g[best].score, g[worst].score))
            rc = emit_pair(d, &g[best], &g[worst]);
    } else if (strcmp(how, "best-random") == 0) {
        size_t cand = 0;
        for (size_t i = 0; i < n; i++)
            if (i != best && !isnan(g[i].score) && ok_pair(d, g[best].score, g[i].score))
                cand++;
        if (cand) {
            uint64_t pick = mix64(d->o->seed ^ mix64(g[best].prompt)) % cand;
            for (size_t i = 0; i < n && rc == 0; i++) {
                if (i != best && !isnan(g[i].score) && ok_pair(d, g[best].score, g[i].score)) {
                    if (pick-- == 0) {
                        rc = emit_pair(d, &g[best], &g[i]);
                        break;
                    }
                }
            }
        }
    } else {
        for (size_t i = 0; i < n && rc == 0; i++) {
            for (size_t j = 0; j < n && rc == 0; j++) {
                if (i == j || isnan(g[i].score) || isnan(g[j].score))
                    continue;
                if (g[i].score == g[j].score && j < i)
                    continue; /* a tie once, in row order */
                if (ok_pair(d, g[i].score, g[j].score))
                    rc = emit_pair(d, &g[i], &g[j]);
            }
        }
    }
    return rc;
}

static const unit_ent *find_resp(const unit_ent *g, size_t n, uint64_t resp)
{
    for (size_t i = 0; i < n; i++)
        if (g[i].resp == resp)
            return &g[i];
    return NULL;
}

/* Pairs from the prompt's preference records over selected responses. */
static int pairs_from_prefs(dctx *d, unit_ent *g, size_t n)
{
    av_iter *it = NULL;
    int rc = av_iter_refs(&it, d->r, g[0].prompt), stop = 0;
    if (rc < 0)
        return rc;
    uint64_t row;
    double p_min = d->o->min_p;
    while ((rc = av_iter_next(it, &row)) == 1) {
        if ((rc = av_get(d->r, row, 0, &d->tmp)) < 0)
            break;
        if (d->tmp.kind != AV_PREFERENCE || d->tmp.ref[0] != g[0].prompt || isnan(d->tmp.num))
            continue;
        const unit_ent *a = find_resp(g, n, d->tmp.ref[1]), *b = find_resp(g, n, d->tmp.ref[2]);
        double p = d->tmp.num;
        if (!a || !b || (p == 0.5 && !d->o->keep_ties))
            continue;
        unit_ent ca = *a, cb = *b;
        if (p >= 0.5 && p >= p_min)
            stop = emit_pair(d, &ca, &cb);
        else if (p < 0.5 && 1 - p >= p_min)
            stop = emit_pair(d, &cb, &ca);
        if (stop)
            break;
    }
    av_iter_free(it);
    if (stop)
        return stop;
    return rc < 0 ? rc : 0;
}

/* KTO rows straight from "kto_label" ratings; 1 if the response had one. */
static int kto_direct(dctx *d, const unit_ent *u, int *rc_out)
{
    av_iter *it = NULL;
    int rc = av_iter_refs(&it, d->r, u->resp), found = 0;
    double label = NAN;
    uint64_t row;
    while (rc >= 0 && (rc = av_iter_next(it, &row)) == 1) {
        if ((rc = av_get(d->r, row, 0, &d->tmp)) < 0)
            break;
        if (d->tmp.kind == AV_RATING && d->tmp.ref[0] == u->resp && d->tmp.name && strcmp(d->tmp.name, "kto_label") == 0 &&
            !isnan(d->tmp.num)) {
            label = d->tmp.num;
            found = 1;
        }
    }
    av_iter_free(it);
    *rc_out = rc < 0 ? rc : 0;
    if (rc < 0 || !found)
        return found;
    if ((rc = load_prompt(d, u->prompt)) < 0 || (rc = av_get(d->r, u->resp, GET_TEXT, &d->a_rec)) < 0) {
        *rc_out = rc;
        return 1;
    }
    av_buf *b = &d->row;
    av_buf_reset(b);
    av_buf_puts(b, "{\"prompt\": [");
    put_turns(b, &d->prompt_rec, STYLE_H4);
    av_buf_puts(b, "], \"completion\": [");
    const av_val *t = response_text(&d->a_rec);
    put_msg(b, STYLE_H4, "assistant", t && t->ptr ? t->ptr : "", t ? t->len : 0);
    av_buf_printf(b, "], \"label\": %s}", label >= 0.5 ? "true" : "false");
    *rc_out = emit(d, u->resp);
    return 1;
}

static int grouped(dctx *d, const uint64_t *units, size_t n)
{
    unit_ent *e = av_xmalloc((n ? n : 1) * sizeof *e);
    int rc = 0;
    for (size_t i = 0; i < n && rc >= 0; i++) {
        if ((rc = av_get(d->r, units[i], 0, &d->tmp)) < 0)
            break;
        e[i].resp = units[i];
        e[i].prompt = d->tmp.kind == AV_RESPONSE ? d->tmp.ref[0] : 0;
        e[i].score = NAN;
    }
    if (rc < 0) {
        free(e);
        return rc;
    }
    qsort(e, n, sizeof *e, cmp_unit);
    int kto = strcmp(d->format, "kto") == 0;
    for (size_t i = 0; i < n && rc == 0;) {
        size_t j = i;
        while (j < n && e[j].prompt == e[i].prompt)
            j++;
        if (e[i].prompt == 0) {
            i = j;
            continue;
        }
        /* KTO: responses with their own label go straight out. */
        size_t m = 0;
        unit_ent *g = e + i;
        for (size_t k = i; k < j && rc == 0; k++) {
            int had = kto ? kto_direct(d, &e[k], &rc) : 0;
            if (!had)
                g[m++] = e[k];
        }
        if (rc == 0 && m >= 2) {
            if (d->o->min_p >= 0) {
                rc = pairs_from_prefs(d, g, m);
            } else {
                for (size_t k = 0; k < m && rc == 0; k++)
                    rc = response_score(d, g[k].resp, &g[k].score);
                if (rc == 0)
                    rc = pairs_from_scores(d, g, m);
            }
        }
        i = j;
    }
    free(e);
    return rc;
}

/* ---- one row per response --------------------------------------------------- */

typedef struct step_ent {
    long idx;
    double score;
    char *text;
    size_t len;
} step_ent;

static int cmp_step(const void *a, const void *b)
{
    const step_ent *x = a, *y = b;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int stepwise_row(dctx *d, uint64_t resp, int *emitted)
{
    av_iter *it = NULL;
    int rc = av_iter_refs(&it, d->r, resp);
    if (rc < 0)
        return rc;
    step_ent *s = NULL;
    size_t ns = 0, cap = 0;
    uint64_t row;
    while ((rc = av_iter_next(it, &row)) == 1) {
        if ((rc = av_get(d->r, row, GET_TEXT, &d->tmp)) < 0)
            break;
        const av_attr *a = d->tmp.kind == AV_RATING ? av_record_attr(&d->tmp, "step") : NULL;
        if (!a || d->tmp.ref[0] != resp)
            continue;
        const av_msg *m = av_record_msg(&d->tmp, "step");
        if (ns == cap) {
            cap = cap ? cap * 2 : 16;
            s = av_xrealloc(s, cap * sizeof *s);
        }
        s[ns].idx = a->json.ptr ? strtol(a->json.ptr, NULL, 10) : (long)ns;
        s[ns].score = d->tmp.num;
        s[ns].text = av_xstrndup(m && m->text.ptr ? m->text.ptr : "", m ? m->text.len : 0);
        s[ns].len = m ? m->text.len : 0;
        ns++;
    }
    av_iter_free(it);
    if (rc == 0 && ns) {
        qsort(s, ns, sizeof *s, cmp_step);
        av_buf *b = &d->row;
        av_buf_reset(b);
        av_buf_puts(b, "{\"prompt\": ");
        put_prompt_str(b, &d->prompt_rec);
        av_buf_puts(b, ", \"completions\": [");
        for (size_t i = 0; i < ns; i++) {
            if (i)
                av_buf_puts(b, ", ");
            av_buf_json_str(b, s[i].text, s[i].len);
        }
        av_buf_puts(b, "], \"labels\": [");
        for (size_t i = 0; i < ns; i++)
            av_buf_printf(b, "%s%s", i ? ", " : "", s[i].score > 0 ? "true" : "false");
        av_buf_puts(b, "]}");
        *emitted = 1;
    }
    for (size_t i = 0; i < ns; i++)
        free(s[i].text);
    free(s);
    return rc < 0 ? rc : 0;
}

static int per_response(dctx *d, const uint64_t *units, size_t n)
{
    int sharegpt = strcmp(d->format, "sharegpt") == 0, step = strcmp(d->format, "stepwise") == 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if ((rc = av_get(d->r, units[i], GET_TEXT, &d->a_rec)) < 0)
            break;
        if (d->a_rec.kind != AV_RESPONSE)
            continue;
        if ((rc = load_prompt(d, d->a_rec.ref[0])) < 0)
            break;
        if (step) {
            int emitted = 0;
            if ((rc = stepwise_row(d, units[i], &emitted)) < 0)
                break;
            if (emitted)
                rc = emit(d, units[i]);
            continue;
        }
        av_buf *b = &d->row;
        av_buf_reset(b);
        av_buf_puts(b, sharegpt ? "{\"conversations\": " : "{\"messages\": ");
        put_conv(b, &d->prompt_rec, &d->a_rec, sharegpt ? STYLE_SHAREGPT : STYLE_OPENAI);
        av_buf_putc(b, '}');
        rc = emit(d, units[i]);
    }
    return rc;
}

int av_rows_derived(av_reader *r, const char *format, const av_derive_opts *o, const uint64_t *units, size_t n,
                    av_row_fn fn, void *ctx)
{
    av_derive_opts def = AV_DERIVE_OPTS_INIT;
    if (!av_rows_derived_known(format))
        return av_error_set(AV_EINVAL, "unknown export format '%s'", format ? format : "");
    if (!o)
        o = &def;
    if (o->pairs && strcmp(o->pairs, "best-worst") && strcmp(o->pairs, "best-random") && strcmp(o->pairs, "all-pairs"))
        return av_error_set(AV_EINVAL, "unknown pairing '%s' (best-worst, best-random, all-pairs)", o->pairs);
    if (o->min_p > 1)
        return av_error_set(AV_EINVAL, "--min-p must be between 0 and 1");
    dctx d;
    memset(&d, 0, sizeof d);
    d.r = r;
    d.o = o;
    d.format = format;
    d.fn = fn;
    d.fctx = ctx;
    av_record_init(&d.prompt_rec);
    av_record_init(&d.a_rec);
    av_record_init(&d.b_rec);
    av_record_init(&d.tmp);
    int rc;
    if (strcmp(format, "preference") == 0 || strcmp(format, "kto") == 0)
        rc = grouped(&d, units, n);
    else
        rc = per_response(&d, units, n);
    av_record_free(&d.prompt_rec);
    av_record_free(&d.a_rec);
    av_record_free(&d.b_rec);
    av_record_free(&d.tmp);
    av_buf_free(&d.row);
    return rc;
}
