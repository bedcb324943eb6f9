/* test_query_parallel.c: text predicates over many units are checked on
 * several threads (plan.c, par_rows): the answer, its order, where an error
 * stops and what an early stop by the callback returns must be exactly those
 * of one thread (AVIARY_QUERY_THREADS=1), on a store large enough for the
 * batches to be cut (3000 prompt/response pairs), by a scan and behind an
 * index driver. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/query.h"
#include "store/aviary.h"
#include "tap.h"
#include "util/util.h"

#define NROWS 3000

static av_store *S;
static av_reader *R;
static uint64_t resp[NROWS];

static int build(const char *dir)
{
    av_writer *w;
    if (av_store_init(dir) < 0 || av_store_open(&S, dir, AV_OPEN_RDWR) < 0 || av_writer_open(&w, S) < 0) return -1;
    for (int i = 0; i < NROWS; i++) {
        char ptext[64], rtext[128], cat[32], val[32];
        snprintf(ptext, sizeof ptext, "question %d", i);
        /* every 7th response holds the needle; row 2502's tag (a needle row) has a string n */
        snprintf(rtext, sizeof rtext, "answer %d%s", i, i % 7 == 3 ? " with a needle in it" : "");
        av_msg pm = {"user", {ptext, strlen(ptext), {{0}}, 0}}, rm = {"assistant", {rtext, strlen(rtext), {{0}}, 0}};
        av_record r;
        av_record_init(&r);
        r.kind = AV_PROMPT;
        r.nmsg = 1;
        r.msg = &pm;
        if (av_writer_put(w, &r) < 0) return -1;
        uint64_t p = r.row;
        av_record_init(&r);
        r.kind = AV_RESPONSE;
        r.ref[0] = p;
        r.nmsg = 1;
        r.msg = &rm;
        if (av_writer_put(w, &r) < 0) return -1;
        resp[i] = r.row;
        snprintf(cat, sizeof cat, "\"%s\"", i % 2 ? "odd" : "even");
        if (i == 2502) snprintf(val, sizeof val, "\"five\"");
        else snprintf(val, sizeof val, "%d", i % 10);
        av_attr a[2] = {{"parity", {cat, strlen(cat), {{0}}, 0}}, {"n", {val, strlen(val), {{0}}, 0}}};
        av_record_init(&r);
        r.kind = AV_TAG;
        r.ref[0] = p;
        r.nattr = 2;
        r.attr = a;
        if (av_writer_put(w, &r) < 0) return -1;
    }
    av_commit_opts o = {.message = "parallel fixture", .command = "test", .time = 1700000000};
    uint32_t v;
    if (av_writer_commit(w, &o, &v) < 0) return -1;
    return av_reader_open(&R, S, 0);
}

typedef struct got {
    av_buf b;
    size_t n, stop_after;
} got;

static int on_row(void *ctx, uint64_t row)
{
    got *g = ctx;
    av_buf_printf(&g->b, "%llu ", (unsigned long long)row);
    if (++g->n == g->stop_after) return 7;
    return 0;
}

/* "rc=<rc> n=<n> rows..." (and the error) with that many threads. */
static char *run(const char *expr, const char *threads, size_t stop_after)
{
    setenv("AVIARY_QUERY_THREADS", threads, 1);
    av_query *q;
    char *err = NULL;
    got g = {AV_BUF_INIT, 0, stop_after};
    if (av_query_compile(&q, expr, AV_RESPONSE, &err) < 0) {
        av_buf_printf(&g.b, "COMPILE %s", err);
        free(err);
        return av_buf_detach(&g.b);
    }
    int rc = av_query_run(q, R, on_row, &g);
    av_buf_printf(&g.b, "| rc=%d n=%zu", rc, g.n);
    if (rc < 0) av_buf_printf(&g.b, " %s", av_errmsg());
    av_query_free(q);
    unsetenv("AVIARY_QUERY_THREADS");
    return av_buf_detach(&g.b);
}

static void same(const char *expr, size_t stop_after, const char *want_tail)
{
    char *one = run(expr, "1", stop_after), *two = run(expr, "2", stop_after), *four = run(expr, "4", stop_after);
    CHECK_EQ_STR(two, one);
    CHECK_EQ_STR(four, one);
    const char *tail = strstr(one, "| ");
    CHECK(tail && !strncmp(tail, want_tail, strlen(want_tail)));
    if (!tail || strncmp(tail, want_tail, strlen(want_tail))) fprintf(stderr, "  %s: %s\n", expr, tail ? tail : one);
    free(one);
    free(two);
    free(four);
}

static void test_query_parallel__scan(void)
{
    /* every 7th: i = 3, 10, 17, ... < 3000 */
    same("response contains \"needle\"", 0, "| rc=0 n=429");
    same("response matches \"needle in\" and tag.parity = \"odd\"", 0, "| rc=0 n=215");
    same("len(response) > 20 and not response contains \"needle\"", 0, "| rc=0 n=0");
    /* the callback stops the run: its value comes back, after exactly that many rows */
    same("response contains \"needle\"", 5, "| rc=7 n=5");
    same("response contains \"answer\"", 1000, "| rc=7 n=1000");
}

static void test_query_parallel__errors_stop_at_the_same_row(void)
{
    /* the tag of row 2502 holds a string: matches before it are passed on, then the error */
    same("response contains \"needle\" and tag.n > 1", 0, "| rc=-5 n=");
    char *one = run("response contains \"needle\" and tag.n > 1", "1", 0);
    CHECK(strstr(one, "cannot compare tag.n with 1") != NULL);
    free(one);
}

static void test_query_parallel__behind_an_index(void)
{
    same("tag.parity = \"even\" and response contains \"needle\"", 0, "| rc=0 n=214");
    same("tag.parity = \"even\" and response contains \"needle\"", 100, "| rc=7 n=100");
}

int main(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/store", tap_tmpdir());
    if (build(path) < 0) {
        fprintf(stderr, "cannot build the store: %s\n", av_errmsg());
        return 1;
    }
    RUN(test_query_parallel__scan);
    RUN(test_query_parallel__errors_stop_at_the_same_row);
    RUN(test_query_parallel__behind_an_index);
    av_reader_close(R);
    av_store_close(S);
    return tap_done();
}
