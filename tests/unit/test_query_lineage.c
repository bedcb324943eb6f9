/* test_query_lineage.c: av_lineage_get on the fixture store: the sources and
 * models a record carries terms from, in their roles (source, writer,
 * generator, judge, tagger), their licences ("unknown" for a model without a
 * licence tag), the distinct sorted licence set, and how a model's licence
 * changes with the version read. */
#include <stdlib.h>
#include <string.h>

#include "query/lineage.h"
#include "query_fixture.h"
#include "tap.h"

static qfx F;
static av_store *S;
static av_reader *R1, *R2;

/* "role:name=licence" items joined by spaces, then " | " and the set. */
static char *describe(av_reader *r, uint64_t row)
{
    av_lineage l;
    av_lineage_init(&l);
    av_buf b = AV_BUF_INIT;
    int rc = av_lineage_get(r, row, &l);
    if (rc < 0) {
        av_buf_printf(&b, "ERROR %d: %s", rc, av_errmsg());
        return av_buf_detach(&b);
    }
    for (size_t i = 0; i < l.nitems; i++)
        av_buf_printf(&b, "%s%s:%s=%s", i ? " " : "", l.items[i].role, l.items[i].name, l.items[i].licence);
    av_buf_puts(&b, " |");
    for (size_t i = 0; i < l.nlicences; i++) av_buf_printf(&b, " %s", l.licences[i]);
    av_lineage_free(&l);
    return av_buf_detach(&b);
}

#define LIN(r, row, want) do { char *d_ = describe(r, row); CHECK_EQ_STR(d_, want); free(d_); } while (0)

#define LLAMA "meta-llama/Meta-Llama-3-8B-Instruct"

static void test_query_lineage__magpie_row(void)
{
    /* the response: its writer, its own source link, then its prompt's generator and source */
    LIN(R1, F.response[1], "writer:" LLAMA "=llama3 source:magpie-test=llama3 generator:" LLAMA "=llama3 | llama3");
    LIN(R1, F.prompt[1], "generator:" LLAMA "=llama3 source:magpie-test=llama3 | llama3");
}

static void test_query_lineage__unknown_and_versions(void)
{
    /* qwen2 has no licence tag at v1, and gets apache-2.0 at v2 */
    LIN(R1, F.response[7], "writer:qwen2=unknown source:magpie-test=llama3 generator:" LLAMA "=llama3 | llama3 unknown");
    LIN(R2, F.response[7], "writer:qwen2=apache-2.0 source:magpie-test=llama3 generator:" LLAMA "=llama3 | apache-2.0 llama3");
}

static void test_query_lineage__judges_and_taggers(void)
{
    /* response 9b: judged by gpt-4 and qwen2, compared in a preference by gpt-4 */
    LIN(R1, F.resp9b, "writer:qwen2=unknown source:ultra-test=mit judge:gpt-4=openai-terms judge:qwen2=unknown | mit openai-terms unknown");
    /* at v2 response 3 carries a tag written by gpt-4 (the tagger) */
    LIN(R2, F.response[3], "writer:" LLAMA "=llama3 source:magpie-test=llama3 tagger:gpt-4=openai-terms generator:" LLAMA
                           "=llama3 | llama3 openai-terms");
    LIN(R1, F.response[3], "writer:" LLAMA "=llama3 source:magpie-test=llama3 generator:" LLAMA "=llama3 | llama3");
    /* a rating: its judge, the response it rates and that response's prompt */
    LIN(R2, F.rating_r1, "judge:gpt-4=openai-terms writer:" LLAMA "=llama3 source:magpie-test=llama3 generator:" LLAMA
                         "=llama3 | llama3 openai-terms");
}

static void test_query_lineage__errors_and_licence_of(void)
{
    av_lineage l;
    av_lineage_init(&l);
    CHECK_EQ_INT(av_lineage_get(R2, F.response[4], &l), AV_ENOTFOUND); /* retracted at v2 */
    CHECK_EQ_INT(l.nitems, 0);
    av_lineage_free(&l);
    av_lineage_free(&l); /* twice is fine */
    char *lic = NULL;
    CHECK_EQ_INT(av_licence_of(R1, F.m_qwen, &lic), 0);
    CHECK_EQ_STR(lic, "unknown");
    free(lic);
    CHECK_EQ_INT(av_licence_of(R2, F.m_qwen, &lic), 0);
    CHECK_EQ_STR(lic, "apache-2.0");
    free(lic);
    CHECK_EQ_INT(av_licence_of(R1, F.src_ultra, &lic), 0);
    CHECK_EQ_STR(lic, "mit");
    free(lic);
    /* the cache gives the same answers for many records */
    av_lineage_cache *c;
    CHECK_EQ_INT(av_lineage_cache_new(&c, R1), 0);
    for (int i = 1; i <= 10; i++) {
        av_lineage a, b;
        av_lineage_init(&a);
        av_lineage_init(&b);
        CHECK_EQ_INT(av_lineage_get_cached(c, F.response[i], &a), 0);
        CHECK_EQ_INT(av_lineage_get(R1, F.response[i], &b), 0);
        CHECK_EQ_INT(a.nlicences, b.nlicences);
        for (size_t k = 0; k < a.nlicences && k < b.nlicences; k++) CHECK_EQ_STR(a.licences[k], b.licences[k]);
        av_lineage_free(&a);
        av_lineage_free(&b);
    }
    av_lineage_cache_free(c);
}

int main(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/store", tap_tmpdir());
    if (qfx_build(path, &F) < 0) return 1;
    if (av_store_open(&S, path, AV_OPEN_RDONLY) < 0 || av_reader_open(&R1, S, F.v1) < 0 ||
        av_reader_open(&R2, S, F.v2) < 0) {
        fprintf(stderr, "cannot open the fixture store: %s\n", av_errmsg());
        return 1;
    }
    RUN(test_query_lineage__magpie_row);
    RUN(test_query_lineage__unknown_and_versions);
    RUN(test_query_lineage__judges_and_taggers);
    RUN(test_query_lineage__errors_and_licence_of);
    av_reader_close(R1);
    av_reader_close(R2);
    av_store_close(S);
    return tap_done();
}
