/* test_query_eval.c: the language case by case on a small store (see
 * query_fixture.h): every field, precedence, not, in, missing fields,
 * numbers vs strings (errors, not silent falses), unicode, arrays, null,
 * len() in code points, reaching through references, other unit kinds, and
 * --at against the earlier version. Every query is answered twice, with the
 * indexes and with AV_QUERY_NO_INDEX, and the two answers must agree. */
#include <stdlib.h>
#include <string.h>

#include "query/query.h"
#include "query_fixture.h"
#include "tap.h"

static qfx F;
static av_store *S;
static av_reader *R1, *R2;

/* "r3" for the response of source row 3, "p3", "t3", "r9b", ... */
static void label(av_buf *b, uint64_t row)
{
    for (int i = 1; i <= 11; i++) {
        if (row == F.prompt[i]) { av_buf_printf(b, "p%d", i); return; }
        if (row == F.response[i]) { av_buf_printf(b, "r%d", i); return; }
        if (row == F.tag[i]) { av_buf_printf(b, "t%d", i); return; }
    }
    if (row == F.resp9b) av_buf_puts(b, "r9b");
    else if (row == F.pref9) av_buf_puts(b, "pref9");
    else if (row == F.rating_q9b) av_buf_puts(b, "rq9b");
    else if (row == F.rating_r1) av_buf_puts(b, "rr1");
    else av_buf_printf(b, "#%llu", (unsigned long long)row);
}

/* Runs expr (with and without indexes); the labels of the rows, or
 * "ERROR: message". */
static char *run(av_reader *r, av_kind unit, const char *expr)
{
    char *out[2];
    for (int pass = 0; pass < 2; pass++) {
        av_query *q;
        char *err = NULL;
        av_buf b = AV_BUF_INIT;
        if (av_query_compile(&q, expr, unit, &err) < 0) {
            av_buf_printf(&b, "COMPILE: %s", err);
            free(err);
        } else {
            av_query_set_flags(q, pass ? AV_QUERY_NO_INDEX : 0);
            uint64_t *rows;
            size_t n;
            int rc = av_query_rows(q, r, &rows, &n);
            if (rc < 0) {
                av_buf_printf(&b, "ERROR: %s", av_errmsg());
            } else {
                for (size_t i = 0; i < n; i++) {
                    if (i) av_buf_putc(&b, ' ');
                    label(&b, rows[i]);
                    /* av_query_match agrees with the run */
                    if (av_query_match(q, r, rows[i]) != 1) av_buf_puts(&b, "(match!)");
                }
                free(rows);
            }
            av_query_free(q);
        }
        out[pass] = av_buf_detach(&b);
    }
    if (strcmp(out[0], out[1])) {
        tap_failed_checks++;
        fprintf(stderr, "index/scan disagree on %s:\n  index: %s\n  scan:  %s\n", expr, out[0], out[1]);
    }
    free(out[1]);
    return out[0];
}

#define Q(r, unit, expr, want) do { char *g_ = run(r, unit, expr); if (strcmp(g_, want)) { tap_failed_checks++; \
  fprintf(stderr, "%s:%d: %s\n  got:  %s\n  want: %s\n", __FILE__, __LINE__, expr, g_, want); } free(g_); } while (0)
#define QERR(r, unit, expr, part) do { char *g_ = run(r, unit, expr); if (strncmp(g_, "ERROR: ", 7) || !strstr(g_, part)) { \
  tap_failed_checks++; fprintf(stderr, "%s:%d: %s\n  got:  %s\n  want an error with: %s\n", __FILE__, __LINE__, expr, g_, part); } \
  free(g_); } while (0)

#define RESP AV_RESPONSE

static void test_query_eval__tags_and_precedence(void)
{
    Q(R1, RESP, "", "r1 r2 r3 r4 r5 r6 r7 r8 r9 r9b r10");
    Q(R1, RESP, "tag.task_category = \"Math\"", "r1 r2 r4 r5 r8 r10");
    Q(R1, RESP, "tag.task_category = \"Math\" and tag.input_quality in (\"good\", \"excellent\")", "r1 r2 r5 r8 r10");
    Q(R1, RESP, "tag.task_category = \"Math\" and tag.input_quality = \"poor\" or tag.language = \"FR\"", "r4 r6");
    Q(R1, RESP, "tag.task_category = \"Math\" and (tag.input_quality = \"poor\" or tag.language = \"FR\")", "r4");
    Q(R1, RESP, "tag.language = \"FR\" or tag.task_category = \"Coding & Debugging\"", "r3 r6");
    Q(R1, RESP, "(tag.uuid = \"u-1\" or tag.uuid = \"u-2\") and tag.difficulty = \"hard\"", "r2");
    Q(R1, RESP, "tag.task_category in (\"Creative writing\", \"Information seeking\")", "r6 r7 r9 r9b");
    Q(R1, RESP, "tag.task_category = \"math\"", ""); /* case matters */
}

