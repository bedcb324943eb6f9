/* cmd_generate.c: `aviary generate magpie` (instructions from a pre-query
 * template through a raw-completion endpoint, then responses through chat)
 * and `aviary generate responses` (more responses to stored prompts). Both
 * run on generate/run.h: batched commits, request cache, resume. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "generate/cliopts.h"
#include "generate/llm.h"
#include "generate/magpie.h"
#include "generate/run.h"
#include "ingest/models.h"
#include "query/query.h"

static const char usage[] =
    "usage: aviary generate magpie --model <name> --template <template> -n <count> [--turns <t>]\n"
    "                              [--system <text>] [--temperature <x>] [--top-p <x>] [--max-tokens <n>]\n"
    "                              [--seed <n>] [--allow-newlines] [--no-responses]\n"
    "                              [--response-model <name>] [--response-endpoint <url>]\n"
    "                              [--response-temperature <x>] [--response-max-tokens <n>] [<common options>]\n"
    "       aviary generate responses --model <name> [--where <expr>] [-n <k>] [--temperature <x>]\n"
    "                              [--top-p <x>] [--max-tokens <n>] [--seed <n>] [<common options>]\n"
    "\n"
    "templates: llama3 | llama3-system | qwen2 | qwen2.5 | phi3 | gemma2 | mistral | <file.json>\n"
    "\n" GEN_CLI_COMMON_USAGE;

static const char chat_only[] =
    "magpie needs a raw-completion endpoint, and '%s' is a chat endpoint: Magpie sends only the pre-query "
    "template (e.g. '<|start_header_id|>user<|end_header_id|>') as the whole prompt so the model writes the user's "
    "turn itself; a chat API wraps every message in its own template, so the model would answer instead of asking. "
    "Use a server with /v1/completions (vLLM, SGLang, llama.cpp's server) or Ollama (--server ollama)";

/* ---- shared sampling flags ---------------------------------------------- */

typedef struct sampling {
    double temperature, top_p;
    long max_tokens;
    int has_seed;
    long long seed;
} sampling;

/* 1 consumed, 0 not, -1 bad */
static int sampling_flag(gen_cli *g, sampling *s, int argc, char **argv, int *i, int *bad)
{
    const char *v;
    long l;
    if ((v = gen_cli_opt(argc, argv, i, "--temperature", bad))) {
        gen_cli_ident(g, "--temperature", v);
        return gen_cli_double(&s->temperature, "--temperature", v, 0, 10) < 0 ? -1 : 1;
    }
    if ((v = gen_cli_opt(argc, argv, i, "--top-p", bad))) {
        gen_cli_ident(g, "--top-p", v);
        return gen_cli_double(&s->top_p, "--top-p", v, 0, 1) < 0 ? -1 : 1;
    }
    if ((v = gen_cli_opt(argc, argv, i, "--max-tokens", bad))) {
        gen_cli_ident(g, "--max-tokens", v);
        if (gen_cli_long(&l, "--max-tokens", v, 1, 10000000) < 0) return -1;
        s->max_tokens = l;
        return 1;
    }
    if ((v = gen_cli_opt(argc, argv, i, "--seed", bad))) {
        gen_cli_ident(g, "--seed", v);
        if (gen_cli_long(&l, "--seed", v, 0, 0x7fffffffL) < 0) return -1;
        s->seed = l;
        s->has_seed = 1;
        return 1;
    }
    return *bad ? -1 : 0;
}

static void params_json(av_buf *b, const char *prefix, const sampling *s)
{
    av_buf_printf(b, "\"%stemperature\":", prefix);
    av_buf_json_num(b, s->temperature);
    av_buf_printf(b, ",\"%stop_p\":", prefix);
    av_buf_json_num(b, s->top_p);
    av_buf_printf(b, ",\"%smax_tokens\":%ld", prefix, s->max_tokens);
    if (s->has_seed) av_buf_printf(b, ",\"%sseed\":%lld", prefix, s->seed);
}

