/* cliopts.h: the flags every generate/judge/revise command shares (endpoint,
 * server kind, API key variable, concurrency, timeouts, retries, batches,
 * prices, progress) and the run identity built from the others: the
 * arguments that decide what a run asks (model, template, sampling, filter)
 * are kept, in order, in the run record; operational ones (concurrency,
 * timeouts, batch size, prices) are not, so a rerun with other settings is
 * the same run. The API key itself is read from the environment only. */
#ifndef AV_GENERATE_CLIOPTS_H
#define AV_GENERATE_CLIOPTS_H

#include "generate/client.h"
#include "generate/run.h"
#include "util/util.h"

typedef struct gen_cli {
    const char *endpoint;
    gen_server server;
    int server_set;
    const char *api_key_env;
    int key_env_given;
    gen_client_opts client;
    size_t batch;
    double price_in, price_out;
    int quiet;
    int progress; /* -1: when stderr is a terminal */
    av_buf args;  /* JSON array of the identity arguments */
    char endpoint_public[1024];
    char *command; /* the command line for commits, without credentials */
    /* run record attributes */
    const char *keys[16];
    char *vals[16];
    size_t nattr;
} gen_cli;

#define GEN_CLI_COMMON_USAGE                                                                                     \
    "common options:\n"                                                                                         \
    "  --endpoint <url>        the server (default $OPENAI_BASE_URL)\n"                                        \
    "  --server <kind>         vllm (also SGLang) | openai | llamacpp | ollama (default vllm)\n"               \
    "  --api-key-env <var>     environment variable holding the API key (default OPENAI_API_KEY)\n"            \
    "  --concurrency <n>       requests in flight (default 8)\n"                                               \
    "  --timeout <seconds>     per request (default 600)\n"                                                    \
    "  --retries <n>           retries per request (default 8); --backoff <ms> first delay (default 500)\n"   \
    "  --batch <n>             tasks per commit (default 256)\n"                                               \
    "  --price-in <x> --price-out <x>   price per million prompt / completion tokens\n"                        \
    "  -q, --quiet             no summary; --progress / --no-progress for the progress line\n"

void gen_cli_init(gen_cli *g);
void gen_cli_release(gen_cli *g);
/* Consumes a common flag at argv[*i] (advancing *i past its value).
 * 1 if consumed, 0 if not a common flag, -1 on a bad value (printed). */
int gen_cli_flag(gen_cli *g, int argc, char **argv, int *i);
/* A command's own flag with a value: "--name V" or "--name=V". Returns the
 * value and advances *i, or NULL when argv[*i] is not that flag. A missing
 * value prints an error and sets *bad. */
const char *gen_cli_opt(int argc, char **argv, int *i, const char *name, int *bad);
/* Records an identity argument (a flag and its value, value may be NULL). */
void gen_cli_ident(gen_cli *g, const char *flag, const char *value);
/* Adds a run record attribute (JSON text, copied). */
void gen_cli_attr(gen_cli *g, const char *key, const char *json);
/* Resolves the endpoint and the API key; -1 on error (printed). */
int gen_cli_finish(gen_cli *g);
/* Fills a run's options. what is "generate magpie" etc.; model goes into the
 * record. */
void gen_cli_run_opts(gen_cli *g, gen_run_opts *o, av_store *store, const char *command, const char *what,
                      const char *model);

/* The command line with every URL's user:password@ and query string removed
 * (malloc'd), for commit records: credentials in an --endpoint never reach
 * the store. */
char *gen_cli_public_command(const char *command);

/* Parses a number flag value; -1 with a message if it is not one in [lo, hi]. */
int gen_cli_double(double *out, const char *flag, const char *v, double lo, double hi);
int gen_cli_long(long *out, const char *flag, const char *v, long lo, long hi);

#endif
