/* test_parquet_writer.c: the Parquet writer on its own: file layout (magic,
 * footer), schema inference and its refusals, the `datasets` features in JSON
 * and YAML, and clear errors for unwritable paths and a full disk. The
 * readers' view of the files is test_parquet_readers.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "pq_testutil.h"

static char *slurp(const char *path, size_t *len)
{
    return av_read_file(path, len);
}

static const char *data_path(const char *name)
{
    static char buf[4096];
    const char *src = getenv("AVIARY_SRC");
    snprintf(buf, sizeof buf, "%s/tests/data/%s", src ? src : "..", name);
    return buf;
}

static void test_parquet_writer__layout(void)
{
    char out[4096];
    snprintf(out, sizeof out, "%s/rows.parquet", tap_tmpdir());
    CHECK_EQ_INT(pq_test_write_file(data_path("export_rows.jsonl"), out, NULL), 0);
    size_t len = 0;
    char *f = slurp(out, &len);
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK(len > 12);
    CHECK(memcmp(f, "PAR1", 4) == 0);
    CHECK(memcmp(f + len - 4, "PAR1", 4) == 0);
    uint32_t flen;
    memcpy(&flen, f + len - 8, 4);
    CHECK(flen > 0 && flen < len - 12);
    /* The footer names the columns and carries the datasets features. */
    CHECK(memmem(f + len - 8 - flen, flen, "huggingface", 11) != NULL);
    CHECK(memmem(f + len - 8 - flen, flen, "\"messages\": [{\"role\"", 20) != NULL);
    free(f);
}

static void test_parquet_writer__deterministic(void)
{
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/a.parquet", tap_tmpdir());
    snprintf(b, sizeof b, "%s/b.parquet", tap_tmpdir());
    pq_opts o = PQ_OPTS_INIT;
    o.page_bytes = 100;
    o.row_group_bytes = 300;
    CHECK_EQ_INT(pq_test_write_file(data_path("export_rows.jsonl"), a, &o), 0);
    CHECK_EQ_INT(pq_test_write_file(data_path("export_rows.jsonl"), b, &o), 0);
    size_t la, lb;
    char *fa = slurp(a, &la), *fb = slurp(b, &lb);
    CHECK(fa && fb && la == lb && memcmp(fa, fb, la) == 0);
    free(fa);
    free(fb);
}

static void test_parquet_writer__mixed_types_refused(void)
{
    const char *text = "{\"a\": 1, \"b\": {\"c\": [1, 2]}}\n{\"a\": 2.5, \"b\": {\"c\": [\"x\"]}}\n";
    char out[4096];
    snprintf(out, sizeof out, "%s/mixed.parquet", tap_tmpdir());
    int rc = pq_test_write_text(text, strlen(text), out, NULL);
    CHECK_EQ_INT(rc, AV_EINVAL);
    CHECK(strstr(av_errmsg(), "'b.c[]'") != NULL);
    CHECK(strstr(av_errmsg(), "number and string") != NULL);
}

static void test_parquet_writer__int_widens_to_double(void)
{
    jv_parser p = JV_PARSER_INIT;
    pq_node *root = pq_schema_new();
    CHECK_EQ_INT(pq_schema_infer(root, jv_parse(&p, "{\"x\": 1, \"y\": null}", 19)), 0);
    CHECK_EQ_INT(pq_schema_infer(root, jv_parse(&p, "{\"x\": 2.5, \"z\": true}", 21)), 0);
    av_buf b = AV_BUF_INIT;
    pq_schema_features_json(root, &b);
    CHECK_EQ_STR(b.ptr, "{\"x\": {\"dtype\": \"float64\", \"_type\": \"Value\"}, "
                        "\"y\": {\"dtype\": \"string\", \"_type\": \"Value\"}, "
                        "\"z\": {\"dtype\": \"bool\", \"_type\": \"Value\"}}");
    av_buf_free(&b);
    pq_schema_free(root);
    jv_parser_release(&p);
}