/* ---- magpie ------------------------------------------------------------- */

typedef struct magpie_ctx {
    gen_template tmpl;
    gen_server server;
    const char *model, *response_model, *system;
    sampling ins, res;
    long turns;
    int allow_newlines, no_responses;
    const char *stops[GEN_TMPL_MAX_STOP + 1];
    size_t nstops;
} magpie_ctx;

typedef struct magpie_task {
    magpie_ctx *m;
    uint64_t index;
    long turn;
    int phase; /* 0: waiting for an instruction, 1: for a response */
    size_t nhist;
    char **hist;
} magpie_task;

static void *magpie_make(void *ctx, uint64_t index)
{
    magpie_ctx *m = ctx;
    magpie_task *t = av_xcalloc(1, sizeof *t);
    t->m = m;
    t->index = index;
    t->hist = av_xcalloc((size_t)m->turns * 2, sizeof *t->hist);
    return t;
}

static void magpie_release(void *task)
{
    magpie_task *t = task;
    for (size_t i = 0; i < t->nhist; i++) free(t->hist[i]);
    free(t->hist);
    free(t);
}

static void magpie_ask_instruction(gen_run *run, magpie_task *t)
{
    magpie_ctx *m = t->m;
    av_buf prompt = AV_BUF_INIT, body = AV_BUF_INIT;
    /* llama.cpp and Ollama add their own BOS; vLLM gets add_special_tokens false */
    int drop_bos = m->server == GEN_SERVER_LLAMACPP || m->server == GEN_SERVER_OLLAMA;
    gen_magpie_prompt(&prompt, &m->tmpl, m->system, (const char *const *)t->hist, t->nhist, drop_bos);
    gen_params p = {m->ins.temperature, m->ins.top_p, (int)m->ins.max_tokens, m->ins.has_seed,
                    m->ins.seed + (int64_t)t->index * m->turns + t->turn, m->stops, m->nstops, 0, 1};
    gen_api api;
    gen_body_raw(&body, &api, m->server, m->model, prompt.ptr, prompt.len, &p);
    char salt[64];
    int sampled = !m->ins.has_seed && m->ins.temperature > 0;
    snprintf(salt, sizeof salt, "sample:%llu:%ld", (unsigned long long)t->index, t->turn);
    gen_run_request(run, t, api, &body, sampled ? salt : NULL);
    av_buf_free(&prompt);
    av_buf_free(&body);
}

static void magpie_ask_response(gen_run *run, magpie_task *t)
{
    magpie_ctx *m = t->m;
    gen_turn turns[2 * 64 + 1];
    size_t n = 0;
    const char *sys = m->system ? m->system : m->tmpl.default_system;
    char *first = NULL;
    if (sys && *sys && m->tmpl.sys_open) turns[n++] = (gen_turn){"system", sys, strlen(sys)};
    for (size_t i = 0; i < t->nhist; i++)
        turns[n++] = (gen_turn){i % 2 ? "assistant" : "user", t->hist[i], strlen(t->hist[i])};
    if (sys && *sys && !m->tmpl.sys_open) {
        /* no system role in this family (Gemma's chat template refuses one): it opens the first user turn */
        av_buf f = AV_BUF_INIT;
        av_buf_printf(&f, "%s\n\n%s", sys, t->hist[0]);
        first = av_buf_detach(&f);
        turns[0].text = first;
        turns[0].len = strlen(first);
    }
    gen_params p = {m->res.temperature, m->res.top_p, (int)m->res.max_tokens, m->res.has_seed,
                    m->res.seed + (int64_t)t->index * m->turns + t->turn, NULL, 0, 0, 0};
    av_buf body = AV_BUF_INIT;
    gen_body_chat(&body, m->response_model, turns, n, &p);
    char salt[64];
    int sampled = !m->res.has_seed && m->res.temperature > 0;
    snprintf(salt, sizeof salt, "sample:%llu:%ld", (unsigned long long)t->index, t->turn);
    gen_run_request2(run, t, GEN_API_CHAT, &body, sampled ? salt : NULL);
    av_buf_free(&body);
    free(first);
}

