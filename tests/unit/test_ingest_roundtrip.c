/* test_ingest_roundtrip.c: every format, ingested and exported back in the
 * same format, gives every row with the same JSON values and key order: the
 * project's own samples (tests/data/ingest) and the real fixtures
 * (../shared/fixtures/real, skipped when absent). */
#include <stdlib.h>

#include "ingest_testutil.h"

static char path_buf[1024];

static const char *sample(const char *name)
{
    const char *src = getenv("AVIARY_SRC");
    snprintf(path_buf, sizeof path_buf, "%s/tests/data/ingest/%s", src ? src : ".", name);
    return path_buf;
}

static const char *fixture(const char *name)
{
    const char *sh = getenv("AVIARY_SHARED");
    snprintf(path_buf, sizeof path_buf, "%s/fixtures/real/%s", sh ? sh : "../shared", name);
    FILE *f = fopen(path_buf, "rb");
    if (!f) return NULL;
    fclose(f);
    return path_buf;
}

static const struct {
    const char *file, *format;
} samples[] = {
    {"magpie_two_column.jsonl", "magpie"}, {"magpie_tagged.jsonl", "magpie"},
    {"magpie_raw_pool.jsonl", "magpie"},   {"magpie_mt.jsonl", "magpie"},
    {"magpie_reasoning.jsonl", "magpie"},  {"magpie_dpo.json", "magpie"},
    {"ultrafeedback_raw.jsonl", "ultrafeedback"}, {"h4_binarized.jsonl", "binarized"},
    {"argilla_cleaned.jsonl", "argilla"},  {"skywork.jsonl", "skywork"},
    {"nectar.jsonl", "nectar"},            {"helpsteer2.jsonl", "helpsteer2"},
    {"helpsteer2_preference.jsonl", "helpsteer2-preference"},
    {"sharegpt_tools.json", "sharegpt"},   {"openai_kto.json", "openai"},
    {"openai_tools.jsonl", "openai"},
    {"alpaca.json", "alpaca"},             {"sharegpt_dpo.json", "sharegpt-dpo"},
    {"alpaca_odd_keys.jsonl", "alpaca"},
    {"prm800k.jsonl", "prm800k"},
};

static void test_ingest_roundtrip__samples(void)
{
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) check_roundtrip(sample(samples[i].file), samples[i].format);
}

static const struct {
    const char *file, *format;
} fixtures[] = {
    {"alpaca_en_demo.json", "alpaca"},
    {"magpie_dpo_5res_armorm.json", "magpie"},
    {"magpie_raw_generation_mistral.json", "magpie"},
    {"magpie_tagged_instructions.jsonl", "magpie"},
    {"messages_kto_en_demo.json", "openai"},
    {"sharegpt_dpo_en_demo.json", "sharegpt-dpo"},
    {"sharegpt_toolcall_en_demo.json", "sharegpt"},
    {"ultrafeedback_binarized.test.jsonl", "binarized"},
    {"ultrafeedback_binarized.train.jsonl", "binarized"},
};

static int have_fixtures;

static void test_ingest_roundtrip__real_fixtures(void)
{
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        const char *p = fixture(fixtures[i].file);
        if (!p) continue;
        have_fixtures = 1;
        check_roundtrip(p, fixtures[i].format);
    }
}

/* provenance links that spill to a temporary file come back the same */
static void test_ingest_roundtrip__links_spilled(void)
{
    av_ingest_tune_links(2);
    const char *dir = new_store();
    av_ingest_stats st;
    CHECK_EQ_INT(ingest_into(dir, sample("magpie_tagged.jsonl"), NULL, 0, NULL, &st), 0);
    CHECK_EQ_INT(st.links_new, 9); /* 3 rows x (prompt, response, row tag) */
    av_ingest_tune_links(7);
    check_roundtrip(sample("corpus_magpie.jsonl"), "magpie");
    check_roundtrip(sample("magpie_dpo.json"), "magpie");
    av_ingest_tune_links(0);
    av_ingest_tune_links(1u << 20);
}

/* asking for another format than the rows came in is a clear error */
static void test_ingest_roundtrip__other_format(void)
{
    const char *dir = new_store();
    av_ingest_stats st;
    CHECK_EQ_INT(ingest_into(dir, sample("alpaca.json"), NULL, 0, NULL, &st), 0);
    strlist got = {0};
    CHECK_EQ_INT(export_rows(dir, "magpie", &got), AV_ENOTFOUND);
    CHECK(strstr(av_errmsg(), "none of the 6 selected records came from a file ingested as 'magpie'") != NULL);
    CHECK_EQ_INT(got.n, 0);
    CHECK_EQ_INT(export_rows(dir, "nosuch", &got), AV_EINVAL);
    CHECK_EQ_INT(export_rows(dir, "alpaca", &got), 0);
    CHECK_EQ_INT(got.n, 3);
    strlist_free(&got);
}

int main(void)
{
    RUN(test_ingest_roundtrip__samples);
    RUN(test_ingest_roundtrip__real_fixtures);
    RUN(test_ingest_roundtrip__other_format);
    RUN(test_ingest_roundtrip__links_spilled);
    if (!have_fixtures) printf("# real fixtures absent: only the samples were checked\n");
    return tap_done();
}
