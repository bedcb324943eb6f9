/* client.c: the curl-multi HTTP client of client.h. Requests wait in a FIFO,
 * run at most `concurrency` at a time on pooled easy handles (so connections
 * stay alive in the multi handle's cache), and failed ones wait in a retry
 * list until their delay is over. Costs per request: one URL string, the
 * response buffer, a few curl option calls; no thread, no signal. */
#include "generate/client.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

#define MAX_RETRY_AFTER_MS 60000L
#define MAX_BODY (256u << 20) /* a response larger than this is refused */

typedef struct req {
    struct req *next;
    char *url;
    char *body;
    size_t len;
    void *tag;
    int attempts;
    double due;
    CURL *easy;
    av_buf resp;
    char errbuf[CURL_ERROR_SIZE];
    int too_big;
    size_t slot; /* index in gen_client.run while running */
} req;

struct gen_client {
    gen_client_opts o;
    char *base;
    char *query; /* "?..." of the endpoint URL, sent with every request ("" if none) */
    CURLM *multi;
    struct curl_slist *headers;
    CURL **pool;
    size_t npool;
    req *qhead, *qtail; /* waiting to start */
    req *waiting;       /* waiting for a retry delay, unordered */
    req **run;          /* the running requests, run[0..running) */
    size_t running, pending;
    uint64_t transfers, retries;
    uint64_t rng;
    char msg[512];
};

static int curl_ready;

int gen_server_parse(gen_server *out, const char *name)
{
    static const char *names[] = {"vllm", "openai", "llamacpp", "ollama"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i])) {
            *out = (gen_server)i;
            return 0;
        }
    if (!strcmp(name, "sglang")) {
        *out = GEN_SERVER_VLLM;
        return 0;
    }
    return -1;
}

const char *gen_server_name(gen_server s)
{
    switch (s) {
    case GEN_SERVER_VLLM: return "vllm";
    case GEN_SERVER_OPENAI: return "openai";
    case GEN_SERVER_LLAMACPP: return "llamacpp";
    case GEN_SERVER_OLLAMA: return "ollama";
    }
    return "?";
}

/* ---- pure helpers ------------------------------------------------------ */

int gen_status_retryable(long status)
{
    return status == 408 || status == 409 || status == 429 || status >= 500;
}

long gen_retry_after_ms(const char *retry_after_ms, const char *retry_after, int64_t now)
{
    if (retry_after_ms && *retry_after_ms) {
        char *end;
        double v = strtod(retry_after_ms, &end);
        while (*end == ' ') end++;
        if (end != retry_after_ms && !*end && v >= 0 && v <= MAX_RETRY_AFTER_MS) return (long)v;
    }
    if (retry_after && *retry_after) {
        char *end;
        double v = strtod(retry_after, &end);
        while (*end == ' ') end++;
        if (end != retry_after && !*end) {
            if (v >= 0 && v * 1000 <= MAX_RETRY_AFTER_MS) return (long)(v * 1000);
            return -1;
        }
        time_t t = curl_getdate(retry_after, NULL);
        if (t != (time_t)-1) {
            int64_t d = (int64_t)t - now;
            if (d < 0) d = 0;
            if (d * 1000 <= MAX_RETRY_AFTER_MS) return (long)(d * 1000);
        }
    }
    return -1;
}

long gen_backoff_ms(long base_ms, int attempt, double rnd)
{
    double d = (double)base_ms;
    for (int i = 0; i < attempt && d < MAX_RETRY_AFTER_MS; i++) d *= 2;
    if (d > MAX_RETRY_AFTER_MS) d = MAX_RETRY_AFTER_MS;
    if (rnd < 0) rnd = 0;
    if (rnd >= 1) rnd = 0.999999;
    return (long)(d * (1.0 - 0.25 * rnd));
}

static void copy_trunc(char *out, size_t cap, const char *s, size_t n)
{
    if (!cap) return;
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[k++] = (ch == '\n' || ch == '\r' || ch == '\t') ? ' ' : (ch < 0x20 ? '?' : (char)ch);
    }
    out[k] = 0;
}

static int is_quota(const cJSON *v)
{
    return cJSON_IsString(v) && !strcmp(v->valuestring, "insufficient_quota");
}

