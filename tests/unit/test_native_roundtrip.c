/* test_native_roundtrip.c: dump -> add -> dump through the library: a store
 * with every kind, provenance (also a late link), a run, retracts, a restore
 * and an empty commit is dumped, replayed into an empty store and dumped
 * again byte for byte; the dump at an older version matches too; adding it
 * again changes nothing; adding it to a store with other data is one merge
 * commit; and bad lines commit nothing. The dump is also compared with the
 * shipped sample tests/data/native_sample.jsonl (AVIARY_NATIVE_WRITE_SAMPLE
 * = path rewrites it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/native.h"
#include "ingest/native.h"
#include "store/aviary.h"
#include "tap.h"
#include "util/util.h"

#define T0 1764000000

static int store_n;

static char *fresh_store(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/s%d", tap_tmpdir(), store_n++);
    CHECK(av_store_init(path) == 0);
    return av_xstrdup(path);
}

static void commit(av_writer *w, uint32_t v, const char *msg)
{
    av_commit_opts o = {.message = msg, .command = "aviary test", .time = T0 + 60 * v, .allow_empty = 1};
    uint32_t got = 0;
    int rc = av_writer_commit(w, &o, &got);
    if (rc < 0) fprintf(stderr, "commit: %s\n", av_errmsg());
    CHECK_EQ_INT(got, v);
}

static uint64_t put(av_writer *w, av_record *rec)
{
    int rc = av_writer_put(w, rec);
    if (rc < 0) fprintf(stderr, "put: %s\n", av_errmsg());
    CHECK(rc == 1);
    return rec->row;
}

static void attr(av_attr *a, const char *key, const char *json)
{
    a->key = key;
    a->json.ptr = json;
    a->json.len = strlen(json);
}

static void msg(av_msg *m, const char *role, const char *text)
{
    m->role = role;
    m->text.ptr = text;
    m->text.len = strlen(text);
}

/* The sample history: 5 versions. Returns the store's directory. */
static char *build_sample(void)
{
    char *dir = fresh_store();
    av_store *s = NULL;
    av_writer *w = NULL;
    CHECK(av_store_open(&s, dir, AV_OPEN_RDWR) == 0);
    av_record rec;
    av_attr at[4];
    av_msg m[3];
    uint64_t llama, src, p1, p2, r1, r2, t1, judge, run;

    /* v1: a source, a model, two prompts, a response, a tag */
    CHECK(av_writer_open(&w, s) == 0);
    CHECK(av_writer_model(w, "llama-3-8b-instruct", &llama) == 0);
    av_record_init(&rec);
    rec.kind = AV_SOURCE;
    rec.name = "magpie-sample";
    attr(&at[0], "file", "\"magpie.jsonl\"");
    attr(&at[1], "licence", "\"llama3\"");
    rec.nattr = 2;
    rec.attr = at;
    src = put(w, &rec);
    av_record_init(&rec);
    rec.kind = AV_PROMPT;
    msg(&m[0], "system", "You are a careful tutor.");
    msg(&m[1], "user", "What is 2 + 2? Answer with \"four\" or \"vier\" \xc3\xa9\n\ttab");
    rec.nmsg = 2;
    rec.msg = m;
    p1 = put(w, &rec);
    CHECK(av_writer_link(w, p1, src, 1) == 1);
    av_record_init(&rec);
    rec.kind = AV_PROMPT;
    msg(&m[0], "user", "Write a haiku about LMDB.");
    rec.nmsg = 1;
    rec.msg = m;
    p2 = put(w, &rec);
    CHECK(av_writer_link(w, p2, src, 2) == 1);
    av_record_init(&rec);
    rec.kind = AV_RESPONSE;
    rec.ref[0] = p1;
    rec.model = llama;
    msg(&m[0], "assistant", "Four.");
    rec.nmsg = 1;
    rec.msg = m;
    r1 = put(w, &rec);
    CHECK(av_writer_link(w, r1, src, 1) == 1);
    av_record_init(&rec);
    rec.kind = AV_TAG;
    rec.ref[0] = p1;
    attr(&at[0], "task_category", "\"Math\"");
    attr(&at[1], "instruct_reward", "3.25");
    attr(&at[2], "ids", "[\"a\", 1, {\"x\": null}]");
    attr(&at[3], "big", "12345678901234567890");
    rec.nattr = 4;
    rec.attr = at;
    t1 = put(w, &rec);
    CHECK(av_writer_link(w, t1, src, 1) == 1);
    commit(w, 1, "ingest magpie.jsonl");

    /* v2: a judging run, a rating, a second response, a preference, a late link */
    CHECK(av_writer_open(&w, s) == 0);
    CHECK(av_writer_model(w, "gpt-4o", &judge) == 0);
    av_record_init(&rec);
    rec.kind = AV_RUN;
    rec.name = "judge rate";
    attr(&at[0], "endpoint", "\"http://127.0.0.1:8000/v1\"");
    attr(&at[1], "params", "{\"temperature\":0.0}");
    rec.nattr = 2;
    rec.attr = at;
    run = put(w, &rec);
    av_record_init(&rec);
    rec.kind = AV_RATING;
    rec.ref[0] = r1;
    rec.model = judge;
    rec.run = run;
    rec.name = "helpfulness";
    rec.num = 4.0;
    msg(&m[0], "rationale", "Correct and short.");
    rec.nmsg = 1;
    rec.msg = m;
    put(w, &rec);
    av_record_init(&rec);
    rec.kind = AV_RESPONSE;
    rec.ref[0] = p1;
    rec.model = judge;
    rec.run = run;
    msg(&m[0], "assistant", "2 + 2 = 4, so the answer is four.");
    rec.nmsg = 1;
    rec.msg = m;
    r2 = put(w, &rec);
    av_record_init(&rec);
    rec.kind = AV_PREFERENCE;
    rec.ref[0] = p1;
    rec.ref[1] = r1;
    rec.ref[2] = r2;
    rec.model = judge;
    rec.name = "text";
    rec.num = 0.1 + 0.2; /* not a short decimal: must stay exact */
    put(w, &rec);
    av_record_init(&rec);
    rec.kind = AV_RATING;
    rec.ref[0] = r2;
    rec.model = judge;
    rec.name = "honesty";
    rec.num = NAN; /* N/A */
    put(w, &rec);
    CHECK(av_writer_link(w, p2, src, 7) == 1);
    commit(w, 2, "judge rate");

    /* v3: retract the tag and the second prompt */
    CHECK(av_writer_open(&w, s) == 0);
    CHECK(av_writer_retract(w, t1) == 1);
    CHECK(av_writer_retract(w, p2) == 1);
    commit(w, 3, "retract 2 records");

    /* v4: restore the prompt; tag the second response */
    CHECK(av_writer_open(&w, s) == 0);
    CHECK(av_writer_restore(w, p2) == 1);
    av_record_init(&rec);
    rec.kind = AV_TAG;
    rec.ref[0] = r2;
    attr(&at[0], "score", "1e-07");
    attr(&at[1], "note", "\"multi\\nline \\u00e9\"");
    rec.nattr = 2;
    rec.attr = at;
    put(w, &rec);
    commit(w, 4, "restore and tag\nwith a second line");

    /* v5: an empty commit */
    CHECK(av_writer_open(&w, s) == 0);
    commit(w, 5, "checkpoint");
    av_store_close(s);
    return dir;
}

