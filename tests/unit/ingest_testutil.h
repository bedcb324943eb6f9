/* ingest_testutil.h: helpers shared by the ingest unit tests: ingest a file
 * into a fresh store, export its rows back through av_rows_source, and read
 * a file's rows as compact JSON for comparison. Header-only (each test is
 * one executable). */
#ifndef AV_INGEST_TESTUTIL_H
#define AV_INGEST_TESTUTIL_H

#include <stdlib.h>
#include <string.h>

#include "export/rows.h"
#include "ingest/ingest.h"
#include "ingest/reader.h"
#include "store/aviary.h"
#include "tap.h"

typedef struct strlist {
    char **s;
    size_t n, cap;
} strlist;

static void strlist_add(strlist *l, const char *s, size_t n)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->s = realloc(l->s, l->cap * sizeof *l->s);
    }
    l->s[l->n++] = av_xstrndup(s, n);
}

static void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

/* A new store in a fresh directory; returns its path (static buffer). */
static const char *new_store(void)
{
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/store", tap_tmpdir());
    if (av_store_init(dir) < 0) fprintf(stderr, "store init: %s\n", av_errmsg());
    return dir;
}

/* Ingests path into the store at dir and commits; returns av_ingest_file's
 * code (the writer is aborted on error). */
static int ingest_into(const char *dir, const char *path, const char *format, int skip_bad, const char *rejects,
                       av_ingest_stats *st)
{
    av_store *s;
    if (av_store_open(&s, dir, AV_OPEN_RDWR) < 0) return -100;
    av_writer *w;
    if (av_writer_open(&w, s) < 0) {
        av_store_close(s);
        return -101;
    }
    av_ingest_opts o = {.path = path, .format = format, .source = "test", .skip_bad = skip_bad, .rejects = rejects,
                        .url = "https://example.org/data", .licence = "cc-by-4.0"};
    int rc = av_ingest_file(w, &o, st);
    if (rc < 0) {
        av_writer_abort(w);
    } else {
        av_commit_opts co = {.message = "test ingest", .command = "test"};
        uint32_t v;
        if (av_writer_commit(w, &co, &v) < 0) rc = -102;
    }
    av_store_close(s);
    return rc;
}

static int collect_row(void *ctx, const char *json, size_t len, uint64_t unit)
{
    (void)unit;
    strlist_add(ctx, json, len);
    return 0;
}

/* Every prompt and response of the store as units, rows of format out. */
static int export_rows(const char *dir, const char *format, strlist *out)
{
    av_store *s;
    if (av_store_open(&s, dir, AV_OPEN_RDONLY) < 0) return -100;
    av_reader *r;
    if (av_reader_open(&r, s, 0) < 0) {
        av_store_close(s);
        return -101;
    }
    uint64_t *units = NULL;
    size_t n = 0, cap = 0;
    av_kind kinds[2] = {AV_PROMPT, AV_RESPONSE};
    for (int k = 0; k < 2; k++) {
        av_iter *it;
        if (av_iter_kind(&it, r, kinds[k]) < 0) continue;
        uint64_t row;
        while (av_iter_next(it, &row) == 1) {
            if (n == cap) units = realloc(units, (cap = cap ? cap * 2 : 256) * sizeof *units);
            units[n++] = row;
        }
        av_iter_free(it);
    }
    int rc = av_rows_source(r, format, units, n, collect_row, out);
    if (rc < 0) fprintf(stderr, "rows_source: %s\n", av_errmsg());
    free(units);
    av_reader_close(r);
    av_store_close(s);
    return rc;
}

/* The file's rows, each as compact JSON (source key order). */
static int file_rows(const char *path, strlist *out)
{
    av_input *in;
    char *err = NULL;
    if (av_input_open(&in, path, &err) < 0) {
        free(err);
        return -1;
    }
    jdoc d;
    json_doc_init(&d);
    av_buf b = AV_BUF_INIT;
    av_inrec rec;
    int rc;
    while ((rc = av_input_next(in, &rec)) == 1) {
        if (json_parse(&d, rec.p, rec.n, 0)) {
            rc = -1;
            break;
        }
        av_buf_reset(&b);
        json_write(&b, json_root(&d));
        strlist_add(out, b.ptr, b.len);
    }
    av_buf_free(&b);
    json_doc_free(&d);
    av_input_close(in);
    return rc;
}

/* Checks that exporting what was ingested from path gives its rows back. */
static void check_roundtrip(const char *path, const char *want_format)
{
    const char *dir = new_store();
    av_ingest_stats st;
    int rc = ingest_into(dir, path, NULL, 0, NULL, &st);
    if (rc < 0) fprintf(stderr, "%s: %s\n", path, av_errmsg());
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_STR(st.format, want_format);
    strlist want = {0}, got = {0};
    CHECK_EQ_INT(file_rows(path, &want), 0);
    CHECK_EQ_INT(export_rows(dir, want_format, &got), 0);
    CHECK(want.n > 0);
    CHECK_EQ_INT(got.n, want.n);
    size_t bad = 0;
    for (size_t i = 0; i < want.n && i < got.n; i++) {
        if (strcmp(want.s[i], got.s[i])) {
            if (bad++ < 2)
                fprintf(stderr, "%s: row %zu differs\n  want %.600s\n  got  %.600s\n", path, i + 1, want.s[i], got.s[i]);
        }
    }
    CHECK_EQ_INT(bad, 0);
    strlist_free(&want);
    strlist_free(&got);
}

#endif
