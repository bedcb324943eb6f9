/* test_ingest_json.c: ingest's JSON parser: values and their tree, numbers
 * kept as written, escapes and surrogate pairs, and every rejection aviary
 * promises (invalid UTF-8, \u0000, lone surrogates, control characters,
 * nesting past 64, trailing data), each with its byte offset. */
#include <string.h>

#include "ingest/json.h"
#include "tap.h"

static jdoc d;

static int parse(const char *s)
{
    return json_parse(&d, s, strlen(s), 0);
}

static char *compact(const char *s)
{
    static av_buf b;
    av_buf_reset(&b);
    if (parse(s)) return NULL;
    json_write(&b, json_root(&d));
    return b.ptr;
}

static void test_ingest_json__values_and_tree(void)
{
    CHECK_EQ_INT(parse(" {\"a\": [1, -2.5e3, true, false, null], \"b\": {\"c\": \"d\"}, \"e\": \"\"} "), 0);
    const jnode *r = json_root(&d);
    CHECK_EQ_INT(r->type, J_OBJ);
    CHECK_EQ_INT(r->n, 3);
    const jnode *a = json_get(r, "a");
    CHECK(a && a->type == J_ARR && a->n == 5);
    CHECK_EQ_INT(json_at(a, 1)->type, J_NUM);
    CHECK(json_at(a, 1)->n == 6 && !memcmp(json_at(a, 1)->s, "-2.5e3", 6));
    CHECK_EQ_INT(json_at(a, 2)->type, J_TRUE);
    CHECK_EQ_INT(json_at(a, 4)->type, J_NULL);
    CHECK(json_at(a, 5) == NULL);
    CHECK(json_str_is(json_get(json_get(r, "b"), "c"), "d"));
    CHECK(json_str_is(json_get(r, "e"), ""));
    CHECK(json_get(r, "zz") == NULL);
    CHECK_EQ_INT(r->skip, d.count);
}

static void test_ingest_json__numbers_kept_as_written(void)
{
    CHECK_EQ_STR(compact("[1.0, 10, 1e+16, 12345678901234567890123, -0, 0.1]"),
                 "[1.0,10,1e+16,12345678901234567890123,-0,0.1]");
    CHECK(parse("[01]") < 0);
    CHECK(parse("[1.]") < 0);
    CHECK(parse("[.5]") < 0);
    CHECK(parse("[1e]") < 0);
    CHECK(parse("[+1]") < 0);
}

static void test_ingest_json__escapes(void)
{
    CHECK_EQ_INT(parse("\"a\\n\\t\\\"\\\\\\/\\u00e9\\ud83d\\ude00\""), 0);
    const jnode *s = json_root(&d);
    CHECK(s->n == strlen("a\n\t\"\\/\xc3\xa9\xf0\x9f\x98\x80"));
    CHECK(!memcmp(s->s, "a\n\t\"\\/\xc3\xa9\xf0\x9f\x98\x80", s->n));
    CHECK_EQ_INT(s->plain, 0);
    CHECK_EQ_INT(parse("\"plain text \xc3\xa9\""), 0);
    CHECK_EQ_INT(json_root(&d)->plain, 1);
    /* re-escaped compactly, same value */
    CHECK_EQ_STR(compact("{\"k\" : \"a\\u0041\\n\"}"), "{\"k\":\"aA\\n\"}");
}

static void check_err(const char *in, const char *want, size_t off)
{
    int rc = json_parse(&d, in, strlen(in), 0);
    CHECK_EQ_INT(rc, -1);
    if (strncmp(d.err, want, strlen(want))) fprintf(stderr, "for %s: got \"%s\", want \"%s\"\n", in, d.err, want);
    CHECK(!strncmp(d.err, want, strlen(want)));
    CHECK_EQ_INT(d.err_off, off);
}

static void test_ingest_json__rejections(void)
{
    check_err("\"a\\u0000b\"", "string contains \\u0000", 2);
    check_err("\"caf\xe9\"", "invalid UTF-8", 4);
    check_err("\"\xc0\xaf\"", "invalid UTF-8", 1);         /* overlong */
    check_err("\"\xed\xa0\x80\"", "invalid UTF-8", 1);     /* encoded surrogate */
    check_err("\"\xf4\x90\x80\x80\"", "invalid UTF-8", 1); /* above U+10FFFF */
    check_err("\"\xe2\x82\"", "invalid UTF-8", 1);         /* cut short */
    check_err("\"\\ud800\"", "lone UTF-16 surrogate", 1);
    check_err("\"\\udc00x\"", "lone UTF-16 surrogate", 1);
    check_err("\"a\tb\"", "unescaped control character", 2);
    check_err("\"\\x\"", "bad escape", 1);
    check_err("\"\\u12G4\"", "bad \\u escape", 1);
    check_err("{\"a\": 1,}", "expected a string key", 8);
    check_err("{\"a\" 1}", "expected ':'", 5);
    check_err("[1 2]", "expected ',' or ']'", 3);
    check_err("{\"a\": 1", "unterminated object", 7);
    check_err("\"abc", "unterminated string", 0);
    check_err("{} {}", "unexpected data after the value", 3);
    check_err("", "unexpected end of input", 0);
    check_err("nul", "unexpected 'n'", 0);
    char deep[200];
    memset(deep, '[', 65);
    deep[65] = 0;
    check_err(deep, "nesting deeper than 64 levels", 64);
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = 0;
    CHECK_EQ_INT(parse(deep), 0);
    /* templates may hold NUL */
    CHECK_EQ_INT(json_parse(&d, "\"\\u0000T1.0\"", 12, JSON_ALLOW_NUL), 0);
    CHECK(json_root(&d)->n == 5 && json_root(&d)->s[0] == 0);
}

int main(void)
{
    json_doc_init(&d);
    RUN(test_ingest_json__values_and_tree);
    RUN(test_ingest_json__numbers_kept_as_written);
    RUN(test_ingest_json__escapes);
    RUN(test_ingest_json__rejections);
    json_doc_free(&d);
    return tap_done();
}