static char *dump_of(const char *dir, uint32_t v, size_t *len)
{
    av_store *s = NULL;
    char *buf = NULL;
    size_t n = 0;
    CHECK(av_store_open(&s, dir, AV_OPEN_RDONLY) == 0);
    FILE *f = open_memstream(&buf, &n);
    int rc = av_native_dump(s, v, f);
    if (rc < 0) fprintf(stderr, "dump: %s\n", av_errmsg());
    CHECK(rc == 0);
    fclose(f);
    av_store_close(s);
    *len = n;
    return buf;
}

static int add_to(const char *dir, const char *text, size_t len, av_native_add_result *res)
{
    av_store *s = NULL;
    CHECK(av_store_open(&s, dir, AV_OPEN_RDWR) == 0);
    FILE *f = fmemopen((void *)text, len, "r");
    av_native_add_opts o = {.name = "sample.jsonl", .command = "aviary add sample.jsonl"};
    int rc = av_native_add(s, f, &o, res);
    fclose(f);
    av_store_close(s);
    return rc;
}

static uint32_t head_of(const char *dir)
{
    av_store *s = NULL;
    uint32_t h = 0;
    CHECK(av_store_open(&s, dir, AV_OPEN_RDONLY) == 0);
    av_store_head(s, &h);
    av_store_close(s);
    return h;
}

