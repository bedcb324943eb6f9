/* test_native_parse.c: one dump line at a time, no store: each line type,
 * exact attr bytes, numbers, and a clear reason for each kind of bad line. */
#include <math.h>
#include <string.h>

#include "ingest/native.h"
#include "tap.h"

static int parse(av_native_line *l, const char *s)
{
    return av_native_parse(l, s, strlen(s));
}

/* bad(line, reason): the line is refused with a message containing reason. */
static void bad(const char *line, const char *reason)
{
    av_native_line l;
    int rc = parse(&l, line);
    CHECK_EQ_INT(rc, AV_EINVAL);
    if (!strstr(av_errmsg(), reason)) fprintf(stderr, "'%s': got '%s', want '%s'\n", line, av_errmsg(), reason);
    CHECK(strstr(av_errmsg(), reason) != NULL);
    av_native_line_free(&l);
}

static void test_native_parse__header_and_commit(void)
{
    av_native_line l;
    CHECK_EQ_INT(parse(&l, "{\"aviary\":\"dump\",\"format\":1,\"version\":7}"), 0);
    CHECK_EQ_INT(l.type, AV_NATIVE_HEADER);
    CHECK_EQ_INT(l.format, 1);
    CHECK_EQ_INT(l.version, 7);
    av_native_line_free(&l);
    CHECK_EQ_INT(parse(&l, "{\"commit\":3,\"time\":\"2026-01-31T12:00:05Z\",\"message\":\"m\\nx\",\"command\":\"aviary add\","
                           "\"added\":{\"prompt\":2,\"tag\":5},\"retracted\":1,\"restored\":0,\"linked\":4}"), 0);
    CHECK_EQ_INT(l.type, AV_NATIVE_COMMIT);
    CHECK_EQ_INT(l.version, 3);
    CHECK_EQ_INT(l.time, 1769860805);
    CHECK_EQ_STR(l.message, "m\nx");
    CHECK_EQ_INT(l.added[AV_PROMPT], 2);
    CHECK_EQ_INT(l.added[AV_TAG], 5);
    CHECK_EQ_INT(l.retracted, 1);
    CHECK_EQ_INT(l.linked, 4);
    CHECK_EQ_INT((int)l.ntags, 0);
    av_native_line_free(&l);
    CHECK_EQ_INT(parse(&l, "{\"commit\":1,\"time\":\"2026-01-31T12:00:05Z\",\"tags\":[\"base\",\"v1\"]}"), 0);
    CHECK_EQ_INT((int)l.ntags, 2);
    CHECK_EQ_STR(l.tags[0], "base");
    CHECK_EQ_STR(l.tags[1], "v1");
    av_native_line_free(&l);
    CHECK_EQ_INT(parse(&l, "{\"commit\":1,\"time\":\"2026-01-31T12:00:05Z\",\"tags\":\"v1\"}"), AV_EINVAL);
    CHECK(strstr(av_errmsg(), "'tags' must be a non-empty array of version names") != NULL);
    av_native_line_free(&l);
    CHECK_EQ_INT(parse(&l, "{\"commit\":1,\"time\":\"2026-01-31T12:00:05Z\",\"tags\":[\"\"]}"), AV_EINVAL);
    av_native_line_free(&l);
    CHECK_EQ_INT(parse(&l, "   "), 0);
    CHECK_EQ_INT(l.type, AV_NATIVE_BLANK);
    av_native_line_free(&l);
}

