/* run.h: the engine every generator and judge runs on. A run is a list of
 * tasks (one Magpie conversation, one pair to judge, ...); each task makes
 * its requests one after another and finally writes its records. The engine
 * keeps `concurrency` requests in flight, answers repeated requests from the
 * store's request cache, commits finished tasks in batches (one av_writer,
 * one version per batch), keeps the run's AV_RUN record and its counters, and
 * stops cleanly on SIGINT/SIGTERM (committing what is done).
 *
 * Resuming is the same command again: each task's requests are the same
 * bytes, so those whose answers were committed come from the cache (not paid
 * twice) and records already stored are not added twice (content ids). */
#ifndef AV_GENERATE_RUN_H
#define AV_GENERATE_RUN_H

#include <stdint.h>

#include "generate/client.h"
#include "generate/llm.h"
#include "store/aviary.h"

typedef struct gen_run gen_run;

/* What a step returns. */
enum gen_step {
    GEN_STEP_WAIT = 0, /* the task made a request with gen_run_request */
    GEN_STEP_DONE = 1, /* the task wrote its records (or had nothing to write) */
    GEN_STEP_FAIL = 2, /* the task cannot finish; it called gen_run_task_error */
};

/* The tasks of a run, supplied by the command. */
typedef struct gen_task_ops {
    /* Task number index (0-based, < total); NULL to skip it (nothing to do). */
    void *(*make)(void *ctx, uint64_t index);
    /* Called with reply NULL to start, then with each reply (NULL-free text;
     * owned by the engine, valid during the call). */
    int (*step)(gen_run *run, void *task, const gen_reply *reply);
    void (*release)(void *task);
    void *ctx;
    uint64_t total;
} gen_task_ops;

typedef struct gen_run_opts {
    av_store *store;
    const char *command;  /* the command line for commit records (no secrets in it) */
    const char *what;     /* "generate magpie", "judge pair", ... */
    gen_client_opts client;
    const char *second_url; /* a second endpoint (e.g. Magpie's --response-endpoint), or NULL */
    size_t batch;         /* tasks per commit (default 256) */
    double batch_seconds; /* also commit when this much time passed (default 30) */
    double price_in, price_out; /* per million tokens; 0 = unknown */
    int progress;         /* draw the progress line on stderr */
    int quiet;            /* no summary */
    const char *hint_404; /* said after a run stopped by an HTTP 404, or NULL */
    /* The licence id of a model's outputs by its name, or NULL when not known
     * (the CLI passes ingest's av_model_licence_builtin). Every model a run
     * makes gets a "licence" tag from it ("unknown" when NULL) unless it has
     * one already. */
    const char *(*model_licence)(const char *name);
    /* The run record: endpoint (without credentials), model, and the rest
     * as attribute key -> JSON text pairs, all part of the run's identity. */
    const char *const *attr_keys;
    const char *const *attr_json;
    size_t nattr;
} gen_run_opts;

/* Runs the tasks. Returns 0 when every task finished, 1 when some failed or
 * the run was stopped (interrupted, or a fatal endpoint error), with the
 * reason printed as "aviary: ..." on stderr; negative on a store error. */
int gen_run_exec(const gen_run_opts *opts, const gen_task_ops *ops);

/* For steps: makes the task's next request. body is taken (reset on return).
 * salt distinguishes requests that are the same bytes but must be asked
 * separately (samples at temperature > 0, re-asks); NULL for none. */
void gen_run_request(gen_run *run, void *task, gen_api api, av_buf *body, const char *salt);
/* The same to the second endpoint (the first one when there is none). */
void gen_run_request2(gen_run *run, void *task, gen_api api, av_buf *body, const char *salt);
/* For steps: records a task's failure (counted, and the first few kept). */
void gen_run_task_error(gen_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For steps: the writer of the current batch, and a put that stamps the
 * record with the run and counts it. Returns what av_writer_put returns. */
av_writer *gen_run_writer(gen_run *run);
int gen_run_put(gen_run *run, av_record *rec);
/* Row of a model record (made if needed, with its licence tag), or 0 on
 * error (reported). */
uint64_t gen_run_model(gen_run *run, const char *name);
/* The run record's row. */
uint64_t gen_run_row(const gen_run *run);

/* The counters of a run, kept in the store's aux space "runstat" under the
 * run's content id and updated with every batch. */
typedef struct gen_run_stats {
    uint64_t tasks;   /* tasks that added records */
    uint64_t records, requests, cached, errors;
    uint64_t prompt_tokens, completion_tokens;
    double cost; /* in the price unit given with --price-in/--price-out */
    double price_in, price_out; /* the prices last used */
    int64_t updated;
} gen_run_stats;
int gen_run_stats_get(av_reader *r, const av_id *run_cid, gen_run_stats *out);

/* Installs the SIGINT/SIGTERM handler the engine checks (done by gen_run_exec). */
int gen_run_interrupted(void);

#endif
