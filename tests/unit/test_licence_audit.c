/* test_licence_audit.c: lineage and audit over a mixed store built through
 * the store API: an UltraFeedback-like row (MIT source, Llama 2 and Mixtral
 * completions, GPT-4 ratings), a Magpie-like row (MIT source, Llama 3
 * generator, Llama 3 tagger), a generated response from a run, a judged pair
 * whose judge has no licence, a source without a licence and a model with a
 * licence not in the registry. Checks the licence set of every row, the
 * audit's groups, unknown rows, policy violations, export gating, the
 * dataset-card fields, and that a model's licence follows --at. */
#include "query/audit.h"
#include "query/policy.h"
#include "tests/unit/tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static av_val V(const char *s) { av_val v = {s, strlen(s), {{0}}, 0}; return v; }

static uint64_t put(av_writer *w, av_record *rec)
{
    int rc = av_writer_put(w, rec);
    CHECK(rc >= 0);
    if (rc < 0) fprintf(stderr, "put: %s\n", av_errmsg());
    return rec->row;
}

static uint64_t source(av_writer *w, const char *name, const char *licence_json)
{
    av_record r;
    av_record_init(&r);
    av_attr at[3] = {{"file", V("\"data.jsonl\"")}, {"url", V("\"https://example.org/data\"")},
                     {"licence", V(licence_json ? licence_json : "")}};
    r.kind = AV_SOURCE;
    r.name = name;
    r.attr = at;
    r.nattr = licence_json ? 3 : 2;
    return put(w, &r);
}

static uint64_t model(av_writer *w, const char *name, const char *licence_json)
{
    uint64_t row = 0;
    CHECK_EQ_INT(av_writer_model(w, name, &row), 0);
    if (licence_json) {
        av_record t;
        av_record_init(&t);
        av_attr at[1] = {{"licence", V(licence_json)}};
        t.kind = AV_TAG;
        t.ref[0] = row;
        t.attr = at;
        t.nattr = 1;
        put(w, &t);
    }
    return row;
}

static uint64_t text_rec(av_writer *w, av_kind kind, const char *role, const char *text, uint64_t ref0,
                         uint64_t ref1, uint64_t ref2, uint64_t model_row, uint64_t run)
{
    av_record r;
    av_record_init(&r);
    av_msg m[1] = {{role, V(text)}};
    r.kind = kind;
    r.ref[0] = ref0;
    r.ref[1] = ref1;
    r.ref[2] = ref2;
    r.model = model_row;
    r.run = run;
    r.msg = m;
    r.nmsg = 1;
    if (kind == AV_RATING) {
        r.name = "helpfulness";
        r.num = 4;
    }
    if (kind == AV_PREFERENCE) {
        r.name = "logprob";
        r.num = 0.75;
    }
    return put(w, &r);
}

static uint64_t tag(av_writer *w, uint64_t target, uint64_t tagger, const char *key, const char *json)
{
    av_record r;
    av_record_init(&r);
    av_attr at[1] = {{key, V(json)}};
    r.kind = AV_TAG;
    r.ref[0] = target;
    r.model = tagger;
    r.attr = at;
    r.nattr = 1;
    return put(w, &r);
}

static uint64_t run_rec(av_writer *w, const char *model_json)
{
    av_record r;
    av_record_init(&r);
    av_attr at[4] = {{"endpoint", V("\"http://127.0.0.1:8000/v1\"")}, {"model", V(model_json)},
                     {"params", V("{\"temperature\":0.0}")}, {"template", V("\"chat\"")}};
    r.kind = AV_RUN;
    r.name = "generate responses";
    r.attr = at;
    r.nattr = 4;
    return put(w, &r);
}

static struct fixture {
    av_store *s;
    uint64_t p1, p2, p3, r1a, r1b, r2, r2b, r3, r4, llama2_model, llama2_tag_v2;
} F;