static char *sample_dir;

static void test_native__dump_add_dump_is_identical(void)
{
    size_t n1, n2;
    char *d1 = dump_of(sample_dir, 0, &n1);
    char *copy = fresh_store();
    av_native_add_result res;
    int rc = add_to(copy, d1, n1, &res);
    if (rc < 0) fprintf(stderr, "add: %s\n", av_errmsg());
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(res.replayed, 1);
    CHECK_EQ_INT(res.first, 1);
    CHECK_EQ_INT(res.last, 5);
    char *d2 = dump_of(copy, 0, &n2);
    CHECK_EQ_INT(n2, n1);
    CHECK(n1 == n2 && !memcmp(d1, d2, n1));
    /* older versions answer the same too */
    for (uint32_t v = 1; v <= 5; v++) {
        size_t a, b;
        char *x = dump_of(sample_dir, v, &a), *y = dump_of(copy, v, &b);
        CHECK(a == b && !memcmp(x, y, a));
        free(x);
        free(y);
    }
    /* the same add again: nothing new */
    rc = add_to(copy, d1, n1, &res);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(res.last, 0);
    CHECK_EQ_INT(head_of(copy), 5);

    /* the golden sample */
    const char *w = getenv("AVIARY_NATIVE_WRITE_SAMPLE");
    if (w) {
        FILE *f = fopen(w, "w");
        fwrite(d1, 1, n1, f);
        fclose(f);
    }
    const char *src = getenv("AVIARY_SRC");
    if (src) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/data/native_sample.jsonl", src);
        size_t gl = 0;
        char *golden = av_read_file(path, &gl);
        CHECK(golden != NULL);
        if (golden) CHECK(gl == n1 && !memcmp(golden, d1, n1));
        free(golden);
    }
    free(d1);
    free(d2);
    free(copy);
}

static void test_native__dump_contents(void)
{
    size_t n;
    char *d = dump_of(sample_dir, 0, &n);
    CHECK(!strncmp(d, "{\"aviary\":\"dump\",\"format\":1,\"version\":5}\n", 41));
    CHECK(strstr(d, "\"num\":0.30000000000000004") != NULL);
    CHECK(strstr(d, "\"attrs\":{\"task_category\":\"Math\",\"instruct_reward\":3.25,\"ids\":[\"a\", 1, {\"x\": null}],"
                    "\"big\":12345678901234567890}") != NULL);
    CHECK(strstr(d, "\"history\":[{\"version\":3,\"event\":\"retract\"},{\"version\":4,\"event\":\"restore\"}]") != NULL);
    CHECK(strstr(d, "{\"commit\":5,\"time\":\"2025-11-24T16:05:00Z\",\"message\":\"checkpoint\"") != NULL);
    /* the rating with N/A has no num */
    const char *h = strstr(d, "\"name\":\"honesty\"");
    CHECK(h && strncmp(h + 16, ",\"num\"", 6));
    /* at version 2 the retract is not yet history */
    free(d);
    d = dump_of(sample_dir, 2, &n);
    CHECK(strstr(d, "\"history\"") == NULL);
    CHECK(strstr(d, "\"commit\":3") == NULL);
    CHECK(strstr(d, "restore and tag") == NULL);
    free(d);
}

