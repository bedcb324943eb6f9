/* cmd_judge.c: `aviary judge rate|pair|score|tag|agreement`: UltraFeedback
 * ratings, RLAIF pairwise preferences with soft labels and position-swap
 * averaging, d-RLAIF scores, Magpie tagger tags, and the agreement of an AI
 * judge with a reference. The arithmetic lives in generate/judge.c; this file
 * selects the units, makes the tasks and writes the records. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "generate/cliopts.h"
#include "generate/constitution.h"
#include "generate/judge.h"
#include "generate/run.h"
#include "ingest/models.h"
#include "query/query.h"

static const char usage[] =
    "usage: aviary judge rate --judge <name> [--aspects <a,b,...> | --rubric <file>] [--where <expr>]\n"
    "                         [--texts <n>] [--max-tokens <n>] [--max-reask <n>] [<judge options>] [<common options>]\n"
    "       aviary judge pair --judge <name> [--principle <text> | --constitution <file>] [--cot]\n"
    "                         [--where <expr>] [<judge options>] [<common options>]\n"
    "       aviary judge score --judge <name> [--where <expr>] [<judge options>] [<common options>]\n"
    "       aviary judge tag --tagger <name> [--tags difficulty,quality,category] [--where <expr>]\n"
    "                         [--max-reask <n>] [<judge options>] [<common options>]\n"
    "       aviary judge agreement --judge <name> --against <source|judge> [--json]\n"
    "\n"
    "aspects: helpfulness, honesty, instruction_following, truthfulness (default: all four)\n"
    "--where selects responses (rate, pair, score) or prompts (tag); see docs/query.md\n"
    "\n"
    "judge options:\n"
    "  --completions           send raw prompts to /v1/completions instead of chat\n"
    "  --top-logprobs <n>      log-probabilities asked per position (default 20)\n"
    "\n" GEN_CLI_COMMON_USAGE;

/* ---- shared ------------------------------------------------------------- */

typedef struct unit {
    uint64_t prompt, resp;
} unit;

static int unit_cmp(const void *a, const void *b)
{
    const unit *x = a, *y = b;
    if (x->prompt != y->prompt) return x->prompt < y->prompt ? -1 : 1;
    return x->resp < y->resp ? -1 : x->resp > y->resp;
}

typedef struct judge_ctx {
    av_reader *rd;
    av_record rec;
    const char *judge;
    gen_server server;
    int completions;
    long top_logprobs, max_reask;
    unit *units;
    size_t nunits;
} judge_ctx;

/* Selects the units: responses (with their prompts, sorted by prompt) or
 * prompts (resp 0). 0 or 1 (error printed). */
static int select_units(judge_ctx *j, const char *where, av_kind kind)
{
    av_query *q = NULL;
    char *qerr = NULL;
    uint64_t *rows = NULL;
    size_t n = 0;
    if (av_query_compile(&q, where, kind, &qerr) < 0) {
        cli_error("%s", qerr ? qerr : "bad --where expression");
        free(qerr);
        return 1;
    }
    int rc = av_query_rows(q, j->rd, &rows, &n);
    av_query_free(q);
    if (rc < 0) return cli_store_error(rc);
    j->units = av_xcalloc(n ? n : 1, sizeof *j->units);
    for (size_t i = 0; i < n; i++) {
        if (kind == AV_PROMPT) {
            j->units[j->nunits++] = (unit){rows[i], 0};
            continue;
        }
        if (av_get(j->rd, rows[i], 0, &j->rec) < 0 || j->rec.kind != AV_RESPONSE || !j->rec.ref[0]) continue;
        j->units[j->nunits++] = (unit){j->rec.ref[0], rows[i]};
    }
    free(rows);
    qsort(j->units, j->nunits, sizeof *j->units, unit_cmp);
    return 0;
}

/* The prompt's conversation as a judge sees it, and its first user turn. */
static int read_prompt(judge_ctx *j, uint64_t row, char **context, char **first_user)
{
    if (av_get(j->rd, row, AV_GET_TEXT, &j->rec) < 0 || j->rec.kind != AV_PROMPT || !j->rec.nmsg) return -1;
    const char *roles[256], *texts[256];
    size_t n = 0;
    for (uint32_t i = 0; i < j->rec.nmsg && n < 256; i++) {
        if (!strcmp(j->rec.msg[i].role, "system")) continue;
        roles[n] = j->rec.msg[i].role;
        texts[n++] = j->rec.msg[i].text.ptr;
    }
    if (!n) return -1;
    if (context) {
        av_buf b = AV_BUF_INIT;
        gen_context(&b, roles, texts, n);
        *context = av_buf_detach(&b);
    }
    if (first_user) *first_user = av_xstrdup(texts[0]);
    return 0;
}

static char *read_response(judge_ctx *j, uint64_t row)
{
    if (av_get(j->rd, row, AV_GET_TEXT, &j->rec) < 0 || j->rec.kind != AV_RESPONSE || !j->rec.nmsg) return NULL;
    const av_msg *m = av_record_msg(&j->rec, "assistant");
    if (!m) m = &j->rec.msg[0];
    return av_xstrndup(m->text.ptr, m->text.len);
}