static void build(void)
{
    char dir[512];
    av_writer *w = NULL;
    snprintf(dir, sizeof dir, "%s/mixed", tap_tmpdir());
    CHECK_EQ_INT(av_store_init(dir), 0);
    CHECK_EQ_INT(av_store_open(&F.s, dir, AV_OPEN_RDWR), 0);
    CHECK_EQ_INT(av_writer_open(&w, F.s), 0);
    if (!w) return;
    uint64_t uf = source(w, "ultrafeedback", "\"MIT\"");
    uint64_t mp = source(w, "magpie-llama3", "\"mit\"");
    uint64_t scraped = source(w, "scraped", NULL);
    uint64_t gpt4 = model(w, "gpt-4", "\"openai-terms\"");
    model(w, "gpt-3.5-turbo", "\"openai-terms\"");
    F.llama2_model = model(w, "llama-2-13b-chat", "\"llama3\""); /* wrong at first; fixed in version 2 */
    uint64_t l3 = model(w, "meta-llama/Meta-Llama-3-70B-Instruct", "\"llama3\"");
    uint64_t l3t = model(w, "meta-llama/Meta-Llama-3-8B-Instruct", "\"Llama-3\"");
    uint64_t mix = model(w, "mistralai/Mixtral-8x7B-Instruct-v0.1", "\"apache-2.0\"");
    uint64_t mystery = model(w, "mystery-judge", NULL);
    uint64_t custom = model(w, "custom-model", "\"acme-weird\"");

    /* UltraFeedback-like row, line 1. */
    F.p1 = text_rec(w, AV_PROMPT, "user", "What is 2+2?", 0, 0, 0, 0, 0);
    F.r1a = text_rec(w, AV_RESPONSE, "assistant", "4", F.p1, 0, 0, F.llama2_model, 0);
    F.r1b = text_rec(w, AV_RESPONSE, "assistant", "Four.", F.p1, 0, 0, mix, 0);
    uint64_t ra = text_rec(w, AV_RATING, "rationale", "Correct.", F.r1a, 0, 0, gpt4, 0);
    uint64_t rb = text_rec(w, AV_RATING, "rationale", "Correct too.", F.r1b, 0, 0, gpt4, 0);
    uint64_t uf_rows[] = {F.p1, F.r1a, F.r1b, ra, rb};
    for (size_t i = 0; i < 5; i++) CHECK(av_writer_link(w, uf_rows[i], uf, 1) >= 0);

    /* Magpie-like row, line 1: generator and writer Llama 3 70B, tagger Llama 3 8B. */
    F.p2 = text_rec(w, AV_PROMPT, "user", "Write a haiku.", 0, 0, 0, l3, 0);
    F.r2 = text_rec(w, AV_RESPONSE, "assistant", "Autumn moon...", F.p2, 0, 0, l3, 0);
    uint64_t tg = tag(w, F.p2, l3t, "task_category", "\"Creative writing\"");
    uint64_t mp_rows[] = {F.p2, F.r2, tg};
    for (size_t i = 0; i < 3; i++) CHECK(av_writer_link(w, mp_rows[i], mp, 1) >= 0);

    /* A generated response (run) and a pair judged by a model of unknown licence. */
    uint64_t run = run_rec(w, "\"mistralai/Mixtral-8x7B-Instruct-v0.1\"");
    F.r2b = text_rec(w, AV_RESPONSE, "assistant", "Leaves fall...", F.p2, 0, 0, mix, run);
    text_rec(w, AV_PREFERENCE, "rationale", "A is better.", F.p2, F.r2, F.r2b, mystery, 0);

    /* A response made by a run whose record names only the run's model. */
    uint64_t run2 = run_rec(w, "\"gpt-3.5-turbo\"");
    F.r4 = text_rec(w, AV_RESPONSE, "assistant", "2+2 equals 4.", F.p1, 0, 0, 0, run2);

    /* A source without a licence and a model whose licence the registry lacks. */
    F.p3 = text_rec(w, AV_PROMPT, "user", "Scraped question", 0, 0, 0, 0, 0);
    F.r3 = text_rec(w, AV_RESPONSE, "assistant", "Scraped answer", F.p3, 0, 0, custom, 0);
    CHECK(av_writer_link(w, F.p3, scraped, 7) >= 0);
    av_commit_opts o = {.message = "build"};
    uint32_t v;
    CHECK(av_writer_commit(w, &o, &v) >= 0);
    CHECK_EQ_INT(v, 1);

    /* Version 2: the Llama 2 model gets its right licence. */
    CHECK_EQ_INT(av_writer_open(&w, F.s), 0);
    if (!w) return;
    av_record t;
    av_record_init(&t);
    av_attr at[1] = {{"licence", V("\"llama2\"")}};
    t.kind = AV_TAG;
    t.ref[0] = F.llama2_model;
    t.attr = at;
    t.nattr = 1;
    F.llama2_tag_v2 = put(w, &t);
    CHECK(av_writer_commit(w, &o, &v) >= 0);
    CHECK_EQ_INT(v, 2);
}

