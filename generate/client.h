/* client.h: the HTTP client the generators and judges share. It talks to an
 * OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama, OpenAI) through
 * the curl multi interface: up to `concurrency` transfers at once over
 * kept-alive connections, timeouts, and retries with the policy of
 * GENERATION.md (408/409/429/>=500 and connection failures; Retry-After or
 * retry-after-ms up to 60 s, else exponential backoff with jitter; a 429 with
 * insufficient_quota is final). Single-threaded: the caller drives it with
 * gen_client_poll(). The API key is only ever placed in the Authorization
 * header; it is never printed. */
#ifndef AV_GENERATE_CLIENT_H
#define AV_GENERATE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

typedef enum gen_server {
    GEN_SERVER_VLLM = 0, /* vLLM / SGLang / any OpenAI-compatible server with vLLM's extensions */
    GEN_SERVER_OPENAI,   /* the hosted OpenAI API (chat only for current models) */
    GEN_SERVER_LLAMACPP, /* llama.cpp's server */
    GEN_SERVER_OLLAMA,   /* Ollama (native /api/generate for raw prompts) */
} gen_server;

/* "vllm", ... -> 0 and *out; -1 for an unknown name. */
int gen_server_parse(gen_server *out, const char *name);
const char *gen_server_name(gen_server s);

typedef struct gen_client_opts {
    const char *base_url;   /* "http://host:8000" or ".../v1"; see gen_url_base; a query string
                               ("?api-version=...") is sent with every request */
    const char *api_key;    /* NULL or "" for none; only sent as a Bearer header */
    int concurrency;        /* transfers at once (>= 1) */
    long timeout_ms;        /* whole transfer */
    long connect_timeout_ms;
    int max_retries;        /* retries after the first attempt */
    long backoff_ms;        /* first backoff delay; doubles per attempt, capped at 60 s */
} gen_client_opts;
#define GEN_CLIENT_OPTS_INIT {NULL, NULL, 8, 600000, 30000, 8, 500}

/* How a request ended. */
enum gen_outcome {
    GEN_OK = 0,        /* 2xx with a body */
    GEN_FAILED = 1,    /* final failure of this request (4xx, or retries exhausted) */
    GEN_FATAL = 2,     /* a failure that will hit every request: bad key, no such
                          path or model, insufficient_quota, a server that refuses
                          connections after every retry; the run should stop */
};

typedef struct gen_http_result {
    int outcome;         /* enum gen_outcome */
    long status;         /* last HTTP status, 0 when none was received */
    const char *body;    /* last response body (NUL-terminated), owned by the client until the callback returns */
    size_t body_len;
    const char *error;   /* for failures: "HTTP 429: rate limited (insufficient_quota)" or curl's message */
    int attempts;        /* transfers made, retries included */
} gen_http_result;

typedef struct gen_client gen_client;

/* Called once per submitted request when it finishes for good. For a GEN_OK
 * result, returning non-zero says the body was unusable (malformed or
 * truncated JSON): the request is retried like a server error, and when the
 * retries are used up fn is called once more with GEN_FAILED (its return
 * value is then ignored). */
typedef int (*gen_done_fn)(void *ctx, void *tag, const gen_http_result *res);

/* Creates a client; -1 with a message in *err (static) on failure. */
int gen_client_new(gen_client **out, const gen_client_opts *opts, const char **err);
/* Why libcurl (loaded on first use, curl_dl.c) cannot be used, or NULL. */
const char *gen_curl_load_error(void);
void gen_client_free(gen_client *c);

/* Queues a POST of body to base + path (path starts with '/'). Takes
 * ownership of body (malloc'd). tag comes back in the callback. */
void gen_client_submit(gen_client *c, const char *path, char *body, size_t len, void *tag);
/* Requests submitted and not finished (queued, running or waiting to retry). */
size_t gen_client_pending(const gen_client *c);
/* Runs transfers for at most timeout_ms (returns earlier once something
 * finished) and calls fn for each request that finished. Returns the number
 * finished, or -1 on a curl multi error. */
int gen_client_poll(gen_client *c, int timeout_ms, gen_done_fn fn, void *ctx);
/* Drops every request not finished; their callbacks are not called, drop
 * (if not NULL) gets each one's tag instead. */
void gen_client_cancel_all(gen_client *c, void (*drop)(void *ctx, void *tag), void *ctx);
/* Transfers made so far, retries included, and retries alone. */
uint64_t gen_client_transfers(const gen_client *c);
uint64_t gen_client_retries(const gen_client *c);

/* ---- pure helpers (unit-tested) ---------------------------------------- */

/* The delay a server asked for, in ms, from the values of the retry-after-ms
 * and Retry-After headers (either may be NULL); Retry-After is seconds or an
 * HTTP date, compared with now (seconds since the epoch). -1 when there is
 * none, it cannot be parsed, or it is over 60 s (then backoff applies). */
long gen_retry_after_ms(const char *retry_after_ms, const char *retry_after, int64_t now);
/* Exponential backoff with jitter for retry number attempt (0-based):
 * base * 2^attempt capped at 60 s, times a factor in [0.75, 1] from rnd in [0,1). */
long gen_backoff_ms(long base_ms, int attempt, double rnd);
/* 1 if an HTTP status should be retried (408, 409, 429, >= 500). */
int gen_status_retryable(long status);

/* The message and code of an error body in any of the three shapes
 * ({"error":{"message","type","code"}}, {"object":"error","message"},
 * {"error":"..."}); writes "message (code)" or the raw start of the body into
 * out. Returns 1 if the code or type is insufficient_quota, else 0. */
int gen_error_describe(char *out, size_t cap, const char *body, size_t len);

/* Normalises a user's endpoint URL to the server root: strips a trailing
 * "/", "/v1", "/v1/chat/completions", "/v1/completions", "/api/generate".
 * Writes into out; returns 1 if the URL named a chat-completions path. */
int gen_url_base(char *out, size_t cap, const char *url);
/* The URL without user:password@ and without a query string, for records. */
void gen_url_public(char *out, size_t cap, const char *url);

#endif