static void test_query_eval__not_and_missing(void)
{
    Q(R1, RESP, "not tag.task_category = \"Math\"", "r3 r6 r7 r9 r9b");
    Q(R1, RESP, "tag.task_category != \"Math\"", "r3 r6 r7 r9 r9b");
    Q(R1, RESP, "tag.task_category not in (\"Math\", \"Information seeking\")", "r3 r6");
    Q(R1, RESP, "not not tag.task_category = \"Math\"", "r1 r2 r4 r5 r8 r10");
    /* a missing field: = and < never hold, != holds */
    Q(R1, RESP, "tag.difficulty = \"easy\"", "r1 r4 r6");
    Q(R1, RESP, "tag.difficulty != \"easy\"", "r2 r3 r5 r7 r8 r9 r9b r10");
    Q(R1, RESP, "exists tag.difficulty", "r1 r2 r3 r4 r5 r6");
    Q(R1, RESP, "not exists tag.repeat_count", "r1 r2 r6 r7 r8 r9 r9b r10");
    Q(R1, RESP, "tag.nonexistent = 1 or tag.nonexistent < 3", "");
    /* JSON null: equal to null only; exists treats it as absent */
    Q(R1, RESP, "tag.min_similar_uuid = null", "r1");
    Q(R1, RESP, "exists tag.min_similar_uuid", "r2");
    Q(R1, RESP, "tag.min_similar_uuid = \"u-2\"", "r2");
}

static void test_query_eval__numbers_and_types(void)
{
    Q(R1, RESP, "tag.instruct_reward > 0", "r1 r3 r6 r7 r8");
    Q(R1, RESP, "tag.instruct_reward >= 0", "r1 r3 r5 r6 r7 r8");
    Q(R1, RESP, "tag.instruct_reward < -1", "r4");
    Q(R1, RESP, "tag.instruct_reward <= -0.5", "r2 r4");
    Q(R1, RESP, "tag.instruct_reward = 7", "r8");
    Q(R1, RESP, "tag.instruct_reward = 3.5", "r1");
    Q(R1, RESP, "tag.repeat_count = 2", "r3 r5"); /* stored as 2 and as 2.0 */
    Q(R1, RESP, "tag.repeat_count in (0, 2)", "r3 r4 r5");
    Q(R1, RESP, "tag.flag = true", "r7");
    Q(R1, RESP, "tag.flag = false", "r8");
    Q(R1, RESP, "tag.task_category > \"M\" and tag.task_category < \"N\"", "r1 r2 r4 r5 r8 r10");
    /* a string against a number is an error, with the record named */
    QERR(R1, RESP, "tag.instruct_reward = \"3.5\"", "cannot compare tag.instruct_reward with \"3.5\": tag.instruct_reward is a number");
    QERR(R1, RESP, "tag.task_category > 3", "cannot compare tag.task_category with 3: tag.task_category is a string (\"");
    QERR(R1, RESP, "tag.flag = \"true\"", "tag.flag is a boolean (true) in record");
    /* a key holding both: an error whichever way */
    QERR(R1, RESP, "tag.mixed = 5", "cannot compare tag.mixed with 5");
    QERR(R1, RESP, "tag.mixed != \"abc\"", "cannot compare tag.mixed with \"abc\": tag.mixed is a number (5)");
    QERR(R1, RESP, "tag.mixed contains \"a\"", "'contains' needs text, but tag.mixed is a number (5)");
    /* even when another condition leaves nothing to compare */
    QERR(R1, RESP, "tag.uuid = \"none\" and tag.instruct_reward > \"1\"", "cannot compare tag.instruct_reward");
    QERR(R1, RESP, "tag.instruct_reward contains \"3\"", "'contains' needs text, but tag.instruct_reward is a number");
    /* arrays: contains/matches look inside; = is an error that says so */
    /* numbers and an array of numbers under one key: the numeric index
     * (plain numbers only) must not answer, so the array errs either way */
    QERR(R1, RESP, "tag.scores > 3", "use contains to look inside an array");
    QERR(R1, RESP, "tag.scores contains \"x\"", "'contains' needs text, but tag.scores is a number (4) in record");
    Q(R1, RESP, "tag.other_task_category contains \"Math\"", "r3");
    Q(R1, RESP, "tag.other_task_category matches \"^Reason\"", "r1");
    QERR(R1, RESP, "tag.other_task_category = \"Math\"", "use contains to look inside an array");
}