static void test_parquet_writer__features_yaml(void)
{
    const char *row = "{\"prompt\": \"p\", \"chosen\": [{\"content\": \"c\", \"role\": \"user\"}], "
                      "\"labels\": [true], \"cfg\": {\"top_p\": 1.0, \"n\": 3}}";
    jv_parser p = JV_PARSER_INIT;
    pq_node *root = pq_schema_new();
    CHECK_EQ_INT(pq_schema_infer(root, jv_parse(&p, row, strlen(row))), 0);
    av_buf b = AV_BUF_INIT;
    pq_schema_features_yaml(root, &b, 2);
    CHECK_EQ_STR(b.ptr, "  - name: prompt\n"
                        "    dtype: string\n"
                        "  - name: chosen\n"
                        "    list:\n"
                        "    - name: content\n"
                        "      dtype: string\n"
                        "    - name: role\n"
                        "      dtype: string\n"
                        "  - name: labels\n"
                        "    list: bool\n"
                        "  - name: cfg\n"
                        "    struct:\n"
                        "    - name: top_p\n"
                        "      dtype: float64\n"
                        "    - name: n\n"
                        "      dtype: int64\n");
    av_buf_reset(&b);
    pq_schema_features_json(root, &b);
    CHECK_EQ_STR(b.ptr, "{\"prompt\": {\"dtype\": \"string\", \"_type\": \"Value\"}, "
                        "\"chosen\": [{\"content\": {\"dtype\": \"string\", \"_type\": \"Value\"}, "
                        "\"role\": {\"dtype\": \"string\", \"_type\": \"Value\"}}], "
                        "\"labels\": [{\"dtype\": \"bool\", \"_type\": \"Value\"}], "
                        "\"cfg\": {\"top_p\": {\"dtype\": \"float64\", \"_type\": \"Value\"}, "
                        "\"n\": {\"dtype\": \"int64\", \"_type\": \"Value\"}}}");
    av_buf_free(&b);
    pq_schema_free(root);
    jv_parser_release(&p);
}

static void test_parquet_writer__unwritable_path(void)
{
    const char *text = "{\"a\": 1}\n";
    int rc = pq_test_write_text(text, strlen(text), "/nonexistent-dir/x.parquet", NULL);
    CHECK_EQ_INT(rc, AV_EIO);
    CHECK(strstr(av_errmsg(), "cannot create '/nonexistent-dir/x.parquet'") != NULL);
}

static void test_parquet_writer__full_disk(void)
{
    FILE *f = fopen("/dev/full", "wb");
    if (!f) {
        printf("# skip: no /dev/full\n");
        return;
    }
    fclose(f);
    const char *text = "{\"a\": \"hello\"}\n";
    int rc = pq_test_write_text(text, strlen(text), "/dev/full", NULL);
    CHECK_EQ_INT(rc, AV_EIO);
    CHECK(strstr(av_errmsg(), "cannot write '/dev/full'") != NULL);
    CHECK(strstr(av_errmsg(), "No space left on device") != NULL);
}

static void test_parquet_writer__no_columns(void)
{
    pq_node *root = pq_schema_new();
    pq_writer *w = NULL;
    char out[4096];
    snprintf(out, sizeof out, "%s/empty.parquet", tap_tmpdir());
    CHECK_EQ_INT(pq_writer_open(&w, out, root, NULL), AV_EINVAL);
    CHECK(w == NULL);
    pq_schema_free(root);
}

static void test_parquet_writer__bad_json(void)
{
    jv_parser p = JV_PARSER_INIT;
    CHECK(jv_parse(&p, "{\"a\": [1, 2}", 12) == NULL);
    CHECK(strstr(p.err, "expected ',' or ']'") != NULL);
    const char *trail = "{\"a\": \"\\ud83d\\ude0a\"} x";
    CHECK(jv_parse(&p, trail, strlen(trail)) == NULL);
    CHECK(strstr(p.err, "trailing characters") != NULL);
    const char *ok = "{\"a\": \"\\ud83d\\ude0a\\n\", \"b\": 12345678901234567890}";
    const jv *v = jv_parse(&p, ok, strlen(ok));
    CHECK(v != NULL);
    if (v) {
        const jv *a = jv_get(v, "a"), *b = jv_get(v, "b");
        CHECK(a && a->n == 5 && memcmp(a->u.s, "\xF0\x9F\x98\x8A\n", 5) == 0);
        CHECK(b && b->type == JV_DOUBLE); /* beyond int64: kept as a double */
    }
    jv_parser_release(&p);
}

int main(void)
{
    RUN(test_parquet_writer__layout);
    RUN(test_parquet_writer__deterministic);
    RUN(test_parquet_writer__mixed_types_refused);
    RUN(test_parquet_writer__int_widens_to_double);
    RUN(test_parquet_writer__features_yaml);
    RUN(test_parquet_writer__unwritable_path);
    RUN(test_parquet_writer__full_disk);
    RUN(test_parquet_writer__no_columns);
    RUN(test_parquet_writer__bad_json);
    return tap_done();
}
