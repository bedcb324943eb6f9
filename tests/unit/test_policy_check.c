/* test_policy_check.c: licence policies: parsing (with file:line errors for
 * bad JSON, unknown keys, unknown licences and properties) and checking a
 * lineage's licence set against licence and property allow/deny lists and
 * the "unknown" rule. Uses the shipped policies in tests/data/policies. */
#include "query/policy.h"
#include "tests/unit/tap.h"

#include <stdlib.h>
#include <string.h>

static av_policy *parse(const char *json, char **err)
{
    av_policy *p = NULL;
    *err = NULL;
    av_policy_parse(&p, json, strlen(json), "p.json", NULL, err);
    return p;
}

static int check(const av_policy *p, av_buf *why, size_t n, ...)
{
    const char *lic[8];
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) lic[i] = va_arg(ap, const char *);
    va_end(ap);
    av_buf_reset(why);
    return av_policy_check(p, NULL, lic, n, why);
}

static void test_policy__licence_lists(void)
{
    char *err;
    av_buf why = AV_BUF_INIT;
    av_policy *p = parse("{\"licences\": {\"allow\": [\"MIT\", \"Apache 2.0\", \"openai-terms\"],"
                         " \"deny\": [\"openai-terms\"]}}", &err);
    CHECK(p != NULL);
    if (!p) return;
    CHECK_EQ_STR(av_policy_name(p), "p.json");
    CHECK_EQ_INT(check(p, &why, 2, "apache-2.0", "mit"), 0);
    CHECK_EQ_INT(why.len, 0);
    CHECK_EQ_INT(check(p, &why, 2, "mit", "openai-terms"), 1);
    CHECK_EQ_STR(why.ptr, "licence 'openai-terms' is denied");
    CHECK_EQ_INT(check(p, &why, 3, "llama3", "mit", "openai-terms"), 2);
    CHECK_EQ_STR(why.ptr, "licence 'llama3' is not allowed; licence 'openai-terms' is denied");
    CHECK_EQ_INT(check(p, &why, 2, "mit", "unknown"), 1);
    CHECK_EQ_STR(why.ptr, "lineage has an unknown licence or model");
    av_policy_free(p);
    av_buf_free(&why);
}

static void test_policy__properties(void)
{
    char *err;
    av_buf why = AV_BUF_INIT;
    av_policy *p = parse("{\"name\": \"commercial\", \"properties\": {\"deny\": [\"non-commercial\", "
                         "\"output-restriction\"]}, \"unknown\": \"allow\"}", &err);
    CHECK(p != NULL);
    if (!p) return;
    CHECK_EQ_STR(av_policy_name(p), "commercial");
    CHECK_EQ_INT(check(p, &why, 3, "llama3.1", "mit", "unknown"), 0);
    CHECK_EQ_INT(check(p, &why, 1, "cc-by-nc-4.0"), 1);
    CHECK_EQ_STR(why.ptr, "licence 'cc-by-nc-4.0' forbids commercial use (property 'non-commercial' is denied)");
    CHECK_EQ_INT(check(p, &why, 2, "llama3", "openai-terms"), 2);
    CHECK_EQ_STR(why.ptr, "licence 'llama3' restricts training models with its outputs (property "
                          "'output-restriction' is denied); licence 'openai-terms' restricts training models with "
                          "its outputs (property 'output-restriction' is denied)");
    CHECK_EQ_INT(check(p, &why, 1, "not-in-registry"), 0); /* unknown allowed */
    av_policy_free(p);

    /* properties.allow: anything carrying another property violates. */
    p = parse("{\"properties\": {\"allow\": [\"attribution\"]}}", &err);
    CHECK(p != NULL);
    if (!p) return;
    CHECK_EQ_INT(check(p, &why, 3, "mit", "cc-by-4.0", "cc0-1.0"), 0);
    CHECK_EQ_INT(check(p, &why, 1, "cc-by-sa-4.0"), 1);
    CHECK_EQ_STR(why.ptr, "licence 'cc-by-sa-4.0' requires share-alike (property 'share-alike' is not allowed)");
    CHECK_EQ_INT(check(p, &why, 1, "gemma"), 2); /* output-restriction and use-policy */
    CHECK_EQ_INT(check(p, &why, 1, "not-in-registry"), 1);
    CHECK_EQ_STR(why.ptr, "licence 'not-in-registry' is not in the registry");
    av_policy_free(p);

    /* An empty policy allows every known licence but not unknown lineage. */
    p = parse("{}", &err);
    CHECK(p != NULL);
    CHECK_EQ_INT(check(p, &why, 3, "llama3", "openai-terms", "cc-by-nc-sa-4.0"), 0);
    CHECK_EQ_INT(check(p, &why, 1, "unknown"), 1);
    av_policy_free(p);
    av_buf_free(&why);
}