/* One judge request: chat [system, user], or a raw prompt with --completions. */
static void ask(gen_run *run, void *task, judge_ctx *j, const char *system, const char *user, double temperature,
                double top_p, int max_tokens, int logprobs, const char *salt)
{
    gen_params p = {temperature, top_p, max_tokens, 0, 0, NULL, 0, logprobs ? (int)j->top_logprobs : 0, 0};
    av_buf body = AV_BUF_INIT;
    if (j->completions) {
        av_buf prompt = AV_BUF_INIT;
        if (system) {
            av_buf_puts(&prompt, system);
            av_buf_puts(&prompt, "\n\n");
        }
        av_buf_puts(&prompt, user);
        gen_api api;
        gen_body_raw(&body, &api, j->server, j->judge, prompt.ptr, prompt.len, &p);
        av_buf_free(&prompt);
        gen_run_request(run, task, api, &body, salt);
    } else {
        gen_turn t[2];
        size_t n = 0;
        if (system) t[n++] = (gen_turn){"system", system, strlen(system)};
        t[n++] = (gen_turn){"user", user, strlen(user)};
        gen_body_chat(&body, j->judge, t, n, &p);
        gen_run_request(run, task, GEN_API_CHAT, &body, salt);
    }
    av_buf_free(&body);
}

/* Attribute values are malloc'd JSON texts; free_attrs frees them. */
static void put_num_attr(av_attr *a, const char *key, double v)
{
    av_buf b = AV_BUF_INIT;
    av_buf_json_num(&b, v);
    a->key = key;
    a->json.len = b.len;
    a->json.ptr = av_buf_detach(&b);
}

static void put_str_attr(av_attr *a, const char *key, const char *v)
{
    av_buf b = AV_BUF_INIT;
    av_buf_json_str(&b, v, strlen(v));
    a->key = key;
    a->json.len = b.len;
    a->json.ptr = av_buf_detach(&b);
}

static void free_attrs(av_attr *a, size_t n)
{
    for (size_t i = 0; i < n; i++) free((char *)a[i].json.ptr);
}

/* ---- rate --------------------------------------------------------------- */

typedef struct group {
    size_t first, n; /* units[first .. first+n) share a prompt */
} group;

typedef struct rate_ctx {
    judge_ctx *j;
    gen_aspect *aspects;
    size_t naspects;
    group *groups;
    size_t ngroups;
    long max_tokens;
} rate_ctx;

typedef struct rate_task {
    rate_ctx *c;
    size_t group, aspect;
    long asked;
    char *system, *user;
} rate_task;

static void *rate_make(void *ctx, uint64_t index)
{
    rate_ctx *c = ctx;
    rate_task *t = av_xcalloc(1, sizeof *t);
    t->c = c;
    t->group = (size_t)(index / c->naspects);
    t->aspect = (size_t)(index % c->naspects);
    return t;
}

static void rate_release(void *task)
{
    rate_task *t = task;
    free(t->system);
    free(t->user);
    free(t);
}

static void rate_ask(gen_run *run, rate_task *t)
{
    char salt[32];
    snprintf(salt, sizeof salt, "reask:%ld", t->asked);
    ask(run, t, t->c->j, t->system, t->user, 0.0, 0.6, (int)t->c->max_tokens, 0, t->asked ? salt : NULL);
    t->asked++;
}

static int rate_step(gen_run *run, void *task, const gen_reply *reply)
{
    rate_task *t = task;
    rate_ctx *c = t->c;
    judge_ctx *j = c->j;
    group *g = &c->groups[t->group];
    gen_aspect *a = &c->aspects[t->aspect];
    if (!reply) {
        char *instruction = NULL;
        if (read_prompt(j, j->units[g->first].prompt, &instruction, NULL) < 0) {
            gen_run_task_error(run, "prompt row %llu cannot be read", (unsigned long long)j->units[g->first].prompt);
            return GEN_STEP_FAIL;
        }
        char *texts[4] = {0};
        for (size_t i = 0; i < g->n; i++) {
            texts[i] = read_response(j, j->units[g->first + i].resp);
            if (!texts[i]) texts[i] = av_xstrdup("");
        }
        av_buf s = AV_BUF_INIT, u = AV_BUF_INIT;
        gen_uf_system(&s, g->n);
        gen_uf_user(&u, a, instruction, (const char *const *)texts, g->n);
        t->system = av_buf_detach(&s);
        t->user = av_buf_detach(&u);
        for (size_t i = 0; i < g->n; i++) free(texts[i]);
        free(instruction);
        rate_ask(run, t);
        return GEN_STEP_WAIT;
    }
    gen_uf_rating r[4];
    if (gen_uf_parse(r, reply->text, g->n) < 0) {
        if (t->asked <= j->max_reask) {
            rate_ask(run, t);
            return GEN_STEP_WAIT;
        }
        gen_run_task_error(run, "%s rating of prompt row %llu: no parsable answer after %ld tries", a->name,
                           (unsigned long long)j->units[g->first].prompt, t->asked);
        return GEN_STEP_FAIL;
    }
    uint64_t model = gen_run_model(run, j->judge);
    int st = model ? GEN_STEP_DONE : GEN_STEP_FAIL;
    for (size_t i = 0; i < g->n && st == GEN_STEP_DONE; i++) {
        av_msg msgs[2];
        uint32_t nm = 0;
        msgs[nm++] = (av_msg){"rationale", {r[i].rationale, strlen(r[i].rationale), {{0}}, 0}};
        if (r[i].type_rationale)
            msgs[nm++] = (av_msg){"type_rationale", {r[i].type_rationale, strlen(r[i].type_rationale), {{0}}, 0}};
        av_attr at[1];
        uint32_t na = 0;
        if (r[i].type) put_str_attr(&at[na++], "type", r[i].type);
        av_record rec;
        av_record_init(&rec);
        rec.kind = AV_RATING;
        rec.ref[0] = j->units[g->first + i].resp;
        rec.model = model;
        rec.name = a->name;
        rec.num = r[i].rating;
        rec.msg = msgs;
        rec.nmsg = nm;
        rec.attr = at;
        rec.nattr = na;
        if (gen_run_put(run, &rec) < 0) st = GEN_STEP_FAIL;
        free_attrs(at, na);
    }
    for (size_t i = 0; i < g->n; i++) gen_uf_rating_release(&r[i]);
    return st;
}