static void test_query_eval__text_and_unicode(void)
{
    Q(R1, RESP, "response contains \"asyncio\"", "r3");
    Q(R1, RESP, "response contains \"ASYNCIO\"", "");
    Q(R1, RESP, "instruction contains \"poème\"", "r6");
    Q(R1, RESP, "response contains \"🍂\"", "r6");
    Q(R1, RESP, "instruction matches \"^É\"", "r6");
    Q(R1, RESP, "instruction matches \"^[Ww]hat\"", "r1 r4 r7");
    Q(R1, RESP, "instruction matches \":$\"", "r4");
    Q(R1, RESP, "not instruction matches \":$\" and tag.task_category = \"Math\"", "r1 r2 r5 r8 r10");
    Q(R1, RESP, "tag.note = \"café \\\"crème\\\"\"", "r6");
    Q(R1, RESP, "tag.note = \"caf\\u00e9 \\\"cr\\u00e8me\\\"\"", "r6");
    Q(R1, RESP, "response = \"Four.\"", "r1");
    /* len() counts code points */
    Q(R1, RESP, "len(response) = 1500", "r8");
    Q(R1, RESP, "len(response) > 1000", "r8");
    Q(R1, RESP, "len(response) >= 3000", "");
    Q(R1, RESP, "len(response) <= 5", "r1 r4 r10");
    Q(R1, RESP, "len(instruction) = 30", "r6"); /* "Écris un poème sur l'automne 🍂" */
    Q(R1, RESP, "len(response) in (1, 1500)", "r4 r8");
    Q(R1, RESP, "turns = 2", "r10");
    Q(R1, RESP, "turns = 1 and tag.task_category = \"Math\"", "r1 r2 r4 r5 r8");
    Q(R1, RESP, "instruction = \"Name a prime.\"", "r10"); /* the first user turn */
}

static void test_query_eval__models_sources_licences(void)
{
    Q(R1, RESP, "model = \"qwen2\"", "r7 r8 r9b");
    Q(R1, RESP, "model = \"gpt-4\"", "r9");
    Q(R1, RESP, "model in (\"gpt-4\", \"qwen2\") and tag.task_category = \"Math\"", "r8");
    Q(R1, RESP, "model = \"nobody\"", "");
    /* a model that wrote prompts and responses, another that wrote more
     * responses: every response of the first (a prompt's row in the model
     * index once made the kind check skip the response after it) */
    Q(R1, RESP, "model = \"meta-llama/Meta-Llama-3-8B-Instruct\"", "r1 r2 r3 r4 r5 r6 r10");
    Q(R2, RESP, "model = \"meta-llama/Meta-Llama-3-8B-Instruct\"", "r1 r2 r3 r5 r6 r10 r11");
    Q(R1, AV_PROMPT, "model = \"meta-llama/Meta-Llama-3-8B-Instruct\"", "p1 p2 p3 p4 p5 p6 p7 p8 p10");
    /* an or of model indexes whose rows interleave (the kind index is sought backwards) */
    Q(R1, RESP, "model = \"qwen2\" or model = \"gpt-4\"", "r7 r8 r9 r9b");
    Q(R1, RESP, "model in (\"qwen2\", \"gpt-4\")", "r7 r8 r9 r9b");
    Q(R1, RESP, "source = \"ultra-test\"", "r9 r9b");
    Q(R1, RESP, "source = \"magpie-test\" and not tag.task_category = \"Math\"", "r3 r6 r7");
    Q(R1, RESP, "source != \"magpie-test\"", "r9 r9b");
    Q(R1, RESP, "licence = \"unknown\"", "r7 r8 r9b");
    Q(R1, RESP, "licence = \"mit\"", "r9 r9b");
    Q(R1, RESP, "licence = \"openai-terms\"", "r9 r9b"); /* r9's writer; r9b's gpt-4 ratings */
    /* stored as "MIT", "OpenAI", "Apache 2.0": normalised ids, and literals normalised alike */
    Q(R1, RESP, "licence = \"MIT\"", "r9 r9b");
    Q(R1, RESP, "licence in (\"OpenAI\", \"Llama-3\") and model = \"gpt-4\"", "r9");
    Q(R1, RESP, "licence contains \"MIT\"", "");
    Q(R2, RESP, "licence = \"Apache 2.0\" and licence = \"apache-2.0\"", "r7 r8 r9b");
    Q(R2, RESP, "licence = \"unknown\"", "");
    Q(R2, RESP, "licence = \"apache-2.0\"", "r7 r8 r9b");
}

