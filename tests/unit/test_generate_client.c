/* test_generate_client.c: the HTTP client: Retry-After parsing (ms, seconds,
 * HTTP date, over 60 s), backoff with jitter, the three error-body shapes,
 * endpoint URLs, and live retries against the fake server (429, 500, 503
 * while loading, malformed and truncated bodies, dropped connections, slow
 * replies past the timeout, insufficient_quota final, 4xx failed). */
#include <stdlib.h>
#include <string.h>

#include "generate/client.h"
#include "generate_fake.h"
#include "tap.h"

static void test_generate_client__retry_after(void)
{
    CHECK_EQ_INT(gen_retry_after_ms("250", NULL, 0), 250);
    CHECK_EQ_INT(gen_retry_after_ms(NULL, "2", 0), 2000);
    CHECK_EQ_INT(gen_retry_after_ms(NULL, "0.5", 0), 500);
    CHECK_EQ_INT(gen_retry_after_ms("oops", "3", 0), 3000);
    CHECK_EQ_INT(gen_retry_after_ms(NULL, "61", 0), -1);
    CHECK_EQ_INT(gen_retry_after_ms("60001", NULL, 0), -1);
    CHECK_EQ_INT(gen_retry_after_ms(NULL, NULL, 0), -1);
    CHECK_EQ_INT(gen_retry_after_ms(NULL, "soon", 0), -1);
    /* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 */
    CHECK_EQ_INT(gen_retry_after_ms(NULL, "Wed, 21 Oct 2015 07:28:00 GMT", 1445412470), 10000);
    CHECK_EQ_INT(gen_retry_after_ms(NULL, "Wed, 21 Oct 2015 07:28:00 GMT", 1445412490), 0);
    CHECK_EQ_INT(gen_retry_after_ms(NULL, "Wed, 21 Oct 2015 07:28:00 GMT", 1445412000), -1);
}

static void test_generate_client__backoff(void)
{
    CHECK_EQ_INT(gen_backoff_ms(500, 0, 0.0), 500);
    CHECK_EQ_INT(gen_backoff_ms(500, 1, 0.0), 1000);
    CHECK_EQ_INT(gen_backoff_ms(500, 3, 0.0), 4000);
    CHECK_EQ_INT(gen_backoff_ms(500, 30, 0.0), 60000);
    long j = gen_backoff_ms(1000, 0, 0.5);
    CHECK(j >= 750 && j <= 1000);
    CHECK_EQ_INT(j, 875);
    CHECK(gen_status_retryable(408) && gen_status_retryable(409) && gen_status_retryable(429));
    CHECK(gen_status_retryable(500) && gen_status_retryable(503));
    CHECK(!gen_status_retryable(400) && !gen_status_retryable(404) && !gen_status_retryable(200));
}

static void test_generate_client__error_shapes(void)
{
    char out[256];
    const char *a = "{\"error\": {\"message\": \"You exceeded your current quota\", \"type\": \"insufficient_quota\", "
                    "\"param\": null, \"code\": \"insufficient_quota\"}}";
    CHECK_EQ_INT(gen_error_describe(out, sizeof out, a, strlen(a)), 1);
    CHECK_EQ_STR(out, "You exceeded your current quota (insufficient_quota)");
    const char *b = "{\"object\": \"error\", \"message\": \"bad\\nthing\", \"type\": \"BadRequestError\", \"code\": 400}";
    CHECK_EQ_INT(gen_error_describe(out, sizeof out, b, strlen(b)), 0);
    CHECK_EQ_STR(out, "bad thing (BadRequestError)");
    const char *c = "{\"error\": \"model 'x' not found\"}";
    CHECK_EQ_INT(gen_error_describe(out, sizeof out, c, strlen(c)), 0);
    CHECK_EQ_STR(out, "model 'x' not found");
    const char *d = "{\"error\": {\"code\": 503, \"message\": \"Loading model\", \"type\": \"unavailable_error\"}}";
    gen_error_describe(out, sizeof out, d, strlen(d));
    CHECK_EQ_STR(out, "Loading model (503)");
    const char *e = "<html>Bad Gateway</html>";
    gen_error_describe(out, sizeof out, e, strlen(e));
    CHECK_EQ_STR(out, "<html>Bad Gateway</html>");
    gen_error_describe(out, sizeof out, "", 0);
    CHECK_EQ_STR(out, "empty body");
}

static void test_generate_client__urls(void)
{
    char out[256];
    CHECK_EQ_INT(gen_url_base(out, sizeof out, "http://h:8000/v1/"), 0);
    CHECK_EQ_STR(out, "http://h:8000");
    CHECK_EQ_INT(gen_url_base(out, sizeof out, "http://h:8000/v1/chat/completions"), 1);
    CHECK_EQ_STR(out, "http://h:8000");
    gen_url_base(out, sizeof out, "http://h:8000/v1/completions");
    CHECK_EQ_STR(out, "http://h:8000");
    gen_url_base(out, sizeof out, "http://h:11434/api/generate");
    CHECK_EQ_STR(out, "http://h:11434");
    gen_url_base(out, sizeof out, "http://h:8000/proxy");
    CHECK_EQ_STR(out, "http://h:8000/proxy");
    gen_url_public(out, sizeof out, "https://user:secret@api.example.com/v1?key=abc");
    CHECK_EQ_STR(out, "https://api.example.com/v1");
    gen_url_public(out, sizeof out, "http://127.0.0.1:8000/v1");
    CHECK_EQ_STR(out, "http://127.0.0.1:8000/v1");
}

/* ---- live ---------------------------------------------------------------- */