static char *lics(av_auditor *a, uint64_t row, int *unknown, av_buf *why)
{
    av_audit_lineage l = AV_AUDIT_LINEAGE_INIT;
    av_buf b = AV_BUF_INIT;
    int rc = av_auditor_lineage(a, row, &l);
    CHECK_EQ_INT(rc, 0);
    for (size_t i = 0; i < l.nlic; i++) av_buf_printf(&b, "%s%s", i ? " + " : "", l.lic[i]);
    if (unknown) *unknown = l.unknown;
    if (why) {
        av_buf_reset(why);
        av_buf_puts(why, l.why.ptr ? l.why.ptr : "");
    }
    av_audit_lineage_free(&l);
    return b.ptr ? av_buf_detach(&b) : av_xstrdup("");
}

#define EXPECT_LICS(a, row, want, want_unknown) do { int u_ = -1; char *got_ = lics(a, row, &u_, NULL); \
    CHECK_EQ_STR(got_, want); CHECK_EQ_INT(u_, want_unknown); free(got_); } while (0)

static void test_licence_audit__lineage_per_row(void)
{
    av_reader *r = NULL;
    av_auditor *a = NULL;
    av_licreg *reg = NULL;
    CHECK_EQ_INT(av_reader_open(&r, F.s, 0), 0);
    CHECK_EQ_INT(av_licreg_load(&reg, r), 0);
    CHECK_EQ_INT(av_auditor_new(&a, r, reg), 0);
    EXPECT_LICS(a, F.r1a, "llama2 + mit + openai-terms", 0);
    EXPECT_LICS(a, F.r1b, "apache-2.0 + mit + openai-terms", 0);
    EXPECT_LICS(a, F.r2, "llama3 + mit + unknown", 1);
    EXPECT_LICS(a, F.r2b, "apache-2.0 + llama3 + mit + unknown", 1);
    EXPECT_LICS(a, F.r3, "acme-weird + unknown", 1);
    EXPECT_LICS(a, F.r4, "mit + openai-terms", 0);
    EXPECT_LICS(a, F.p1, "mit", 0);        /* a prompt alone: its source */
    EXPECT_LICS(a, F.p2, "llama3 + mit + unknown", 1); /* its tagger, and the pair judged on it */

    av_buf why = AV_BUF_INIT;
    char *s = lics(a, F.r3, NULL, &why);
    CHECK_EQ_STR(why.ptr, "licence 'acme-weird' of model 'custom-model' is not in the registry; source 'scraped' has no licence");
    free(s);
    s = lics(a, F.r2, NULL, &why);
    CHECK_EQ_STR(why.ptr, "model 'mystery-judge' has no licence");
    free(s);
    av_buf_free(&why);

    /* The roles each origin played. */
    av_audit_lineage l = AV_AUDIT_LINEAGE_INIT;
    CHECK_EQ_INT(av_auditor_lineage(a, F.r2b, &l), 0);
    int generator = 0, writer = 0, tagger = 0, judge = 0, source = 0;
    for (size_t i = 0; i < l.norigin; i++) {
        const av_audit_origin *o = &l.origin[i];
        if (!strcmp(o->role, "generator")) generator += !strcmp(o->name, "meta-llama/Meta-Llama-3-70B-Instruct");
        if (!strcmp(o->role, "writer")) writer += !strcmp(o->name, "mistralai/Mixtral-8x7B-Instruct-v0.1");
        if (!strcmp(o->role, "tagger")) tagger += !strcmp(o->name, "meta-llama/Meta-Llama-3-8B-Instruct");
        if (!strcmp(o->role, "judge")) judge += !strcmp(o->name, "mystery-judge");
        if (!strcmp(o->role, "source")) source += !strcmp(o->name, "magpie-llama3") && o->kind == AV_SOURCE;
    }
    CHECK_EQ_INT(generator, 1);
    CHECK_EQ_INT(writer, 1);
    CHECK_EQ_INT(tagger, 1);
    CHECK_EQ_INT(judge, 1);
    CHECK_EQ_INT(source, 1);
    av_audit_lineage_free(&l);

    uint64_t tag_row = 0;
    CHECK_EQ_STR(av_auditor_model_licence(a, F.llama2_model, &tag_row), "llama2");
    CHECK_EQ_INT(tag_row, F.llama2_tag_v2);
    CHECK_EQ_STR(av_auditor_name(a, F.llama2_model), "llama-2-13b-chat");
    av_auditor_free(a);
    av_licreg_free(reg);
    av_reader_close(r);
}

