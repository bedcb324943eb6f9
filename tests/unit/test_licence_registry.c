/* test_licence_registry.c: the licence registry: built-in entries and their
 * properties (checked against the licences' texts, see docs/licences.md),
 * name normalisation, the JSON form of an entry, and user entries stored in
 * a store's aux space overriding built-in ones. */
#include "query/licence.h"
#include "tests/unit/tap.h"

#include <stdlib.h>
#include <string.h>

static void test_licence__builtin_sorted_and_complete(void)
{
    size_t n = av_licence_builtin_count();
    CHECK(n >= 20);
    for (size_t i = 1; i < n; i++) CHECK(strcmp(av_licence_builtin_at(i - 1)->id, av_licence_builtin_at(i)->id) < 0);
    const char *need[] = {"mit", "apache-2.0", "cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0", "cc-by-nc-sa-4.0",
                          "cc0-1.0", "odc-by", "gpl-3.0", "llama2", "llama3", "llama3.1", "llama3.2", "llama3.3",
                          "gemma", "qwen", "tongyi-qianwen", "openai-terms", "anthropic-terms", "mistral-research"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        const av_licence *l = av_licence_builtin(need[i]);
        CHECK(l != NULL);
        if (!l) continue;
        CHECK_EQ_STR(l->id, need[i]);
        CHECK(l->name && *l->name);
        CHECK(l->link && !strncmp(l->link, "https://", 8));
        CHECK(l->builtin);
    }
    CHECK(av_licence_builtin("no-such-licence") == NULL);
}

static void test_licence__properties(void)
{
    const av_licence *l3 = av_licence_builtin("llama3");
    unsigned p = av_licence_props(l3);
    CHECK(p & AV_LP_NAMING);
    CHECK(p & AV_LP_OUTPUT_RESTRICTION);
    CHECK(p & AV_LP_LIMITED_COMMERCIAL);
    CHECK(p & AV_LP_ATTRIBUTION);
    CHECK(p & AV_LP_USE_POLICY);
    CHECK(!(p & AV_LP_NONCOMMERCIAL));
    CHECK(strstr(l3->naming, "Built with Meta Llama 3") != NULL);
    CHECK(strstr(l3->naming, "\"Llama 3\" at the beginning") != NULL);

    /* Llama 3.1 dropped the clause on improving other models; naming stays. */
    p = av_licence_props(av_licence_builtin("llama3.1"));
    CHECK(p & AV_LP_NAMING);
    CHECK(!(p & AV_LP_OUTPUT_RESTRICTION));
    CHECK(strstr(av_licence_builtin("llama3.1")->naming, "Built with Llama") != NULL);

    p = av_licence_props(av_licence_builtin("llama2"));
    CHECK(p & AV_LP_OUTPUT_RESTRICTION);
    CHECK(!(p & AV_LP_NAMING));
    CHECK(strstr(av_licence_builtin("llama2")->output_restriction, "excluding Llama 2") != NULL);

    p = av_licence_props(av_licence_builtin("openai-terms"));
    CHECK(p & AV_LP_OUTPUT_RESTRICTION);
    CHECK(!(p & AV_LP_ATTRIBUTION));
    CHECK(!(p & AV_LP_NONCOMMERCIAL));

    CHECK(av_licence_props(av_licence_builtin("cc-by-nc-4.0")) & AV_LP_NONCOMMERCIAL);
    CHECK(av_licence_props(av_licence_builtin("cc-by-nc-sa-4.0")) & AV_LP_SHARE_ALIKE);
    CHECK(av_licence_props(av_licence_builtin("cc-by-sa-4.0")) & AV_LP_SHARE_ALIKE);
    CHECK(av_licence_props(av_licence_builtin("mistral-research")) & AV_LP_NONCOMMERCIAL);
    CHECK(av_licence_props(av_licence_builtin("qwen")) & AV_LP_NAMING);
    CHECK(av_licence_props(av_licence_builtin("tongyi-qianwen")) & AV_LP_OUTPUT_RESTRICTION);
    CHECK_EQ_INT(av_licence_props(av_licence_builtin("cc0-1.0")), 0);
    CHECK_EQ_INT(av_licence_props(av_licence_builtin("mit")), AV_LP_ATTRIBUTION);
    CHECK_EQ_INT(av_licence_props(NULL), AV_LP_UNKNOWN);

    for (unsigned bit = 1; bit < (1u << AV_LP_COUNT); bit <<= 1) CHECK_EQ_INT(av_licprop_parse(av_licprop_name(bit)), bit);
    CHECK_EQ_INT(av_licprop_parse("commercial"), 0);
    CHECK(av_licprop_name(3) == NULL);
}

