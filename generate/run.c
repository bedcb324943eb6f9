/* run.c: the run engine of run.h. One thread: the client's poll loop calls
 * back into the tasks' steps; answers found in the request cache are queued
 * and stepped from the loop, so nothing recurses. Memory is bounded by the
 * window of live tasks (2 x concurrency), not by the number of tasks.
 *
 * Request cache: aux namespace "reqcache", key = av_hash(path NUL body NUL
 * salt), value = the response body as received. Entries are written in the
 * same batch as the records made from them, so after a crash a request is
 * either committed (cached) or asked again, never both lost and paid. */
#include "generate/run.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

#define CACHE_NS "reqcache"
#define STAT_NS "runstat"
#define MAX_KEPT_ERRORS 5

typedef struct pending {
    struct pending *next;
    gen_run *run;
    void *task;
    gen_api api;
    av_id key;
    char *cached; /* a cached body waiting to be stepped */
    size_t cached_len;
} pending;

struct gen_run {
    const gen_run_opts *o;
    const gen_task_ops *ops;
    gen_client *client;
    gen_client *client2; /* the second endpoint, or NULL */
    av_writer *w;
    av_reader *cache_rd;
    uint64_t run_row;
    av_id run_cid;
    gen_run_stats base;  /* counters of earlier invocations */
    gen_run_stats now;   /* this invocation */
    uint64_t live, next, batch_tasks, batches;
    double batch_start, start, last_draw;
    pending *ready, *ready_tail;
    int fatal;
    char fatal_msg[600];
    char errors[MAX_KEPT_ERRORS][300];
    size_t nerrors_kept;
    int store_rc;
    double price_in, price_out;
    uint64_t stats_mark; /* requests + records + errors when the counters were last written */
    int run_new;         /* the run record was added by this invocation */
    av_buf scratch;
    uint64_t finished;    /* tasks ended this invocation (done, failed or nothing to do), for progress */
    uint64_t licensed[8]; /* model rows known to carry a licence tag in this batch */
    size_t nlicensed;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

int gen_run_interrupted(void) { return stop_flag != 0; }

av_writer *gen_run_writer(gen_run *run) { return run->w; }
uint64_t gen_run_row(const gen_run *run) { return run->run_row; }

void gen_run_task_error(gen_run *run, const char *fmt, ...)
{
    run->now.errors++;
    if (run->nerrors_kept >= MAX_KEPT_ERRORS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(run->errors[run->nerrors_kept++], sizeof run->errors[0], fmt, ap);
    va_end(ap);
}

int gen_run_put(gen_run *run, av_record *rec)
{
    rec->run = run->run_row;
    int rc = av_writer_put(run->w, rec);
    if (rc < 0 && !run->store_rc) run->store_rc = rc;
    if (rc == 1) run->now.records++;
    return rc;
}

/* Gives model_row the licence tag ingest gives a new model (the licence of
 * opts->model_licence, "unknown" when not known), unless it has one. The tag
 * carries no run, so it is the same record whichever command made it. */
static int tag_model_licence(gen_run *run, uint64_t model_row, const char *name)
{
    for (size_t i = 0; i < run->nlicensed; i++)
        if (run->licensed[i] == model_row) return 0;
    const char *lic = run->o->model_licence ? run->o->model_licence(name) : NULL;
    av_buf j = AV_BUF_INIT;
    av_buf_json_str(&j, lic ? lic : "unknown", strlen(lic ? lic : "unknown"));
    int rc = av_writer_tag_once(run->w, model_row, "licence", j.ptr);
    av_buf_free(&j);
    if (rc < 0) return rc;
    if (run->nlicensed < sizeof run->licensed / sizeof run->licensed[0]) run->licensed[run->nlicensed++] = model_row;
    return 0;
}

uint64_t gen_run_model(gen_run *run, const char *name)
{
    uint64_t row = 0;
    int rc = av_writer_model(run->w, name, &row);
    if (rc >= 0) rc = tag_model_licence(run, row, name);
    if (rc < 0) {
        if (!run->store_rc) run->store_rc = rc;
        return 0;
    }
    return row;
}

/* ---- counters ----------------------------------------------------------- */

static void stats_json(av_buf *b, const gen_run_stats *s)
{
    av_buf_printf(b,
                  "{\"tasks\":%llu,\"records\":%llu,\"requests\":%llu,\"cached\":%llu,\"errors\":%llu,"
                  "\"prompt_tokens\":%llu,\"completion_tokens\":%llu,\"cost\":",
                  (unsigned long long)s->tasks, (unsigned long long)s->records, (unsigned long long)s->requests,
                  (unsigned long long)s->cached, (unsigned long long)s->errors, (unsigned long long)s->prompt_tokens,
                  (unsigned long long)s->completion_tokens);
    av_buf_json_num(b, s->cost);
    av_buf_puts(b, ",\"price_in\":");
    av_buf_json_num(b, s->price_in);
    av_buf_puts(b, ",\"price_out\":");
    av_buf_json_num(b, s->price_out);
    av_buf_printf(b, ",\"updated\":%lld}", (long long)s->updated);
}

static uint64_t field_u64(const char *j, const char *key)
{
    char pat[40];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(j, pat);
    return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

int gen_run_stats_get(av_reader *r, const av_id *run_cid, gen_run_stats *out)
{
    memset(out, 0, sizeof *out);
    void *v = NULL;
    size_t n = 0;
    int rc = av_aux_get(r, STAT_NS, run_cid->b, 16, &v, &n);
    if (rc < 0) return rc;
    char *j = av_xstrndup(v, n);
    free(v);
    out->tasks = field_u64(j, "tasks");
    out->records = field_u64(j, "records");
    out->requests = field_u64(j, "requests");
    out->cached = field_u64(j, "cached");
    out->errors = field_u64(j, "errors");
    out->prompt_tokens = field_u64(j, "prompt_tokens");
    out->completion_tokens = field_u64(j, "completion_tokens");
    const char *c = strstr(j, "\"cost\":");
    out->cost = c ? strtod(c + 7, NULL) : 0;
    c = strstr(j, "\"price_in\":");
    out->price_in = c ? strtod(c + 11, NULL) : 0;
    c = strstr(j, "\"price_out\":");
    out->price_out = c ? strtod(c + 12, NULL) : 0;
    out->updated = (int64_t)field_u64(j, "updated");
    free(j);
    return 0;
}

static void sum_stats(gen_run_stats *out, const gen_run_stats *a, const gen_run_stats *b)
{
    out->tasks = a->tasks + b->tasks;
    out->records = a->records + b->records;
    out->requests = a->requests + b->requests;
    out->cached = a->cached + b->cached;
    out->errors = a->errors + b->errors;
    out->prompt_tokens = a->prompt_tokens + b->prompt_tokens;
    out->completion_tokens = a->completion_tokens + b->completion_tokens;
    out->cost = a->cost + b->cost;
    out->price_in = b->price_in;
    out->price_out = b->price_out;
    out->updated = (int64_t)time(NULL);
}

/* ---- batches ------------------------------------------------------------ */

static int put_run_record(gen_run *run)
{
    const gen_run_opts *o = run->o;
    av_record rec;
    av_record_init(&rec);
    rec.kind = AV_RUN;
    rec.name = o->what;
    av_attr *attrs = av_xcalloc(o->nattr ? o->nattr : 1, sizeof *attrs);
    for (size_t i = 0; i < o->nattr; i++) {
        attrs[i].key = o->attr_keys[i];
        attrs[i].json.ptr = o->attr_json[i];
        attrs[i].json.len = strlen(o->attr_json[i]);
    }
    rec.attr = attrs;
    rec.nattr = (uint32_t)o->nattr;
    int rc = av_writer_put(run->w, &rec);
    free(attrs);
    if (rc < 0) return rc;
    if (rc == 1) run->run_new = 1;
    run->run_row = rec.row;
    run->run_cid = rec.cid;
    return 0;
}

static int open_batch(gen_run *run)
{
    int rc = av_writer_open(&run->w, run->o->store);
    if (rc < 0) return rc;
    if ((rc = put_run_record(run)) < 0) return rc;
    av_reader_close(run->cache_rd);
    run->cache_rd = NULL;
    if ((rc = av_reader_open(&run->cache_rd, run->o->store, 0)) < 0) return rc;
    run->batch_tasks = 0;
    run->batch_start = av_now();
    run->nlicensed = 0;
    return 0;
}

static int commit_batch(gen_run *run, int last)
{
    gen_run_stats tot;
    sum_stats(&tot, &run->base, &run->now);
    /* counters are written when something was paid, added or failed since the
     * last batch; a batch answered wholly from the cache makes no version */
    uint64_t mark = run->now.requests + run->now.records + run->now.errors;
    int rc = 0;
    if (mark != run->stats_mark || run->run_new) {
        run->stats_mark = mark;
        run->run_new = 0;
        av_buf_reset(&run->scratch);
        stats_json(&run->scratch, &tot);
        rc = av_writer_aux_put(run->w, STAT_NS, run->run_cid.b, 16, run->scratch.ptr, run->scratch.len);
    }
    if (rc < 0) {
        av_writer_abort(run->w);
        run->w = NULL;
        return rc;
    }
    char hex[33];
    av_id_hex(hex, &run->run_cid);
    char msg[256];
    run->batches++;
    snprintf(msg, sizeof msg, "%s: batch %llu of run %.12s (%llu tasks; each batch of a run is its own version)",
             run->o->what, (unsigned long long)run->batches, hex, (unsigned long long)run->batch_tasks);
    av_commit_opts co = {.message = msg, .command = run->o->command};
    uint32_t v = 0;
    rc = av_writer_commit(run->w, &co, &v);
    run->w = NULL;
    if (rc < 0) return rc;
    if (!last) return open_batch(run);
    return 0;
}

/* ---- steps -------------------------------------------------------------- */

/* added: records the last step added (a task counts when it added any, so
 * a rerun answered from the cache does not count its tasks again). */
static void task_end(gen_run *run, void *task, int st, uint64_t added)
{
    if (st == GEN_STEP_WAIT) return;
    run->ops->release(task);
    run->live--;
    run->finished++;
    if (st == GEN_STEP_DONE) {
        run->now.tasks += added > 0;
        run->batch_tasks++;
    }
}

static void key_of(av_id *out, gen_api api, const av_buf *body, const char *salt, av_buf *tmp)
{
    av_buf_reset(tmp);
    av_buf_puts(tmp, gen_api_path(api));
    av_buf_putc(tmp, 0);
    av_buf_put(tmp, body->ptr, body->len);
    av_buf_putc(tmp, 0);
    if (salt) av_buf_puts(tmp, salt);
    av_hash(out, tmp->ptr, tmp->len);
}

static void request(gen_run *run, gen_client *client, void *task, gen_api api, av_buf *body, const char *salt)
{
    pending *p = av_xcalloc(1, sizeof *p);
    p->run = run;
    p->task = task;
    p->api = api;
    key_of(&p->key, api, body, salt, &run->scratch);
    void *v = NULL;
    size_t n = 0;
    if (run->cache_rd && av_aux_get(run->cache_rd, CACHE_NS, p->key.b, 16, &v, &n) == 0) {
        p->cached = v;
        p->cached_len = n;
        if (run->ready_tail) run->ready_tail->next = p;
        else run->ready = p;
        run->ready_tail = p;
        av_buf_reset(body);
        return;
    }
    size_t len = body->len;
    gen_client_submit(client, gen_api_path(api), av_buf_detach(body), len, p);
}

void gen_run_request(gen_run *run, void *task, gen_api api, av_buf *body, const char *salt)
{
    request(run, run->client, task, api, body, salt);
}

void gen_run_request2(gen_run *run, void *task, gen_api api, av_buf *body, const char *salt)
{
    request(run, run->client2 ? run->client2 : run->client, task, api, body, salt);
}

static int on_done(void *ctx, void *tag, const gen_http_result *res)
{
    gen_run *run = ctx;
    pending *p = tag;
    if (res->outcome == GEN_OK) {
        gen_reply reply;
        if (gen_reply_parse(&reply, p->api, res->body, res->body_len) < 0) return 1; /* retried */
        run->now.requests++;
        run->now.prompt_tokens += (uint64_t)reply.prompt_tokens;
        run->now.completion_tokens += (uint64_t)reply.completion_tokens;
        run->now.cost += ((double)reply.prompt_tokens * run->price_in +
                          (double)reply.completion_tokens * run->price_out) / 1e6;
        int rc = av_writer_aux_put(run->w, CACHE_NS, p->key.b, 16, res->body, res->body_len);
        if (rc < 0 && !run->store_rc) run->store_rc = rc;
        uint64_t before = run->now.records;
        int st = run->ops->step(run, p->task, &reply);
        gen_reply_free(&reply);
        task_end(run, p->task, st, run->now.records - before);
    } else {
        gen_run_task_error(run, "%s", res->error ? res->error : "request failed");
        if (res->outcome == GEN_FATAL && !run->fatal) {
            run->fatal = 1;
            snprintf(run->fatal_msg, sizeof run->fatal_msg, "%s", res->error ? res->error : "request failed");
        }
        task_end(run, p->task, GEN_STEP_FAIL, 0);
    }
    free(p);
    return 0;
}

/* A request dropped at the end of an interrupted run: its task goes too. */
static void drop_pending(void *ctx, void *tag)
{
    gen_run *run = ctx;
    pending *p = tag;
    run->ops->release(p->task);
    run->live--;
    free(p);
}

static void step_ready(gen_run *run)
{
    while (run->ready) {
        pending *p = run->ready;
        run->ready = p->next;
        if (!run->ready) run->ready_tail = NULL;
        gen_reply reply;
        if (gen_reply_parse(&reply, p->api, p->cached, p->cached_len) < 0) {
            /* a damaged cache entry: the task fails; it is reported */
            gen_run_task_error(run, "a request-cache entry cannot be read");
            task_end(run, p->task, GEN_STEP_FAIL, 0);
            free(p->cached);
            free(p);
            continue;
        }
        run->now.cached++;
        uint64_t before = run->now.records;
        int st = run->ops->step(run, p->task, &reply);
        gen_reply_free(&reply);
        task_end(run, p->task, st, run->now.records - before);
        free(p->cached);
        free(p);
    }
}

static void draw(gen_run *run, int force)
{
    if (!run->o->progress) return;
    double t = av_now();
    if (!force && t - run->last_draw < 0.2) return;
    run->last_draw = t;
    double el = t - run->start;
    if (el <= 0) el = 1e-9;
    /* done counts every task that ended (one answered wholly from the cache,
     * or whose records were already stored, too), so reruns reach total */
    uint64_t done = run->finished;
    double rate = (double)done / el;
    fprintf(stderr, "\r%s: %llu/%llu done, %.1f req/s, %.0f tok/s, %llu errors", run->o->what, (unsigned long long)done,
            (unsigned long long)run->ops->total, (double)run->now.requests / el,
            (double)(run->now.prompt_tokens + run->now.completion_tokens) / el, (unsigned long long)run->now.errors);
    if (rate > 0 && run->ops->total > done)
        fprintf(stderr, ", ETA %.0fs", (double)(run->ops->total - done) / rate);
    fputs("\033[K", stderr);
    if (force) fputc('\n', stderr);
    fflush(stderr);
}

int gen_run_exec(const gen_run_opts *opts, const gen_task_ops *ops)
{
    gen_run run_s;
    gen_run *run = &run_s;
    memset(run, 0, sizeof *run);
    run->o = opts;
    run->ops = ops;
    int rc = 0;
    const char *err = NULL;
    if (!ops->total) return 0; /* nothing to ask: no run, no version */
    if (gen_client_new(&run->client, &opts->client, &err) < 0) {
        fprintf(stderr, "aviary: %s\n", err);
        return 1;
    }
    if (opts->second_url) {
        gen_client_opts o2 = opts->client;
        o2.base_url = opts->second_url;
        if (gen_client_new(&run->client2, &o2, &err) < 0) {
            fprintf(stderr, "aviary: %s\n", err);
            gen_client_free(run->client);
            return 1;
        }
    }
    if ((rc = open_batch(run)) < 0) goto done;
    gen_run_stats_get(run->cache_rd, &run->run_cid, &run->base);
    /* prices are not part of a run's identity: a resume without them keeps the earlier ones */
    run->price_in = opts->price_in;
    run->price_out = opts->price_out;
    if (!run->price_in && !run->price_out) {
        run->price_in = run->base.price_in;
        run->price_out = run->base.price_out;
    }
    run->now.price_in = run->price_in;
    run->now.price_out = run->price_out;

    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    stop_flag = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    size_t batch = opts->batch ? opts->batch : 256;
    double batch_s = opts->batch_seconds > 0 ? opts->batch_seconds : 30;
    uint64_t window = (uint64_t)(opts->client.concurrency > 0 ? opts->client.concurrency : 1) * 2;
    run->start = run->last_draw = av_now();
    while (!stop_flag && !run->fatal && !run->store_rc) {
        while (run->live < window && run->next < ops->total && !stop_flag && !run->fatal) {
            void *t = ops->make(ops->ctx, run->next++);
            if (!t) {
                run->finished++;
                continue;
            }
            run->live++;
            uint64_t before = run->now.records;
            int st = ops->step(run, t, NULL);
            task_end(run, t, st, run->now.records - before);
            step_ready(run);
        }
        step_ready(run);
        if (!run->live && run->next >= ops->total) break;
        int p1 = gen_client_pending(run->client) > 0, p2 = run->client2 && gen_client_pending(run->client2) > 0;
        if ((p1 && gen_client_poll(run->client, p2 ? 5 : 200, on_done, run) < 0) ||
            (p2 && gen_client_poll(run->client2, p1 ? 5 : 200, on_done, run) < 0)) {
            snprintf(run->fatal_msg, sizeof run->fatal_msg, "the HTTP client failed");
            run->fatal = 1;
        }
        if (run->batch_tasks >= batch || (run->batch_tasks && av_now() - run->batch_start >= batch_s)) {
            if ((rc = commit_batch(run, 0)) < 0) goto restore;
        }
        draw(run, 0);
    }
    gen_client_cancel_all(run->client, drop_pending, run);
    if (run->client2) gen_client_cancel_all(run->client2, drop_pending, run);
    if (run->store_rc) {
        rc = run->store_rc;
        goto restore;
    }
    /* the run's remaining tasks that were live are dropped (asked again on resume) */
    rc = commit_batch(run, 1);
restore:
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
done:
    /* tasks still queued as cache hits */
    while (run->ready) {
        pending *p = run->ready;
        run->ready = p->next;
        ops->release(p->task);
        free(p->cached);
        free(p);
    }
    draw(run, 1);
    if (run->w) av_writer_abort(run->w);
    av_reader_close(run->cache_rd);
    gen_client_free(run->client);
    gen_client_free(run->client2);
    av_buf_free(&run->scratch);
    if (rc < 0) {
        const char *m = av_errmsg();
        fprintf(stderr, "aviary: %s\n", m && *m ? m : av_strerror(rc));
        return 1;
    }
    char hex[33];
    av_id_hex(hex, &run->run_cid);
    gen_run_stats tot;
    sum_stats(&tot, &run->base, &run->now);
    if (!opts->quiet) {
        fprintf(stderr,
                "aviary: run %.12s: %llu tasks done, %llu records added, %llu requests, %llu answered from the cache, "
                "%llu+%llu tokens, %llu errors",
                hex, (unsigned long long)run->now.tasks, (unsigned long long)run->now.records,
                (unsigned long long)run->now.requests, (unsigned long long)run->now.cached,
                (unsigned long long)run->now.prompt_tokens, (unsigned long long)run->now.completion_tokens,
                (unsigned long long)run->now.errors);
        if (run->price_in > 0 || run->price_out > 0) fprintf(stderr, ", cost %.4f", run->now.cost);
        fputc('\n', stderr);
        for (size_t i = 0; i < run->nerrors_kept; i++) fprintf(stderr, "aviary: error: %s\n", run->errors[i]);
    }
    int result = 0;
    if (run->fatal) {
        fprintf(stderr, "aviary: run %.12s stopped: %s; what was done is committed\n", hex, run->fatal_msg);
        if (opts->hint_404 && !strncmp(run->fatal_msg, "HTTP 404", 8)) fprintf(stderr, "aviary: %s\n", opts->hint_404);
        result = 1;
    } else if (stop_flag) {
        fprintf(stderr, "aviary: interrupted; what was done is committed; 'aviary resume %.12s' finishes the run\n", hex);
        result = 1;
    } else if (run->now.errors) {
        fprintf(stderr, "aviary: %llu tasks failed; rerun the command (or 'aviary resume %.12s') to retry them\n",
                (unsigned long long)run->now.errors, hex);
        result = 1;
    }
    return result;
}