static void test_query_eval__ratings_and_preferences(void)
{
    Q(R1, RESP, "rating.helpfulness >= 4", "r9 r9b");
    Q(R1, RESP, "rating.helpfulness[gpt-4] >= 4", "r9");
    Q(R1, RESP, "rating.helpfulness[qwen2] >= 4", "r9b");
    Q(R1, RESP, "rating.helpfulness[gpt-4] < 3", "r9b");
    Q(R1, RESP, "rating.honesty > 0", "r9"); /* N/A is no value */
    Q(R1, RESP, "exists rating.honesty", "r9");
    Q(R2, RESP, "rating.helpfulness = 5", "r1 r9b");
    Q(R1, RESP, "preference.p > 0.5", "r9");
    Q(R1, RESP, "preference.p < 0.5", "r9b");
    Q(R1, AV_PREFERENCE, "preference.p = 0.8", "pref9");
    Q(R1, AV_PROMPT, "preference.p > 0.5", "p9");
}

static void test_query_eval__units_and_reach(void)
{
    Q(R1, AV_PROMPT, "tag.task_category = \"Math\"", "p1 p2 p4 p5 p8 p10");
    Q(R1, AV_PROMPT, "response contains \"x\"", "");
    Q(R1, AV_PROMPT, "model = \"meta-llama/Meta-Llama-3-8B-Instruct\" and turns = 2", "p10");
    Q(R1, AV_TAG, "tag.task_category = \"Math\"", "t1 t2 t4 t5 t8 t10");
    Q(R1, AV_RATING, "tag.source_dataset = \"evol_instruct\" and model = \"qwen2\"", "rq9b");
    Q(R1, AV_KIND_NONE, "tag.uuid = \"u-3\"", "p3 r3 t3");
    Q(R1, AV_KIND_NONE, "tag.uuid = \"u-3\" and kind = \"tag\"", "t3");
    Q(R1, AV_KIND_NONE, "kind = \"source\"", "#1 #2");
    Q(R1, RESP, "kind = \"response\" and tag.uuid = \"u-1\"", "r1");
    Q(R1, RESP, "kind = \"prompt\"", "");
    /* id prefixes */
    av_record rec;
    av_record_init(&rec);
    CHECK_EQ_INT(av_get(R1, F.response[3], 0, &rec), 0);
    char hex[33], expr[80];
    av_id_hex(hex, &rec.cid);
    snprintf(expr, sizeof expr, "id = \"%.10s\"", hex);
    Q(R1, RESP, expr, "r3");
    snprintf(expr, sizeof expr, "id = \"%s\"", hex);
    Q(R1, RESP, expr, "r3");
    snprintf(expr, sizeof expr, "id = \"%s\"", hex);
    Q(R1, AV_PROMPT, expr, "");
    av_record_free(&rec);
}

static void test_query_eval__versions(void)
{
    /* conjuncts behind an index driver checked from index bitmaps: tags on
     * different records of the chain (the prompt's and the response's own),
     * numeric ranges, or-ed tags, other unit kinds */
    Q(R2, RESP, "tag.reviewed = true and tag.task_category = \"Coding & Debugging\"", "r3");
    Q(R2, RESP, "tag.task_category = \"Coding & Debugging\" and tag.reviewed = true", "r3");
    Q(R2, RESP, "tag.task_category = \"Math\" and tag.instruct_reward > 1", "r1 r8");
    Q(R2, RESP, "tag.task_category = \"Math\" and (tag.input_quality = \"excellent\" or tag.instruct_reward >= 7)", "r2 r5 r8");
    Q(R2, RESP, "tag.uuid = \"u-1\" and tag.task_category = \"Math\" and tag.difficulty = \"easy\"", "r1");
    Q(R2, RESP, "tag.uuid = \"u-1\" and tag.difficulty = \"hard\"", "");
    Q(R2, AV_RATING, "tag.uuid = \"u-1\" and tag.input_quality = \"good\"", "rr1");
    Q(R2, AV_PROMPT, "tag.uuid in (\"u-3\", \"u-4\") and tag.difficulty = \"medium\"", "p3");
    Q(R2, AV_TAG, "tag.uuid in (\"u-3\", \"u-4\") and tag.language = \"EN\" and not exists tag.reviewed", "t3 t4");
    Q(R2, RESP, "tag.uuid = \"u-4\" and tag.task_category = \"Math\"", ""); /* r4 retracted */
    Q(R2, RESP, "tag.task_category = \"Math\"", "r1 r2 r5 r8 r10 r11"); /* r4 retracted, r11 added */
    Q(R1, RESP, "tag.task_category = \"Math\"", "r1 r2 r4 r5 r8 r10");
    Q(R2, RESP, "version = 2", "r11");
    Q(R2, RESP, "version >= 2", "r11");
    Q(R2, RESP, "version < 2 and tag.task_category = \"Math\"", "r1 r2 r5 r8 r10");
    Q(R1, RESP, "version = 2", "");
    Q(R2, RESP, "tag.reviewed = true", "r3");
    Q(R1, RESP, "tag.reviewed = true", "");
    Q(R2, AV_PROMPT, "tag.reviewed = true", "");
    Q(R2, RESP, "tag.uuid = \"u-4\"", "");
    Q(R2, AV_PROMPT, "tag.uuid = \"u-4\"", "p4");
}