static void test_licence_audit__follows_version(void)
{
    av_reader *r = NULL;
    av_auditor *a = NULL;
    CHECK_EQ_INT(av_reader_open(&r, F.s, 1), 0);
    CHECK_EQ_INT(av_auditor_new(&a, r, NULL), 0);
    EXPECT_LICS(a, F.r1a, "llama3 + mit + openai-terms", 0);
    uint64_t tag_row = 0;
    CHECK_EQ_STR(av_auditor_model_licence(a, F.llama2_model, &tag_row), "llama3");
    CHECK(tag_row != 0 && tag_row < F.llama2_tag_v2);
    av_auditor_free(a);
    av_reader_close(r);
}

static uint64_t *responses(av_reader *r, size_t *n)
{
    av_iter *it = NULL;
    uint64_t row, *out = NULL;
    *n = 0;
    CHECK_EQ_INT(av_iter_kind(&it, r, AV_RESPONSE), 0);
    while (it && av_iter_next(it, &row) == 1) {
        out = av_xrealloc(out, (*n + 1) * sizeof *out);
        out[(*n)++] = row;
    }
    av_iter_free(it);
    return out;
}

static void test_licence_audit__groups_and_policy(void)
{
    av_reader *r = NULL;
    av_licreg *reg = NULL;
    av_audit *au = NULL;
    av_policy *p = NULL;
    char *err = NULL;
    size_t n;
    CHECK_EQ_INT(av_reader_open(&r, F.s, 0), 0);
    CHECK_EQ_INT(av_licreg_load(&reg, r), 0);
    uint64_t *units = responses(r, &n);
    CHECK_EQ_INT(n, 6);
    const char *json = "{\"licences\": {\"deny\": [\"openai-terms\"]}, \"unknown\": \"allow\"}";
    CHECK_EQ_INT(av_policy_parse(&p, json, strlen(json), "no-openai", reg, &err), 0);
    CHECK_EQ_INT(av_audit_run(&au, r, reg, units, n, p), 0);
    if (!au) return;
    CHECK_EQ_INT(av_audit_rows(au), 6);
    CHECK_EQ_INT(av_audit_unknown_rows(au), 3);
    CHECK_EQ_INT(av_audit_violating_rows(au), 3);
    CHECK_EQ_INT(av_audit_combination_rows(au, "llama2 + mit + openai-terms"), 1);
    CHECK_EQ_INT(av_audit_combination_rows(au, "apache-2.0 + llama3 + mit + unknown"), 1);
    CHECK_EQ_INT(av_audit_combination_rows(au, "mit + openai-terms"), 1);
    CHECK_EQ_INT(av_audit_combination_rows(au, "mit"), 0);
    const char *const *ids;
    size_t nids = av_audit_licences(au, &ids);
    CHECK_EQ_INT(nids, 7);
    if (nids == 7) {
        CHECK_EQ_STR(ids[0], "acme-weird");
        CHECK_EQ_STR(ids[6], "unknown");
    }

    av_buf out = AV_BUF_INIT;
    av_audit_violations(au, &out);
    int lines = 0;
    for (size_t i = 0; i < out.len; i++) lines += out.ptr[i] == '\n';
    CHECK_EQ_INT(lines, 3);
    CHECK(strstr(out.ptr, "\tlicence 'openai-terms' is denied\n") != NULL);

    av_buf_reset(&out);
    av_audit_table(au, &out);
    CHECK(strstr(out.ptr, "6 rows at version 2\n") != NULL);
    CHECK(strstr(out.ptr, "  ultrafeedback  mit") != NULL);
    CHECK(strstr(out.ptr, "gpt-4") && strstr(out.ptr, "judge"));
    CHECK(strstr(out.ptr, "unknown lineage: 3 rows") != NULL);
    CHECK(strstr(out.ptr, "policy 'no-openai': 3 violating rows") != NULL);
    CHECK(strstr(out.ptr, "Built with Meta Llama 3") != NULL);

    av_buf_reset(&out);
    av_audit_json(au, &out);
    CHECK(!strncmp(out.ptr, "{\"version\":2,\"rows\":6,\"combinations\":[", 38));
    CHECK(strstr(out.ptr, "\"unknown\":{\"rows\":3,") != NULL);
    CHECK(strstr(out.ptr, "\"policy\":{\"name\":\"no-openai\",\"violations\":{\"rows\":3,") != NULL);
    CHECK(strstr(out.ptr, "{\"name\":\"gpt-4\",\"licence\":\"openai-terms\",\"roles\":[\"judge\"],\"rows\":2}") != NULL);
    CHECK(strstr(out.ptr, "{\"name\":\"gpt-3.5-turbo\",\"licence\":\"openai-terms\",\"roles\":[\"model\"],\"rows\":1}") != NULL);

    av_buf_reset(&out);
    av_audit_obligations(au, &out);
    CHECK(!strncmp(out.ptr, "## Licence\n", 11));
    CHECK(strstr(out.ptr, "> Meta Llama 3 is licensed under the Meta Llama 3 Community License") != NULL);
    CHECK(strstr(out.ptr, "### Naming requirements") != NULL);
    CHECK(strstr(out.ptr, "- ultrafeedback (https://example.org/data), MIT License\n") != NULL);
    CHECK(strstr(out.ptr, "3 rows have a source or model of unknown licence") != NULL);
    av_buf_free(&out);
    av_audit_free(au);

    /* Export gating with the same policy. */
    uint8_t *bad = av_xcalloc(n, 1);
    av_buf report = AV_BUF_INIT;
    CHECK_EQ_INT(av_policy_gate(p, r, units, n, bad, &report), 3);
    int nbad = 0;
    for (size_t i = 0; i < n; i++) nbad += bad[i];
    CHECK_EQ_INT(nbad, 3);
    for (size_t i = 0; i < n; i++)
        if (units[i] == F.r1a || units[i] == F.r1b || units[i] == F.r4) CHECK_EQ_INT(bad[i], 1);
        else CHECK_EQ_INT(bad[i], 0);
    CHECK_EQ_INT(av_policy_drop(units, n, bad), 3);
    CHECK(report.len > 0 && report.ptr[32] == '\t');
    av_buf_free(&report);
    free(bad);
    av_policy_free(p);

    /* With unknown lineage denied (the default), the unknown rows violate too. */
    json = "{\"licences\": {\"deny\": [\"openai-terms\"]}}";
    CHECK_EQ_INT(av_policy_parse(&p, json, strlen(json), "strict", reg, &err), 0);
    free(units);
    units = responses(r, &n);
    CHECK_EQ_INT(av_policy_gate(p, r, units, n, NULL, NULL), 6);
    av_policy_free(p);

    free(units);
    av_licreg_free(reg);
    av_reader_close(r);
}