int gen_error_describe(char *out, size_t cap, const char *body, size_t len)
{
    int quota = 0;
    if (cap) out[0] = 0;
    cJSON *j = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    const char *msg = NULL, *code = NULL;
    char codebuf[32];
    if (j) {
        cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        if (cJSON_IsObject(e)) {
            cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
            cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");
            cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
            if (cJSON_IsString(m)) msg = m->valuestring;
            if (cJSON_IsString(c)) code = c->valuestring;
            else if (cJSON_IsNumber(c)) {
                snprintf(codebuf, sizeof codebuf, "%d", c->valueint);
                code = codebuf;
            }
            if (!code && cJSON_IsString(t)) code = t->valuestring;
            quota = is_quota(c) || is_quota(t);
        } else if (cJSON_IsString(e)) {
            msg = e->valuestring; /* Ollama native */
        } else {
            cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "object");
            cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
            if (cJSON_IsString(o) && !strcmp(o->valuestring, "error") && cJSON_IsString(m)) {
                msg = m->valuestring; /* older vLLM */
                cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "code");
                cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
                if (cJSON_IsString(t)) code = t->valuestring;
                else if (cJSON_IsNumber(c)) {
                    snprintf(codebuf, sizeof codebuf, "%d", c->valueint);
                    code = codebuf;
                }
                quota = is_quota(c) || is_quota(t);
            }
        }
    }
    if (msg) {
        char tmp[400];
        copy_trunc(tmp, sizeof tmp, msg, strlen(msg));
        if (code) snprintf(out, cap, "%s (%s)", tmp, code);
        else snprintf(out, cap, "%s", tmp);
    } else if (body && len) {
        copy_trunc(out, cap > 201 ? 201 : cap, body, len);
    } else {
        snprintf(out, cap, "empty body");
    }
    cJSON_Delete(j);
    return quota;
}

static int ends_with(const char *s, size_t n, const char *suf)
{
    size_t k = strlen(suf);
    return n >= k && !memcmp(s + n - k, suf, k);
}

int gen_url_base(char *out, size_t cap, const char *url)
{
    size_t n = strlen(url);
    const char *q = strchr(url, '?');
    if (q) n = (size_t)(q - url);
    int chat = 0;
    while (n && url[n - 1] == '/') n--;
    static const char *sufs[] = {"/v1/chat/completions", "/chat/completions", "/v1/completions", "/api/generate",
                                 "/api/chat", "/completion", "/v1"};
    for (size_t i = 0; i < sizeof sufs / sizeof sufs[0]; i++)
        if (ends_with(url, n, sufs[i])) {
            if (strstr(sufs[i], "chat")) chat = 1;
            n -= strlen(sufs[i]);
            while (n && url[n - 1] == '/') n--;
            if (i < 6 && ends_with(url, n, "/v1")) n -= 3;
            break;
        }
    snprintf(out, cap, "%.*s", (int)n, url);
    return chat;
}

void gen_url_public(char *out, size_t cap, const char *url)
{
    const char *p = strstr(url, "://");
    size_t pre = p ? (size_t)(p - url) + 3 : 0;
    const char *host = url + pre;
    const char *slash = strchr(host, '/');
    const char *at = strchr(host, '@');
    if (at && (!slash || at < slash)) host = at + 1;
    const char *q = strchr(host, '?');
    size_t hn = q ? (size_t)(q - host) : strlen(host);
    snprintf(out, cap, "%.*s%.*s", (int)pre, url, (int)hn, host);
}

/* ---- the client -------------------------------------------------------- */

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
    req *r = ud;
    size_t k = size * n;
    if (r->resp.len + k > MAX_BODY) {
        r->too_big = 1;
        return 0;
    }
    av_buf_put(&r->resp, data, k);
    return k;
}

static double rnd01(gen_client *c)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return (double)(c->rng >> 11) / 9007199254740992.0;
}

int gen_client_new(gen_client **out, const gen_client_opts *opts, const char **err)
{
    *out = NULL;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            *err = gen_curl_load_error() ? gen_curl_load_error() : "cannot initialise libcurl";
            return -1;
        }
        curl_ready = 1;
    }
    gen_client *c = av_xcalloc(1, sizeof *c);
    c->o = *opts;
    if (c->o.concurrency < 1) c->o.concurrency = 1;
    char base[2048];
    gen_url_base(base, sizeof base, opts->base_url ? opts->base_url : "");
    c->base = av_xstrdup(base);
    const char *q = opts->base_url ? strchr(opts->base_url, '?') : NULL;
    c->query = av_xstrdup(q ? q : "");
    c->multi = curl_multi_init();
    if (!c->multi) {
        *err = "cannot create a curl multi handle";
        gen_client_free(c);
        return -1;
    }
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->o.concurrency);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->o.concurrency);
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    c->headers = curl_slist_append(c->headers, "Expect:");
    if (opts->api_key && *opts->api_key) {
        av_buf h = AV_BUF_INIT;
        av_buf_printf(&h, "Authorization: Bearer %s", opts->api_key);
        c->headers = curl_slist_append(c->headers, h.ptr);
        memset(h.ptr, 0, h.len);
        av_buf_free(&h);
    }
    c->pool = av_xcalloc((size_t)c->o.concurrency, sizeof *c->pool);
    c->run = av_xcalloc((size_t)c->o.concurrency, sizeof *c->run);
    c->rng = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15ull;
    *out = c;
    return 0;
}