/* ---- pair --------------------------------------------------------------- */

typedef struct pair_item {
    uint64_t prompt, a, b;
} pair_item;

typedef struct pair_ctx {
    judge_ctx *j;
    const char *principle;
    gen_constitution cons;
    int cot;
    pair_item *pairs;
    size_t npairs;
} pair_ctx;

typedef struct pair_task {
    pair_ctx *c;
    pair_item it;
    const char *principle;
    char *context, *ra, *rb;
    int order;  /* 0: A first, 1: B first */
    int phase;  /* 0: rationale (cot only), 1: answer */
    char *rationale[2];
    double p[2];
    int logprob[2];
} pair_task;

static void *pair_make(void *ctx, uint64_t index)
{
    pair_ctx *c = ctx;
    pair_task *t = av_xcalloc(1, sizeof *t);
    t->c = c;
    t->it = c->pairs[index];
    return t;
}

static void pair_release(void *task)
{
    pair_task *t = task;
    free(t->context);
    free(t->ra);
    free(t->rb);
    free(t->rationale[0]);
    free(t->rationale[1]);
    free(t);
}

static void pair_ask(gen_run *run, pair_task *t)
{
    const char *first = t->order ? t->rb : t->ra, *second = t->order ? t->ra : t->rb;
    av_buf u = AV_BUF_INIT;
    int end = t->phase == 0 ? GEN_PAIR_RATIONALE : GEN_PAIR_ANSWER;
    gen_pair_prompt(&u, t->principle, t->context, first, second, end, t->phase ? t->rationale[t->order] : NULL);
    if (t->phase == 0) ask(run, t, t->c->j, NULL, u.ptr, 0.0, NAN, 512, 0, NULL);
    else ask(run, t, t->c->j, NULL, u.ptr, 0.0, NAN, t->principle ? 8 : 4, 1, NULL);
    av_buf_free(&u);
}

static int pair_write(gen_run *run, pair_task *t)
{
    judge_ctx *j = t->c->j;
    int agree = 0;
    double p = gen_swap_average(t->p[0], t->p[1], &agree);
    uint64_t model = gen_run_model(run, j->judge);
    if (!model) return GEN_STEP_FAIL;
    av_attr at[4];
    uint32_t na = 0;
    put_num_attr(&at[na++], "p_a_first", t->p[0]);
    put_num_attr(&at[na++], "p_a_second", 1.0 - t->p[1]);
    at[na].key = "orders_agree";
    at[na].json.ptr = av_xstrdup(agree ? "true" : "false");
    at[na].json.len = strlen(at[na].json.ptr);
    na++;
    if (t->principle) put_str_attr(&at[na++], "principle", t->principle);
    av_msg msgs[2];
    uint32_t nm = 0;
    for (int o = 0; o < 2; o++)
        if (t->rationale[o]) msgs[nm++] = (av_msg){o ? "rationale_swapped" : "rationale", {t->rationale[o], strlen(t->rationale[o]), {{0}}, 0}};
    av_record rec;
    av_record_init(&rec);
    rec.kind = AV_PREFERENCE;
    rec.ref[0] = t->it.prompt;
    rec.ref[1] = t->it.a;
    rec.ref[2] = t->it.b;
    rec.model = model;
    rec.name = t->logprob[0] && t->logprob[1] ? "logprob" : "text";
    rec.num = p;
    rec.attr = at;
    rec.nattr = na;
    rec.msg = msgs;
    rec.nmsg = nm;
    int rc = gen_run_put(run, &rec);
    free_attrs(at, na);
    return rc < 0 ? GEN_STEP_FAIL : GEN_STEP_DONE;
}

