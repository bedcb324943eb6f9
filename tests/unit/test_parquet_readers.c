/* test_parquet_readers.c: files from aviary's Parquet writer read back by two
 * independent readers (DuckDB and hyparquet, tests/node/pq_check.mjs), every
 * value equal to the JSON Lines rows they came from. Covers nested lists of
 * structs, lists of lists, nulls at every level, empty lists, booleans,
 * int64 extremes, non-ASCII text, multi-page and multi-row-group chunks,
 * dictionary pages with PLAIN fallback, and real dataset rows when
 * ../shared/fixtures is there. Skips (77) when the Node readers are not
 * installed (scripts/bootstrap installs them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "pq_testutil.h"

static const char *src_path(const char *rel)
{
    static char buf[4096];
    const char *src = getenv("AVIARY_SRC");
    snprintf(buf, sizeof buf, "%s/%s", src ? src : "..", rel);
    return buf;
}

static void check_file(const char *jsonl, const char *name, const pq_opts *o)
{
    char out[4096];
    snprintf(out, sizeof out, "%s/%s.parquet", tap_tmpdir(), name);
    CHECK_EQ_INT(pq_test_write_file(jsonl, out, o), 0);
    CHECK_EQ_INT(pq_test_check(jsonl, out), 0);
}

static void test_parquet_readers__sample_rows(void)
{
    check_file(src_path("tests/data/export_rows.jsonl"), "sample", NULL);
}

static void test_parquet_readers__tiny_pages_and_row_groups(void)
{
    pq_opts o = PQ_OPTS_INIT;
    o.page_bytes = 40;
    o.row_group_bytes = 150;
    check_file(src_path("tests/data/export_rows.jsonl"), "tiny", &o);
}

/* Many rows: repeated strings (dictionary), a dictionary that outgrows its
 * budget mid-chunk (PLAIN fallback), long strings, nested nulls. */
static void test_parquet_readers__generated_rows(void)
{
    char jsonl[4096];
    snprintf(jsonl, sizeof jsonl, "%s/gen.jsonl", tap_tmpdir());
    FILE *f = fopen(jsonl, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    static const char *models[] = {"llama-3-70b", "qwen2-72b", "gpt-4-0613", "mixtral-8x7b", "zephyr-7b"};
    uint64_t x = 42;
    for (int i = 0; i < 4000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int r = (int)(x >> 33);
        fprintf(f, "{\"i\": %d, \"model\": \"%s\", \"uniq\": \"u-%d-%d\", ", i, models[r % 5], i, r);
        if (i % 97 == 0) {
            fputs("\"long\": \"", f);
            for (int k = 0; k < 70000; k++)
                fputc('a' + (k + i) % 26, f);
            fputs("\", ", f);
        } else if (i % 7 == 0) {
            fputs("\"long\": null, ", f);
        } else {
            fprintf(f, "\"long\": \"line %d\\nnext\", ", i);
        }
        fprintf(f, "\"scores\": [%d.5, %s, -%d.25], ", r % 10, i % 11 ? "1" : "null", r % 3);
        fprintf(f, "\"flag\": %s, ", i % 3 == 0 ? "true" : i % 3 == 1 ? "false" : "null");
        fputs("\"messages\": [", f);
        for (int k = 0; k < i % 4; k++)
            fprintf(f, "%s{\"role\": \"%s\", \"content\": \"turn %d of %d\"}", k ? ", " : "", k % 2 ? "assistant" : "user", k, i);
        fputs("]}\n", f);
    }
    fclose(f);
    check_file(jsonl, "gen_default", NULL);
    pq_opts o = PQ_OPTS_INIT;
    o.page_bytes = 4096;
    o.dict_max_bytes = 2048;
    o.row_group_bytes = 256 * 1024;
    check_file(jsonl, "gen_small", &o);
}

static void test_parquet_readers__real_fixtures(void)
{
    const char *shared = getenv("AVIARY_SHARED");
    static const char *files[] = {"ultrafeedback_binarized.test.jsonl", "magpie_tagged_instructions.jsonl"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/fixtures/real/%s", shared ? shared : "/nonexistent", files[i]);
        FILE *f = fopen(p, "r");
        if (!f) {
            printf("# skip: %s absent\n", files[i]);
            continue;
        }
        fclose(f);
        check_file(p, files[i], NULL);
    }
}

int main(void)
{
    if (!pq_test_node_dir()) {
        printf("# skip: the Parquet readers are not installed (run scripts/bootstrap)\n");
        return 77;
    }
    RUN(test_parquet_readers__sample_rows);
    RUN(test_parquet_readers__tiny_pages_and_row_groups);
    RUN(test_parquet_readers__generated_rows);
    RUN(test_parquet_readers__real_fixtures);
    return tap_done();
}
