/* query_fixture.h: a small store for the query tests, written through the
 * store API the way `aviary ingest` lays records out: per source row a
 * prompt, a response (ref = prompt) and ONE tag record on the prompt holding
 * the row's other fields; sources with file/licence/format attributes;
 * models whose licence is a tag on the model record; ratings, a preference
 * and tags from a later "judge" commit. Two versions:
 *
 * Licences are spelled as datasets spell them ("MIT", "OpenAI", "Apache
 * 2.0"); lineage and queries report the normalised ids (mit, openai-terms,
 * apache-2.0).
 *
 * v1: magpie rows 1..8 (source "magpie-test", licence llama3), one
 *     UltraFeedback-like row 9 (source "ultra-test", licence MIT) with two
 *     responses, ratings and a preference, and a multi-turn row 10; gpt-4's
 *     licence is OpenAI.
 * v2: row 11 (Math, good), a rating on response 1, a tag on response 3,
 *     response 4 retracted, and model qwen2 gets licence Apache 2.0.
 *
 * Rows of interest are returned in a qfx struct. Header-only (static). */
#ifndef QUERY_FIXTURE_H
#define QUERY_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "store/aviary.h"
#include "util/util.h"

typedef struct qfx {
    uint32_t v1, v2;
    uint64_t src_magpie, src_ultra;
    uint64_t m_llama, m_gpt4, m_qwen;
    uint64_t prompt[12], response[12], tag[12]; /* by source row 1..11 */
    uint64_t resp9b;
    uint64_t pref9;
    uint64_t rating_r1;
    uint64_t rating_q9b; /* helpfulness of response 9b by qwen2 */
} qfx;

#define QFX_CHECK(x) do { int rc_ = (x); if (rc_ < 0) { fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, av_errmsg()); return rc_; } } while (0)

static int qfx_put(av_writer *w, av_record *r)
{
    int rc = av_writer_put(w, r);
    return rc < 0 ? rc : 0;
}

/* A record with the given attrs ("key", "json", ..., NULL). */
static void qfx_attrs(av_attr *a, uint32_t *n, const char *const *kv)
{
    *n = 0;
    for (; kv[0]; kv += 2, (*n)++) {
        a[*n].key = kv[0];
        a[*n].json.ptr = kv[1];
        a[*n].json.len = strlen(kv[1]);
    }
}

static int qfx_tag(av_writer *w, uint64_t target, uint64_t model, const char *const *kv, uint64_t *out)
{
    av_attr a[32];
    av_record r;
    av_record_init(&r);
    r.kind = AV_TAG;
    r.ref[0] = target;
    r.model = model;
    qfx_attrs(a, &r.nattr, kv);
    r.attr = a;
    QFX_CHECK(qfx_put(w, &r));
    if (out) *out = r.row;
    return 0;
}

/* One magpie-style source row: prompt (user text), response, tag on the prompt. */
static int qfx_row(av_writer *w, qfx *f, int i, uint64_t src, uint64_t gen, uint64_t writer, const char *instr,
                   const char *resp, const char *const *kv)
{
    av_msg pm = {"user", {instr, strlen(instr), {{0}}, 0}};
    av_record r;
    av_record_init(&r);
    r.kind = AV_PROMPT;
    r.model = gen;
    r.nmsg = 1;
    r.msg = &pm;
    QFX_CHECK(qfx_put(w, &r));
    f->prompt[i] = r.row;
    av_msg rm = {"assistant", {resp, strlen(resp), {{0}}, 0}};
    av_record_init(&r);
    r.kind = AV_RESPONSE;
    r.ref[0] = f->prompt[i];
    r.model = writer;
    r.nmsg = 1;
    r.msg = &rm;
    QFX_CHECK(qfx_put(w, &r));
    f->response[i] = r.row;
    QFX_CHECK(qfx_tag(w, f->prompt[i], 0, kv, &f->tag[i]));
    QFX_CHECK(av_writer_link(w, f->prompt[i], src, (uint64_t)i));
    QFX_CHECK(av_writer_link(w, f->response[i], src, (uint64_t)i));
    QFX_CHECK(av_writer_link(w, f->tag[i], src, (uint64_t)i));
    return 0;
}