static int pair_step(gen_run *run, void *task, const gen_reply *reply)
{
    pair_task *t = task;
    pair_ctx *c = t->c;
    judge_ctx *j = c->j;
    if (!reply) {
        t->ra = read_response(j, t->it.a);
        t->rb = read_response(j, t->it.b);
        if (!t->ra || !t->rb || read_prompt(j, t->it.prompt, &t->context, NULL) < 0) {
            gen_run_task_error(run, "pair of rows %llu, %llu cannot be read", (unsigned long long)t->it.a,
                               (unsigned long long)t->it.b);
            return GEN_STEP_FAIL;
        }
        t->principle = c->principle;
        if (c->cons.n) {
            uint64_t key[2] = {t->it.a, t->it.b};
            t->principle = c->cons.p[gen_constitution_pick(&c->cons, key, sizeof key, 0)].principle;
        }
        t->phase = c->cot ? 0 : 1;
        pair_ask(run, t);
        return GEN_STEP_WAIT;
    }
    if (t->phase == 0) {
        const char *r = reply->text;
        size_t n = reply->len;
        while (n && (*r == ' ' || *r == '\n')) r++, n--;
        while (n && (r[n - 1] == ' ' || r[n - 1] == '\n')) n--;
        t->rationale[t->order] = av_xstrndup(r, n);
        t->phase = 1;
        pair_ask(run, t);
        return GEN_STEP_WAIT;
    }
    const char *l0 = t->principle ? "A" : "1", *l1 = t->principle ? "B" : "2";
    double p;
    if (gen_soft_label(&p, reply, l0, l1) == 0) {
        t->logprob[t->order] = 1;
    } else {
        int lab = gen_text_label(reply->text, l0, l1);
        if (lab < 0) {
            gen_run_task_error(run, "pair %llu/%llu: the judge answered neither %s nor %s", (unsigned long long)t->it.a,
                               (unsigned long long)t->it.b, l0, l1);
            return GEN_STEP_FAIL;
        }
        p = lab == 0 ? 1.0 : 0.0;
    }
    t->p[t->order] = p;
    if (t->order == 0) {
        t->order = 1;
        t->phase = c->cot ? 0 : 1;
        pair_ask(run, t);
        return GEN_STEP_WAIT;
    }
    return pair_write(run, t);
}

/* ---- score -------------------------------------------------------------- */

typedef struct score_task {
    judge_ctx *j;
    unit u;
} score_task;

static void *score_make(void *ctx, uint64_t index)
{
    judge_ctx *j = ctx;
    score_task *t = av_xcalloc(1, sizeof *t);
    t->j = j;
    t->u = j->units[index];
    return t;
}

static void plain_release(void *task) { free(task); }

static int score_step(gen_run *run, void *task, const gen_reply *reply)
{
    score_task *t = task;
    judge_ctx *j = t->j;
    if (!reply) {
        char *context = NULL, *resp = read_response(j, t->u.resp);
        if (!resp || read_prompt(j, t->u.prompt, &context, NULL) < 0) {
            free(resp);
            gen_run_task_error(run, "response row %llu cannot be read", (unsigned long long)t->u.resp);
            return GEN_STEP_FAIL;
        }
        av_buf u = AV_BUF_INIT;
        gen_score_prompt(&u, context, resp);
        ask(run, t, j, NULL, u.ptr, 0.0, NAN, 3, 1, NULL);
        av_buf_free(&u);
        free(context);
        free(resp);
        return GEN_STEP_WAIT;
    }
    double s, mapped;
    const char *method = "logprob";
    if (gen_score_expect(&s, &mapped, reply) < 0) {
        method = "text";
        if (gen_score_text(&s, &mapped, reply->text) < 0) {
            gen_run_task_error(run, "response row %llu: no score 1-10 in the answer", (unsigned long long)t->u.resp);
            return GEN_STEP_FAIL;
        }
    }
    uint64_t model = gen_run_model(run, j->judge);
    if (!model) return GEN_STEP_FAIL;
    av_attr at[2];
    put_num_attr(&at[0], "expected_score", s);
    put_str_attr(&at[1], "method", method);
    av_record rec;
    av_record_init(&rec);
    rec.kind = AV_RATING;
    rec.ref[0] = t->u.resp;
    rec.model = model;
    rec.name = "d-rlaif";
    rec.num = mapped;
    rec.attr = at;
    rec.nattr = 2;
    int rc = gen_run_put(run, &rec);
    free_attrs(at, 2);
    return rc < 0 ? GEN_STEP_FAIL : GEN_STEP_DONE;
}

/* ---- tag ---------------------------------------------------------------- */

typedef struct tag_ctx {
    judge_ctx *j;
    int kinds[GEN_TAG_NKINDS];
    size_t nkinds;
} tag_ctx;

typedef struct tag_task {
    tag_ctx *c;
    uint64_t prompt;
    int kind;
    long asked;
    char *user;
} tag_task;