static void req_free(req *r)
{
    if (!r) return;
    free(r->url);
    free(r->body);
    av_buf_free(&r->resp);
    free(r);
}

static void free_list(req *r, void (*drop)(void *ctx, void *tag), void *ctx)
{
    while (r) {
        req *n = r->next;
        if (drop) drop(ctx, r->tag);
        req_free(r);
        r = n;
    }
}

static void easy_put(gen_client *c, CURL *e);

void gen_client_cancel_all(gen_client *c, void (*drop)(void *ctx, void *tag), void *ctx)
{
    if (!c) return;
    free_list(c->qhead, drop, ctx);
    c->qhead = c->qtail = NULL;
    free_list(c->waiting, drop, ctx);
    c->waiting = NULL;
    while (c->running) {
        req *r = c->run[--c->running];
        curl_multi_remove_handle(c->multi, r->easy);
        easy_put(c, r->easy);
        if (drop) drop(ctx, r->tag);
        req_free(r);
    }
    c->pending = 0;
}

void gen_client_free(gen_client *c)
{
    if (!c) return;
    gen_client_cancel_all(c, NULL, NULL);
    for (size_t i = 0; i < c->npool; i++) curl_easy_cleanup(c->pool[i]);
    free(c->pool);
    free(c->run);
    if (c->multi) curl_multi_cleanup(c->multi);
    curl_slist_free_all(c->headers);
    free(c->base);
    free(c->query);
    free(c);
}

void gen_client_submit(gen_client *c, const char *path, char *body, size_t len, void *tag)
{
    req *r = av_xcalloc(1, sizeof *r);
    size_t n = strlen(c->base) + strlen(path) + strlen(c->query) + 1;
    r->url = av_xmalloc(n);
    snprintf(r->url, n, "%s%s%s", c->base, path, c->query);
    r->body = body;
    r->len = len;
    r->tag = tag;
    if (c->qtail) c->qtail->next = r;
    else c->qhead = r;
    c->qtail = r;
    c->pending++;
}

size_t gen_client_pending(const gen_client *c) { return c->pending; }
uint64_t gen_client_transfers(const gen_client *c) { return c->transfers; }
uint64_t gen_client_retries(const gen_client *c) { return c->retries; }

static CURL *easy_get(gen_client *c)
{
    if (c->npool) return c->pool[--c->npool];
    CURL *e = curl_easy_init();
    if (!e) return NULL;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->o.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->o.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "aviary/0.1");
    return e;
}

static void easy_put(gen_client *c, CURL *e)
{
    if (c->npool < (size_t)c->o.concurrency) c->pool[c->npool++] = e;
    else curl_easy_cleanup(e);
}

static int start(gen_client *c, req *r)
{
    CURL *e = easy_get(c);
    if (!e) return -1;
    r->easy = e;
    r->errbuf[0] = 0;
    r->too_big = 0;
    av_buf_reset(&r->resp);
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        easy_put(c, e);
        r->easy = NULL;
        return -1;
    }
    r->attempts++;
    r->slot = c->running;
    c->run[c->running++] = r;
    c->transfers++;
    return 0;
}

static void fill_queue(gen_client *c, double now)
{
    /* due retries go first */
    req **pp = &c->waiting;
    while (*pp) {
        req *r = *pp;
        if (r->due <= now) {
            *pp = r->next;
            r->next = c->qhead;
            c->qhead = r;
            if (!c->qtail) c->qtail = r;
        } else {
            pp = &r->next;
        }
    }
    while (c->qhead && c->running < (size_t)c->o.concurrency) {
        req *r = c->qhead;
        c->qhead = r->next;
        if (!c->qhead) c->qtail = NULL;
        r->next = NULL;
        if (start(c, r) < 0) { /* put it back and try later */
            r->next = c->qhead;
            c->qhead = r;
            if (!c->qtail) c->qtail = r;
            break;
        }
    }
}