static void test_licence__hf_ids(void)
{
    CHECK_EQ_STR(av_licence_builtin("llama3.2")->hf, "llama3.2");
    CHECK_EQ_STR(av_licence_builtin("gemma")->hf, "gemma");
    CHECK_EQ_STR(av_licence_builtin("odc-by")->hf, "odc-by");
    CHECK(av_licence_builtin("openai-terms")->hf == NULL);
    CHECK(av_licence_builtin("tongyi-qianwen")->hf == NULL);
}

static void test_licence__normalise(void)
{
    char b[64];
    struct { const char *in, *out; } cases[] = {
        {"MIT", "mit"},           {"Apache 2.0", "apache-2.0"}, {"apache-2.0", "apache-2.0"},
        {"LLAMA3_1", "llama3.1"}, {"llama-3", "llama3"},        {"Llama 3.3", "llama3.3"},
        {" cc-by-nc-4.0 ", "cc-by-nc-4.0"}, {"CC-BY-SA", "cc-by-sa-4.0"}, {"mrl", "mistral-research"},
        {"OpenAI", "openai-terms"}, {"", ""}, {"Tongyi_Qianwen", "tongyi-qianwen"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        av_licence_norm(b, sizeof b, cases[i].in);
        CHECK_EQ_STR(b, cases[i].out);
    }
    char tiny[4];
    av_licence_norm(tiny, sizeof tiny, "apache-2.0");
    CHECK_EQ_INT(strlen(tiny), 3);
    CHECK(av_licence_builtin("Apache 2.0") == av_licence_builtin("apache-2.0"));
}

static void test_licence__json_round_trip(void)
{
    av_buf b = AV_BUF_INIT;
    const av_licence *l3 = av_licence_builtin("llama3");
    av_licence_json(l3, &b);
    av_licence *back = NULL;
    char *err = NULL;
    CHECK_EQ_INT(av_licence_parse(&back, b.ptr, b.len, &err), 0);
    CHECK(back != NULL);
    if (back) {
        CHECK_EQ_STR(back->id, "llama3");
        CHECK_EQ_STR(back->notice, l3->notice);
        CHECK_EQ_STR(back->naming, l3->naming);
        CHECK_EQ_STR(back->output_restriction, l3->output_restriction);
        CHECK_EQ_INT(back->commercial, AV_LIC_LIMITED);
        CHECK_EQ_INT(back->share_alike, AV_LIC_NO);
        CHECK_EQ_INT(av_licence_props(back), av_licence_props(l3));
    }
    free(back);
    av_buf_free(&b);

    const char *bad[] = {"[]", "{\"name\":\"x\"}", "{\"id\":\"x\",\"commercial\":\"maybe\"}",
                         "{\"id\":\"x\",\"colour\":\"red\"}", "{\"id\":3}", "not json"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        back = NULL;
        err = NULL;
        CHECK_EQ_INT(av_licence_parse(&back, bad[i], strlen(bad[i]), &err), AV_EINVAL);
        CHECK(back == NULL);
        CHECK(err && *err);
        free(err);
    }
}

static void test_licence__validate(void)
{
    av_licence l = {0};
    l.id = "acme-data-1.0";
    l.name = "ACME Data Licence";
    CHECK_EQ_INT(av_licence_validate(&l), 0);
    l.id = "ACME";
    CHECK_EQ_INT(av_licence_validate(&l), AV_EINVAL);
    l.id = "unknown";
    CHECK_EQ_INT(av_licence_validate(&l), AV_EINVAL);
    l.id = "a b";
    CHECK_EQ_INT(av_licence_validate(&l), AV_EINVAL);
    l.id = "ok";
    l.name = NULL;
    CHECK_EQ_INT(av_licence_validate(&l), AV_EINVAL);
    l.name = "x";
    l.commercial = 9;
    CHECK_EQ_INT(av_licence_validate(&l), AV_EINVAL);
}

static void test_licence__user_entries_in_store(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/store", tap_tmpdir());
    av_store *s = NULL;
    av_writer *w = NULL;
    av_reader *r = NULL;
    av_licreg *reg = NULL;
    CHECK_EQ_INT(av_store_init(dir), 0);
    CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDWR), 0);
    if (!s) return;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    av_licence acme = {.id = "acme-data", .name = "ACME Data Licence", .link = "https://acme.example/licence",
                       .commercial = AV_LIC_NO, .attribution = AV_LIC_YES, .share_alike = AV_LIC_NO,
                       .notice = "Contains ACME data."};
    av_licence mymit = {.id = "mit", .name = "MIT as our lawyers read it", .commercial = AV_LIC_YES,
                        .attribution = AV_LIC_YES, .share_alike = AV_LIC_YES};
    CHECK_EQ_INT(av_licence_put(w, &acme), 0);
    CHECK_EQ_INT(av_licence_put(w, &mymit), 0);
    av_licence bad = {.id = "Bad Id", .name = "x"};
    CHECK_EQ_INT(av_licence_put(w, &bad), AV_EINVAL);
    av_commit_opts o = {.message = "licence add", .allow_empty = 1};
    uint32_t v = 0;
    CHECK(av_writer_commit(w, &o, &v) >= 0);
    CHECK_EQ_INT(v, 1);

    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    CHECK_EQ_INT(av_licreg_load(&reg, r), 0);
    CHECK_EQ_INT(av_licreg_count(reg), av_licence_builtin_count() + 1);
    const av_licence *got = av_licreg_get(reg, "ACME-Data");
    CHECK(got && !got->builtin);
    if (got) {
        CHECK_EQ_STR(got->name, "ACME Data Licence");
        CHECK_EQ_STR(got->notice, "Contains ACME data.");
        CHECK(av_licence_props(got) & AV_LP_NONCOMMERCIAL);
    }
    got = av_licreg_get(reg, "mit");
    CHECK(got && !got->builtin && got->share_alike == AV_LIC_YES);
    CHECK(av_licreg_get(reg, "llama3") == av_licence_builtin("llama3"));
    for (size_t i = 1; i < av_licreg_count(reg); i++)
        CHECK(strcmp(av_licreg_at(reg, i - 1)->id, av_licreg_at(reg, i)->id) < 0);
    CHECK(av_licreg_at(reg, av_licreg_count(reg)) == NULL);
    av_licreg_free(reg);
    av_reader_close(r);

    /* A corrupt stored entry is reported, not ignored. */
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    CHECK_EQ_INT(av_writer_aux_put(w, "licence", "broken", 6, "{\"id\":", 6), 0);
    CHECK(av_writer_commit(w, &o, &v) >= 0);
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    reg = NULL;
    CHECK_EQ_INT(av_licreg_load(&reg, r), AV_ECORRUPT);
    CHECK(reg == NULL);
    CHECK(strstr(av_errmsg(), "broken") != NULL);
    av_reader_close(r);
    av_store_close(s);

    /* Without a store: built-in entries only. */
    CHECK_EQ_INT(av_licreg_load(&reg, NULL), 0);
    CHECK_EQ_INT(av_licreg_count(reg), av_licence_builtin_count());
    av_licreg_free(reg);
}

int main(void)
{
    RUN(test_licence__builtin_sorted_and_complete);
    RUN(test_licence__properties);
    RUN(test_licence__hf_ids);
    RUN(test_licence__normalise);
    RUN(test_licence__json_round_trip);
    RUN(test_licence__validate);
    RUN(test_licence__user_entries_in_store);
    return tap_done();
}