static void test_query_eval__explain(void)
{
    av_query *q;
    char *err = NULL, *plan = NULL;
    CHECK_EQ_INT(av_query_compile(&q, "tag.task_category = \"Math\" and tag.input_quality in (\"good\", \"excellent\") "
                                      "and len(response) > 3", AV_RESPONSE, &err), 0);
    CHECK_EQ_INT(av_query_explain(q, R1, &plan), 0);
    CHECK_EQ_STR(plan, "index tag.task_category = \"Math\" -> 6 response; check tag.input_quality in (\"good\", \"excellent\") "
                       "and len(response) > 3");
    free(plan);
    /* numeric comparisons from the range index, values checked in its end buckets */
    const char *num[][2] = {{"tag.instruct_reward > 0", "index tag.instruct_reward > 0 -> 5 response"},
                            {"tag.instruct_reward >= 0", "index tag.instruct_reward >= 0 -> 6 response"},
                            {"tag.instruct_reward = 1.25", "index tag.instruct_reward = 1.25 -> 1 response"},
                            {"tag.instruct_reward < 1.3 and tag.instruct_reward > 1.2", "index tag.instruct_reward < 1.3 -> 4 response; check tag.instruct_reward > 1.2"},
                            {"tag.scores > 3", "scan response; check tag.scores > 3"}};
    for (size_t i = 0; i < sizeof num / sizeof num[0]; i++) {
        av_query *qn;
        CHECK_EQ_INT(av_query_compile(&qn, num[i][0], AV_RESPONSE, &err), 0);
        CHECK_EQ_INT(av_query_explain(qn, R1, &plan), 0);
        CHECK_EQ_STR(plan, num[i][1]);
        free(plan);
        av_query_free(qn);
    }
    av_query_set_flags(q, AV_QUERY_NO_INDEX);
    CHECK_EQ_INT(av_query_explain(q, R1, &plan), 0);
    CHECK(plan && !strncmp(plan, "scan response; check tag.task_category", 38));
    free(plan);
    av_query_free(q);
    CHECK_EQ_INT(av_query_compile(&q, "response contains \"a\" and version = 2", AV_RESPONSE, &err), 0);
    CHECK_EQ_INT(av_query_explain(q, R2, &plan), 0);
    CHECK(plan && strstr(plan, "scan response in rows ["));
    free(plan);
    av_query_free(q);
}

int main(void)
{
    const char *dir = tap_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/store", dir);
    if (qfx_build(path, &F) < 0) {
        fprintf(stderr, "cannot build the fixture store\n");
        return 1;
    }
    if (av_store_open(&S, path, AV_OPEN_RDONLY) < 0 || av_reader_open(&R1, S, F.v1) < 0 ||
        av_reader_open(&R2, S, F.v2) < 0) {
        fprintf(stderr, "cannot open the fixture store: %s\n", av_errmsg());
        return 1;
    }
    RUN(test_query_eval__tags_and_precedence);
    RUN(test_query_eval__not_and_missing);
    RUN(test_query_eval__numbers_and_types);
    RUN(test_query_eval__text_and_unicode);
    RUN(test_query_eval__models_sources_licences);
    RUN(test_query_eval__ratings_and_preferences);
    RUN(test_query_eval__units_and_reach);
    RUN(test_query_eval__versions);
    RUN(test_query_eval__explain);
    av_reader_close(R1);
    av_reader_close(R2);
    av_store_close(S);
    return tap_done();
}