static void test_licence_audit__card(void)
{
    av_reader *r = NULL;
    av_card_licence c;
    CHECK_EQ_INT(av_reader_open(&r, F.s, 0), 0);
    uint64_t one[1] = {F.p1};
    CHECK_EQ_INT(av_card_licence_get(&c, r, one, 1), 0);
    CHECK_EQ_STR(c.license, "mit");
    CHECK(c.license_name == NULL && c.license_link == NULL);
    CHECK_EQ_INT(c.nlicences, 1);
    CHECK_EQ_INT(c.unknown_rows, 0);
    av_card_licence_free(&c);

    uint64_t two[2] = {F.r1a, F.r4};
    CHECK_EQ_INT(av_card_licence_get(&c, r, two, 2), 0);
    CHECK_EQ_STR(c.license, "other");
    CHECK_EQ_STR(c.license_name, "llama2-and-mit-and-openai-terms");
    CHECK_EQ_STR(c.license_link, "README.md#licence");
    CHECK(strstr(c.section, "excluding Llama 2 or derivative works thereof") != NULL);
    CHECK(strstr(c.section, "you may not use Output to develop models that compete with OpenAI") != NULL);
    av_card_licence_free(&c);
    av_card_licence_free(&c); /* idempotent */

    uint64_t r3[1] = {F.r3};
    CHECK_EQ_INT(av_card_licence_get(&c, r, r3, 1), 0);
    CHECK_EQ_INT(c.unknown_rows, 1);
    CHECK_EQ_STR(c.license, "other");
    av_card_licence_free(&c);

    CHECK_EQ_INT(av_card_licence_get(&c, r, NULL, 0), 0);
    CHECK_EQ_STR(c.license, "unknown");
    av_card_licence_free(&c);
    av_reader_close(r);
}

int main(void)
{
    build();
    if (!F.s) return tap_done();
    RUN(test_licence_audit__lineage_per_row);
    RUN(test_licence_audit__follows_version);
    RUN(test_licence_audit__groups_and_policy);
    RUN(test_licence_audit__card);
    av_store_close(F.s);
    return tap_done();
}