static int magpie_write(gen_run *run, magpie_task *t)
{
    magpie_ctx *m = t->m;
    uint64_t ins_model = gen_run_model(run, m->model);
    uint64_t res_model = m->no_responses ? 0 : gen_run_model(run, m->response_model);
    if (!ins_model || (!m->no_responses && !res_model)) return GEN_STEP_FAIL;
    av_msg msgs[2 * 64 + 1];
    uint32_t n = 0;
    const char *sys = m->system ? m->system : m->tmpl.default_system;
    if (sys && *sys) msgs[n++] = (av_msg){"system", {sys, strlen(sys), {{0}}, 0}};
    size_t nprompt = m->no_responses ? t->nhist : t->nhist - 1;
    for (size_t i = 0; i < nprompt; i++)
        msgs[n++] = (av_msg){i % 2 ? "assistant" : "user", {t->hist[i], strlen(t->hist[i]), {{0}}, 0}};
    av_record p;
    av_record_init(&p);
    p.kind = AV_PROMPT;
    p.model = ins_model;
    p.msg = msgs;
    p.nmsg = n;
    if (gen_run_put(run, &p) < 0) return GEN_STEP_FAIL;
    if (m->no_responses) return GEN_STEP_DONE;
    av_msg rm = {"assistant", {t->hist[t->nhist - 1], strlen(t->hist[t->nhist - 1]), {{0}}, 0}};
    av_record r;
    av_record_init(&r);
    r.kind = AV_RESPONSE;
    r.ref[0] = p.row;
    r.model = res_model;
    r.msg = &rm;
    r.nmsg = 1;
    if (gen_run_put(run, &r) < 0) return GEN_STEP_FAIL;
    return GEN_STEP_DONE;
}

static int magpie_step(gen_run *run, void *task, const gen_reply *reply)
{
    magpie_task *t = task;
    magpie_ctx *m = t->m;
    if (!reply) {
        magpie_ask_instruction(run, t);
        return GEN_STEP_WAIT;
    }
    char *text = av_xstrndup(reply->text, reply->len);
    if (t->phase == 0) {
        size_t len = gen_magpie_clean(&m->tmpl, text, reply->len);
        if (!len) {
            free(text);
            gen_run_task_error(run, "sample %llu: the model wrote an empty instruction", (unsigned long long)t->index);
            return GEN_STEP_FAIL;
        }
        t->hist[t->nhist++] = text;
        if (m->no_responses) return magpie_write(run, t); /* single turn only (checked) */
        t->phase = 1;
        magpie_ask_response(run, t);
        return GEN_STEP_WAIT;
    }
    t->hist[t->nhist++] = text;
    if (t->turn + 1 < m->turns) {
        t->turn++;
        t->phase = 0;
        magpie_ask_instruction(run, t);
        return GEN_STEP_WAIT;
    }
    return magpie_write(run, t);
}

static int is_chat_only(const gen_cli *g)
{
    char base[1024];
    if (g->server == GEN_SERVER_OPENAI) return 1;
    if (gen_url_base(base, sizeof base, g->endpoint)) return 1;
    return strstr(g->endpoint, "api.openai.com") || strstr(g->endpoint, "api.anthropic.com") ||
           strstr(g->endpoint, "generativelanguage.googleapis.com");
}

