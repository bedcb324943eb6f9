/* pq_testutil.h: helpers shared by the Parquet unit tests: turn a JSON Lines
 * file into a Parquet file with aviary's writer (schema inferred from every
 * row, then the rows written), and run the Node readers (DuckDB, hyparquet)
 * over the result. Header-only so each test stays one .c file. */
#ifndef PQ_TESTUTIL_H
#define PQ_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "export/jsonv.h"
#include "export/parquet.h"
#include "store/aviary.h"
#include "util/util.h"

/* Writes the rows of the JSON Lines text to out. Returns the writer's code. */
static inline int pq_test_write_text(const char *text, size_t len, const char *out, const pq_opts *o)
{
    jv_parser p = JV_PARSER_INIT;
    pq_node *root = pq_schema_new();
    int rc = 0;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        pq_writer *w = NULL;
        if (pass == 1 && (rc = pq_writer_open(&w, out, root, o)) < 0)
            break;
        const char *s = text, *e = text + len;
        while (s < e && rc == 0) {
            const char *nl = memchr(s, '\n', (size_t)(e - s));
            size_t n = nl ? (size_t)(nl - s) : (size_t)(e - s);
            if (n) {
                const jv *row = jv_parse(&p, s, n);
                if (!row) {
                    fprintf(stderr, "bad test row: %s\n", p.err);
                    rc = AV_EINVAL;
                } else {
                    rc = pass == 0 ? pq_schema_infer(root, row) : pq_writer_add(w, row);
                }
            }
            s += n + 1;
        }
        if (w) {
            if (rc == 0)
                rc = pq_writer_close(w, NULL);
            else
                pq_writer_abort(w);
        }
    }
    pq_schema_free(root);
    jv_parser_release(&p);
    return rc;
}

static inline int pq_test_write_file(const char *jsonl, const char *out, const pq_opts *o)
{
    size_t len;
    char *text = av_read_file(jsonl, &len);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", jsonl);
        return AV_EIO;
    }
    int rc = pq_test_write_text(text, len, out, o);
    free(text);
    return rc;
}

/* The directory of the Node readers, or NULL when they are not installed. */
static inline const char *pq_test_node_dir(void)
{
    static char dir[4096];
    const char *src = getenv("AVIARY_SRC");
    struct stat st;
    if (!src)
        return NULL;
    snprintf(dir, sizeof dir, "%s/tests/node/node_modules/@duckdb/node-api", src);
    if (stat(dir, &st) != 0)
        return NULL;
    snprintf(dir, sizeof dir, "%s/tests/node/node_modules/hyparquet-compressors", src);
    if (stat(dir, &st) != 0)
        return NULL;
    snprintf(dir, sizeof dir, "%s/tests/node", src);
    return dir;
}

/* Runs pq_check.mjs: 0 when both readers give back the JSON Lines rows. */
static inline int pq_test_check(const char *jsonl, const char *parquet)
{
    const char *dir = pq_test_node_dir();
    if (!dir)
        return -1;
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "node '%s/pq_check.mjs' '%s' '%s' >&2", dir, jsonl, parquet);
    return system(cmd);
}

#endif