static void test_native__merge_into_store_with_data(void)
{
    size_t n;
    char *d = dump_of(sample_dir, 0, &n);
    char *dir = fresh_store();
    av_store *s = NULL;
    av_writer *w = NULL;
    CHECK(av_store_open(&s, dir, AV_OPEN_RDWR) == 0);
    CHECK(av_writer_open(&w, s) == 0);
    av_record rec;
    av_msg m;
    av_record_init(&rec);
    rec.kind = AV_PROMPT;
    msg(&m, "user", "Something else entirely.");
    rec.nmsg = 1;
    rec.msg = &m;
    put(w, &rec);
    av_commit_opts o = {.message = "mine", .command = "aviary test"};
    uint32_t v;
    CHECK(av_writer_commit(w, &o, &v) == 1);
    av_store_close(s);

    av_native_add_result res;
    int rc = add_to(dir, d, n, &res);
    if (rc < 0) fprintf(stderr, "add: %s\n", av_errmsg());
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(res.replayed, 0);
    CHECK_EQ_INT(res.first, 2);
    CHECK_EQ_INT(res.skipped, 1);
    CHECK_EQ_INT(head_of(dir), 2);
    /* twice: nothing new, no commit */
    rc = add_to(dir, d, n, &res);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(res.last, 0);
    CHECK_EQ_INT(res.added, 0);
    CHECK_EQ_INT(head_of(dir), 2);
    /* the tag retracted in the dump is left out */
    CHECK(av_store_open(&s, dir, AV_OPEN_RDONLY) == 0);
    av_reader *r = NULL;
    CHECK(av_reader_open(&r, s, 0) == 0);
    const char *tl = strstr(d, "\"kind\":\"tag\",\"id\":\"");
    CHECK(tl != NULL);
    if (tl) {
        char hex[33];
        memcpy(hex, tl + 19, 32);
        hex[32] = 0;
        av_id id;
        uint64_t row;
        CHECK(av_id_parse(&id, hex) == 0);
        CHECK_EQ_INT(av_find(r, &id, &row), AV_ENOTFOUND);
    }
    av_reader_close(r);
    av_store_close(s);
    free(d);
    free(dir);
}

/* Replaces the first occurrence of from with to in a copy of d. */
static char *edit(const char *d, size_t n, const char *from, const char *to, size_t *out_n)
{
    const char *p = strstr(d, from);
    CHECK(p != NULL);
    if (!p) return NULL;
    av_buf b = AV_BUF_INIT;
    av_buf_put(&b, d, (size_t)(p - d));
    av_buf_puts(&b, to);
    av_buf_put(&b, p + strlen(from), n - (size_t)(p - d) - strlen(from));
    *out_n = b.len;
    return av_buf_detach(&b);
}

static void expect_bad(const char *d, size_t n, const char *from, const char *to, const char *want)
{
    size_t bn;
    char *bad = edit(d, n, from, to, &bn);
    if (!bad) return;
    char *dir = fresh_store();
    av_native_add_result res;
    int rc = add_to(dir, bad, bn, &res);
    CHECK_EQ_INT(rc, AV_EINVAL);
    if (!strstr(av_errmsg(), want)) fprintf(stderr, "message '%s' lacks '%s'\n", av_errmsg(), want);
    CHECK(strstr(av_errmsg(), want) != NULL);
    CHECK_EQ_INT(head_of(dir), 0);
    free(bad);
    free(dir);
}