typedef struct outcome {
    int calls, outcome, attempts, rejected_once;
    long status;
    char error[300];
    char body[200];
} outcome;

static int on_done(void *ctx, void *tag, const gen_http_result *res)
{
    (void)ctx;
    outcome *o = tag;
    o->calls++;
    o->outcome = res->outcome;
    o->attempts = res->attempts;
    o->status = res->status;
    snprintf(o->error, sizeof o->error, "%s", res->error ? res->error : "");
    snprintf(o->body, sizeof o->body, "%.*s", (int)(res->body_len < 199 ? res->body_len : 199), res->body);
    /* a body that is not complete JSON is refused, as the generators do */
    if (res->outcome == GEN_OK && (res->body_len < 2 || res->body[res->body_len - 1] != '}')) return 1;
    return 0;
}

static int port;

static char *chat_body(const char *content)
{
    char *b = malloc(512);
    snprintf(b, 512, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}", content);
    return b;
}

static void run_all(gen_client *c)
{
    for (int guard = 0; gen_client_pending(c) && guard < 2000; guard++) gen_client_poll(c, 100, on_done, NULL);
}

static void test_generate_client__live_faults(void)
{
    if (!port) return;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", port);
    gen_client_opts o = GEN_CLIENT_OPTS_INIT;
    o.base_url = url;
    o.api_key = "sk-test";
    o.concurrency = 4;
    o.timeout_ms = 700;
    o.max_retries = 3;
    o.backoff_ms = 10;
    gen_client *c = NULL;
    const char *err = NULL;
    CHECK_EQ_INT(gen_client_new(&c, &o, &err), 0);
    if (!c) return;
    static const char *faults[] = {"@fault:429", "@fault:500*2", "@fault:503load", "@fault:malformed", "@fault:truncated",
                                   "@fault:drop", "@fault:slow", "@fault:429s", "plain"};
    enum { NF = sizeof faults / sizeof faults[0] };
    outcome ok[NF];
    memset(ok, 0, sizeof ok);
    for (int i = 0; i < NF; i++) {
        char *b = chat_body(faults[i]);
        gen_client_submit(c, "/v1/chat/completions", b, strlen(b), &ok[i]);
    }
    outcome quota = {0}, old = {0}, many = {0};
    char *b = chat_body("@fault:quota");
    gen_client_submit(c, "/v1/chat/completions", b, strlen(b), &quota);
    b = chat_body("@fault:oldvllm");
    gen_client_submit(c, "/v1/chat/completions", b, strlen(b), &old);
    b = chat_body("@fault:500*9");
    gen_client_submit(c, "/v1/chat/completions", b, strlen(b), &many);
    run_all(c);
    CHECK_EQ_INT(gen_client_pending(c), 0);
    for (int i = 0; i < NF; i++) {
        if (ok[i].outcome != GEN_OK) fprintf(stderr, "fault %s: %d attempts %s\n", faults[i], ok[i].attempts, ok[i].error);
        CHECK_EQ_INT(ok[i].calls, i == 3 ? 2 : 1); /* the malformed body was refused once */
        CHECK_EQ_INT(ok[i].outcome, GEN_OK);
        CHECK_EQ_INT(ok[i].status, 200);
        CHECK(strstr(ok[i].body, "chat.completion") != NULL);
        /* curl itself resends once on a kept-alive connection the server dropped */
        if (i == 5) CHECK(ok[i].attempts == 1 || ok[i].attempts == 2);
        else CHECK_EQ_INT(ok[i].attempts, i == 1 ? 3 : i == NF - 1 ? 1 : 2);
    }
    CHECK_EQ_INT(quota.outcome, GEN_FATAL);
    CHECK_EQ_INT(quota.attempts, 1);
    CHECK(strstr(quota.error, "HTTP 429: You exceeded your current quota (insufficient_quota)") != NULL);
    CHECK_EQ_INT(old.outcome, GEN_FAILED);
    CHECK_EQ_STR(old.error, "HTTP 400: bad request from old vLLM (BadRequestError)");
    CHECK_EQ_INT(many.outcome, GEN_FAILED);
    CHECK_EQ_INT(many.attempts, 4);
    CHECK_EQ_STR(many.error, "HTTP 500: internal error (server_error)");
    CHECK(gen_client_retries(c) >= 10);
    gen_client_free(c);
}

static void test_generate_client__refused_connection(void)
{
    gen_client_opts o = GEN_CLIENT_OPTS_INIT;
    o.base_url = "http://127.0.0.1:1";
    o.max_retries = 2;
    o.backoff_ms = 1;
    gen_client *c = NULL;
    const char *err = NULL;
    CHECK_EQ_INT(gen_client_new(&c, &o, &err), 0);
    outcome out = {0};
    char *b = chat_body("x");
    gen_client_submit(c, "/v1/chat/completions", b, strlen(b), &out);
    run_all(c);
    CHECK_EQ_INT(out.calls, 1);
    CHECK_EQ_INT(out.outcome, GEN_FATAL); /* nobody listens: every request would fail */
    CHECK_EQ_INT(out.attempts, 3);
    CHECK(strstr(out.error, "onnect") != NULL);
    gen_client_free(c);
}

int main(void)
{
    RUN(test_generate_client__retry_after);
    RUN(test_generate_client__backoff);
    RUN(test_generate_client__error_shapes);
    RUN(test_generate_client__urls);
    port = fake_start(tap_tmpdir(), (const char *const[]){"--slow-ms", "2000", NULL});
    if (!port) fprintf(stderr, "fake server unavailable (python3?): live tests skipped\n");
    RUN(test_generate_client__live_faults);
    RUN(test_generate_client__refused_connection);
    fake_stop();
    return tap_done();
}
