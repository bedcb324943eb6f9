/* cmd_revise.c: `aviary revise`: Constitutional AI's critique and revision.
 * For each selected response, R rounds of (critique request -> critique,
 * revision request -> revision), one principle per round picked from the
 * constitution (deterministically, so a rerun asks the same). The revised
 * response refers to its prompt (ref[0]) and to the original (ref[1]) and
 * keeps each critique as a "critique" message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "generate/cliopts.h"
#include "generate/constitution.h"
#include "generate/run.h"
#include "ingest/models.h"
#include "query/query.h"

static const char usage[] =
    "usage: aviary revise --critic <name> --constitution <file> [--rounds <r>] [--where <expr>]\n"
    "                     [--temperature <x>] [--max-tokens <n>] [<common options>]\n"
    "\n"
    "The constitution is JSON Lines with \"critique\" and \"revision\" requests per line.\n"
    "--where selects responses; see docs/query.md\n"
    "\n" GEN_CLI_COMMON_USAGE;

#define MAX_ROUNDS 4

typedef struct revise_ctx {
    av_reader *rd;
    av_record rec;
    const char *critic;
    gen_constitution cons;
    long rounds;
    double temperature;
    long max_tokens;
    uint64_t *rows;
    size_t nrows;
} revise_ctx;

typedef struct revise_task {
    revise_ctx *c;
    uint64_t resp, prompt;
    av_id cid;
    size_t nturns;
    gen_turn turns[260];
    char *owned[2 * MAX_ROUNDS + 2 + 256];
    size_t nowned;
    long round;
    int phase; /* 0: critique asked, 1: revision asked */
    size_t pick;
    char *critique[MAX_ROUNDS], *revision[MAX_ROUNDS];
} revise_task;

static void *revise_make(void *ctx, uint64_t index)
{
    revise_ctx *c = ctx;
    revise_task *t = av_xcalloc(1, sizeof *t);
    t->c = c;
    t->resp = c->rows[index];
    return t;
}

static void revise_release(void *task)
{
    revise_task *t = task;
    for (size_t i = 0; i < t->nowned; i++) free(t->owned[i]);
    for (int i = 0; i < MAX_ROUNDS; i++) {
        free(t->critique[i]);
        free(t->revision[i]);
    }
    free(t);
}

static char *own(revise_task *t, const char *s, size_t n)
{
    char *d = av_xstrndup(s, n);
    t->owned[t->nowned++] = d;
    return d;
}

static void push(revise_task *t, const char *role, const char *text)
{
    t->turns[t->nturns++] = (gen_turn){role, text, strlen(text)};
}

static void ask(gen_run *run, revise_task *t)
{
    revise_ctx *c = t->c;
    gen_params p = {c->temperature, NAN, (int)c->max_tokens, 0, 0, NULL, 0, 0, 0};
    av_buf body = AV_BUF_INIT;
    gen_body_chat(&body, c->critic, t->turns, t->nturns, &p);
    gen_run_request(run, t, GEN_API_CHAT, &body, NULL);
    av_buf_free(&body);
}

/* Starts round t->round: the current response, then the critique request. */
static void ask_critique(gen_run *run, revise_task *t)
{
    revise_ctx *c = t->c;
    t->pick = gen_constitution_pick(&c->cons, t->cid.b, 16, (unsigned)t->round);
    t->phase = 0;
    push(t, "user", c->cons.p[t->pick].critique);
    ask(run, t);
}

static int revise_step(gen_run *run, void *task, const gen_reply *reply)
{
    revise_task *t = task;
    revise_ctx *c = t->c;
    if (!reply) {
        if (av_get(c->rd, t->resp, AV_GET_TEXT, &c->rec) < 0 || c->rec.kind != AV_RESPONSE || !c->rec.nmsg) {
            gen_run_task_error(run, "row %llu is not a readable response", (unsigned long long)t->resp);
            return GEN_STEP_FAIL;
        }
        t->prompt = c->rec.ref[0];
        t->cid = c->rec.cid;
        char *answer = own(t, c->rec.msg[0].text.ptr, c->rec.msg[0].text.len);
        if (av_get(c->rd, t->prompt, AV_GET_TEXT, &c->rec) < 0 || c->rec.kind != AV_PROMPT) {
            gen_run_task_error(run, "the prompt of response row %llu cannot be read", (unsigned long long)t->resp);
            return GEN_STEP_FAIL;
        }
        for (uint32_t i = 0; i < c->rec.nmsg && t->nturns < 250; i++)
            push(t, own(t, c->rec.msg[i].role, strlen(c->rec.msg[i].role)),
                 own(t, c->rec.msg[i].text.ptr, c->rec.msg[i].text.len));
        push(t, "assistant", answer);
        ask_critique(run, t);
        return GEN_STEP_WAIT;
    }
    char *text = av_xstrndup(reply->text, reply->len);
    if (t->phase == 0) {
        t->critique[t->round] = text;
        push(t, "assistant", text);
        push(t, "user", c->cons.p[t->pick].revision);
        t->phase = 1;
        ask(run, t);
        return GEN_STEP_WAIT;
    }
    t->revision[t->round] = text;
    if (!*text) {
        gen_run_task_error(run, "response row %llu: the revision is empty", (unsigned long long)t->resp);
        return GEN_STEP_FAIL;
    }
    if (t->round + 1 < c->rounds) {
        /* the next round critiques the revision in place of the answer */
        push(t, "assistant", text);
        t->round++;
        ask_critique(run, t);
        return GEN_STEP_WAIT;
    }
    uint64_t model = gen_run_model(run, c->critic);
    if (!model) return GEN_STEP_FAIL;
    av_msg msgs[1 + 2 * MAX_ROUNDS];
    uint32_t n = 0;
    msgs[n++] = (av_msg){"assistant", {text, strlen(text), {{0}}, 0}};
    for (long r = 0; r <= t->round; r++) {
        msgs[n++] = (av_msg){"critique", {t->critique[r], strlen(t->critique[r]), {{0}}, 0}};
        if (r < t->round) msgs[n++] = (av_msg){"revision", {t->revision[r], strlen(t->revision[r]), {{0}}, 0}};
    }
    av_record rec;
    av_record_init(&rec);
    rec.kind = AV_RESPONSE;
    rec.ref[0] = t->prompt;
    rec.ref[1] = t->resp;
    rec.model = model;
    rec.msg = msgs;
    rec.nmsg = n;
    return gen_run_put(run, &rec) < 0 ? GEN_STEP_FAIL : GEN_STEP_DONE;
}