static void test_native__bad_lines_commit_nothing(void)
{
    size_t n;
    char *d = dump_of(sample_dir, 0, &n);
    /* corrupted: a text edited after its id was computed (a late line, so
       versions 1.. would have been committed by a one-pass replay) */
    expect_bad(d, n, "so the answer is four", "so the answer is five", "corrupted record");
    expect_bad(d, n, "\"kind\":\"preference\"", "\"kind\":\"opinion\"", "unknown record kind 'opinion'");
    expect_bad(d, n, "\"name\":\"honesty\"}", "\"name\":\"hon", "truncated line");
    expect_bad(d, n, "\"id\":\"", "\"id\":\"zz", "bad content id");
    expect_bad(d, n, "\"commit\":2", "\"commit\":3", "commit 3 out of order");
    expect_bad(d, n, "{\"aviary\":\"dump\"", "{\"aviary\":\"dumb\"", "sample.jsonl:1:");
    free(d);
}

static void test_native__line_numbers_in_errors(void)
{
    size_t n;
    char *d = dump_of(sample_dir, 0, &n);
    /* the model is line 8 (header + 5 commits + the source) */
    size_t bn;
    char *bad = edit(d, n, "\"kind\":\"model\"", "\"kind\":\"modle\"", &bn);
    char *dir = fresh_store();
    av_native_add_result res;
    CHECK_EQ_INT(add_to(dir, bad, bn, &res), AV_EINVAL);
    CHECK(!strncmp(av_errmsg(), "sample.jsonl:8: unknown record kind 'modle'", 44));
    free(bad);
    free(dir);
    free(d);
}

/* A hand-written merge where a prompt links to a source further down. */
static void test_native__link_to_a_later_source(void)
{
    const char *text =
        "{\"aviary\":\"dump\",\"format\":1,\"version\":0}\n"
        "{\"kind\":\"prompt\",\"msgs\":[{\"role\":\"user\",\"text\":\"Late source?\"}],"
        "\"prov\":[{\"source\":\"4e20e31f0b422e275d3304cc65c934b8\",\"line\":3,\"version\":1}]}\n"
        "{\"kind\":\"source\",\"id\":\"4e20e31f0b422e275d3304cc65c934b8\",\"version\":1,\"name\":\"magpie-sample\","
        "\"attrs\":{\"file\":\"magpie.jsonl\",\"licence\":\"llama3\"}}\n";
    char *dir = fresh_store();
    av_native_add_result res;
    int rc = add_to(dir, text, strlen(text), &res);
    if (rc < 0) fprintf(stderr, "add: %s\n", av_errmsg());
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(res.added, 2);
    av_store *s = NULL;
    av_reader *r = NULL;
    CHECK(av_store_open(&s, dir, AV_OPEN_RDONLY) == 0);
    CHECK(av_reader_open(&r, s, 0) == 0);
    av_prov p[4];
    size_t n = 0;
    CHECK(av_prov_get(r, 1, p, 4, &n) == 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(p[0].source, 2);
    CHECK_EQ_INT(p[0].line, 3);
    av_reader_close(r);
    av_store_close(s);
    /* a source that never comes: an error naming the line that linked it */
    const char *missing =
        "{\"aviary\":\"dump\",\"format\":1,\"version\":0}\n"
        "{\"kind\":\"prompt\",\"msgs\":[{\"role\":\"user\",\"text\":\"Lost source?\"}],"
        "\"prov\":[{\"source\":\"00000000000000000000000000000abc\",\"line\":1,\"version\":1}]}\n";
    char *dir2 = fresh_store();
    CHECK_EQ_INT(add_to(dir2, missing, strlen(missing), &res), AV_EINVAL);
    CHECK(!strncmp(av_errmsg(), "sample.jsonl:2: its provenance source is '00000000000000000000000000000abc'", 75));
    CHECK_EQ_INT(head_of(dir2), 0);
    free(dir);
    free(dir2);
}

int main(void)
{
    sample_dir = build_sample();
    RUN(test_native__dump_contents);
    RUN(test_native__dump_add_dump_is_identical);
    RUN(test_native__merge_into_store_with_data);
    RUN(test_native__bad_lines_commit_nothing);
    RUN(test_native__line_numbers_in_errors);
    RUN(test_native__link_to_a_later_source);
    free(sample_dir);
    return tap_done();
}