static int cmd_magpie(int argc, char **argv, av_cli *ctx)
{
    gen_cli g;
    gen_cli_init(&g);
    magpie_ctx m;
    memset(&m, 0, sizeof m);
    m.ins = (sampling){1.0, 1.0, 2048, 0, 0};
    m.res = (sampling){0.0, 1.0, 4096, 0, 0};
    m.turns = 1;
    const char *template_name = NULL, *response_endpoint = NULL;
    long n = -1;
    int rc = 2, bad = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = gen_cli_flag(&g, argc, argv, &i);
        if (r < 0) goto done;
        if (r) continue;
        if ((r = sampling_flag(&g, &m.ins, argc, argv, &i, &bad)) < 0) goto done;
        if (r) continue;
        if ((v = gen_cli_opt(argc, argv, &i, "--model", &bad))) {
            m.model = v;
            gen_cli_ident(&g, "--model", v);
        } else if ((v = gen_cli_opt(argc, argv, &i, "--template", &bad))) {
            template_name = v;
            gen_cli_ident(&g, "--template", v);
        } else if ((v = gen_cli_opt(argc, argv, &i, "-n", &bad))) {
            if (gen_cli_long(&n, "-n", v, 1, 1000000000L) < 0) goto done;
            gen_cli_ident(&g, "-n", v);
        } else if ((v = gen_cli_opt(argc, argv, &i, "--turns", &bad))) {
            if (gen_cli_long(&m.turns, "--turns", v, 1, 64) < 0) goto done;
            gen_cli_ident(&g, "--turns", v);
        } else if ((v = gen_cli_opt(argc, argv, &i, "--system", &bad))) {
            m.system = v;
            gen_cli_ident(&g, "--system", v);
        } else if ((v = gen_cli_opt(argc, argv, &i, "--response-model", &bad))) {
            m.response_model = v;
            gen_cli_ident(&g, "--response-model", v);
        } else if ((v = gen_cli_opt(argc, argv, &i, "--response-endpoint", &bad))) {
            response_endpoint = v;
            gen_cli_ident(&g, "--response-endpoint", v);
        } else if ((v = gen_cli_opt(argc, argv, &i, "--response-temperature", &bad))) {
            if (gen_cli_double(&m.res.temperature, "--response-temperature", v, 0, 10) < 0) goto done;
            gen_cli_ident(&g, "--response-temperature", v);
        } else if ((v = gen_cli_opt(argc, argv, &i, "--response-max-tokens", &bad))) {
            if (gen_cli_long(&m.res.max_tokens, "--response-max-tokens", v, 1, 10000000) < 0) goto done;
            gen_cli_ident(&g, "--response-max-tokens", v);
        } else if (!strcmp(argv[i], "--allow-newlines")) {
            m.allow_newlines = 1;
            gen_cli_ident(&g, argv[i], NULL);
        } else if (!strcmp(argv[i], "--no-responses")) {
            m.no_responses = 1;
            gen_cli_ident(&g, argv[i], NULL);
        } else if (bad) {
            goto done;
        } else {
            rc = cli_usage_error(usage, "unknown option '%s'", argv[i]);
            goto done;
        }
    }
    if (!m.model) {
        rc = cli_usage_error(usage, "generate magpie needs --model");
        goto done;
    }
    if (!template_name) {
        rc = cli_usage_error(usage, "generate magpie needs --template (%s)", gen_template_names());
        goto done;
    }
    if (n < 0) {
        rc = cli_usage_error(usage, "generate magpie needs -n <count>");
        goto done;
    }
    if (m.no_responses && m.turns > 1) {
        rc = cli_usage_error(usage, "--no-responses needs --turns 1 (a next turn follows a response)");
        goto done;
    }
    rc = 1;
    if (gen_cli_finish(&g) < 0) goto done;
    if (is_chat_only(&g)) {
        cli_error(chat_only, g.endpoint);
        goto done;
    }
    char err[512];
    if (gen_template_load(&m.tmpl, template_name, err, sizeof err) < 0) {
        cli_error("%s", err);
        goto done;
    }
    if (!m.response_model) m.response_model = m.model;
    m.server = g.server;
    for (size_t k = 0; k < m.tmpl.nstop; k++) m.stops[m.nstops++] = m.tmpl.stop[k];
    if (!m.allow_newlines) m.stops[m.nstops++] = "\n";
    av_buf b = AV_BUF_INIT;
    av_buf_json_str(&b, m.tmpl.name, strlen(m.tmpl.name));
    gen_cli_attr(&g, "template", b.ptr);
    av_buf_reset(&b);
    av_buf_putc(&b, '{');
    params_json(&b, "", &m.ins);
    av_buf_putc(&b, ',');
    params_json(&b, "response_", &m.res);
    av_buf_printf(&b, ",\"turns\":%ld,\"n\":%ld}", m.turns, n);
    gen_cli_attr(&g, "params", b.ptr);
    av_buf_reset(&b);
    av_buf_json_str(&b, m.response_model, strlen(m.response_model));
    gen_cli_attr(&g, "response_model", b.ptr);
    av_buf_free(&b);
    gen_run_opts o;
    gen_cli_run_opts(&g, &o, ctx->store, ctx->command, "generate magpie", m.model);
    o.model_licence = av_model_licence_builtin;
    o.second_url = response_endpoint;
    o.hint_404 = "the server has no raw-completion endpoint (or no such model): magpie needs /v1/completions "
                 "(vLLM, SGLang, llama.cpp) or Ollama's /api/generate (--server ollama)";
    gen_task_ops ops = {magpie_make, magpie_step, magpie_release, &m, (uint64_t)n};
    rc = gen_run_exec(&o, &ops);