static void *tag_make(void *ctx, uint64_t index)
{
    tag_ctx *c = ctx;
    tag_task *t = av_xcalloc(1, sizeof *t);
    t->c = c;
    t->prompt = c->j->units[index / c->nkinds].prompt;
    t->kind = c->kinds[index % c->nkinds];
    return t;
}

static void tag_release(void *task)
{
    tag_task *t = task;
    free(t->user);
    free(t);
}

static void tag_ask(gen_run *run, tag_task *t)
{
    char salt[32];
    snprintf(salt, sizeof salt, "reask:%ld", t->asked);
    ask(run, t, t->c->j, NULL, t->user, 0.0, NAN, 512, 0, t->asked ? salt : NULL);
    t->asked++;
}

static int tag_step(gen_run *run, void *task, const gen_reply *reply)
{
    tag_task *t = task;
    judge_ctx *j = t->c->j;
    if (!reply) {
        char *query = NULL;
        if (read_prompt(j, t->prompt, NULL, &query) < 0) {
            gen_run_task_error(run, "prompt row %llu cannot be read", (unsigned long long)t->prompt);
            return GEN_STEP_FAIL;
        }
        av_buf u = AV_BUF_INIT;
        gen_tag_prompt(&u, t->kind, query);
        t->user = av_buf_detach(&u);
        free(query);
        tag_ask(run, t);
        return GEN_STEP_WAIT;
    }
    av_buf obj = AV_BUF_INIT;
    if (gen_tag_parse(&obj, t->kind, reply->text) < 0) {
        av_buf_free(&obj);
        if (t->asked <= j->max_reask) {
            tag_ask(run, t);
            return GEN_STEP_WAIT;
        }
        gen_run_task_error(run, "%s tag of prompt row %llu: no usable JSON after %ld tries", gen_tag_kind_name(t->kind),
                           (unsigned long long)t->prompt, t->asked);
        return GEN_STEP_FAIL;
    }
    uint64_t model = gen_run_model(run, j->judge);
    av_attr at[4];
    uint32_t na = 0;
    if (gen_json_object_attrs(obj.ptr, at, 4, &na) < 0) na = 0;
    av_buf_free(&obj);
    if (!model || !na) {
        for (uint32_t i = 0; i < na; i++) {
            free((char *)at[i].key);
            free((char *)at[i].json.ptr);
        }
        return GEN_STEP_FAIL;
    }
    av_record rec;
    av_record_init(&rec);
    rec.kind = AV_TAG;
    rec.ref[0] = t->prompt;
    rec.model = model;
    rec.attr = at;
    rec.nattr = na;
    int rc = gen_run_put(run, &rec);
    for (uint32_t i = 0; i < na; i++) {
        free((char *)at[i].key);
        free((char *)at[i].json.ptr);
    }
    return rc < 0 ? GEN_STEP_FAIL : GEN_STEP_DONE;
}

/* ---- agreement ---------------------------------------------------------- */

typedef struct verdict {
    uint64_t prompt, lo, hi;
    double p_lo; /* P(the lower row is better) */
    int consistent; /* -1 unknown, 0/1 */
} verdict;

static int verdict_cmp(const void *a, const void *b)
{
    const verdict *x = a, *y = b;
    if (x->prompt != y->prompt) return x->prompt < y->prompt ? -1 : 1;
    if (x->lo != y->lo) return x->lo < y->lo ? -1 : 1;
    return x->hi < y->hi ? -1 : x->hi > y->hi;
}

/* Preferences from an iterator into a growing array. */
static int collect(av_reader *rd, av_iter *it, verdict **v, size_t *n, size_t *cap)
{
    av_record rec;
    av_record_init(&rec);
    uint64_t row;
    int rc;
    while ((rc = av_iter_next(it, &row)) == 1) {
        if (av_get(rd, row, 0, &rec) < 0 || rec.kind != AV_PREFERENCE || isnan(rec.num)) continue;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 256;
            *v = av_xrealloc(*v, *cap * sizeof **v);
        }
        verdict *x = &(*v)[(*n)++];
        x->prompt = rec.ref[0];
        x->lo = rec.ref[1] < rec.ref[2] ? rec.ref[1] : rec.ref[2];
        x->hi = rec.ref[1] < rec.ref[2] ? rec.ref[2] : rec.ref[1];
        x->p_lo = rec.ref[1] == x->lo ? rec.num : 1.0 - rec.num;
        const av_attr *a = av_record_attr(&rec, "orders_agree");
        x->consistent = !a || !a->json.ptr ? -1 : (a->json.len == 4 && !memcmp(a->json.ptr, "true", 4));
    }
    av_record_free(&rec);
    return rc < 0 ? rc : 0;
}