static void test_native_parse__record(void)
{
    av_native_line l;
    const char *line =
        "{\"kind\":\"preference\",\"id\":\"0123456789abcdef0123456789abcdef\",\"version\":2,"
        "\"refs\":[\"00000000000000000000000000000001\",null,\"00000000000000000000000000000003\"],"
        "\"model\":\"gpt-4o\",\"name\":\"text\",\"num\":0.30000000000000004,"
        "\"msgs\":[{\"role\":\"rationale\",\"text\":\"A \\u00e9 \\\"q\\\"\"}],"
        "\"attrs\":{\"k\" : [1, 2.50, {\"a\":null}] ,\"big\":12345678901234567890,\"s\":\"\\u00e9\"},"
        "\"prov\":[{\"source\":\"000000000000000000000000000000ff\",\"line\":12,\"version\":2}],"
        "\"history\":[{\"version\":3,\"event\":\"retract\"},{\"version\":4,\"event\":\"restore\"}]}";
    CHECK_EQ_INT(parse(&l, line), 0);
    CHECK_EQ_INT(l.type, AV_NATIVE_RECORD);
    CHECK_EQ_INT(l.kind, AV_PREFERENCE);
    CHECK(l.has_id && l.has_version);
    CHECK_EQ_INT(l.id.b[15], 0xef);
    CHECK_EQ_INT(l.nref, 3);
    CHECK(l.ref_set[0] && !l.ref_set[1] && l.ref_set[2]);
    CHECK_EQ_INT(l.ref[2].b[15], 3);
    CHECK_EQ_STR(l.model, "gpt-4o");
    CHECK_EQ_STR(l.name, "text");
    CHECK(l.num == 0.1 + 0.2);
    CHECK_EQ_INT(l.nmsg, 1);
    CHECK_EQ_STR(l.msg[0].text.ptr, "A \xc3\xa9 \"q\"");
    CHECK_EQ_INT(l.msg[0].text.len, 8);
    CHECK_EQ_INT(l.nattr, 3);
    /* attr values are the exact bytes of the line */
    CHECK(l.attr[0].json.len == 21 && !memcmp(l.attr[0].json.ptr, "[1, 2.50, {\"a\":null}]", 21));
    CHECK(l.attr[1].json.len == 20 && !memcmp(l.attr[1].json.ptr, "12345678901234567890", 20));
    CHECK(l.attr[2].json.len == 8 && !memcmp(l.attr[2].json.ptr, "\"\\u00e9\"", 8));
    CHECK_EQ_INT(l.nprov, 1);
    CHECK_EQ_INT(l.prov[0].line, 12);
    CHECK_EQ_INT(l.nhist, 2);
    CHECK(!l.hist[0].restore && l.hist[1].restore);
    av_native_line_free(&l);

    /* a NUL escape inside an attr value is kept as JSON text */
    CHECK_EQ_INT(parse(&l, "{\"kind\":\"tag\",\"attrs\":{\"t\":{\"uuid\":\"\\u0000@\"}}}"), 0);
    CHECK(l.nattr == 1 && l.attr[0].json.len == 18 && !memcmp(l.attr[0].json.ptr, "{\"uuid\":\"\\u0000@\"}", 18));
    av_native_line_free(&l);
    /* an escaped backslash before "u0000" is not a NUL */
    CHECK_EQ_INT(parse(&l, "{\"kind\":\"prompt\",\"msgs\":[{\"role\":\"user\",\"text\":\"a\\\\u0000\"}]}"), 0);
    CHECK(l.nmsg == 1 && !strcmp(l.msg[0].text.ptr, "a\\u0000"));
    av_native_line_free(&l);
    CHECK_EQ_INT(parse(&l, "{\"kind\":\"rating\",\"num\":\"-inf\"}"), 0);
    CHECK(isinf(l.num) && l.num < 0);
    CHECK(!l.has_id && !l.has_version);
    av_native_line_free(&l);
    CHECK_EQ_INT(parse(&l, "{\"kind\":\"prompt\",\"id\":\"0123456789abcdef0123456789abcdef\",\"version\":1}"), 0);
    CHECK(isnan(l.num));
    CHECK(l.name == NULL && l.model == NULL);
    av_native_line_free(&l);
}

static void test_native_parse__bad_lines(void)
{
    bad("{\"kind\":\"prompt\",\"msgs\":[{\"role\":\"user\",\"text\":\"cut he", "truncated line");
    bad("{\"kind\":\"prompt\",\"msgs\":[", "truncated line");
    bad("{\"kind\":\"opinion\"}", "unknown record kind 'opinion'");
    bad("{\"kind\":\"prompt\",\"id\":\"xyz\"}", "bad content id 'xyz'");
    bad("{\"kind\":\"prompt\",\"id\":\"0123456789abcdef0123456789abcdeg\"}", "bad content id");
    bad("{\"kind\":\"prompt\",\"color\":1}", "unknown field 'color'");
    bad("{\"kind\":\"prompt\",\"kind\":\"tag\"}", "field 'kind' appears twice");
    bad("{\"kind\":\"prompt\"} x", "extra text after the JSON object");
    bad("[1,2]", "not a JSON object");
    bad("{\"kind\":\"prompt\",\"version\":1.5}", "whole number");
    bad("{\"kind\":\"prompt\",\"version\":-1}", "whole number");
    bad("{\"kind\":\"prompt\",\"prov\":[{\"source\":\"000000000000000000000000000000ff\",\"line\":1e300,\"version\":1}]}",
        "whole number");
    bad("{\"kind\":\"prompt\",\"msgs\":[{\"role\":\"user\",\"text\":\"a\\u0000b\"}]}", "NUL");
    bad("{\"kind\":\"prompt\",\"msgs\":[{\"role\":\"user\",\"text\":\"a\\\\\\u0000b\"}]}", "NUL");
    bad("{\"kind\":\"prompt\",\"msgs\":[{\"role\":\"user\",\"text\":\"\xc3\"}]}", "invalid UTF-8");
    bad("{\"kind\":\"prompt\",\"msgs\":[{\"role\":\"user\"}]}", "each of 'msgs'");
    bad("{\"kind\":\"prompt\",\"refs\":[null,null,null,null]}", "more than 3");
    bad("{\"kind\":\"prompt\",\"history\":[{\"version\":3,\"event\":\"restore\"}]}", "alternate");
    bad("{\"kind\":\"prompt\",\"history\":[{\"version\":3,\"event\":\"delete\"}]}", "unknown history event");
    bad("{\"kind\":\"prompt\",\"version\":4,\"history\":[{\"version\":3,\"event\":\"retract\"}]}", "before the record's");
    bad("{\"commit\":1,\"time\":\"yesterday\"}", "'time' must look like");
    bad("{\"commit\":1,\"time\":\"2026-02-30T00:00:00Z\"}", "not a valid date");
    bad("{\"commit\":1}", "needs 'time'");
    bad("{\"aviary\":\"dump\",\"format\":1}", "needs 'format' and 'version'");
    bad("{\"hello\":1}", "not a dump line");
    bad("{\"kind\":\"prompt\",\"attrs\":{\"a\":}}", "invalid JSON");
    bad("{\"kind\":\"tag\",\"attrs\":{\"a\\u0000\":1}}", "NUL) in an attribute key");
}

int main(void)
{
    RUN(test_native_parse__header_and_commit);
    RUN(test_native_parse__record);
    RUN(test_native_parse__bad_lines);
    return tap_done();
}
