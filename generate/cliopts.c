/* cliopts.c: the shared flags of cliopts.h. */
#include "generate/cliopts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void gen_cli_init(gen_cli *g)
{
    memset(g, 0, sizeof *g);
    gen_client_opts d = GEN_CLIENT_OPTS_INIT;
    g->client = d;
    g->api_key_env = "OPENAI_API_KEY";
    g->batch = 256;
    g->progress = -1;
    av_buf_putc(&g->args, '[');
}

void gen_cli_release(gen_cli *g)
{
    av_buf_free(&g->args);
    free(g->command);
    g->command = NULL;
    for (size_t i = 0; i < g->nattr; i++) free(g->vals[i]);
    g->nattr = 0;
}

const char *gen_cli_opt(int argc, char **argv, int *i, const char *name, int *bad)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n)) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n]) return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "aviary: '%s' needs a value\n", name);
        *bad = 1;
        return NULL;
    }
    return argv[++*i];
}

int gen_cli_double(double *out, const char *flag, const char *v, double lo, double hi)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (!*v || *end || errno || isnan(d) || d < lo || d > hi) {
        fprintf(stderr, "aviary: '%s' needs a number from %g to %g, not '%s'\n", flag, lo, hi, v);
        return -1;
    }
    *out = d;
    return 0;
}

int gen_cli_long(long *out, const char *flag, const char *v, long lo, long hi)
{
    char *end;
    errno = 0;
    long d = strtol(v, &end, 10);
    if (!*v || *end || errno || d < lo || d > hi) {
        fprintf(stderr, "aviary: '%s' needs a whole number from %ld to %ld, not '%s'\n", flag, lo, hi, v);
        return -1;
    }
    *out = d;
    return 0;
}

void gen_cli_ident(gen_cli *g, const char *flag, const char *value)
{
    if (g->args.len > 1) av_buf_putc(&g->args, ',');
    av_buf_json_str(&g->args, flag, strlen(flag));
    if (value) {
        av_buf_putc(&g->args, ',');
        av_buf_json_str(&g->args, value, strlen(value));
    }
}

void gen_cli_attr(gen_cli *g, const char *key, const char *json)
{
    if (g->nattr >= sizeof g->keys / sizeof g->keys[0]) return;
    g->keys[g->nattr] = key;
    g->vals[g->nattr++] = av_xstrdup(json);
}

int gen_cli_flag(gen_cli *g, int argc, char **argv, int *i)
{
    int bad = 0;
    const char *v;
    long l;
    double d;
    if ((v = gen_cli_opt(argc, argv, i, "--endpoint", &bad))) {
        g->endpoint = v;
        return 1;
    }
    if ((v = gen_cli_opt(argc, argv, i, "--server", &bad))) {
        if (gen_server_parse(&g->server, v) < 0) {
            fprintf(stderr, "aviary: unknown server kind '%s' (use vllm, openai, llamacpp or ollama)\n", v);
            return -1;
        }
        g->server_set = 1;
        return 1;
    }
    if ((v = gen_cli_opt(argc, argv, i, "--api-key-env", &bad))) {
        g->api_key_env = v;
        g->key_env_given = 1;
        return 1;
    }
    if ((v = gen_cli_opt(argc, argv, i, "--concurrency", &bad))) {
        if (gen_cli_long(&l, "--concurrency", v, 1, 4096) < 0) return -1;
        g->client.concurrency = (int)l;
        return 1;
    }
    if ((v = gen_cli_opt(argc, argv, i, "--timeout", &bad))) {
        if (gen_cli_double(&d, "--timeout", v, 0.001, 86400) < 0) return -1;
        g->client.timeout_ms = (long)(d * 1000);
        if (g->client.connect_timeout_ms > g->client.timeout_ms) g->client.connect_timeout_ms = g->client.timeout_ms;
        return 1;
    }
    if ((v = gen_cli_opt(argc, argv, i, "--retries", &bad))) {
        if (gen_cli_long(&l, "--retries", v, 0, 100) < 0) return -1;
        g->client.max_retries = (int)l;
        return 1;
    }
    if ((v = gen_cli_opt(argc, argv, i, "--backoff", &bad))) {
        if (gen_cli_long(&l, "--backoff", v, 0, 60000) < 0) return -1;
        g->client.backoff_ms = l;
        return 1;
    }
    if ((v = gen_cli_opt(argc, argv, i, "--batch", &bad))) {
        if (gen_cli_long(&l, "--batch", v, 1, 100000000) < 0) return -1;
        g->batch = (size_t)l;
        return 1;
    }
    if ((v = gen_cli_opt(argc, argv, i, "--price-in", &bad))) {
        if (gen_cli_double(&g->price_in, "--price-in", v, 0, 1e9) < 0) return -1;
        return 1;
    }
    if ((v = gen_cli_opt(argc, argv, i, "--price-out", &bad))) {
        if (gen_cli_double(&g->price_out, "--price-out", v, 0, 1e9) < 0) return -1;
        return 1;
    }
    if (bad) return -1;
    const char *a = argv[*i];
    if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
        g->quiet = 1;
        g->progress = 0;
        return 1;
    }
    if (!strcmp(a, "--progress")) {
        g->progress = 1;
        return 1;
    }
    if (!strcmp(a, "--no-progress")) {
        g->progress = 0;
        return 1;
    }
    return 0;
}