/* Iterator over the preferences made by a model, or linked to a source. */
static int prefs_of(av_reader *rd, const char *name, verdict **v, size_t *n, const char **what)
{
    uint64_t row;
    int rc = av_find_model(rd, name, &row);
    if (rc < 0) return cli_error("no judge or source named '%s' in the store", name);
    av_record rec;
    av_record_init(&rec);
    rc = av_get(rd, row, 0, &rec);
    av_kind kind = rec.kind;
    av_record_free(&rec);
    if (rc < 0) return cli_store_error(rc);
    av_iter *it = NULL;
    if (kind == AV_SOURCE) {
        *what = "source";
        rc = av_iter_source(&it, rd, row);
    } else {
        *what = "judge";
        rc = av_iter_model(&it, rd, row);
    }
    if (rc < 0) return cli_store_error(rc);
    size_t cap = 0;
    rc = collect(rd, it, v, n, &cap);
    av_iter_free(it);
    return rc < 0 ? cli_store_error(rc) : 0;
}

static int cmd_agreement(int argc, char **argv, av_cli *ctx)
{
    const char *judge = NULL, *against = NULL, *at = NULL;
    int json = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = gen_cli_opt(argc, argv, &i, "--judge", &bad))) judge = v;
        else if ((v = gen_cli_opt(argc, argv, &i, "--against", &bad))) against = v;
        else if ((v = gen_cli_opt(argc, argv, &i, "--at", &bad))) at = v;
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (bad) return 2;
        else return cli_usage_error(usage, "unknown option '%s'", argv[i]);
    }
    if (!judge || !against) return cli_usage_error(usage, "judge agreement needs --judge and --against");
    av_reader *rd = NULL;
    if (cli_reader_open(ctx, at, &rd)) return 1;
    verdict *ai = NULL, *ref = NULL;
    size_t nai = 0, nref = 0;
    const char *ai_what, *ref_what;
    int rc = prefs_of(rd, judge, &ai, &nai, &ai_what);
    if (!rc) rc = prefs_of(rd, against, &ref, &nref, &ref_what);
    if (rc) goto done;
    qsort(ref, nref, sizeof *ref, verdict_cmp);
    uint64_t compared = 0, agreed = 0, with_orders = 0, consistent = 0;
    double conf = 0;
    for (size_t i = 0; i < nai; i++) {
        verdict *x = &ai[i];
        verdict *r = nref ? bsearch(x, ref, nref, sizeof *ref, verdict_cmp) : NULL;
        if (!r || x->p_lo == 0.5 || r->p_lo == 0.5) continue;
        compared++;
        agreed += (x->p_lo > 0.5) == (r->p_lo > 0.5);
        conf += x->p_lo > 0.5 ? x->p_lo : 1.0 - x->p_lo;
        if (x->consistent >= 0) {
            with_orders++;
            consistent += (uint64_t)x->consistent;
        }
    }
    double share = compared ? (double)agreed / (double)compared : NAN;
    double pc = with_orders ? (double)consistent / (double)with_orders : NAN;
    double mc = compared ? conf / (double)compared : NAN;
    if (json) {
        av_buf b = AV_BUF_INIT;
        av_buf_puts(&b, "{\"judge\":");
        av_buf_json_str(&b, judge, strlen(judge));
        av_buf_puts(&b, ",\"against\":");
        av_buf_json_str(&b, against, strlen(against));
        av_buf_printf(&b, ",\"pairs\":%llu,\"agreed\":%llu,\"agreement\":", (unsigned long long)compared,
                      (unsigned long long)agreed);
        av_buf_json_num(&b, share);
        av_buf_printf(&b, ",\"position_consistency\":");
        av_buf_json_num(&b, pc);
        av_buf_printf(&b, ",\"mean_confidence\":");
        av_buf_json_num(&b, mc);
        av_buf_puts(&b, "}\n");
        fputs(b.ptr, stdout);
        av_buf_free(&b);
    } else {
        printf("judge                 %s (%zu verdicts)\n", judge, nai);
        printf("reference             %s (%s, %zu verdicts)\n", against, ref_what, nref);
        printf("pairs both decided    %llu\n", (unsigned long long)compared);
        if (compared) printf("agreement             %.3f (%llu of %llu)\n", share, (unsigned long long)agreed, (unsigned long long)compared);
        else printf("agreement             - (no pair decided by both)\n");
        if (with_orders) printf("position consistency  %.3f (%llu of %llu)\n", pc, (unsigned long long)consistent, (unsigned long long)with_orders);
        else printf("position consistency  - (no verdict asked in both orders)\n");
        if (compared) printf("mean confidence       %.3f\n", mc);
    }
    (void)ai_what; /* the AI side is always a judge */
done:
    free(ai);
    free(ref);
    av_reader_close(rd);
    return rc;
}

/* ---- the subcommands' flags --------------------------------------------- */

static int split_list(char *s, const char **out, int cap)
{
    int n = 0;
    for (char *p = s; p && *p && n < cap;) {
        char *c = strchr(p, ',');
        if (c) *c = 0;
        if (*p) out[n++] = p;
        p = c ? c + 1 : NULL;
    }
    return n;
}