static void expect_error(const char *json, const char *msg)
{
    char *err = NULL;
    av_policy *p = parse(json, &err);
    CHECK(p == NULL);
    CHECK_EQ_STR(err, msg);
    free(err);
}

static void test_policy__errors_name_the_line(void)
{
    expect_error("{\n  \"name\": \"x\"\n  \"unknown\": \"deny\"\n}", "p.json:3: not valid JSON");
    expect_error("[1, 2]", "p.json:1: a policy must be a JSON object");
    expect_error("{\n \"licences\": {\n  \"allow\": [\"mit\",\n   \"mti\"]}}",
                 "p.json:4: 'mti' is not a known licence (see 'aviary licence list')");
    expect_error("{\n\n \"colour\": 1}", "p.json:3: unknown key 'colour'");
    expect_error("{\"licences\": {\"allow\": \"mit\"}}", "p.json:1: 'licences.allow' must be an array of strings");
    expect_error("{\"licences\": {\"permit\": []}}", "p.json:1: unknown key 'permit' in licences");
    expect_error("{\"properties\": {\"deny\": [\"commercial\"]}}",
                 "p.json:1: 'commercial' is not a licence property (known: non-commercial, limited-commercial, "
                 "attribution, share-alike, naming, output-restriction, use-policy, unknown)");
    expect_error("{\"unknown\": \"maybe\"}", "p.json:1: 'unknown' must be \"allow\" or \"deny\"");
    expect_error("{\"name\": 7}", "p.json:1: 'name' must be a string");
    expect_error("", "p.json:1: not valid JSON");
}

static void test_policy__shipped_files(void)
{
    const char *src = getenv("AVIARY_SRC");
    char path[1024];
    char *err = NULL;
    av_policy *p = NULL;
    av_buf why = AV_BUF_INIT;
    if (!src) src = ".";
    snprintf(path, sizeof path, "%s/tests/data/policies/commercial.json", src);
    CHECK_EQ_INT(av_policy_load(&p, path, NULL, &err), 0);
    if (p) {
        CHECK_EQ_STR(av_policy_name(p), "commercial release");
        CHECK_EQ_INT(check(p, &why, 2, "llama3.1", "mit"), 0);
        CHECK_EQ_INT(check(p, &why, 2, "llama3", "mit"), 1);
        CHECK_EQ_INT(check(p, &why, 1, "unknown"), 1);
    }
    av_policy_free(p);
    snprintf(path, sizeof path, "%s/tests/data/policies/bad-licence.json", src);
    CHECK_EQ_INT(av_policy_load(&p, path, NULL, &err), AV_EINVAL);
    CHECK(err && strstr(err, "bad-licence.json:6: 'mti' is not a known licence"));
    free(err);
    snprintf(path, sizeof path, "%s/tests/data/policies/bad-syntax.json", src);
    CHECK_EQ_INT(av_policy_load(&p, path, NULL, &err), AV_EINVAL);
    CHECK(err && strstr(err, "bad-syntax.json:3: not valid JSON"));
    free(err);
    CHECK_EQ_INT(av_policy_load(&p, "/nonexistent/policy.json", NULL, &err), AV_EIO);
    CHECK(err && !strncmp(err, "cannot read '/nonexistent/policy.json'", 38));
    free(err);
    av_buf_free(&why);
}

static void test_policy__drop(void)
{
    uint64_t units[5] = {10, 11, 12, 13, 14};
    uint8_t bad[5] = {0, 1, 0, 1, 1};
    CHECK_EQ_INT(av_policy_drop(units, 5, bad), 2);
    CHECK_EQ_INT(units[0], 10);
    CHECK_EQ_INT(units[1], 12);
}

int main(void)
{
    RUN(test_policy__licence_lists);
    RUN(test_policy__properties);
    RUN(test_policy__errors_name_the_line);
    RUN(test_policy__shipped_files);
    RUN(test_policy__drop);
    return tap_done();
}