int gen_cli_finish(gen_cli *g)
{
    if (!g->endpoint || !*g->endpoint) g->endpoint = getenv("OPENAI_BASE_URL");
    if (!g->endpoint || !*g->endpoint) {
        fprintf(stderr, "aviary: no endpoint: give --endpoint <url> (e.g. http://127.0.0.1:8000/v1) or set OPENAI_BASE_URL\n");
        return -1;
    }
    if (strncmp(g->endpoint, "http://", 7) && strncmp(g->endpoint, "https://", 8)) {
        fprintf(stderr, "aviary: endpoint '%s' is not an http:// or https:// URL\n", g->endpoint);
        return -1;
    }
    if (!g->server_set && strstr(g->endpoint, "api.openai.com")) g->server = GEN_SERVER_OPENAI;
    g->client.base_url = g->endpoint;
    const char *key = getenv(g->api_key_env);
    if (g->key_env_given && (!key || !*key)) {
        fprintf(stderr, "aviary: environment variable '%s' (from --api-key-env) is not set\n", g->api_key_env);
        return -1;
    }
    g->client.api_key = key && *key ? key : NULL;
    gen_url_public(g->endpoint_public, sizeof g->endpoint_public, g->endpoint);
    if (g->progress < 0) g->progress = isatty(2);
    return 0;
}

void gen_cli_run_opts(gen_cli *g, gen_run_opts *o, av_store *store, const char *command, const char *what,
                      const char *model)
{
    memset(o, 0, sizeof *o);
    o->store = store;
    free(g->command);
    g->command = gen_cli_public_command(command);
    o->command = g->command;
    o->what = what;
    o->client = g->client;
    o->batch = g->batch;
    o->price_in = g->price_in;
    o->price_out = g->price_out;
    o->progress = g->progress > 0;
    o->quiet = g->quiet;
    av_buf b = AV_BUF_INIT;
    av_buf_json_str(&b, g->endpoint_public, strlen(g->endpoint_public));
    gen_cli_attr(g, "endpoint", b.ptr);
    av_buf_reset(&b);
    const char *sn = gen_server_name(g->server);
    av_buf_json_str(&b, sn, strlen(sn));
    gen_cli_attr(g, "server", b.ptr);
    av_buf_reset(&b);
    av_buf_json_str(&b, model, strlen(model));
    gen_cli_attr(g, "model", b.ptr);
    av_buf_free(&b);
    av_buf_putc(&g->args, ']');
    gen_cli_attr(g, "args", g->args.ptr);
    g->args.len--; /* keep the array open for later idents */
    o->attr_keys = g->keys;
    o->attr_json = (const char *const *)g->vals;
    o->nattr = g->nattr;
}

char *gen_cli_public_command(const char *command)
{
    av_buf b = AV_BUF_INIT;
    const char *p = command ? command : "";
    while (*p) {
        const char *u = strstr(p, "://");
        if (!u) {
            av_buf_puts(&b, p);
            break;
        }
        av_buf_put(&b, p, (size_t)(u - p) + 3);
        const char *host = u + 3;
        size_t tok = strcspn(host, " '\"");
        char part[2048];
        snprintf(part, sizeof part, "x://%.*s", (int)(tok < 2000 ? tok : 2000), host);
        char pub[2048];
        gen_url_public(pub, sizeof pub, part);
        av_buf_puts(&b, pub + 4);
        p = host + tok;
    }
    return av_buf_detach(&b);
}