static int qfx_source(av_writer *w, const char *name, const char *file, const char *licence, const char *format,
                      uint64_t *out)
{
    av_attr a[8];
    av_record r;
    av_record_init(&r);
    r.kind = AV_SOURCE;
    r.name = name;
    const char *kv[] = {"file", file, "sha256", "\"0000\"", "url", "\"https://example.org/data\"",
                        "licence", licence, "format", format, NULL};
    qfx_attrs(a, &r.nattr, kv);
    r.attr = a;
    QFX_CHECK(qfx_put(w, &r));
    *out = r.row;
    return 0;
}

static int qfx_rating(av_writer *w, uint64_t response, uint64_t judge, const char *aspect, double score, uint64_t *out)
{
    av_msg m = {"rationale", {"ok", 2, {{0}}, 0}};
    av_record r;
    av_record_init(&r);
    r.kind = AV_RATING;
    r.ref[0] = response;
    r.model = judge;
    r.name = aspect;
    r.num = score;
    r.nmsg = 1;
    r.msg = &m;
    QFX_CHECK(qfx_put(w, &r));
    if (out) *out = r.row;
    return 0;
}

static char qfx_long[4096];

static int qfx_build(const char *dir, qfx *f)
{
    memset(f, 0, sizeof *f);
    av_store *s;
    av_writer *w;
    QFX_CHECK(av_store_init(dir));
    QFX_CHECK(av_store_open(&s, dir, AV_OPEN_RDWR));
    QFX_CHECK(av_writer_open(&w, s));
    QFX_CHECK(qfx_source(w, "magpie-test", "\"magpie.jsonl\"", "\"llama3\"", "\"magpie\"", &f->src_magpie));
    QFX_CHECK(qfx_source(w, "ultra-test", "\"uf.jsonl\"", "\"MIT\"", "\"ultrafeedback\"", &f->src_ultra));
    QFX_CHECK(av_writer_model(w, "meta-llama/Meta-Llama-3-8B-Instruct", &f->m_llama));
    QFX_CHECK(av_writer_model(w, "gpt-4", &f->m_gpt4));
    QFX_CHECK(av_writer_model(w, "qwen2", &f->m_qwen));
    const char *lic1[] = {"licence", "\"llama3\"", NULL};
    const char *lic2[] = {"licence", "\"OpenAI\"", NULL};
    QFX_CHECK(qfx_tag(w, f->m_llama, 0, lic1, NULL));
    QFX_CHECK(qfx_tag(w, f->m_gpt4, 0, lic2, NULL));
    uint64_t L = f->m_llama, Q = f->m_qwen;
    /* a long text of multi-byte characters: 1500 code points, 3000 bytes */
    size_t n = 0;
    for (int i = 0; i < 1500; i++) {
        qfx_long[n++] = (char)0xc3;
        qfx_long[n++] = (char)0xa9;
    }
    qfx_long[n] = 0;
    const char *t1[] = {"task_category", "\"Math\"", "input_quality", "\"good\"", "instruct_reward", "3.5",
                        "other_task_category", "[\"Reasoning\", \"Information seeking\"]", "difficulty", "\"easy\"",
                        "language", "\"EN\"", "uuid", "\"u-1\"", "min_similar_uuid", "null", NULL};
    const char *t2[] = {"task_category", "\"Math\"", "input_quality", "\"excellent\"", "instruct_reward", "-0.5",
                        "other_task_category", "[]", "difficulty", "\"hard\"", "language", "\"EN\"", "uuid", "\"u-2\"",
                        "min_similar_uuid", "\"u-2\"", NULL};
    const char *t3[] = {"task_category", "\"Coding & Debugging\"", "input_quality", "\"excellent\"", "instruct_reward",
                        "1.25", "other_task_category", "[\"Math\"]", "difficulty", "\"medium\"", "language", "\"EN\"",
                        "uuid", "\"u-3\"", "repeat_count", "2", NULL};
    const char *t4[] = {"task_category", "\"Math\"", "input_quality", "\"poor\"", "instruct_reward", "-2.0",
                        "difficulty", "\"easy\"", "language", "\"EN\"", "uuid", "\"u-4\"", "repeat_count", "0", NULL};
    const char *t5[] = {"task_category", "\"Math\"", "input_quality", "\"excellent\"", "instruct_reward", "0",
                        "difficulty", "\"very hard\"", "language", "\"EN\"", "uuid", "\"u-5\"", "repeat_count", "2.0",
                        NULL};
    const char *t6[] = {"task_category", "\"Creative writing\"", "input_quality", "\"average\"", "instruct_reward",
                        "4.75", "difficulty", "\"easy\"", "language", "\"FR\"", "uuid", "\"u-6\"", "note",
                        "\"caf\\u00e9 \\\"cr\\u00e8me\\\"\"", NULL};
    const char *t7[] = {"task_category", "\"Information seeking\"", "input_quality", "\"good\"", "instruct_reward", "2",
                        "mixed", "\"abc\"", "uuid", "\"u-7\"", "flag", "true", "scores", "4", NULL};
    const char *t8[] = {"task_category", "\"Math\"", "input_quality", "\"good\"", "instruct_reward", "7",
                        "mixed", "5", "uuid", "\"u-8\"", "flag", "false", "scores", "[1, 9]", NULL};
    QFX_CHECK(qfx_row(w, f, 1, f->src_magpie, L, L, "What is 2 + 2?", "Four.", t1));
    QFX_CHECK(qfx_row(w, f, 2, f->src_magpie, L, L, "Solve x^2 = 9 for x.", "x = 3 or x = -3.", t2));
    QFX_CHECK(qfx_row(w, f, 3, f->src_magpie, L, L, "How do I run two coroutines at once in Python?",
                      "Use asyncio.gather:\n\n```python\nimport asyncio\nawait asyncio.gather(a(), b())\n```", t3));
    QFX_CHECK(qfx_row(w, f, 4, f->src_magpie, L, L, "what is 1+1:", "2", t4));
    QFX_CHECK(qfx_row(w, f, 5, f->src_magpie, L, L, "Prove that there are infinitely many primes.",
                      "Suppose finitely many primes p1..pn; then p1*...*pn + 1 has a prime factor not in the list.", t5));
    QFX_CHECK(qfx_row(w, f, 6, f->src_magpie, L, L, "Écris un poème sur l'automne 🍂",
                      "Les feuilles tombent, dorées et légères… 🍂", t6));
    QFX_CHECK(qfx_row(w, f, 7, f->src_magpie, L, Q, "What is DNS?", "The Domain Name System maps names to addresses.", t7));
    QFX_CHECK(qfx_row(w, f, 8, f->src_magpie, L, Q, "Write 1500 e-acutes.", qfx_long, t8));
    /* UltraFeedback-like: two responses, ratings by two judges, a preference */
    const char *t9[] = {"source_dataset", "\"evol_instruct\"", "task_category", "\"Information seeking\"", NULL};
    QFX_CHECK(qfx_row(w, f, 9, f->src_ultra, 0, f->m_gpt4, "Explain how TCP handshakes work.",
                      "SYN, SYN-ACK, ACK: the client and server agree on sequence numbers.", t9));
    {
        av_msg rm = {"assistant", {"It shakes hands.", 16, {{0}}, 0}};
        av_record r;
        av_record_init(&r);
        r.kind = AV_RESPONSE;
        r.ref[0] = f->prompt[9];
        r.model = Q;
        r.nmsg = 1;
        r.msg = &rm;
        QFX_CHECK(qfx_put(w, &r));
        f->resp9b = r.row;
        QFX_CHECK(av_writer_link(w, f->resp9b, f->src_ultra, 9));
    }
    QFX_CHECK(qfx_rating(w, f->response[9], f->m_gpt4, "helpfulness", 4, NULL));
    QFX_CHECK(qfx_rating(w, f->response[9], f->m_gpt4, "honesty", 5, NULL));
    QFX_CHECK(qfx_rating(w, f->resp9b, f->m_gpt4, "helpfulness", 2, NULL));
    QFX_CHECK(qfx_rating(w, f->resp9b, Q, "helpfulness", 5, &f->rating_q9b));
    QFX_CHECK(qfx_rating(w, f->resp9b, f->m_gpt4, "honesty", NAN, NULL));
    {
        av_msg m = {"rationale", {"A is more precise.", 18, {{0}}, 0}};
        av_record r;
        av_record_init(&r);
        r.kind = AV_PREFERENCE;
        r.ref[0] = f->prompt[9];
        r.ref[1] = f->response[9];
        r.ref[2] = f->resp9b;
        r.model = f->m_gpt4;
        r.name = "text";
        r.num = 0.8;
        r.nmsg = 1;
        r.msg = &m;
        QFX_CHECK(qfx_put(w, &r));
        f->pref9 = r.row;
    }
    /* a multi-turn prompt */
    {
        av_msg pm[4] = {{"system", {"Be brief.", 9, {{0}}, 0}},
                        {"user", {"Name a prime.", 13, {{0}}, 0}},
                        {"assistant", {"7.", 2, {{0}}, 0}},
                        {"user", {"Another?", 8, {{0}}, 0}}};
        av_record r;
        av_record_init(&r);
        r.kind = AV_PROMPT;
        r.model = L;
        r.nmsg = 4;
        r.msg = pm;
        QFX_CHECK(qfx_put(w, &r));
        f->prompt[10] = r.row;
        av_msg rm = {"assistant", {"11.", 3, {{0}}, 0}};
        av_record_init(&r);
        r.kind = AV_RESPONSE;
        r.ref[0] = f->prompt[10];
        r.model = L;
        r.nmsg = 1;
        r.msg = &rm;
        QFX_CHECK(qfx_put(w, &r));
        f->response[10] = r.row;
        const char *t10[] = {"task_category", "\"Math\"", "input_quality", "\"good\"", "uuid", "\"u-10\"", NULL};
        QFX_CHECK(qfx_tag(w, f->prompt[10], 0, t10, &f->tag[10]));
        QFX_CHECK(av_writer_link(w, f->prompt[10], f->src_magpie, 10));
        QFX_CHECK(av_writer_link(w, f->response[10], f->src_magpie, 10));
    }
    av_commit_opts o = {.message = "fixture v1", .command = "test", .time = 1700000000};
    QFX_CHECK(av_writer_commit(w, &o, &f->v1));

    QFX_CHECK(av_writer_open(&w, s));
    const char *t11[] = {"task_category", "\"Math\"", "input_quality", "\"good\"", "instruct_reward", "1", "uuid",
                         "\"u-11\"", NULL};
    QFX_CHECK(qfx_row(w, f, 11, f->src_magpie, L, L, "What is 3 * 3?", "Nine.", t11));
    QFX_CHECK(qfx_rating(w, f->response[1], f->m_gpt4, "helpfulness", 5, &f->rating_r1));
    const char *tr3[] = {"reviewed", "true", NULL};
    QFX_CHECK(qfx_tag(w, f->response[3], f->m_gpt4, tr3, NULL));
    QFX_CHECK(av_writer_retract(w, f->response[4]));
    const char *lic3[] = {"licence", "\"Apache 2.0\"", NULL};
    QFX_CHECK(qfx_tag(w, f->m_qwen, 0, lic3, NULL));
    o.message = "fixture v2";
    o.time = 1700000100;
    QFX_CHECK(av_writer_commit(w, &o, &f->v2));
    av_store_close(s);
    return 0;
}

#endif