int cmd_judge(int argc, char **argv, av_cli *ctx)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    if (cli_wants_help(argc, argv, usage)) return 0;
    const char *method = argv[1];
    if (!strcmp(method, "agreement")) return cmd_agreement(argc - 1, argv + 1, ctx);
    int is_rate = !strcmp(method, "rate"), is_pair = !strcmp(method, "pair"), is_score = !strcmp(method, "score"),
        is_tag = !strcmp(method, "tag");
    if (!is_rate && !is_pair && !is_score && !is_tag)
        return cli_usage_error(usage, "unknown judge method '%s' (use rate, pair, score, tag or agreement)", method);
    argc--, argv++;
    gen_cli g;
    gen_cli_init(&g);
    judge_ctx j;
    memset(&j, 0, sizeof j);
    av_record_init(&j.rec);
    j.top_logprobs = 20;
    j.max_reask = 10;
    const char *where = NULL, *aspects_s = NULL, *rubric = NULL, *principle = NULL, *constitution = NULL,
               *tags_s = "difficulty,quality,category";
    long texts = 4;
    int cot = 0, rc = 2, bad = 0;
    char *aspects_copy = NULL, *tags_copy = NULL;
    rate_ctx rc_ctx = {0};
    rc_ctx.max_tokens = 500; /* UltraFeedback's setting */
    pair_ctx pc = {0};
    tag_ctx tc = {0};
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = gen_cli_flag(&g, argc, argv, &i);
        if (r < 0) goto done;
        if (r) continue;
        if ((v = gen_cli_opt(argc, argv, &i, is_tag ? "--tagger" : "--judge", &bad))) {
            j.judge = v;
            gen_cli_ident(&g, is_tag ? "--tagger" : "--judge", v);
        } else if ((v = gen_cli_opt(argc, argv, &i, "--where", &bad))) {
            where = v;
            gen_cli_ident(&g, "--where", v);
        } else if ((v = gen_cli_opt(argc, argv, &i, "--top-logprobs", &bad))) {
            if (gen_cli_long(&j.top_logprobs, "--top-logprobs", v, 1, 20) < 0) goto done;
            gen_cli_ident(&g, "--top-logprobs", v);
        } else if ((v = gen_cli_opt(argc, argv, &i, "--max-reask", &bad)) && (is_rate || is_tag)) {
            if (gen_cli_long(&j.max_reask, "--max-reask", v, 0, 100) < 0) goto done;
        } else if (!strcmp(argv[i], "--completions")) {
            j.completions = 1;
            gen_cli_ident(&g, argv[i], NULL);
        } else if (is_rate && (v = gen_cli_opt(argc, argv, &i, "--aspects", &bad))) {
            aspects_s = v;
            gen_cli_ident(&g, "--aspects", v);
        } else if (is_rate && (v = gen_cli_opt(argc, argv, &i, "--rubric", &bad))) {
            rubric = v;
            gen_cli_ident(&g, "--rubric", v);
        } else if (is_rate && (v = gen_cli_opt(argc, argv, &i, "--max-tokens", &bad))) {
            if (gen_cli_long(&rc_ctx.max_tokens, "--max-tokens", v, 1, 1000000) < 0) goto done;
            gen_cli_ident(&g, "--max-tokens", v);
        } else if (is_rate && (v = gen_cli_opt(argc, argv, &i, "--texts", &bad))) {
            if (gen_cli_long(&texts, "--texts", v, 1, 4) < 0) goto done;
            gen_cli_ident(&g, "--texts", v);
        } else if (is_pair && (v = gen_cli_opt(argc, argv, &i, "--principle", &bad))) {
            principle = v;
            gen_cli_ident(&g, "--principle", v);
        } else if (is_pair && (v = gen_cli_opt(argc, argv, &i, "--constitution", &bad))) {
            constitution = v;
            gen_cli_ident(&g, "--constitution", v);
        } else if (is_pair && !strcmp(argv[i], "--cot")) {
            cot = 1;
            gen_cli_ident(&g, argv[i], NULL);
        } else if (is_tag && (v = gen_cli_opt(argc, argv, &i, "--tags", &bad))) {
            tags_s = v;
            gen_cli_ident(&g, "--tags", v);
        } else if (bad) {
            goto done;
        } else {
            rc = cli_usage_error(usage, "unknown option '%s' for judge %s", argv[i], method);
            goto done;
        }
    }
    if (!j.judge) {
        rc = cli_usage_error(usage, "judge %s needs %s <name>", method, is_tag ? "--tagger" : "--judge");
        goto done;
    }
    if (aspects_s && rubric) {
        rc = cli_usage_error(usage, "give --aspects or --rubric, not both");
        goto done;
    }
    if (principle && constitution) {
        rc = cli_usage_error(usage, "give --principle or --constitution, not both");
        goto done;
    }
    rc = 1;
    char err[600];
    if (is_rate) {
        const char *names[8];
        int n = 0;
        if (rubric) {
            rc_ctx.aspects = av_xcalloc(1, sizeof *rc_ctx.aspects);
            if (gen_aspect_file(&rc_ctx.aspects[0], rubric) < 0) {
                cli_error("cannot read rubric '%s': %s", rubric, errno == EIO ? "not a readable file" : strerror(errno));
                goto done;
            }
            rc_ctx.naspects = 1;
            if (!*rc_ctx.aspects[0].rubric) {
                cli_error("rubric '%s' is empty: it should say what to rate and how (see docs/generate.md)", rubric);
                goto done;
            }
        } else {
            aspects_copy = av_xstrdup(aspects_s ? aspects_s : "helpfulness,honesty,instruction_following,truthfulness");
            n = split_list(aspects_copy, names, 8);
            rc_ctx.aspects = av_xcalloc((size_t)n + 1, sizeof *rc_ctx.aspects);
            for (int k = 0; k < n; k++) {
                if (gen_aspect_builtin(&rc_ctx.aspects[rc_ctx.naspects], names[k]) < 0) {
                    cli_error("unknown aspect '%s' (use helpfulness, honesty, instruction_following, truthfulness, or --rubric <file>)", names[k]);
                    goto done;
                }
                rc_ctx.naspects++;
            }
        }
    }
    if (is_pair && constitution && gen_constitution_load(&pc.cons, constitution, err, sizeof err) < 0) {
        cli_error("%s", err);
        goto done;
    }
    if (is_pair && pc.cons.n) {
        for (size_t k = 0; k < pc.cons.n; k++)
            if (!pc.cons.p[k].principle) {
                cli_error("'%s': every line needs a \"principle\" for judge pair", constitution);
                goto done;
            }
    }
    if (is_tag) {
        const char *names[8];
        tags_copy = av_xstrdup(tags_s);
        int n = split_list(tags_copy, names, 8);
        for (int k = 0; k < n; k++) {
            int kind = gen_tag_kind_parse(names[k]);
            if (kind < 0) {
                cli_error("unknown tag kind '%s' (use difficulty, quality, category)", names[k]);
                goto done;
            }
            tc.kinds[tc.nkinds++] = kind;
            if (tc.nkinds == GEN_TAG_NKINDS) break;
        }
        if (!tc.nkinds) {
            cli_error("--tags names no tag kind");
            goto done;
        }
    }
    if (gen_cli_finish(&g) < 0) goto done;
    j.server = g.server;
    if (cli_reader_open(ctx, NULL, &j.rd)) goto done;
    if (select_units(&j, where, is_tag ? AV_PROMPT : AV_RESPONSE)) goto done;

    char what[32];
    snprintf(what, sizeof what, "judge %s", method);
    gen_task_ops ops = {0};
    if (is_rate) {
        rc_ctx.j = &j;
        rc_ctx.groups = av_xcalloc(j.nunits ? j.nunits : 1, sizeof *rc_ctx.groups);
        for (size_t i = 0; i < j.nunits;) {
            size_t e = i;
            while (e < j.nunits && j.units[e].prompt == j.units[i].prompt && e - i < (size_t)texts) e++;
            rc_ctx.groups[rc_ctx.ngroups++] = (group){i, e - i};
            i = e;
        }
        ops = (gen_task_ops){rate_make, rate_step, rate_release, &rc_ctx, (uint64_t)rc_ctx.ngroups * rc_ctx.naspects};
    } else if (is_pair) {
        pc.j = &j;
        pc.principle = principle;
        pc.cot = cot;
        size_t cap = 0;
        for (size_t i = 0; i < j.nunits;) {
            size_t e = i;
            while (e < j.nunits && j.units[e].prompt == j.units[i].prompt) e++;
            for (size_t a = i; a < e; a++)
                for (size_t b = a + 1; b < e; b++) {
                    if (pc.npairs == cap) {
                        cap = cap ? cap * 2 : 64;
                        pc.pairs = av_xrealloc(pc.pairs, cap * sizeof *pc.pairs);
                    }
                    pc.pairs[pc.npairs++] = (pair_item){j.units[a].prompt, j.units[a].resp, j.units[b].resp};
                }
            i = e;
        }
        ops = (gen_task_ops){pair_make, pair_step, pair_release, &pc, pc.npairs};
    } else if (is_score) {
        ops = (gen_task_ops){score_make, score_step, plain_release, &j, j.nunits};
    } else {
        tc.j = &j;
        ops = (gen_task_ops){tag_make, tag_step, tag_release, &tc, (uint64_t)j.nunits * tc.nkinds};
    }
    if (!ops.total && !g.quiet)
        fprintf(stderr, "aviary: nothing to judge: no %s matches\n", is_pair ? "prompt with two or more responses" : is_tag ? "prompt" : "response");
    gen_run_opts o;
    gen_cli_run_opts(&g, &o, ctx->store, ctx->command, what, j.judge);
    o.model_licence = av_model_licence_builtin;
    rc = gen_run_exec(&o, &ops);
done:
    for (size_t k = 0; k < rc_ctx.naspects; k++) gen_aspect_release(&rc_ctx.aspects[k]);
    free(rc_ctx.aspects);
    free(rc_ctx.groups);
    free(pc.pairs);
    gen_constitution_release(&pc.cons);
    free(aspects_copy);
    free(tags_copy);
    free(j.units);
    av_record_free(&j.rec);
    av_reader_close(j.rd);
    gen_cli_release(&g);
    return rc;
}