done:
    gen_template_release(&m.tmpl);
    gen_cli_release(&g);
    return rc;
}

/* ---- responses ---------------------------------------------------------- */

typedef struct resp_ctx {
    av_reader *rd;
    uint64_t *rows;
    size_t nrows;
    long k;
    const char *model;
    sampling s;
    av_record rec;
} resp_ctx;

typedef struct resp_task {
    resp_ctx *c;
    uint64_t prompt_row, index;
} resp_task;

static void *resp_make(void *ctx, uint64_t index)
{
    resp_ctx *c = ctx;
    resp_task *t = av_xcalloc(1, sizeof *t);
    t->c = c;
    t->index = index;
    t->prompt_row = c->rows[index / (uint64_t)c->k];
    return t;
}

static void resp_release(void *task) { free(task); }

static int resp_step(gen_run *run, void *task, const gen_reply *reply)
{
    resp_task *t = task;
    resp_ctx *c = t->c;
    if (!reply) {
        int rc = av_get(c->rd, t->prompt_row, AV_GET_TEXT, &c->rec);
        if (rc < 0 || c->rec.kind != AV_PROMPT || !c->rec.nmsg) {
            gen_run_task_error(run, "row %llu is not a readable prompt", (unsigned long long)t->prompt_row);
            return GEN_STEP_FAIL;
        }
        gen_turn turns[256];
        size_t n = 0;
        for (uint32_t i = 0; i < c->rec.nmsg && n < 256; i++)
            turns[n++] = (gen_turn){c->rec.msg[i].role, c->rec.msg[i].text.ptr, c->rec.msg[i].text.len};
        uint64_t sample = t->index % (uint64_t)c->k;
        gen_params p = {c->s.temperature, c->s.top_p, (int)c->s.max_tokens, c->s.has_seed,
                        c->s.seed + (int64_t)sample, NULL, 0, 0, 0};
        av_buf body = AV_BUF_INIT;
        gen_body_chat(&body, c->model, turns, n, &p);
        char salt[48];
        snprintf(salt, sizeof salt, "sample:%llu", (unsigned long long)sample);
        gen_run_request(run, t, GEN_API_CHAT, &body, c->s.has_seed || c->s.temperature == 0 ? NULL : salt);
        av_buf_free(&body);
        return GEN_STEP_WAIT;
    }
    uint64_t model = gen_run_model(run, c->model);
    if (!model) return GEN_STEP_FAIL;
    av_msg rm = {"assistant", {reply->text, reply->len, {{0}}, 0}};
    av_record r;
    av_record_init(&r);
    r.kind = AV_RESPONSE;
    r.ref[0] = t->prompt_row;
    r.model = model;
    r.msg = &rm;
    r.nmsg = 1;
    return gen_run_put(run, &r) < 0 ? GEN_STEP_FAIL : GEN_STEP_DONE;
}