static const char *header_value(CURL *e, const char *name)
{
    struct curl_header *h = NULL;
    if (curl_easy_header(e, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h) return h->value;
    return NULL;
}

static void schedule_retry(gen_client *c, req *r, long delay_ms)
{
    r->due = av_now() + (double)delay_ms / 1000.0;
    r->next = c->waiting;
    c->waiting = r;
    c->retries++;
}

static int retryable_curl(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
        return 1;
    default:
        return 0;
    }
}

/* Finishes or reschedules r after its transfer ended with code. Returns 1 if
 * the callback was called. */
static int finish(gen_client *c, req *r, CURLcode code, gen_done_fn fn, void *ctx)
{
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    gen_http_result res = {0};
    res.status = status;
    res.attempts = r->attempts;
    res.body = r->resp.ptr ? r->resp.ptr : "";
    res.body_len = r->resp.len;
    int can_retry = r->attempts <= c->o.max_retries;
    long delay = -1;
    if (code == CURLE_OK && status >= 200 && status < 300) {
        res.outcome = GEN_OK;
    } else if (code != CURLE_OK) {
        if (r->too_big) snprintf(c->msg, sizeof c->msg, "response larger than %u MB", MAX_BODY >> 20);
        else snprintf(c->msg, sizeof c->msg, "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(code));
        res.error = c->msg;
        if (retryable_curl(code) && can_retry) delay = gen_backoff_ms(c->o.backoff_ms, r->attempts - 1, rnd01(c));
        else /* a server that cannot be reached after every retry is down for every request */
            res.outcome = retryable_curl(code) && code != CURLE_COULDNT_CONNECT ? GEN_FAILED : GEN_FATAL;
    } else {
        char desc[440];
        int quota = gen_error_describe(desc, sizeof desc, r->resp.ptr, r->resp.len);
        snprintf(c->msg, sizeof c->msg, "HTTP %ld: %s", status, desc);
        res.error = c->msg;
        if (quota || status == 401 || status == 403 || status == 404) {
            res.outcome = GEN_FATAL;
        } else if (gen_status_retryable(status) && can_retry) {
            delay = gen_retry_after_ms(header_value(r->easy, "retry-after-ms"), header_value(r->easy, "retry-after"),
                                       (int64_t)time(NULL));
            if (delay < 0) delay = gen_backoff_ms(c->o.backoff_ms, r->attempts - 1, rnd01(c));
        } else {
            res.outcome = GEN_FAILED;
        }
    }
    curl_multi_remove_handle(c->multi, r->easy);
    CURL *e = r->easy;
    r->easy = NULL;
    c->running--;
    c->run[r->slot] = c->run[c->running];
    c->run[r->slot]->slot = r->slot;
    if (delay >= 0) {
        easy_put(c, e);
        schedule_retry(c, r, delay);
        return 0;
    }
    int again = fn(ctx, r->tag, &res);
    if (res.outcome == GEN_OK && again) {
        /* the caller could not use the body (malformed JSON): retry, or fail */
        if (r->attempts <= c->o.max_retries) {
            easy_put(c, e);
            schedule_retry(c, r, gen_backoff_ms(c->o.backoff_ms, r->attempts - 1, rnd01(c)));
            return 0;
        }
        res.outcome = GEN_FAILED;
        res.error = "malformed response body (retries exhausted)";
        fn(ctx, r->tag, &res);
    }
    easy_put(c, e);
    c->pending--;
    req_free(r);
    return 1;
}

int gen_client_poll(gen_client *c, int timeout_ms, gen_done_fn fn, void *ctx)
{
    double start_t = av_now();
    int done = 0;
    for (;;) {
        double now = av_now();
        fill_queue(c, now);
        int still = 0;
        if (curl_multi_perform(c->multi, &still) != CURLM_OK) return -1;
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(c->multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            req *r = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
            done += finish(c, r, m->data.result, fn, ctx);
        }
        if (done) return done;
        now = av_now();
        double left_ms = timeout_ms - (now - start_t) * 1000.0;
        if (left_ms <= 0 || !c->pending) return done;
        double wait = left_ms;
        for (req *r = c->waiting; r; r = r->next) {
            double d = (r->due - now) * 1000.0;
            if (d < wait) wait = d < 0 ? 0 : d;
        }
        if (c->qhead && c->running < (size_t)c->o.concurrency) wait = 0;
        int numfds = 0;
        if (curl_multi_poll(c->multi, NULL, 0, (int)ceil(wait), &numfds) != CURLM_OK) return -1;
    }
}