int cmd_revise(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    gen_cli g;
    gen_cli_init(&g);
    revise_ctx c;
    memset(&c, 0, sizeof c);
    av_record_init(&c.rec);
    c.rounds = 1;
    c.temperature = 0;
    c.max_tokens = 1024;
    const char *where = NULL, *constitution = NULL;
    int rc = 2, bad = 0;
    av_query *q = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = gen_cli_flag(&g, argc, argv, &i);
        if (r < 0) goto done;
        if (r) continue;
        if ((v = gen_cli_opt(argc, argv, &i, "--critic", &bad))) {
            c.critic = v;
            gen_cli_ident(&g, "--critic", v);
        } else if ((v = gen_cli_opt(argc, argv, &i, "--constitution", &bad))) {
            constitution = v;
            gen_cli_ident(&g, "--constitution", v);
        } else if ((v = gen_cli_opt(argc, argv, &i, "--rounds", &bad))) {
            if (gen_cli_long(&c.rounds, "--rounds", v, 1, MAX_ROUNDS) < 0) goto done;
            gen_cli_ident(&g, "--rounds", v);
        } else if ((v = gen_cli_opt(argc, argv, &i, "--where", &bad))) {
            where = v;
            gen_cli_ident(&g, "--where", v);
        } else if ((v = gen_cli_opt(argc, argv, &i, "--temperature", &bad))) {
            if (gen_cli_double(&c.temperature, "--temperature", v, 0, 10) < 0) goto done;
            gen_cli_ident(&g, "--temperature", v);
        } else if ((v = gen_cli_opt(argc, argv, &i, "--max-tokens", &bad))) {
            if (gen_cli_long(&c.max_tokens, "--max-tokens", v, 1, 10000000) < 0) goto done;
            gen_cli_ident(&g, "--max-tokens", v);
        } else if (bad) {
            goto done;
        } else {
            rc = cli_usage_error(usage, "unknown option '%s'", argv[i]);
            goto done;
        }
    }
    if (!c.critic || !constitution) {
        rc = cli_usage_error(usage, "revise needs --critic and --constitution");
        goto done;
    }
    rc = 1;
    char err[600];
    if (gen_constitution_load(&c.cons, constitution, err, sizeof err) < 0) {
        cli_error("%s", err);
        goto done;
    }
    for (size_t k = 0; k < c.cons.n; k++)
        if (!c.cons.p[k].critique || !c.cons.p[k].revision) {
            cli_error("'%s': every line needs \"critique\" and \"revision\" requests for revise", constitution);
            goto done;
        }
    if (gen_cli_finish(&g) < 0) goto done;
    char *qerr = NULL;
    if (av_query_compile(&q, where, AV_RESPONSE, &qerr) < 0) {
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
    /* revisions are not revised again (a rerun would otherwise revise its own output) */
    size_t keep = 0;
    for (size_t k = 0; k < c.nrows; k++)
        if (av_get(c.rd, c.rows[k], 0, &c.rec) == 0 && c.rec.kind == AV_RESPONSE && !c.rec.ref[1]) c.rows[keep++] = c.rows[k];
    c.nrows = keep;
    av_buf b = AV_BUF_INIT;
    av_buf_printf(&b, "{\"rounds\":%ld,\"temperature\":", c.rounds);
    av_buf_json_num(&b, c.temperature);
    av_buf_printf(&b, ",\"max_tokens\":%ld}", c.max_tokens);
    gen_cli_attr(&g, "params", b.ptr);
    av_buf_free(&b);
    gen_run_opts o;
    gen_cli_run_opts(&g, &o, ctx->store, ctx->command, "revise", c.critic);
    o.model_licence = av_model_licence_builtin;
    gen_task_ops ops = {revise_make, revise_step, revise_release, &c, c.nrows};
    if (!c.nrows && !g.quiet) fprintf(stderr, "aviary: no response matches; nothing to revise\n");
    rc = gen_run_exec(&o, &ops);
done:
    av_query_free(q);
    free(c.rows);
    gen_constitution_release(&c.cons);
    av_record_free(&c.rec);
    av_reader_close(c.rd);
    gen_cli_release(&g);
    return rc;
}