static int cmd_responses(int argc, char **argv, av_cli *ctx)
{
    gen_cli g;
    gen_cli_init(&g);
    resp_ctx c;
    memset(&c, 0, sizeof c);
    av_record_init(&c.rec);
    c.k = 1;
    c.s = (sampling){1.0, 1.0, 2048, 0, 0};
    const char *where = NULL;
    int rc = 2, bad = 0;
    av_query *q = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = gen_cli_flag(&g, argc, argv, &i);
        if (r < 0) goto done;
        if (r) continue;
        if ((r = sampling_flag(&g, &c.s, argc, argv, &i, &bad)) < 0) goto done;
        if (r) continue;
        if ((v = gen_cli_opt(argc, argv, &i, "--model", &bad))) {
            c.model = v;
            gen_cli_ident(&g, "--model", v);
        } else if ((v = gen_cli_opt(argc, argv, &i, "--where", &bad))) {
            where = v;
            gen_cli_ident(&g, "--where", v);
        } else if ((v = gen_cli_opt(argc, argv, &i, "-n", &bad))) {
            if (gen_cli_long(&c.k, "-n", v, 1, 1000) < 0) goto done;
            gen_cli_ident(&g, "-n", v);
        } else if (bad) {
            goto done;
        } else {
            rc = cli_usage_error(usage, "unknown option '%s'", argv[i]);
            goto done;
        }
    }
    if (!c.model) {
        rc = cli_usage_error(usage, "generate responses needs --model");
        goto done;
    }
    rc = 1;
    if (gen_cli_finish(&g) < 0) goto done;
    char *qerr = NULL;
    if (av_query_compile(&q, where, AV_PROMPT, &qerr) < 0) {
        cli_error("%s", qerr ? qerr : "bad --where expression");
        free(qerr);
        goto done;
    }
    if (cli_reader_open(ctx, NULL, &c.rd)) goto done;
    int qrc = av_query_rows(q, c.rd, &c.rows, &c.nrows);
    if (qrc < 0) {
        cli_store_error(qrc);
        goto done;
    }
    av_buf b = AV_BUF_INIT;
    av_buf_putc(&b, '{');
    params_json(&b, "", &c.s);
    av_buf_printf(&b, ",\"n\":%ld}", c.k);
    gen_cli_attr(&g, "params", b.ptr);
    av_buf_free(&b);
    gen_run_opts o;
    gen_cli_run_opts(&g, &o, ctx->store, ctx->command, "generate responses", c.model);
    o.model_licence = av_model_licence_builtin;
    gen_task_ops ops = {resp_make, resp_step, resp_release, &c, (uint64_t)c.nrows * (uint64_t)c.k};
    if (!c.nrows && !g.quiet) fprintf(stderr, "aviary: no prompt matches; nothing to do\n");
    rc = gen_run_exec(&o, &ops);
done:
    av_query_free(q);
    free(c.rows);
    av_record_free(&c.rec);
    av_reader_close(c.rd);
    gen_cli_release(&g);
    return rc;
}

int cmd_generate(int argc, char **argv, av_cli *ctx)
{
    (void)ctx;
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        if (argc < 2) {
            fputs(usage, stderr);
            return 2;
        }
        fputs(usage, stdout);
        return 0;
    }
    if (cli_wants_help(argc, argv, usage)) return 0;
    if (!strcmp(argv[1], "magpie")) return cmd_magpie(argc - 1, argv + 1, ctx);
    if (!strcmp(argv[1], "responses")) return cmd_responses(argc - 1, argv + 1, ctx);
    return cli_usage_error(usage, "unknown generate method '%s' (use magpie or responses)", argv[1]);
}
