/* test_store_core.c: the store library: init/open and the format check,
 * records and content ids, texts and dictionaries, versions and visibility,
 * retraction, indexes, provenance, id prefixes, map growth, batches, and
 * rollback of a writer that died. */
#include "store/aviary.h"
#include "store/internal.h" /* the txt entry codec, checked byte for byte */
#include "tap.h"
#include "util/util.h"

#include <lmdb.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static av_store *fresh(void)
{
    const char *dir = tap_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/s", dir);
    if (av_store_init(path) != 0) {
        fprintf(stderr, "init: %s\n", av_errmsg());
        exit(1);
    }
    av_store *s;
    if (av_store_open(&s, path, AV_OPEN_RDWR) != 0) {
        fprintf(stderr, "open: %s\n", av_errmsg());
        exit(1);
    }
    return s;
}

/* Opens the store in dir with LMDB itself (to damage or inspect what aviary
 * wrote), with a transaction on table name in *dbi. */
static void raw_open(const char *dir, const char *name, unsigned flags, MDB_env **env, MDB_txn **txn, MDB_dbi *dbi)
{
    mdb_env_create(env);
    mdb_env_set_maxdbs(*env, 32);
    CHECK_EQ_INT(mdb_env_open(*env, dir, flags, 0644), 0);
    CHECK_EQ_INT(mdb_txn_begin(*env, NULL, flags & MDB_RDONLY, txn), 0);
    CHECK_EQ_INT(mdb_dbi_open(*txn, name, 0, dbi), 0);
}

/* A read-only cursor on table name of store s, which it closes first (so
 * LMDB itself shows what aviary wrote); raw_cursor_close ends it. */
typedef struct {
    MDB_env *env;
    MDB_txn *txn;
    MDB_cursor *c;
} raw_cursor;

static void raw_cursor_open_dir(raw_cursor *rc, const char *dir, const char *name)
{
    MDB_dbi dbi;
    raw_open(dir, name, MDB_RDONLY, &rc->env, &rc->txn, &dbi);
    CHECK_EQ_INT(mdb_cursor_open(rc->txn, dbi, &rc->c), 0);
}

static void raw_cursor_open(raw_cursor *rc, av_store *s, const char *name)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s", av_store_dir(s));
    av_store_close(s);
    raw_cursor_open_dir(rc, dir, name);
}

static void raw_cursor_close(raw_cursor *rc)
{
    mdb_cursor_close(rc->c);
    mdb_txn_abort(rc->txn);
    mdb_env_close(rc->env);
}

static uint64_t put_prompt(av_writer *w, const char *text)
{
    av_record r;
    av_record_init(&r);
    av_msg m = {"user", {text, strlen(text), {{0}}, 0}};
    r.kind = AV_PROMPT;
    r.nmsg = 1;
    r.msg = &m;
    int rc = av_writer_put(w, &r);
    if (rc < 0) fprintf(stderr, "put: %s\n", av_errmsg());
    return r.row;
}

/* A response to prompt row with text; its row (0 on error). */
static uint64_t put_response(av_writer *w, uint64_t prompt, const char *text)
{
    av_record r;
    av_record_init(&r);
    av_msg m = {"assistant", {text, strlen(text), {{0}}, 0}};
    r.kind = AV_RESPONSE;
    r.ref[0] = prompt;
    r.nmsg = 1;
    r.msg = &m;
    int rc = av_writer_put(w, &r);
    if (rc < 0) fprintf(stderr, "put response: %s\n", av_errmsg());
    return rc < 0 ? 0 : r.row;
}

static uint64_t put_tag(av_writer *w, uint64_t target, const char *key, const char *json)
{
    av_record r;
    av_record_init(&r);
    av_attr a = {key, {json, strlen(json), {{0}}, 0}};
    r.kind = AV_TAG;
    r.ref[0] = target;
    r.nattr = 1;
    r.attr = &a;
    int rc = av_writer_put(w, &r);
    if (rc < 0) fprintf(stderr, "put tag: %s\n", av_errmsg());
    return r.row;
}

/* A source record named name; its row. */
static uint64_t put_source(av_writer *w, const char *name)
{
    av_record r;
    av_record_init(&r);
    r.kind = AV_SOURCE;
    r.name = name;
    int rc = av_writer_put(w, &r);
    if (rc < 0) fprintf(stderr, "put source: %s\n", av_errmsg());
    return r.row;
}

static uint32_t commit(av_writer *w, const char *msg)
{
    av_commit_opts o = {.message = msg, .command = "test"};
    uint32_t v = 0;
    int rc = av_writer_commit(w, &o, &v);
    if (rc < 0) fprintf(stderr, "commit: %s\n", av_errmsg());
    return v;
}

static void test_store__init_and_format(void)
{
    const char *dir = tap_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/s", dir);
    CHECK_EQ_INT(av_store_init(path), 0);
    CHECK_EQ_INT(av_store_init(path), AV_EEXISTS);
    av_store *s = NULL;
    CHECK_EQ_INT(av_store_open(&s, dir, 0), AV_ENOTFOUND); /* the parent holds no store */
    /* a non-empty foreign directory is refused by init */
    char foreign[600];
    snprintf(foreign, sizeof foreign, "%s/foreign", dir);
    mkdir(foreign, 0755);
    char f[700];
    snprintf(f, sizeof f, "%s/x.txt", foreign);
    FILE *fp = fopen(f, "w");
    fputs("hello", fp);
    fclose(fp);
    CHECK_EQ_INT(av_store_init(foreign), AV_EINVAL);
    CHECK(strstr(av_errmsg(), "not empty") != NULL);
    CHECK_EQ_INT(av_store_open(&s, path, 0), 0);
    uint32_t head = 99;
    CHECK_EQ_INT(av_store_head(s, &head), 0);
    CHECK_EQ_INT(head, 0);
    av_store_close(s);
}

/* A store written by a newer aviary, and an LMDB directory that is not an
 * aviary store, are refused at open with a message saying which. */
static void test_store__newer_or_foreign_refused(void)
{
    const char *dir = tap_tmpdir();
    char path[512], foreign[512];
    snprintf(path, sizeof path, "%s/s", dir);
    CHECK_EQ_INT(av_store_init(path), 0);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_open(path, "meta", 0, &env, &txn, &dbi);
    MDB_val k = {6, "format"}, v;
    CHECK_EQ_INT(mdb_get(txn, dbi, &k, &v), 0);
    unsigned char fmt[64];
    memcpy(fmt, v.mv_data, v.mv_size);
    fmt[v.mv_size - 1] = AV_FORMAT_VERSION + 1; /* the version's last byte (big-endian) */
    MDB_val nv = {v.mv_size, fmt};
    CHECK_EQ_INT(mdb_put(txn, dbi, &k, &nv, 0), 0);
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    av_store *s = NULL;
    CHECK_EQ_INT(av_store_open(&s, path, AV_OPEN_RDWR), AV_EVERSION);
    CHECK(strstr(av_errmsg(), "newer") != NULL);
    CHECK(s == NULL);
    /* an older format is refused too, saying how to carry the data over */
    raw_open(path, "meta", 0, &env, &txn, &dbi);
    fmt[v.mv_size - 1] = AV_FORMAT_VERSION - 1;
    CHECK_EQ_INT(mdb_put(txn, dbi, &k, &nv, 0), 0);
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    CHECK_EQ_INT(av_store_open(&s, path, AV_OPEN_RDONLY), AV_EVERSION);
    CHECK(strstr(av_errmsg(), "older") != NULL && strstr(av_errmsg(), "aviary dump") != NULL);
    CHECK(s == NULL);

    snprintf(foreign, sizeof foreign, "%s/other", dir);
    mkdir(foreign, 0755);
    mdb_env_create(&env);
    CHECK_EQ_INT(mdb_env_open(env, foreign, 0, 0644), 0);
    CHECK_EQ_INT(mdb_txn_begin(env, NULL, 0, &txn), 0);
    MDB_dbi main;
    CHECK_EQ_INT(mdb_dbi_open(txn, NULL, 0, &main), 0);
    MDB_val fk = {3, "key"}, fv = {5, "value"};
    CHECK_EQ_INT(mdb_put(txn, main, &fk, &fv, 0), 0);
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    CHECK_EQ_INT(av_store_open(&s, foreign, 0), AV_EVERSION);
    CHECK(strstr(av_errmsg(), "not an aviary store") != NULL);
    CHECK_EQ_INT(av_store_init(foreign), AV_EEXISTS); /* init does not write over it either */
}

static void test_store__put_get_dedup(void)
{
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    uint64_t model;
    CHECK_EQ_INT(av_writer_model(w, "meta-llama/Meta-Llama-3-8B-Instruct", &model), 0);
    uint64_t p = put_prompt(w, "What is 2+2?");
    CHECK(p > 0);
    CHECK_EQ_INT(put_prompt(w, "What is 2+2?"), p); /* same content, same row */
    av_record r;
    av_record_init(&r);
    char longtext[300];
    memset(longtext, 'x', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = 0;
    av_msg m = {"assistant", {longtext, strlen(longtext), {{0}}, 0}};
    r.kind = AV_RESPONSE;
    r.ref[0] = p;
    r.model = model;
    r.nmsg = 1;
    r.msg = &m;
    CHECK_EQ_INT(av_writer_put(w, &r), 1);
    uint64_t resp = r.row;
    av_id resp_cid = r.cid;
    CHECK_EQ_INT(av_writer_put(w, &r), 0);
    uint64_t found = 0;
    CHECK_EQ_INT(av_writer_find(w, &r.cid, &found), 0); /* pending, found without a flush */
    CHECK_EQ_INT(found, resp);
    /* a tag whose interned keys expand far beyond its encoded size */
    static char keys[20][391];
    av_attr many[20];
    for (int i = 0; i < 20; i++) {
        memset(keys[i], 'a' + i, 390);
        keys[i][390] = 0;
        many[i] = (av_attr){keys[i], {"1", 1, {{0}}, 0}};
    }
    av_record big;
    av_record_init(&big);
    big.kind = AV_TAG;
    big.ref[0] = p;
    big.nattr = 20;
    big.attr = many;
    CHECK_EQ_INT(av_writer_put(w, &big), 1);
    av_reader *wr = av_writer_reader(w);
    av_record back;
    av_record_init(&back);
    CHECK_EQ_INT(av_get(wr, big.row, AV_GET_ANY, &back), 0);
    CHECK_EQ_INT(back.nattr, 20);
    CHECK(back.nattr == 20 && !strcmp(back.attr[19].key, keys[19]) && !strcmp(back.attr[0].json.ptr, "1"));
    av_record_free(&back);
    /* tags: committed or put by this writer, without a full flush */
    CHECK_EQ_INT(av_writer_tagged(w, model, "licence"), 0);
    put_tag(w, model, "licence", "\"llama3\"");
    CHECK_EQ_INT(av_writer_tagged(w, model, "licence"), 1);
    CHECK_EQ_INT(av_writer_tagged(w, model, "other"), 0);
    CHECK_EQ_INT(av_writer_tagged(w, p, "licence"), 0);
    av_id nope = {{1, 2, 3}};
    CHECK_EQ_INT(av_writer_find(w, &nope, &found), AV_ENOTFOUND);
    /* a response without its prompt is refused */
    av_record bad;
    av_record_init(&bad);
    bad.kind = AV_RESPONSE;
    CHECK_EQ_INT(av_writer_put(w, &bad), AV_EINVAL);
    bad.ref[0] = 999999;
    CHECK_EQ_INT(av_writer_put(w, &bad), AV_EINVAL);
    av_record rating;
    av_record_init(&rating);
    rating.kind = AV_RATING;
    rating.ref[0] = resp;
    rating.name = "helpfulness";
    rating.num = 4;
    CHECK_EQ_INT(av_writer_put(w, &rating), 1);
    av_record na = rating;
    na.num = NAN;
    CHECK_EQ_INT(av_writer_put(w, &na), 1); /* N/A is another rating */
    CHECK_EQ_INT(commit(w, "first"), 1);

    av_reader *rd;
    CHECK_EQ_INT(av_reader_open(&rd, s, 0), 0);
    av_record got;
    av_record_init(&got);
    CHECK_EQ_INT(av_get(rd, resp, 0, &got), 0);
    CHECK_EQ_INT(got.kind, AV_RESPONSE);
    CHECK_EQ_INT(got.ref[0], p);
    CHECK_EQ_INT(got.model, model);
    CHECK_EQ_INT(got.version, 1);
    CHECK(got.msg[0].text.ptr == NULL); /* long text not loaded */
    CHECK_EQ_INT(got.msg[0].text.len, strlen(longtext));
    CHECK_EQ_INT(av_load(rd, &got, &got.msg[0].text), 0);
    CHECK_EQ_STR(got.msg[0].text.ptr, longtext);
    CHECK(!memcmp(got.cid.b, resp_cid.b, 16));
    CHECK_EQ_INT(av_get(rd, rating.row, AV_GET_TEXT, &got), 0);
    CHECK_EQ_STR(got.name, "helpfulness");
    CHECK(got.num == 4);
    CHECK_EQ_INT(av_get(rd, na.row, 0, &got), 0);
    CHECK(isnan(got.num));
    uint64_t row;
    CHECK_EQ_INT(av_find(rd, &resp_cid, &row), 0);
    CHECK_EQ_INT(row, resp);
    char hex[33];
    av_id_hex(hex, &resp_cid);
    hex[10] = 0;
    CHECK_EQ_INT(av_find_hex(rd, hex, &row), 0);
    CHECK_EQ_INT(row, resp);
    CHECK_EQ_INT(av_find_hex(rd, "abc", &row), AV_EINVAL);
    CHECK_EQ_INT(av_find_model(rd, "meta-llama/Meta-Llama-3-8B-Instruct", &row), 0);
    CHECK_EQ_INT(row, model);
    av_record_free(&got);
    av_reader_close(rd);

    /* the same content in another store has the same id */
    av_store *s2 = fresh();
    CHECK_EQ_INT(av_writer_open(&w, s2), 0);
    uint64_t p2 = put_prompt(w, "unrelated first");
    (void)p2;
    uint64_t q = put_prompt(w, "What is 2+2?");
    av_reader *r2 = av_writer_reader(w);
    CHECK(r2 != NULL);
    av_record a, b;
    av_record_init(&a);
    av_record_init(&b);
    CHECK_EQ_INT(av_get(r2, q, AV_GET_ANY, &a), 0);
    av_writer_abort(w);
    CHECK_EQ_INT(av_reader_open(&rd, s, 0), 0);
    CHECK_EQ_INT(av_get(rd, p, 0, &b), 0);
    CHECK(!memcmp(a.cid.b, b.cid.b, 16));
    av_reader_close(rd);
    av_record_free(&a);
    av_record_free(&b);
    av_store_close(s2);
    av_store_close(s);
}

static void test_store__versions_retract_and_index(void)
{
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    uint64_t p1 = put_prompt(w, "one");
    uint64_t p2 = put_prompt(w, "two");
    put_tag(w, p1, "task_category", "\"Math\"");
    put_tag(w, p2, "task_category", "\"Coding & Debugging\"");
    CHECK_EQ_INT(commit(w, "v1"), 1);
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    uint64_t p3 = put_prompt(w, "three");
    put_tag(w, p3, "task_category", "\"Math\"");
    CHECK_EQ_INT(commit(w, "v2"), 2);
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    CHECK_EQ_INT(av_writer_retract(w, p1), 1);
    CHECK_EQ_INT(av_writer_retract(w, p1), 0);
    CHECK_EQ_INT(commit(w, "v3"), 3);
    /* nothing new: no version */
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    put_prompt(w, "two");
    CHECK_EQ_INT(commit(w, "noop"), 3);

    av_reader *r1, *r2, *r3;
    CHECK_EQ_INT(av_reader_open(&r1, s, 1), 0);
    CHECK_EQ_INT(av_reader_open(&r2, s, 2), 0);
    CHECK_EQ_INT(av_reader_open(&r3, s, 0), 0);
    CHECK_EQ_INT(av_reader_version(r3), 3);
    CHECK(av_visible(r1, p1) && !av_visible(r1, p3));
    CHECK(av_visible(r2, p1) && av_visible(r2, p3));
    CHECK(!av_visible(r3, p1) && av_visible(r3, p3));
    av_iter *it;
    uint64_t row, n = 0, rows[4];
    CHECK_EQ_INT(av_iter_kind(&it, r3, AV_PROMPT), 0);
    while (av_iter_next(it, &row) > 0) rows[n++ % 4] = row;
    av_iter_free(it);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(rows[0], p2);
    CHECK_EQ_INT(rows[1], p3);
    n = 0;
    CHECK_EQ_INT(av_iter_attr(&it, r2, "task_category", "\"Math\"", 6), 0);
    while (av_iter_next(it, &row) > 0) n++;
    av_iter_free(it);
    CHECK_EQ_INT(n, 2);
    n = 0;
    CHECK_EQ_INT(av_iter_attr(&it, r1, "task_category", "\"Math\"", 6), 0);
    while (av_iter_next(it, &row) > 0) n++;
    av_iter_free(it);
    CHECK_EQ_INT(n, 1);
    n = 0;
    CHECK_EQ_INT(av_iter_refs(&it, r3, p3), 0);
    while (av_iter_next(it, &row) > 0) n++;
    av_iter_free(it);
    CHECK_EQ_INT(n, 1);
    av_commit c;
    CHECK_EQ_INT(av_commit_get(r3, 2, &c), 0);
    CHECK_EQ_STR(c.message, "v2");
    CHECK_EQ_INT(c.added[AV_PROMPT], 1);
    CHECK_EQ_INT(c.added[AV_TAG], 1);
    av_commit_free(&c);
    CHECK_EQ_INT(av_commit_get(r3, 3, &c), 0);
    CHECK_EQ_INT(c.retracted, 1);
    av_commit_free(&c);
    uint32_t tg[4];
    size_t nt;
    CHECK_EQ_INT(av_toggles_get(r3, p1, tg, 4, &nt), 0);
    CHECK_EQ_INT(nt, 1);
    CHECK_EQ_INT(tg[0], 3);
    av_reader_close(r1);
    av_reader_close(r2);
    av_reader_close(r3);

    /* putting a retracted record again restores it */
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    CHECK_EQ_INT(put_prompt(w, "one"), p1);
    CHECK_EQ_INT(av_writer_tagged(w, p3, "task_category"), 1); /* a committed tag */
    CHECK_EQ_INT(av_writer_tagged(w, p3, "language"), 0);
    CHECK_EQ_INT(commit(w, "restore"), 4);
    CHECK_EQ_INT(av_reader_open(&r3, s, 0), 0);
    CHECK(av_visible(r3, p1));
    av_reader_close(r3);

    /* labels and version names */
    CHECK_EQ_INT(av_label_set(s, "release-1", 2, 0), 0);
    CHECK_EQ_INT(av_label_set(s, "release-1", 3, 0), AV_EEXISTS);
    CHECK_EQ_INT(av_label_set(s, "12", 3, 0), AV_EINVAL);
    uint32_t v;
    CHECK_EQ_INT(av_version_resolve(s, "release-1", &v), 0);
    CHECK_EQ_INT(v, 2);
    CHECK_EQ_INT(av_version_resolve(s, "HEAD~1", &v), 0);
    CHECK_EQ_INT(v, 3);
    CHECK_EQ_INT(av_version_resolve(s, "9", &v), AV_ENOTFOUND);
    CHECK_EQ_INT(av_version_resolve(s, "nope", &v), AV_ENOTFOUND);
    av_store_close(s);
}

static void test_store__provenance_and_events(void)
{
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    av_record src;
    av_record_init(&src);
    src.kind = AV_SOURCE;
    src.name = "magpie";
    av_attr a = {"licence", {"\"llama3\"", 8, {{0}}, 0}};
    src.nattr = 1;
    src.attr = &a;
    CHECK_EQ_INT(av_writer_put(w, &src), 1);
    uint64_t p = put_prompt(w, "hello");
    CHECK_EQ_INT(av_writer_link(w, p, src.row, 1), 1);
    CHECK_EQ_INT(av_writer_link(w, p, src.row, 1), 0);
    CHECK_EQ_INT(av_writer_link(w, p, src.row, 7), 1);
    CHECK_EQ_INT(av_writer_link(w, p, p, 7), AV_EINVAL); /* not a source */
    CHECK_EQ_INT(commit(w, "v1"), 1);
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    uint64_t q = put_prompt(w, "later");
    CHECK_EQ_INT(av_writer_link(w, q, src.row, 9), 1);
    CHECK_EQ_INT(av_writer_link(w, p, src.row, 12), 1); /* an old row, linked again */
    CHECK_EQ_INT(commit(w, "v2"), 2);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    av_prov pv[4];
    size_t n;
    CHECK_EQ_INT(av_prov_get(r, p, pv, 4, &n), 0);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(pv[0].line, 1);
    CHECK_EQ_INT(pv[2].line, 12);
    CHECK_EQ_INT(pv[2].version, 2);
    av_iter *it;
    uint64_t row, rows[4];
    size_t k = 0;
    CHECK_EQ_INT(av_iter_source(&it, r, src.row), 0);
    while (av_iter_next(it, &row) > 0 && k < 4) rows[k++] = row;
    av_iter_free(it);
    CHECK_EQ_INT(k, 2);
    CHECK_EQ_INT(rows[0], p);
    CHECK_EQ_INT(rows[1], q);
    av_reader_close(r);
    CHECK_EQ_INT(av_reader_open(&r, s, 1), 0);
    CHECK_EQ_INT(av_prov_get(r, p, pv, 4, &n), 0);
    CHECK_EQ_INT(n, 2);
    av_reader_close(r);
    av_store_close(s);
}

/* Many texts: blocks, a trained dictionary, map growth from 64 KiB, batches. */
static void test_store__texts_dictionary_growth(void)
{
    av_tune_initial_map(65536);
    av_tune_batch(500);
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    char text[2000];
    uint64_t rows[3000];
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(text, sizeof text, "Instruction %d: explain how the function number %d handles ", i, i * 7);
        while (n < 1500) n += snprintf(text + n, sizeof text - n, "the %d-th case of input %d; ", n, i % 13);
        rows[i] = put_prompt(w, text);
    }
    CHECK_EQ_INT(commit(w, "many"), 1);
    av_store_info info;
    CHECK_EQ_INT(av_store_info_get(s, &info), 0);
    CHECK_EQ_INT(info.text_count, 3000);
    CHECK(info.dict_count >= 1);
    CHECK(info.text_stored_bytes * 3 < info.text_raw_bytes);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    av_record rec;
    av_record_init(&rec);
    for (int i = 0; i < 3000; i += 97) {
        int n = snprintf(text, sizeof text, "Instruction %d: explain how the function number %d handles ", i, i * 7);
        while (n < 1500) n += snprintf(text + n, sizeof text - n, "the %d-th case of input %d; ", n, i % 13);
        CHECK_EQ_INT(av_get(r, rows[i], AV_GET_TEXT, &rec), 0);
        CHECK_EQ_STR(rec.msg[0].text.ptr, text);
    }
    av_record_free(&rec);
    av_reader_close(r);
    av_store_close(s);
    av_tune_batch(0);
    av_tune_initial_map(256u << 20);
}

/* Puts ~mb MB of 1.5 KB texts: words from `words`, or (NULL) words "w"
 * and four digits, a thousand of them (they compress worse). */
static void put_styled(av_writer *w, const char *const *words, size_t nwords, int i0, int mb)
{
    char text[1600];
    uint64_t x = (uint64_t)i0 * 2654435761u + 1;
    for (int i = i0; i < i0 + mb * 700; i++) {
        int n = snprintf(text, sizeof text, "%d:", i);
        while (n < 1500) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            if (words) n += snprintf(text + n, sizeof text - n, " %s", words[(x >> 33) % nwords]);
            else n += snprintf(text + n, sizeof text - n, " w%04u", (unsigned)((x >> 33) % 1000));
        }
        put_prompt(w, text);
    }
}

/* 1 if dictionary id of the store in dir holds bytes s. */
static int dict_has(const char *dir, uint32_t id, const char *s)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_open(dir, "dict", MDB_RDONLY, &env, &txn, &dbi);
    uint8_t k4[4] = {(uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
    MDB_val k = {4, k4}, v;
    int found = mdb_get(txn, dbi, &k, &v) == 0 && memmem(v.mv_data, v.mv_size, s, strlen(s)) != NULL;
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return found;
}

/* A dictionary is trained again only when the texts change: the same kind
 * of texts keep one; texts of another kind after it make a second. */
static void test_store__dictionary_retrained_when_texts_change(void)
{
    static const char *const prose[] = {"the", "model", "answer", "explains", "a", "function", "returns",
                                        "list", "value", "user", "asks", "how", "to", "reverse", "string"};
    av_tune_retrain(1u << 20, 2u << 20);
    av_tune_batch(400);
    for (int change = 0; change < 2; change++) {
        av_store *s = fresh();
        av_writer *w;
        CHECK_EQ_INT(av_writer_open(&w, s), 0);
        put_styled(w, prose, sizeof prose / sizeof prose[0], 0, 6); /* the dictionary (4 MB), its baseline */
        if (change) put_styled(w, NULL, 0, 100000, 4); /* texts that compress worse */
        else put_styled(w, prose, sizeof prose / sizeof prose[0], 100000, 4);
        CHECK_EQ_INT(commit(w, "texts"), 1);
        av_store_info info;
        CHECK_EQ_INT(av_store_info_get(s, &info), 0);
        CHECK_EQ_INT(info.dict_count, change ? 2 : 1);
        char dir[600];
        snprintf(dir, sizeof dir, "%s", av_store_dir(s));
        av_store_close(s);
        /* each learnt from the texts of its time */
        CHECK(dict_has(dir, 1, " reverse") && !dict_has(dir, 1, " w0"));
        if (change) CHECK(dict_has(dir, 2, " w0") && !dict_has(dir, 2, " reverse"));
    }
    av_tune_batch(0);
    av_tune_retrain(0, 0);
}

static uint8_t *saved_block; /* text block 1 as it was written */
static size_t saved_len;

/* Rewrites the value at key of table in dir (raw LMDB): fn changes a copy
 * with at least room bytes (and may change its length). */
typedef void (*rewrite_fn)(uint8_t *v, size_t *len, void *ctx);
static void rewrite_raw(const char *dir, const char *table, const uint8_t *key, size_t klen, size_t room,
                        rewrite_fn fn, void *ctx)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_open(dir, table, 0, &env, &txn, &dbi);
    MDB_val k = {klen, (void *)key}, v;
    CHECK_EQ_INT(mdb_get(txn, dbi, &k, &v), 0);
    size_t len = v.mv_size;
    uint8_t *copy = malloc(len > room ? len : room);
    memcpy(copy, v.mv_data, len);
    fn(copy, &len, ctx);
    MDB_val nv = {len, copy};
    CHECK_EQ_INT(mdb_put(txn, dbi, &k, &nv, 0), 0);
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    free(copy);
}

/* Rewrites text block 1 of the store in dir with mutate(). */
static void mutate_block(const char *dir, rewrite_fn mutate)
{
    static const uint8_t k8[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    rewrite_raw(dir, "blk", k8, 8, saved_len, mutate, NULL);
}

static void save_block(uint8_t *v, size_t *len, void *ctx)
{
    (void)ctx;
    saved_block = malloc(*len);
    memcpy(saved_block, v, *len);
    saved_len = *len;
}
static void restore_block(uint8_t *v, size_t *len, void *ctx)
{
    (void)ctx;
    memcpy(v, saved_block, saved_len); /* mutate_block's buffer has room for it */
    *len = saved_len;
}
static void bad_magic(uint8_t *v, size_t *len, void *ctx) { (void)len, (void)ctx, v[3] = 'X'; }
static uint32_t be32_at(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void frame_past_end(uint8_t *v, size_t *len, void *ctx)
{
    (void)len, (void)ctx;
    uint32_t raw = be32_at(v + 8), frames = be32_at(v + 16), lengths = be32_at(v + 20);
    uint8_t *last = v + 24 + lengths + 8 * (size_t)(frames - 1); /* the last frame's raw end */
    raw += 1;
    last[0] = (uint8_t)(raw >> 24), last[1] = (uint8_t)(raw >> 16), last[2] = (uint8_t)(raw >> 8), last[3] = (uint8_t)raw;
}
static void truncated(uint8_t *v, size_t *len, void *ctx) { (void)v, (void)ctx, *len -= 10; }
static void no_tables(uint8_t *v, size_t *len, void *ctx) { (void)v, (void)ctx, *len = 12; }
static void short_lengths(uint8_t *v, size_t *len, void *ctx) { (void)len, (void)ctx, v[20] = v[21] = v[22] = v[23] = 0; }
static int count_texts(void *ctx, const char *text, size_t len, uint64_t loc)
{
    (void)text, (void)len;
    if (loc && av_loc_class(loc) == AV_TEXTS_OTHER) ++*(int *)ctx;
    return 0;
}

/* A damaged text block (wrong magic, a frame past the block's end, data cut
 * short, no tables, fewer bytes of lengths than texts) is reported as
 * corrupt by reads and scans, never read past; the record itself still
 * reads without its texts, and putting the block back makes everything
 * readable again. */
/* A store in dir (a fresh one's, closed) holding eight prompts of ~2500
 * bytes, "text <i> ...", all in text block 1; their rows. */
static void store_eight_texts(char dir[600], uint64_t rows[8])
{
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    char text[3000];
    for (int i = 0; i < 8; i++) {
        int n = snprintf(text, sizeof text, "text %d ", i);
        while (n < 2500) n += snprintf(text + n, sizeof text - (size_t)n, "%d words ", (n * 7 + i) % 991);
        rows[i] = put_prompt(w, text);
    }
    CHECK_EQ_INT(commit(w, "v1"), 1);
    snprintf(dir, 600, "%s", av_store_dir(s));
    av_store_close(s);
}

static void test_store__damaged_text_block(void)
{
    av_store *s;
    char dir[600];
    uint64_t rows[8];
    store_eight_texts(dir, rows);
    mutate_block(dir, save_block);
    rewrite_fn damage[] = {bad_magic, frame_past_end, truncated, no_tables, short_lengths};
    for (size_t d = 0; d < sizeof damage / sizeof damage[0]; d++) {
        mutate_block(dir, damage[d]);
        CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDONLY), 0);
        av_reader *r;
        CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
        av_record rec;
        av_record_init(&rec);
        CHECK_EQ_INT(av_get(r, rows[7], AV_GET_TEXT, &rec), AV_ECORRUPT); /* the last text */
        CHECK(strstr(av_errmsg(), "text block") != NULL || strstr(av_errmsg(), "text entry") != NULL);
        CHECK_EQ_INT(av_get(r, rows[7], 0, &rec), 0); /* metadata reads need no text */
        int seen = 0;
        CHECK_EQ_INT(av_text_scan(r, AV_TEXTS_OTHER, 1, av_text_block_end(r), count_texts, &seen), AV_ECORRUPT);
        av_record_free(&rec);
        av_reader_close(r);
        av_store_close(s);
        mutate_block(dir, restore_block);
    }
    CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDONLY), 0);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    av_record rec;
    av_record_init(&rec);
    CHECK_EQ_INT(av_get(r, rows[7], AV_GET_TEXT, &rec), 0);
    CHECK(strncmp(rec.msg[0].text.ptr, "text 7 ", 7) == 0);
    int seen = 0;
    CHECK_EQ_INT(av_text_scan(r, AV_TEXTS_OTHER, 1, av_text_block_end(r), count_texts, &seen), 0);
    CHECK_EQ_INT(seen, 8);
    av_record_free(&rec);
    av_reader_close(r);
    av_store_close(s);
    free(saved_block);
}

/* Texts around the frame and block sizes (4 KiB frames in 64 KiB blocks),
 * one larger than a block, read back whole, in order and out of order. */
/* Records name their long texts by place (av_val.loc), not by hash: a
 * record read without its texts knows where they are, av_load reads them
 * from there, and a text scan reports the same places; a text met again is
 * named by the place where it was first stored. */
typedef struct loc_seen {
    uint64_t loc[16];
    size_t len[16];
    int n, bad;
} loc_seen;
static int note_loc(void *ctx, const char *text, size_t len, uint64_t loc)
{
    loc_seen *ls = ctx;
    if (ls->n == 16 || !loc || strncmp(text, "place ", 6) != 0) ls->bad++;
    else ls->loc[ls->n] = loc, ls->len[ls->n++] = len;
    return 0;
}
static void test_store__texts_by_place(void)
{
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    char text[4][400];
    uint64_t rows[5];
    for (int i = 0; i < 4; i++) {
        int n = snprintf(text[i], sizeof text[i], "place %d:", i);
        while (n < 60 + 90 * i) n += snprintf(text[i] + n, sizeof text[i] - (size_t)n, " %d", n * 31 + i);
        rows[i] = put_prompt(w, text[i]);
    }
    CHECK_EQ_INT(commit(w, "v1"), 1);
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    av_record rec;
    av_record_init(&rec);
    rec.kind = AV_PROMPT;
    char again[400];
    snprintf(again, sizeof again, "%s", text[2]);
    av_msg m = {"system", {again, strlen(again), {{0}}, 0}}; /* another record, the same text */
    rec.msg = &m;
    rec.nmsg = 1;
    CHECK_EQ_INT(av_writer_put(w, &rec), 1);
    rows[4] = rec.row;
    CHECK_EQ_INT(commit(w, "v2"), 2);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    loc_seen ls;
    memset(&ls, 0, sizeof ls);
    CHECK_EQ_INT(av_text_scan(r, AV_TEXTS_OTHER, 1, av_text_block_end(r), note_loc, &ls), 0);
    CHECK_EQ_INT(ls.n, 4); /* stored once */
    CHECK_EQ_INT(ls.bad, 0);
    av_record got;
    av_record_init(&got);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_INT(av_get(r, rows[i], 0, &got), 0);
        av_val *v = &got.msg[0].text;
        CHECK(v->ptr == NULL && v->loc != 0);
        int k = i < 4 ? i : 2;
        CHECK(v->loc == ls.loc[k] && v->len == ls.len[k]);
        CHECK_EQ_INT(av_load(r, &got, v), 0);
        CHECK(v->len == strlen(text[k]) && memcmp(v->ptr, text[k], v->len) == 0);
        av_id h;
        av_hash(&h, text[k], strlen(text[k]));
        CHECK(memcmp(h.b, v->hash.b, 16) == 0); /* loaded: its hash is known */
        char *byhash = NULL;
        size_t blen = 0;
        CHECK_EQ_INT(av_text_get(r, &h, &byhash, &blen), 0); /* and found by it */
        CHECK(byhash && blen == strlen(text[k]) && !strcmp(byhash, text[k]));
        free(byhash);
    }
    av_id none;
    av_hash(&none, "no such text", 12);
    char *missing = NULL;
    CHECK_EQ_INT(av_text_get(r, &none, &missing, NULL), AV_ENOTFOUND);
    CHECK(missing == NULL && strstr(av_errmsg(), "no text") != NULL);
    av_record_free(&got);
    av_reader_close(r);
    av_store_close(s);
}

/* Rewrites one of the last bytes of row's record: tail[k] = b. */
typedef struct poke {
    size_t k;
    uint8_t b;
} poke;
static void poke_tail(uint8_t *v, size_t *len, void *ctx)
{
    const poke *p = ctx;
    v[*len - 1 - p->k] = p->b;
}
static void poke_record_tail(const char *dir, uint64_t row, size_t k, uint8_t b)
{
    uint8_t key[8];
    for (int i = 0; i < 8; i++) key[i] = (uint8_t)(row >> (56 - 8 * i));
    poke p = {k, b};
    rewrite_raw(dir, "rec", key, 8, 0, poke_tail, &p);
}

/* A record whose text's place is damaged (a block that does not exist, an
 * offset past the text's frame, no block at all) reads as corrupt, with a
 * message, and is never read past; metadata still reads where the record
 * itself is sound, and mending the byte makes the text readable again. The
 * record of a prompt with one 100-byte text, the store's first, ends with
 * varint(100 << 2 | 1), varint(block 1 << 1 | class 0) = 0x02, offset 0,
 * and no attributes (0). */
static void test_store__damaged_text_place(void)
{
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    char text[101];
    memset(text, 'p', 100);
    text[100] = 0;
    uint64_t row = put_prompt(w, text);
    CHECK_EQ_INT(commit(w, "v1"), 1);
    char dir[600];
    snprintf(dir, sizeof dir, "%s", av_store_dir(s));
    av_store_close(s);
    static const struct {
        size_t k;      /* from the end */
        uint8_t bad, good;
        int meta_ok;   /* the record without its text still reads */
        const char *msg;
    } cases[] = {
        {2, 0x7e, 0x02, 1, "text block 63 is missing"},
        {1, 0x7f, 0x00, 1, "points past"},
        {2, 0x00, 0x02, 0, "is corrupt"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        poke_record_tail(dir, row, cases[c].k, cases[c].bad);
        CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDONLY), 0);
        av_reader *r;
        CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
        av_record rec;
        av_record_init(&rec);
        CHECK_EQ_INT(av_get(r, row, AV_GET_TEXT, &rec), AV_ECORRUPT);
        CHECK(strstr(av_errmsg(), cases[c].msg) != NULL);
        CHECK_EQ_INT(av_get(r, row, 0, &rec), cases[c].meta_ok ? 0 : AV_ECORRUPT);
        av_record_free(&rec);
        av_reader_close(r);
        av_store_close(s);
        poke_record_tail(dir, row, cases[c].k, cases[c].good);
    }
    CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDONLY), 0);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    av_record rec;
    av_record_init(&rec);
    CHECK_EQ_INT(av_get(r, row, AV_GET_TEXT, &rec), 0);
    CHECK(rec.msg[0].text.len == 100 && !memcmp(rec.msg[0].text.ptr, text, 100));
    av_record_free(&rec);
    av_reader_close(r);
    av_store_close(s);
}

/* The txt table's entries (format 4): varint (block << 1 | class), varint
 * offset, varint length. Known bytes, the extremes, and each way an entry
 * can be broken. */
static void test_store__text_index_entries(void)
{
    uint8_t b[AV_TXT_MAX];
    /* block 1, class 0, offset 0, length 100: 0x02 0x00 0x64 */
    CHECK_EQ_INT((int)av_txt_pack(b, av_loc_make(1, 0, 0), 100), 3);
    CHECK(b[0] == 0x02 && b[1] == 0x00 && b[2] == 0x64);
    /* block 3, class 1, offset 300 (0xac 0x02), length 1 */
    CHECK_EQ_INT((int)av_txt_pack(b, av_loc_make(3, 1, 300), 1), 4);
    CHECK(b[0] == 0x07 && b[1] == 0xac && b[2] == 0x02 && b[3] == 0x01);
    static const struct {
        uint64_t block;
        int cls;
        uint32_t off, len;
    } cases[] = {{1, 0, 0, 0}, {(1ull << 30) - 1, 1, UINT32_MAX, UINT32_MAX}, {77, 1, 262143, 49}, {2, 0, 128, 127}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t loc = av_loc_make(cases[i].block, cases[i].cls, cases[i].off), got;
        uint32_t len;
        size_t n = av_txt_pack(b, loc, cases[i].len);
        CHECK(n >= 3 && n <= 15);
        CHECK_EQ_INT(av_txt_unpack(b, n, &got, &len), 0);
        CHECK(got == loc && len == cases[i].len);
        CHECK(av_loc_block(got) == cases[i].block && av_loc_class(got) == (cases[i].cls ? AV_TEXTS_RESPONSE : AV_TEXTS_OTHER));
        /* cut short or with a byte too many: not an entry */
        CHECK_EQ_INT(av_txt_unpack(b, n - 1, &got, &len), AV_ECORRUPT);
        b[n] = 0;
        CHECK_EQ_INT(av_txt_unpack(b, n + 1, &got, &len), AV_ECORRUPT);
    }
    static const uint8_t block0[] = {0x01, 0x00, 0x05};                          /* no block 0 */
    static const uint8_t big_off[] = {0x02, 0x80, 0x80, 0x80, 0x80, 0x10, 0x05}; /* offset 2^32 */
    static const uint8_t endless[] = {0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    uint64_t loc;
    uint32_t len;
    CHECK_EQ_INT(av_txt_unpack(block0, sizeof block0, &loc, &len), AV_ECORRUPT);
    CHECK_EQ_INT(av_txt_unpack(big_off, sizeof big_off, &loc, &len), AV_ECORRUPT);
    CHECK_EQ_INT(av_txt_unpack(endless, sizeof endless, &loc, &len), AV_ECORRUPT);
    CHECK_EQ_INT(av_txt_unpack(block0, 0, &loc, &len), AV_ECORRUPT);
    CHECK(strstr(av_errmsg(), "text index entry is corrupt") != NULL);
    /* content id entries: the row as a varint */
    uint8_t c[10];
    uint64_t row;
    CHECK_EQ_INT((int)av_cid_pack(c, 5), 1);
    CHECK(c[0] == 5);
    CHECK_EQ_INT((int)av_cid_pack(c, 300), 2);
    CHECK(c[0] == 0xac && c[1] == 0x02);
    CHECK_EQ_INT(av_cid_row(c, 2, &row), 0);
    CHECK_EQ_INT(row, 300);
    CHECK_EQ_INT((int)av_cid_pack(c, UINT64_MAX), 10);
    CHECK_EQ_INT(av_cid_row(c, 10, &row), 0);
    CHECK(row == UINT64_MAX);
    CHECK_EQ_INT(av_cid_row(c, 1, &row), AV_ECORRUPT); /* cut short */
    static const uint8_t zero_row[] = {0}, extra[] = {5, 0};
    CHECK_EQ_INT(av_cid_row(zero_row, 1, &row), AV_ECORRUPT); /* rows start at 1 */
    CHECK_EQ_INT(av_cid_row(extra, 2, &row), AV_ECORRUPT);
    CHECK(strstr(av_errmsg(), "content id index entry is corrupt") != NULL);
}

/* UUID-shaped values (a dataset's own row ids) are kept as 16 bytes in
 * records and index terms, and read back as the same bytes; anything else
 * that looks like one stays as it is. */
static void test_store__uuid_values(void)
{
    uint8_t u[16];
    char back[AV_UUID_JSON];
    const char *good = "\"67be9998-f866-48c1-ad05-c8189450085b\"";
    CHECK_EQ_INT(av_uuid_pack(good, strlen(good), u), 1);
    CHECK(u[0] == 0x67 && u[1] == 0xbe && u[4] == 0xf8 && u[15] == 0x5b);
    av_uuid_unpack(back, u);
    CHECK(!memcmp(back, good, AV_UUID_JSON));
    static const char *const not_uuid[] = {
        "\"67BE9998-F866-48C1-AD05-C8189450085B\"", /* upper case: kept as typed */
        "\"67be9998f866-48c1-ad05-c8189450085b0\"", /* a dash out of place */
        "\"67be9998-f866-48c1-ad05-c8189450085g\"", /* not hex */
        "\"67be9998-f866-48c1-ad05-c8189450085\"",  /* short */
        "x67be9998-f866-48c1-ad05-c8189450085bx",    /* not a string */
    };
    for (size_t i = 0; i < sizeof not_uuid / sizeof not_uuid[0]; i++)
        CHECK_EQ_INT(av_uuid_pack(not_uuid[i], strlen(not_uuid[i]), u), 0);
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    uint64_t p = put_prompt(w, good); /* a message that is one, too */
    uint64_t t1 = put_tag(w, p, "uuid", good);
    uint64_t t2 = put_tag(w, p, "uuid", not_uuid[0]);
    CHECK_EQ_INT(commit(w, "v1"), 1);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    av_record rec;
    av_record_init(&rec);
    CHECK_EQ_INT(av_get(r, p, AV_GET_TEXT, &rec), 0);
    CHECK(rec.msg[0].text.len == AV_UUID_JSON && !memcmp(rec.msg[0].text.ptr, good, AV_UUID_JSON));
    CHECK_EQ_INT(av_get(r, t1, 0, &rec), 0);
    CHECK(rec.attr[0].json.len == AV_UUID_JSON && !memcmp(rec.attr[0].json.ptr, good, AV_UUID_JSON));
    CHECK_EQ_INT(av_get(r, t2, 0, &rec), 0);
    CHECK(rec.attr[0].json.len == AV_UUID_JSON && !memcmp(rec.attr[0].json.ptr, not_uuid[0], AV_UUID_JSON));
    av_record_free(&rec);
    /* found by value, each by its own */
    for (int i = 0; i < 2; i++) {
        const char *v = i ? not_uuid[0] : good;
        av_iter *it;
        uint64_t row, n = 0, got = 0;
        CHECK_EQ_INT(av_iter_attr(&it, r, "uuid", v, strlen(v)), 0);
        while (av_iter_next(it, &row) > 0) n++, got = row;
        av_iter_free(it);
        CHECK_EQ_INT(n, 1);
        CHECK_EQ_INT(got, i ? t2 : t1);
    }
    /* the tag with the lowercase one is 22 bytes smaller on disk */
    MDB_val v1, v2;
    CHECK_EQ_INT(av_rec_raw(s, r->txn, t1, &v1), 0);
    CHECK_EQ_INT(av_rec_raw(s, r->txn, t2, &v2), 0);
    CHECK_EQ_INT((int)v2.mv_size - (int)v1.mv_size, 22);
    av_reader_close(r);
    /* a damaged one: the length before the 16 bytes (varint 38 << 2 | 3 =
     * 0x9b 0x01) says 37 or 39, where a UUID is 38 bytes of JSON: corrupt,
     * with a message; mended, it reads */
    char dir[600];
    snprintf(dir, sizeof dir, "%s", av_store_dir(s));
    av_store_close(s);
    static const uint8_t bad[] = {0x97, 0x9f};
    for (size_t i = 0; i < sizeof bad; i++) {
        poke_record_tail(dir, t1, 17, bad[i]); /* k counts from 0 at the last byte */
        CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDONLY), 0);
        CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
        av_record_init(&rec);
        CHECK_EQ_INT(av_get(r, t1, 0, &rec), AV_ECORRUPT);
        CHECK(strstr(av_errmsg(), "corrupt") != NULL);
        av_record_free(&rec);
        av_reader_close(r);
        av_store_close(s);
    }
    poke_record_tail(dir, t1, 17, 0x9b);
    CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDONLY), 0);
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    av_record_init(&rec);
    CHECK_EQ_INT(av_get(r, t1, 0, &rec), 0);
    CHECK(rec.attr[0].json.len == AV_UUID_JSON && !memcmp(rec.attr[0].json.ptr, good, AV_UUID_JSON));
    av_record_free(&rec);
    av_reader_close(r);
    av_store_close(s);
}

/* A tag's keys are one symbol, its key set, when it has two or more: tags
 * of one shape share it, another order is another set, a single key or too
 * many keys stay one by one; all read back in their order. A key set that
 * lists other keys than the record has values is corrupt, with a message. */
static uint64_t put_tag_n(av_writer *w, uint64_t target, const char *const *keys, const char *const *vals, int n)
{
    av_record r;
    av_record_init(&r);
    static av_attr a[400];
    for (int i = 0; i < n; i++) a[i] = (av_attr){keys[i], {vals[i], strlen(vals[i]), {{0}}, 0}};
    r.kind = AV_TAG;
    r.ref[0] = target;
    r.nattr = (uint32_t)n;
    r.attr = a;
    int rc = av_writer_put(w, &r);
    if (rc < 0) fprintf(stderr, "put tag: %s\n", av_errmsg());
    return r.row;
}

/* The key sets in the sym table (0xff first), and the id of the one that
 * lists keys[0..n) (each id below 128: one byte). */
static size_t raw_key_sets(const char *dir, const char *const *keys, size_t n, uint32_t *id)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_open(dir, "sym", MDB_RDONLY, &env, &txn, &dbi);
    uint8_t want[16] = {0xff};
    for (size_t i = 0; i < n; i++) {
        char sk[32];
        snprintf(sk, sizeof sk, "s%s", keys[i]);
        MDB_val k = {strlen(sk), sk}, v;
        CHECK_EQ_INT(mdb_get(txn, dbi, &k, &v), 0);
        const uint8_t *b = v.mv_data;
        CHECK(v.mv_size == 4 && !b[0] && !b[1] && !b[2] && b[3] < 128);
        want[1 + i] = b[3];
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    raw_cursor rc;
    raw_cursor_open_dir(&rc, dir, "sym");
    MDB_val k, v;
    size_t sets = 0;
    for (int r = mdb_cursor_get(rc.c, &k, &v, MDB_FIRST); r == 0; r = mdb_cursor_get(rc.c, &k, &v, MDB_NEXT)) {
        const uint8_t *kb = k.mv_data, *vb = v.mv_data;
        if (k.mv_size != 5 || kb[0] != 'i' || !v.mv_size || vb[0] != 0xff) continue;
        sets++;
        if (v.mv_size == n + 1 && !memcmp(vb, want, n + 1))
            *id = (uint32_t)kb[1] << 24 | (uint32_t)kb[2] << 16 | (uint32_t)kb[3] << 8 | kb[4];
    }
    raw_cursor_close(&rc);
    return sets;
}

static void test_store__attribute_key_sets(void)
{
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    uint64_t p = put_prompt(w, "a prompt");
    static const char *const abc[] = {"alpha", "beta", "gamma"}, *const cba[] = {"gamma", "beta", "alpha"};
    uint64_t t[40];
    char v0[16], v1[16];
    for (int i = 0; i < 40; i++) {
        snprintf(v0, sizeof v0, "%d", i);
        snprintf(v1, sizeof v1, "\"x%d\"", i);
        const char *vals[] = {v0, v1, "true"};
        t[i] = put_tag_n(w, p, i == 7 ? cba : abc, vals, 3);
    }
    uint64_t one = put_tag(w, p, "alpha", "1");
    enum { MANY = 300 }; /* their ids take more than a key set's 256 bytes */
    static char kn[MANY][8];
    static const char *mk[MANY], *mv[MANY];
    for (int i = 0; i < MANY; i++) {
        snprintf(kn[i], sizeof kn[i], "k%03d", i);
        mk[i] = kn[i];
        mv[i] = i % 2 ? "null" : "2";
    }
    uint64_t many = put_tag_n(w, p, mk, mv, MANY);
    CHECK_EQ_INT(commit(w, "v1"), 1);
    char dir[600];
    snprintf(dir, sizeof dir, "%s", av_store_dir(s));
    uint32_t set3 = 0;
    CHECK_EQ_INT(raw_key_sets(dir, abc, 3, &set3), 2); /* alpha beta gamma; gamma beta alpha */
    CHECK(set3 != 0);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    av_record rec;
    av_record_init(&rec);
    int ok = 1;
    for (int i = 0; i < 40; i++) {
        ok &= av_get(r, t[i], 0, &rec) == 0 && rec.nattr == 3;
        snprintf(v0, sizeof v0, "%d", i);
        snprintf(v1, sizeof v1, "\"x%d\"", i);
        const char *const *keys = i == 7 ? cba : abc;
        for (int k = 0; k < 3 && ok; k++) ok &= !strcmp(rec.attr[k].key, keys[k]);
        ok &= ok && !strcmp(rec.attr[0].json.ptr, v0) && !strcmp(rec.attr[1].json.ptr, v1);
    }
    CHECK(ok);
    CHECK_EQ_INT(av_get(r, one, 0, &rec), 0);
    CHECK(rec.nattr == 1 && !strcmp(rec.attr[0].key, "alpha") && !strcmp(rec.attr[0].json.ptr, "1"));
    CHECK_EQ_INT(av_get(r, many, 0, &rec), 0);
    CHECK_EQ_INT(rec.nattr, MANY);
    for (int i = 0; i < MANY && ok; i++) ok &= !strcmp(rec.attr[i].key, kn[i]) && !strcmp(rec.attr[i].json.ptr, mv[i]);
    CHECK(ok);
    /* on disk: kind, cid, version, presence, ref, no messages, then 3 << 1
     * | 1 (a key set follows) and the set's id: 3 keys in one byte; the
     * single key's tag says 1 << 1 and names its key */
    MDB_val a;
    CHECK_EQ_INT(av_rec_raw(s, r->txn, t[1], &a), 0);
    const uint8_t *ab = a.mv_data;
    CHECK(a.mv_size > 23 && ab[20] == 0 && ab[21] == 7 && ab[22] == set3);
    CHECK_EQ_INT(av_rec_raw(s, r->txn, one, &a), 0);
    ab = a.mv_data;
    CHECK(a.mv_size > 23 && ab[20] == 0 && ab[21] == 2);
    av_record_free(&rec);
    av_reader_close(r);
    av_store_close(s);
    /* the key set of three keys loses one, then its mark: its tags are
     * corrupt, others read */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    for (int pass = 0; pass < 2; pass++) {
        raw_open(dir, "sym", 0, &env, &txn, &dbi);
        uint8_t k5[5] = {'i', (uint8_t)(set3 >> 24), (uint8_t)(set3 >> 16), (uint8_t)(set3 >> 8), (uint8_t)set3};
        MDB_val k = {5, k5}, v;
        CHECK_EQ_INT(mdb_get(txn, dbi, &k, &v), 0);
        static uint8_t orig[4];
        if (!pass) {
            CHECK(v.mv_size == 4);
            memcpy(orig, v.mv_data, 4);
        }
        uint8_t val[4];
        memcpy(val, orig, 4);
        MDB_val nv = {pass ? 4 : 3, val};
        if (pass) val[0] = 'x'; /* all its keys, but no mark */
        CHECK_EQ_INT(mdb_put(txn, dbi, &k, &nv, 0), 0);
        CHECK_EQ_INT(mdb_txn_commit(txn), 0);
        mdb_env_close(env);
        CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDONLY), 0);
        CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
        av_record_init(&rec);
        CHECK_EQ_INT(av_get(r, t[0], 0, &rec), AV_ECORRUPT);
        CHECK(strstr(av_errmsg(), "corrupt") != NULL);
        CHECK_EQ_INT(av_get(r, t[7], 0, &rec), 0); /* the other order's set */
        CHECK_EQ_INT(av_get(r, one, 0, &rec), 0);
        CHECK_EQ_INT(av_get(r, many, 0, &rec), 0);
        av_record_free(&rec);
        av_reader_close(r);
        av_store_close(s);
    }
}

static void test_store__text_frames(void)
{
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    static const size_t sizes[] = {49, 4095, 4096, 4097, 100, 8191, 70000, 60, 200000, 3000, 1, 50, 65536, 4096};
    enum { N = sizeof sizes / sizeof sizes[0] };
    char *texts[N];
    uint64_t rows[N];
    uint64_t x = 12345;
    for (int i = 0; i < N; i++) {
        texts[i] = malloc(sizes[i] + 1);
        for (size_t k = 0; k < sizes[i]; k++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            texts[i][k] = (char)('a' + (x >> 59) % 26);
        }
        texts[i][sizes[i]] = 0;
        rows[i] = put_prompt(w, texts[i]);
    }
    CHECK_EQ_INT(commit(w, "sizes"), 1);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    av_record rec;
    av_record_init(&rec);
    int ok = 1;
    for (int pass = 0; pass < 2; pass++)
        for (int j = 0; j < N; j++) {
            int i = pass ? (j * 5) % N : j;
            ok &= av_get(r, rows[i], AV_GET_TEXT, &rec) == 0 && rec.msg[0].text.len == sizes[i] &&
                  !memcmp(rec.msg[0].text.ptr, texts[i], sizes[i]);
        }
    CHECK(ok);
    av_record_free(&rec);
    av_reader_close(r);
    av_store_close(s);
    for (int i = 0; i < N; i++) free(texts[i]);
}

/* A writer that dies after flushing batches leaves nothing visible, and the
 * next writer removes its records. */
static void test_store__killed_writer_rolls_back(void)
{
    av_tune_batch(50);
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    put_prompt(w, "kept");
    CHECK_EQ_INT(commit(w, "v1"), 1);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        av_store *cs;
        if (av_store_open(&cs, av_store_dir(s), AV_OPEN_RDWR)) _exit(2);
        av_writer *cw;
        if (av_writer_open(&cw, cs)) _exit(3);
        char t[64];
        for (int i = 0; i < 400; i++) {
            snprintf(t, sizeof t, "doomed %d", i);
            put_prompt(cw, t);
        }
        _exit(0); /* dies without committing, batches on disk */
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    av_iter *it;
    uint64_t row;
    int n = 0;
    CHECK_EQ_INT(av_iter_all(&it, r), 0);
    while (av_iter_next(it, &row) > 0) n++;
    av_iter_free(it);
    CHECK_EQ_INT(n, 1);
    av_reader_close(r);
    /* a read-write open with no writer running cleans up at once */
    av_store *s2;
    CHECK_EQ_INT(av_store_open(&s2, av_store_dir(s), AV_OPEN_RDWR), 0);
    av_store_info info0;
    av_store_info_get(s2, &info0);
    av_store_close(s2);
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    n = 0;
    CHECK_EQ_INT(av_iter_all(&it, r), 0);
    while (av_iter_next(it, &row) > 0) n++;
    av_iter_free(it);
    CHECK_EQ_INT(n, 1);
    av_record gone;
    av_record_init(&gone);
    CHECK_EQ_INT(av_get(r, 3, AV_GET_ANY, &gone), AV_ENOTFOUND); /* the dead writer's rows are deleted */
    av_record_free(&gone);
    /* and their row column entries cleared (400 rows span chunks) */
    int col_left = 0;
    for (uint64_t x = 2; x < 2000; x++) col_left += av_row_info(r, x, AV_GET_ANY, NULL, NULL) != 0;
    CHECK_EQ_INT(col_left, 0);
    av_kind ck = AV_KIND_NONE;
    CHECK_EQ_INT(av_row_info(r, 1, 0, &ck, NULL), 1);
    CHECK_EQ_INT(ck, AV_PROMPT);
    av_reader_close(r);
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    put_prompt(w, "doomed 3");
    CHECK_EQ_INT(commit(w, "v2"), 2);
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    n = 0;
    CHECK_EQ_INT(av_iter_kind(&it, r, AV_PROMPT), 0);
    while (av_iter_next(it, &row) > 0) n++;
    av_iter_free(it);
    CHECK_EQ_INT(n, 2);
    av_reader_close(r);
    av_store_info info;
    av_store_info_get(s, &info);
    CHECK_EQ_INT(info.text_count, 0); /* all short texts: inline */
    av_store_close(s);
    av_tune_batch(0);
}

/* Counts the entries of table name in the store in dir. */
static size_t raw_count(const char *dir, const char *name)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_open(dir, name, MDB_RDONLY, &env, &txn, &dbi);
    MDB_stat st;
    CHECK_EQ_INT(mdb_stat(txn, dbi, &st), 0);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return st.ms_entries;
}

static void chop_chunk(uint8_t *v, size_t *len, void *ctx)
{
    (void)v;
    (void)ctx;
    *len -= 1; /* the last link loses its last byte */
}

/* A writer's links of its own rows are kept in chunks (pch), the rest one
 * by one (prov): every link reads back the same either way, in any order
 * of asking, across batches, duplicates and a later version; a damaged
 * chunk is an error, not a wrong answer. */
static void test_store__provenance_chunks(void)
{
    av_tune_batch(300); /* chunks and batches end in different places */
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    uint64_t src_row = put_source(w, "file");
    CHECK(src_row != 0);
    enum { N = 2000 };
    static uint64_t row[N];
    static uint64_t want[N][4]; /* lines linked to row i, in the order made */
    static int nwant[N];
    char text[32];
    for (int i = 0; i < N; i++) {
        snprintf(text, sizeof text, "prompt %d", i);
        row[i] = put_prompt(w, text);
    }
    size_t classic = 0;
    for (int i = 0; i < N; i++) {
        /* lines far apart and going back now and then: deltas of both signs */
        uint64_t line = (uint64_t)(i % 7 == 3 ? i * 1000 + 5 : i + 1);
        CHECK_EQ_INT(av_writer_link(w, row[i], src_row, line), 1);
        want[i][nwant[i]++] = line;
        if (i % 5 == 0) { /* a second line for the same row, straight after */
            CHECK_EQ_INT(av_writer_link(w, row[i], src_row, line + 1), 1);
            want[i][nwant[i]++] = line + 1;
        }
        CHECK_EQ_INT(av_writer_link(w, row[i], src_row, line), 0); /* again: nothing */
        if (i % 97 == 50) { /* an earlier row, out of order: one by one */
            CHECK_EQ_INT(av_writer_link(w, row[i / 2], src_row, 999999), 1);
            want[i / 2][nwant[i / 2]++] = 999999;
            classic++;
            CHECK_EQ_INT(av_writer_link(w, row[i / 2], src_row, want[i / 2][0]), 0); /* in a chunk already */
        }
    }
    CHECK_EQ_INT(commit(w, "v1"), 1);
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    CHECK_EQ_INT(av_writer_link(w, row[10], src_row, want[10][0]), 0); /* stored in v1's chunks */
    CHECK_EQ_INT(av_writer_link(w, row[10], src_row, 4242), 1); /* an old row: one by one, in v2 */
    want[10][nwant[10]++] = 4242;
    classic++;
    for (uint64_t l = 0; l < 20; l++) /* more links than av_prov_get keeps on its stack */
        CHECK_EQ_INT(av_writer_link(w, row[21], src_row, 500000 - l * 7), 1);
    classic += 20;
    CHECK_EQ_INT(commit(w, "v2"), 2);
    char dir[600];
    snprintf(dir, sizeof dir, "%s", av_store_dir(s));
    size_t nch = raw_count(dir, "pch");
    CHECK(nch > 1 && nch < 100); /* ~2400 links, a few hundred to a chunk */
    /* one by one: the out-of-order links, and a row's second link where a
     * chunk or a batch ended between its two */
    size_t nprov = raw_count(dir, "prov");
    CHECK(nprov >= classic && nprov <= classic + 2 * nch + 20);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    int ok = 1;
    for (int pass = 0; pass < 3; pass++)
        for (int j = 0; j < N; j++) {
            int i = pass == 0 ? j : pass == 1 ? N - 1 - j : (int)(((uint64_t)j * 7919) % N);
            if (i == 21) continue; /* its 21 links are checked below */
            av_prov pv[8];
            size_t n;
            ok &= av_prov_get(r, row[i], pv, 8, &n) == 0 && n == (size_t)nwant[i];
            for (size_t k = 0; k < n && k < 8; k++) {
                /* sorted by line; each made by v1 but the one of v2 */
                int found = 0;
                for (int m = 0; m < nwant[i]; m++) found |= want[i][m] == pv[k].line;
                ok &= found && pv[k].source == src_row && pv[k].version == (pv[k].line == 4242 ? 2u : 1u);
                ok &= k == 0 || pv[k - 1].line < pv[k].line;
            }
        }
    CHECK(ok);
    /* a row with no links, and a cap smaller than the links */
    av_prov pv[1];
    size_t n;
    CHECK_EQ_INT(av_prov_get(r, src_row, pv, 1, &n), 0);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(av_prov_get(r, row[10], pv, 1, &n), 0);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(pv[0].line, 4242); /* the lowest line, though it is in the other table */
    av_prov many[32];
    CHECK_EQ_INT(av_prov_get(r, row[21], many, 3, &n), 0);
    CHECK_EQ_INT(n, 21);
    CHECK(many[0].line == 22 && many[1].line == 500000 - 19 * 7 && many[2].line == 500000 - 18 * 7);
    CHECK_EQ_INT(av_prov_get(r, row[21], many, 32, &n), 0);
    CHECK_EQ_INT(n, 21);
    for (size_t k = 1; k < n; k++) CHECK(many[k - 1].line < many[k].line);
    av_reader_close(r);
    /* v1 readers do not see v2's link */
    CHECK_EQ_INT(av_reader_open(&r, s, 1), 0);
    CHECK_EQ_INT(av_prov_get(r, row[10], pv, 1, &n), 0);
    CHECK_EQ_INT(n, 2);
    av_reader_close(r);
    av_store_close(s);
    /* the chunk holding row[0] loses its last byte */
    uint8_t k8[8];
    for (int i = 0; i < 8; i++) k8[i] = (uint8_t)(row[0] >> (56 - 8 * i));
    rewrite_raw(dir, "pch", k8, 8, 0, chop_chunk, NULL);
    CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDONLY), 0);
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    CHECK_EQ_INT(av_prov_get(r, row[0], pv, 1, &n), AV_ECORRUPT);
    CHECK(strstr(av_errmsg(), "provenance chunk") != NULL);
    CHECK_EQ_INT(av_prov_get(r, row[N - 1], pv, 1, &n), 0); /* other chunks still read */
    CHECK_EQ_INT(n, 1);
    av_reader_close(r);
    av_store_close(s);
    /* a chunk starting inside the last one: the two overlap */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_open(dir, "pch", 0, &env, &txn, &dbi);
    for (int i = 0; i < 8; i++) k8[i] = (uint8_t)(row[N - 2] >> (56 - 8 * i));
    uint8_t one[] = {1, 0, 0, 2}; /* version 1; row[N - 2], source 0, line 1 */
    MDB_val k = {8, k8}, v = {sizeof one, one};
    CHECK_EQ_INT(mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE), 0);
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDONLY), 0);
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    CHECK_EQ_INT(av_prov_get(r, row[N - 3], pv, 1, &n), AV_ECORRUPT);
    CHECK(strstr(av_errmsg(), "overlap") != NULL);
    av_reader_close(r);
    av_store_close(s);
    av_tune_batch(0);
}

/* References to a writer's new rows are kept in chunks (rch), not an idx
 * entry each: every prompt finds its tags, in row order, across chunks and
 * batches; a later version's reference to an old row is an idx entry, and
 * both read back merged; a damaged chunk is an error, not a wrong answer. */
static uint64_t refs_of(av_reader *r, uint64_t target, uint64_t *rows, size_t cap)
{
    av_iter *it;
    if (av_iter_refs(&it, r, target) < 0) return UINT64_MAX;
    uint64_t row, n = 0;
    int rc;
    while ((rc = av_iter_next(it, &row)) > 0)
        if (n < cap) rows[n++] = row;
    av_iter_free(it);
    return rc < 0 ? UINT64_MAX : n;
}

static size_t raw_ref_entries(const char *dir)
{
    raw_cursor rc;
    raw_cursor_open_dir(&rc, dir, "idx");
    MDB_val k, v;
    size_t n = 0;
    for (int r = mdb_cursor_get(rc.c, &k, &v, MDB_FIRST); r == 0; r = mdb_cursor_get(rc.c, &k, &v, MDB_NEXT))
        n += ((const char *)k.mv_data)[0] == AV_TERM_REF;
    raw_cursor_close(&rc);
    return n;
}

static void skew_first_target(uint8_t *v, size_t *len, void *ctx)
{
    (void)len;
    (void)ctx;
    v[0] = 5; /* the first target's gap from the key must be 0 */
}

static void test_store__reference_chunks(void)
{
    av_tune_batch(100);
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    enum { N = 1000 };
    static uint64_t prompt[N], tag[N][3];
    static int ntag[N];
    char text[64];
    for (int i = 0; i < N; i++) {
        snprintf(text, sizeof text, "prompt %d", i);
        prompt[i] = put_prompt(w, text);
        snprintf(text, sizeof text, "%d", i % 7);
        tag[i][ntag[i]++] = put_tag(w, prompt[i], "bucket", text);
        if (i % 3 == 0) tag[i][ntag[i]++] = put_tag(w, prompt[i], "extra", "true");
    }
    CHECK_EQ_INT(commit(w, "v1"), 1);
    char dir[600];
    snprintf(dir, sizeof dir, "%s", av_store_dir(s));
    size_t nch = raw_count(dir, "rch");
    /* a chunk or more per index flush (every few batches here); one by one
     * only a reference made a flush after its target's chunk was written */
    size_t loose = raw_ref_entries(dir);
    CHECK(nch >= 2 && nch < 100);
    CHECK(loose < N / 20);
    /* v2: old rows get a reference each (idx entries), a new row its own */
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    tag[0][ntag[0]++] = put_tag(w, prompt[0], "late", "1");
    tag[500][ntag[500]++] = put_tag(w, prompt[500], "late", "1");
    uint64_t p2 = put_prompt(w, "a prompt of v2");
    uint64_t t2 = put_tag(w, p2, "bucket", "9");
    CHECK_EQ_INT(commit(w, "v2"), 2);
    CHECK_EQ_INT(raw_ref_entries(dir), loose + 2);
    CHECK_EQ_INT(raw_count(dir, "rch"), nch + 1);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    int ok = 1;
    uint64_t got[8];
    for (int pass = 0; pass < 2; pass++)
        for (int j = 0; j < N; j++) {
            int i = pass == 0 ? j : (int)(((uint64_t)j * 7919) % N);
            uint64_t n = refs_of(r, prompt[i], got, 8);
            ok &= n == (uint64_t)ntag[i];
            for (int k = 0; k < ntag[i] && k < (int)n; k++) ok &= got[k] == tag[i][k]; /* ascending */
        }
    CHECK(ok);
    CHECK_EQ_INT(refs_of(r, p2, got, 8), 1);
    CHECK_EQ_INT(got[0], t2);
    CHECK_EQ_INT(refs_of(r, tag[5][0], got, 8), 0); /* a row nothing refers to */
    av_reader_close(r);
    CHECK_EQ_INT(av_reader_open(&r, s, 1), 0); /* v1 does not see v2's */
    CHECK_EQ_INT(refs_of(r, prompt[0], got, 8), 2);
    CHECK_EQ_INT(refs_of(r, prompt[500], got, 8), 1);
    CHECK_EQ_INT(refs_of(r, p2, got, 8), 0);
    av_reader_close(r);
    av_store_close(s);
    /* a chunk starting inside the first one: the two overlap */
    uint8_t k8[8];
    for (int i = 0; i < 8; i++) k8[i] = (uint8_t)(prompt[1] >> (56 - 8 * i));
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_open(dir, "rch", 0, &env, &txn, &dbi);
    uint8_t one[] = {0, 1, 2}; /* prompt[1], one source: the row after it */
    MDB_val k = {8, k8}, v = {sizeof one, one};
    CHECK_EQ_INT(mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE), 0);
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDONLY), 0);
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    CHECK_EQ_INT(refs_of(r, prompt[0], got, 8), UINT64_MAX);
    CHECK(strstr(av_errmsg(), "overlap") != NULL);
    av_reader_close(r);
    av_store_close(s);
    /* the chunk holding prompt[0] says its first target is not its key */
    for (int i = 0; i < 8; i++) k8[i] = (uint8_t)(prompt[0] >> (56 - 8 * i));
    rewrite_raw(dir, "rch", k8, 8, 0, skew_first_target, NULL);
    CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDONLY), 0);
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    av_iter *it = NULL;
    CHECK_EQ_INT(av_iter_refs(&it, r, prompt[0]), AV_ECORRUPT);
    CHECK(it == NULL && strstr(av_errmsg(), "reference chunk") != NULL);
    CHECK_EQ_INT(refs_of(r, prompt[N - 1], got, 8), (uint64_t)ntag[N - 1]); /* other chunks still read */
    CHECK_EQ_INT(refs_of(r, p2, got, 8), 1); /* other chunks still read */
    av_reader_close(r);
    av_store_close(s);
    av_tune_batch(0);
}

/* A killed writer that linked an old row again (merging an index chunk)
 * leaves the old chunk as it was. */
static void test_store__rollback_restores_merged_index(void)
{
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    uint64_t src_row = put_source(w, "data");
    CHECK(src_row != 0);
    uint64_t p = put_prompt(w, "old");
    CHECK_EQ_INT(av_writer_link(w, p, src_row, 1), 1);
    CHECK_EQ_INT(commit(w, "v1"), 1);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        av_store *cs;
        av_writer *cw;
        if (av_store_open(&cs, av_store_dir(s), AV_OPEN_RDWR) || av_writer_open(&cw, cs)) _exit(2);
        uint64_t q = put_prompt(cw, "new");
        av_writer_link(cw, p, src_row, 5);
        av_writer_link(cw, q, src_row, 6);
        if (!av_writer_reader(cw)) _exit(3); /* forces the batch to disk */
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ_INT(av_writer_open(&w, s), 0); /* rolls back */
    av_writer_abort(w);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    av_iter *it;
    uint64_t row, n = 0;
    CHECK_EQ_INT(av_iter_source(&it, r, src_row), 0);
    while (av_iter_next(it, &row) > 0) {
        CHECK_EQ_INT(row, p);
        n++;
    }
    av_iter_free(it);
    CHECK_EQ_INT(n, 1);
    av_prov pv[4];
    size_t np;
    CHECK_EQ_INT(av_prov_get(r, p, pv, 4, &np), 0);
    CHECK_EQ_INT(np, 1);
    av_reader_close(r);
    /* the dead writer's own index chunks and provenance (noted as ranges,
     * not key by key) are gone too: a later commit's readers see no trace */
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    uint64_t p2 = put_prompt(w, "after");
    CHECK_EQ_INT(av_writer_link(w, p2, src_row, 9), 1);
    CHECK_EQ_INT(commit(w, "v2"), 2);
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    n = 0;
    CHECK_EQ_INT(av_iter_kind(&it, r, AV_PROMPT), 0);
    while (av_iter_next(it, &row) > 0) n++;
    av_iter_free(it);
    CHECK_EQ_INT(n, 2); /* "old" and "after", not the dead "new" */
    n = 0;
    CHECK_EQ_INT(av_iter_source(&it, r, src_row), 0);
    while (av_iter_next(it, &row) > 0) n++;
    av_iter_free(it);
    CHECK_EQ_INT(n, 2);
    for (uint64_t x = p + 1; x < p2; x++) {
        CHECK_EQ_INT(av_prov_get(r, x, pv, 4, &np), 0);
        CHECK_EQ_INT(np, 0);
    }
    av_reader_close(r);
    av_store_close(s);
}

/* Aux values: saved by a commit that makes no version; a killed writer's
 * overwrite and new key are undone. */
static void test_store__aux_values_and_rollback(void)
{
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    CHECK_EQ_INT(av_writer_aux_put(w, "cache", "k1", 2, "old", 3), 0);
    CHECK_EQ_INT(commit(w, "aux only"), 0); /* no version for aux alone */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        av_store *cs;
        av_writer *cw;
        if (av_store_open(&cs, av_store_dir(s), AV_OPEN_RDWR) || av_writer_open(&cw, cs)) _exit(2);
        av_writer_aux_put(cw, "cache", "k1", 2, "new", 3);
        av_writer_aux_put(cw, "cache", "k2", 2, "x", 1);
        if (!av_writer_reader(cw)) _exit(3); /* on disk, uncommitted */
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    av_store *s2;
    CHECK_EQ_INT(av_store_open(&s2, av_store_dir(s), AV_OPEN_RDWR), 0); /* recovers */
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s2, 0), 0);
    void *v = NULL;
    size_t n = 0;
    CHECK_EQ_INT(av_aux_get(r, "cache", "k1", 2, &v, &n), 0);
    CHECK(n == 3 && v && !memcmp(v, "old", 3));
    free(v);
    CHECK_EQ_INT(av_aux_get(r, "cache", "k2", 2, &v, &n), AV_ENOTFOUND);
    av_reader_close(r);
    CHECK_EQ_INT(av_writer_open(&w, s2), 0);
    CHECK_EQ_INT(av_writer_aux_put(w, "cache", "k1", 2, NULL, 0), 0); /* delete */
    CHECK_EQ_INT(commit(w, "delete"), 0);
    CHECK_EQ_INT(av_reader_open(&r, s2, 0), 0);
    CHECK_EQ_INT(av_aux_get(r, "cache", "k1", 2, &v, &n), AV_ENOTFOUND);
    av_reader_close(r);
    av_store_close(s2);
    av_store_close(s);
}

static uint64_t count_iter(av_iter *it)
{
    uint64_t row, n = 0;
    while (av_iter_next(it, &row) > 0) n++;
    av_iter_free(it);
    return n;
}

/* Numbers are indexed in order: ranges read only their part of the index. */
static void test_store__numeric_index_and_peek(void)
{
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    const char *vals[] = {"-12.5", "-0", "0", "2", "3.5", "10", "1e3", "\"7\"", "[1]"};
    uint64_t p = 0;
    for (int i = 0; i < 9; i++) {
        char t[16];
        snprintf(t, sizeof t, "q%d", i);
        p = put_prompt(w, t);
        put_tag(w, p, "reward", vals[i]);
    }
    CHECK_EQ_INT(commit(w, "v1"), 1);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    av_iter *it;
    /* candidates: the range's buckets (0 shares a bucket with -0; 3.5 is in
     * its own bucket, away from 2; 10 and 1e3 are far apart) */
    CHECK_EQ_INT(av_iter_num(&it, r, "reward", 0, 0, INFINITY, 1), 0);
    CHECK_EQ_INT(count_iter(it), 6); /* -0, 0 (end bucket), 2, 3.5, 10, 1e3 */
    CHECK_EQ_INT(av_iter_num(&it, r, "reward", 2.5, 1, 11, 1), 0);
    CHECK_EQ_INT(count_iter(it), 2); /* 3.5, 10 */
    CHECK_EQ_INT(av_iter_num(&it, r, "reward", -INFINITY, 1, 3, 0), 0);
    CHECK_EQ_INT(count_iter(it), 4); /* -12.5, -0, 0, 2 */
    CHECK_EQ_INT(av_iter_num(&it, r, "reward", 10, 1, 10, 1), 0);
    CHECK_EQ_INT(count_iter(it), 1);
    CHECK_EQ_INT(av_iter_num(&it, r, "reward", 5, 1, 1, 1), 0);
    CHECK_EQ_INT(count_iter(it), 0);
    CHECK_EQ_INT(av_iter_num(&it, r, "other", -INFINITY, 1, INFINITY, 1), 0);
    CHECK_EQ_INT(count_iter(it), 0);
    /* peek: kind and refs without decoding */
    av_kind k = AV_KIND_NONE;
    uint64_t ref[3] = {9, 9, 9}, model = 9;
    CHECK_EQ_INT(av_peek(r, p + 1, 0, &k, ref, &model), 0);
    CHECK_EQ_INT(k, AV_TAG);
    CHECK_EQ_INT(ref[0], p);
    CHECK_EQ_INT(ref[1], 0);
    CHECK_EQ_INT(model, 0);
    CHECK_EQ_INT(av_peek(r, 999, 0, &k, NULL, NULL), AV_ENOTFOUND);
    /* the row column answers the same for every row, and nothing past them */
    for (uint64_t x = 1; x <= p + 1; x++) {
        av_kind k1 = AV_KIND_NONE, k2 = AV_KIND_NONE;
        uint64_t r1[3] = {0}, r2 = 7;
        CHECK_EQ_INT(av_peek(r, x, 0, &k1, r1, NULL), 0);
        CHECK_EQ_INT(av_row_info(r, x, 0, &k2, &r2), 1);
        CHECK_EQ_INT(k1, k2);
        CHECK_EQ_INT(r1[0], r2);
    }
    CHECK_EQ_INT(av_row_info(r, p + 2, 0, &k, NULL), 0);
    CHECK_EQ_INT(av_row_info(r, 0, 0, &k, NULL), 0);
    /* counts from the index: 9 tagged, 7 numbers ("7" and [1] are not) */
    uint64_t all = 0, num = 0, nul = 9;
    CHECK_EQ_INT(av_attr_counts(r, "reward", &all, &num, &nul), 0);
    CHECK_EQ_INT(all, 9);
    CHECK_EQ_INT(num, 7);
    CHECK_EQ_INT(nul, 0);
    CHECK_EQ_INT(av_attr_counts(r, "rewar", &all, &num, &nul), 0);
    CHECK_EQ_INT(all + num + nul, 0);
    av_record rec;
    av_record_init(&rec);
    CHECK_EQ_INT(av_get(r, p + 1, AV_GET_NOHASH, &rec), 0);
    CHECK_EQ_STR(rec.attr[0].key, "reward");
    CHECK_EQ_STR(rec.attr[0].json.ptr, "[1]");
    av_record_free(&rec);
    av_reader_close(r);
    av_store_close(s);
}

/* Sorting row sets: dense (bitmap) and sparse (radix) inputs, repeats. */
/* Index chunks: rows read back as written whatever their gaps; gaps of one
 * size in a row take a few bytes a run; bytes that are not a chunk are an
 * error. */
static int chunk_roundtrip(const uint64_t *rows, size_t n, size_t *bytes)
{
    av_buf b = AV_BUF_INIT;
    av_chunk_encode(&b, rows, n);
    uint64_t *got = NULL;
    size_t m = 0, cap = 0;
    int ok = av_chunk_decode(b.ptr, b.len, rows[0], &got, &m, &cap) == 0 && m == n;
    for (size_t i = 0; ok && i < n; i++) ok = got[i] == rows[i];
    if (bytes) *bytes = b.len;
    free(got);
    av_buf_free(&b);
    return ok;
}

static void test_store__index_chunk_runs(void)
{
    static uint64_t rows[60000];
    size_t bytes;
    rows[0] = 7;
    CHECK(chunk_roundtrip(rows, 1, &bytes));
    /* every third row, as a kind's or a tag key's rows in a Magpie store */
    for (size_t i = 0; i < 50000; i++) rows[i] = 3 + 3 * i;
    CHECK(chunk_roundtrip(rows, 50000, &bytes));
    CHECK(bytes < 700); /* 50,000 gaps of 3: ~194 runs of 258 */
    /* runs of every length around the limits, between single gaps */
    size_t n = 0;
    uint64_t row = 1;
    rows[n++] = row;
    static const size_t lens[] = {1, 2, 3, 4, 257, 258, 259, 260, 516, 517, 1000};
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
        uint64_t gap = 1 + l * 37;
        for (size_t i = 0; i < lens[l]; i++) rows[n++] = row += gap;
        rows[n++] = row += 1000003; /* a gap of its own */
    }
    CHECK(chunk_roundtrip(rows, n, NULL));
    /* large gaps, near the top of the row space */
    uint64_t big[] = {1, 1ull << 40, (1ull << 40) + 5, (1ull << 40) + 10, (1ull << 40) + 15, (1ull << 62)};
    CHECK(chunk_roundtrip(big, 6, NULL));
    /* damaged: cut short, a run past the count, a zero gap, a wrong span,
     * bytes after the last row, a count no bytes could hold */
    static const uint8_t bad[][8] = {
        {4, 3, 2}, /* 4 rows, span 3: one gap of 1 of the three */
        {3, 6, 7, 1}, /* a run of 4 gaps of 3 where 2 are left */
        {2, 1, 0}, /* a gap of 0 */
        {2, 5, 2}, /* span 5, the gap says 1 */
        {2, 1, 2, 2}, /* a byte after the last row */
        {0xff, 0xff, 0x7f, 1, 2}, /* 2M rows in 5 bytes */
    };
    static const size_t badlen[] = {3, 4, 3, 3, 4, 5};
    for (size_t i = 0; i < sizeof badlen / sizeof badlen[0]; i++) {
        uint64_t *got = NULL;
        size_t m = 0, cap = 0;
        CHECK_EQ_INT(av_chunk_decode(bad[i], badlen[i], 10, &got, &m, &cap), AV_ECORRUPT);
        CHECK_EQ_INT(m, 0);
        free(got);
    }
}

static void test_store__sort_unique_rows(void)
{
    uint64_t dense[] = {9, 3, 3, 7, 1, 9, 2}, want_d[] = {1, 2, 3, 7, 9};
    CHECK_EQ_INT(av_sort_unique_u64(dense, 7), 5);
    CHECK(!memcmp(dense, want_d, sizeof want_d));
    uint64_t sparse[] = {1ull << 60, 5, 1ull << 40, 5, 77, (1ull << 60) + 1, 0};
    uint64_t want_s[] = {0, 5, 77, 1ull << 40, 1ull << 60, (1ull << 60) + 1};
    CHECK_EQ_INT(av_sort_unique_u64(sparse, 7), 6);
    CHECK(!memcmp(sparse, want_s, sizeof want_s));
    enum { N = 5000 };
    uint64_t *v = malloc(N * sizeof *v);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        v[i] = i % 3 ? x % 1000000007ull : x;
    }
    size_t n = av_sort_unique_u64(v, N);
    int ok = 1;
    for (size_t i = 1; i < n; i++) ok &= v[i - 1] < v[i];
    CHECK(ok);
    CHECK(n > N - 5);
    free(v);
    CHECK_EQ_INT(av_sort_unique_u64(NULL, 0), 0);
}

/* Sorting records by a 16-byte key: random keys, keys that share their
 * first 8 bytes (ties the radix pass cannot see), repeated keys, and
 * records larger than the key; the same order as qsort by memcmp. */
typedef struct keyed {
    uint8_t key[16];
    uint32_t payload[6];
} keyed;
static int cmp_keyed(const void *a, const void *b) { return memcmp(a, b, 16); }
static void test_store__sort_by_key16(void)
{
    for (size_t n = 0; n < 3000; n = n ? n * 3 + 1 : 1) {
        keyed *a = malloc((n ? n : 1) * sizeof *a), *b = malloc((n ? n : 1) * sizeof *b);
        uint64_t x = 0x9E3779B97F4A7C15ull + n;
        for (size_t i = 0; i < n; i++) {
            for (int k = 0; k < 16; k++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                a[i].key[k] = (uint8_t)x;
            }
            if (i % 5 == 1) memcpy(a[i].key, a[i - 1].key, 8);      /* same leading bytes */
            if (i % 7 == 2) memcpy(a[i].key, a[i - 1].key, 16);     /* the same key */
            if (i % 11 == 3) memset(a[i].key, 0, 15);               /* tiny keys */
            for (int k = 0; k < 6; k++) a[i].payload[k] = (uint32_t)(i * 6 + k);
        }
        memcpy(b, a, n * sizeof *a);
        av_sort_by_key16(a, n, sizeof *a);
        qsort(b, n, sizeof *b, cmp_keyed);
        int ok = 1;
        for (size_t i = 0; i < n; i++) {
            ok &= !memcmp(a[i].key, b[i].key, 16);
            ok &= a[i].payload[1] == a[i].payload[0] + 1; /* records moved whole */
            if (i) ok &= memcmp(a[i - 1].key, a[i].key, 16) <= 0;
        }
        CHECK(ok);
        free(a);
        free(b);
    }
}

/* Responses' texts go to blocks of their own (a search of responses then
 * decompresses only those), across batches, and every text reads back. */
static void test_store__response_texts_in_own_blocks(void)
{
    av_tune_batch(7);
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    enum { N = 300 };
    static char pt[N][120], rt[N][3000];
    uint64_t prow[N], rrow[N];
    for (int i = 0; i < N; i++) {
        snprintf(pt[i], sizeof pt[i], "prompt number %d asks something long enough to leave the record: %d", i, i * 7);
        int n = snprintf(rt[i], sizeof rt[i], "response %d: ", i);
        while (n < 2900) n += snprintf(rt[i] + n, sizeof rt[i] - (size_t)n, "%d words ", (i * 31 + n) % 997);
        prow[i] = put_prompt(w, pt[i]);
        rrow[i] = put_response(w, prow[i], rt[i]);
        CHECK(rrow[i] != 0);
    }
    CHECK_EQ_INT(commit(w, "v1"), 1);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    av_record rec;
    av_record_init(&rec);
    int ok = 1;
    for (int i = 0; i < N; i++) {
        ok &= av_get(r, prow[i], AV_GET_TEXT, &rec) == 0 && !strcmp(rec.msg[0].text.ptr, pt[i]);
        ok &= av_get(r, rrow[i], AV_GET_TEXT, &rec) == 0 && !strcmp(rec.msg[0].text.ptr, rt[i]);
    }
    CHECK(ok);
    CHECK_EQ_INT(av_texts_apart(r), 1); /* no text crossed classes yet */
    /* which blocks hold which texts, from the txt table */
    av_id ph, rh;
    CHECK_EQ_INT(av_get(r, prow[N - 1], AV_GET_TEXT, &rec), 0); /* loaded texts get their hash */
    ph = rec.msg[0].text.hash;
    CHECK_EQ_INT(av_get(r, rrow[N - 1], AV_GET_TEXT, &rec), 0);
    rh = rec.msg[0].text.hash;
    CHECK(av_loc_class(rec.msg[0].text.loc) == AV_TEXTS_RESPONSE);
    av_record_free(&rec);
    av_reader_close(r);
    raw_cursor rc;
    raw_cursor_open(&rc, s, "txt");
    MDB_cursor *c = rc.c;
    MDB_val k, v;
    uint64_t pblock = 0, rblock = 0;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint64_t loc;
        uint32_t len;
        CHECK_EQ_INT(av_txt_unpack(v.mv_data, v.mv_size, &loc, &len), 0);
        CHECK(v.mv_size < 16); /* format 4: packed, where format 3 took 16 bytes */
        uint64_t b = av_loc_block(loc);
        if (k.mv_size == AV_SHORT_KEY && !memcmp(k.mv_data, ph.b, AV_SHORT_KEY)) pblock = b; /* keyed by 8 bytes */
        if (k.mv_size == AV_SHORT_KEY && !memcmp(k.mv_data, rh.b, AV_SHORT_KEY)) rblock = b;
    }
    CHECK(pblock && rblock && pblock != rblock);
    /* no block holds both kinds: prompt texts all share the last prompt's few blocks */
    int mixed = 0;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint64_t loc;
        uint32_t len;
        CHECK_EQ_INT(av_txt_unpack(v.mv_data, v.mv_size, &loc, &len), 0);
        uint64_t b = av_loc_block(loc);
        if (len < 200 && b == rblock) mixed++; /* a prompt text in the response block */
        if (len > 2000 && b == pblock) mixed++; /* a response text in the prompt block */
    }
    CHECK_EQ_INT(mixed, 0);
    raw_cursor_close(&rc);
    av_tune_batch(0);
}

/* A response whose text a prompt stored first (texts are stored once)
 * makes the classes no longer apart, from that commit on. */
static void test_store__texts_cross_classes(void)
{
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    const char *t = "a text long enough to be stored in a block rather than in its record";
    uint64_t p = put_prompt(w, t);
    CHECK_EQ_INT(commit(w, "v1"), 1);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    CHECK_EQ_INT(av_texts_apart(r), 1);
    av_reader_close(r);
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    CHECK(put_response(w, p, t) != 0);
    CHECK_EQ_INT(commit(w, "v2"), 2);
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    CHECK_EQ_INT(av_texts_apart(r), 0);
    av_reader_close(r);
    av_store_close(s);
}

/* A reader keeps its snapshot while a writer commits. */
static void test_store__reader_snapshot(void)
{
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    put_prompt(w, "a");
    CHECK_EQ_INT(commit(w, "v1"), 1);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    uint64_t b = put_prompt(w, "b");
    CHECK(!av_visible(r, b));
    CHECK_EQ_INT(commit(w, "v2"), 2);
    CHECK(!av_visible(r, b));
    CHECK_EQ_INT(av_reader_version(r), 1);
    av_reader_close(r);
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    CHECK(av_visible(r, b));
    av_reader_close(r);
    av_store_close(s);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* An 8-digit prefix shared by two records is ambiguous. */
/* The cid and txt tables are keyed by a hash's first 8 bytes; a second
 * hash with those 8 bytes gets all 16. Such pairs are made here by hand
 * (finding real ones takes ~2^32 hashes): a 16-byte key is found past an
 * 8-byte one that names another record or text, by readers and by a writer,
 * which adds nothing twice; av_shortkey_put makes the 16-byte key itself. */
static void raw_move_to_long_key(const char *dir, const char *table, const uint8_t h[16], const MDB_val *other)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_open(dir, table, 0, &env, &txn, &dbi);
    MDB_val k8 = {8, (void *)h}, v, k16 = {16, (void *)h};
    CHECK_EQ_INT(mdb_get(txn, dbi, &k8, &v), 0);
    uint8_t mine[32];
    CHECK(v.mv_size <= sizeof mine);
    memcpy(mine, v.mv_data, v.mv_size);
    MDB_val mv = {v.mv_size, mine};
    CHECK_EQ_INT(mdb_put(txn, dbi, &k16, &mv, MDB_NOOVERWRITE), 0);
    MDB_val ov = *other;
    CHECK_EQ_INT(mdb_put(txn, dbi, &k8, &ov, 0), 0); /* its 8 bytes now name the other */
    CHECK_EQ_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void test_store__half_hash_keys(void)
{
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    char ta[200], tb[200];
    memset(ta, 'a', 150), ta[150] = 0; /* long: both go to the text store */
    memset(tb, 'b', 150), tb[150] = 0;
    uint64_t a = put_prompt(w, ta), b = put_prompt(w, tb);
    CHECK_EQ_INT(commit(w, "v1"), 1);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    av_record ra, rb;
    av_record_init(&ra);
    av_record_init(&rb);
    CHECK_EQ_INT(av_get(r, a, AV_GET_TEXT, &ra), 0);
    CHECK_EQ_INT(av_get(r, b, AV_GET_TEXT, &rb), 0);
    av_id acid = ra.cid, bcid = rb.cid, ah = ra.msg[0].text.hash, bh = rb.msg[0].text.hash;
    av_record_free(&ra);
    av_record_free(&rb);
    av_reader_close(r);
    char dir[600];
    snprintf(dir, sizeof dir, "%s", av_store_dir(s));
    av_store_close(s);
    /* b's id and b's text: their 8-byte keys now name a's record and text */
    uint8_t rowv[10], txtv[AV_TXT_MAX];
    MDB_val arow = {av_cid_pack(rowv, a), rowv};
    raw_move_to_long_key(dir, "cid", bcid.b, &arow);
    CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDWR), 0);
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    av_record_init(&ra);
    CHECK_EQ_INT(av_get(r, a, 0, &ra), 0);
    uint64_t aloc = 0;
    CHECK_EQ_INT(av_get(r, a, AV_GET_TEXT, &ra), 0);
    aloc = ra.msg[0].text.loc;
    av_record_free(&ra);
    av_reader_close(r);
    av_store_close(s);
    MDB_val atxt = {av_txt_pack(txtv, aloc, 150), txtv};
    raw_move_to_long_key(dir, "txt", bh.b, &atxt);
    size_t ncid = raw_count(dir, "cid"), ntxt = raw_count(dir, "txt");
    CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDWR), 0);
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    uint64_t row = 0;
    CHECK_EQ_INT(av_find(r, &bcid, &row), 0);
    CHECK_EQ_INT(row, b);
    CHECK_EQ_INT(av_find(r, &acid, &row), 0);
    CHECK_EQ_INT(row, a);
    char hex[33], pre[21];
    av_id_hex(hex, &bcid);
    memcpy(pre, hex, 20), pre[20] = 0; /* past the 8-byte key: checked in the record */
    CHECK_EQ_INT(av_find_hex(r, pre, &row), 0);
    CHECK_EQ_INT(row, b);
    memcpy(pre, hex, 16), pre[16] = 0; /* just the key: a's record does not match */
    CHECK_EQ_INT(av_find_hex(r, pre, &row), 0);
    CHECK_EQ_INT(row, b);
    char *text = NULL;
    size_t tlen;
    CHECK_EQ_INT(av_text_get(r, &bh, &text, &tlen), 0);
    CHECK(tlen == 150 && !strcmp(text, tb));
    free(text);
    CHECK_EQ_INT(av_text_get(r, &ah, &text, &tlen), 0);
    CHECK(tlen == 150 && !strcmp(text, ta));
    free(text);
    av_reader_close(r);
    /* a writer finds both: b again adds nothing; a new record with b's text
     * stores no second copy */
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    CHECK_EQ_INT(put_prompt(w, tb), b);
    av_record t;
    av_record_init(&t);
    av_msg m = {"system", {tb, 150, {{0}}, 0}};
    t.kind = AV_PROMPT;
    t.nmsg = 1;
    t.msg = &m;
    CHECK_EQ_INT(av_writer_put(w, &t), 1);
    CHECK_EQ_INT(commit(w, "v2"), 2);
    av_store_close(s);
    CHECK_EQ_INT(raw_count(dir, "cid"), ncid + 1);
    CHECK_EQ_INT(raw_count(dir, "txt"), ntxt);
    /* av_shortkey_put: a second hash with the same first 8 bytes */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    raw_open(dir, "aux", 0, &env, &txn, &dbi);
    uint8_t h1[16], h2[16];
    memset(h1, 0xee, 16);
    memcpy(h2, h1, 16);
    h2[15] = 1;
    CHECK_EQ_INT(av_shortkey_put(txn, dbi, h1, "one", 3, MDB_APPEND), 0);
    CHECK_EQ_INT(av_shortkey_put(txn, dbi, h2, "two", 3, MDB_APPEND), 0); /* not after: put in place */
    CHECK_EQ_INT(av_shortkey_put(txn, dbi, h1, "one", 3, 0), 0);          /* again: nothing */
    CHECK_EQ_INT(av_shortkey_put(txn, dbi, h2, "two", 3, 0), 0);
    MDB_val k8 = {8, h1}, k16 = {16, h2}, v;
    CHECK_EQ_INT(mdb_get(txn, dbi, &k8, &v), 0);
    CHECK(v.mv_size == 3 && !memcmp(v.mv_data, "one", 3));
    CHECK_EQ_INT(mdb_get(txn, dbi, &k16, &v), 0);
    CHECK(v.mv_size == 3 && !memcmp(v.mv_data, "two", 3));
    MDB_stat st;
    CHECK_EQ_INT(mdb_stat(txn, dbi, &st), 0);
    CHECK_EQ_INT(st.ms_entries, 2);
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

/* gc repacks a store: every record, text and version reads the same after
 * it, the file is smaller, a dictionary per class is added (the old ones
 * stay); it refuses while another handle has the store open or this one
 * holds a reader; a second gc after a few writes adds no dictionary and
 * changes nothing a reader sees. */
typedef struct {
    uint64_t row;
    av_id cid;
    char *text;
} gc_seen;

static size_t gc_snapshot(av_store *s, uint32_t version, gc_seen *out, size_t cap)
{
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, version), 0);
    av_record rec;
    av_record_init(&rec);
    size_t n = 0;
    for (uint64_t row = 1; row < av_reader_row_end(r) && n < cap; row++) {
        if (av_get(r, row, AV_GET_TEXT, &rec) < 0) continue;
        out[n].row = row;
        out[n].cid = rec.cid;
        out[n].text = rec.nmsg ? av_xstrndup(rec.msg[0].text.ptr, rec.msg[0].text.len) : NULL;
        n++;
    }
    av_record_free(&rec);
    av_reader_close(r);
    return n;
}

static int gc_same(const gc_seen *a, size_t na, const gc_seen *b, size_t nb)
{
    int ok = na == nb;
    for (size_t i = 0; ok && i < na; i++)
        ok = a[i].row == b[i].row && !memcmp(a[i].cid.b, b[i].cid.b, 16) &&
             (!a[i].text ? !b[i].text : b[i].text && !strcmp(a[i].text, b[i].text));
    return ok;
}

static void gc_free(gc_seen *a, size_t n)
{
    for (size_t i = 0; i < n; i++) free(a[i].text);
}

static void test_store__gc(void)
{
    av_tune_gc_min_class(256u << 10); /* dictionaries for a small store */
    av_store *s = fresh();
    av_writer *w;
    enum { N = 1500 };
    char text[2048];
    uint32_t seed = 7;
    for (int v = 0; v < 2; v++) {
        CHECK_EQ_INT(av_writer_open(&w, s), 0);
        for (int i = v * N / 2; i < (v + 1) * N / 2; i++) {
            /* words from a small vocabulary: texts that compress */
            size_t n = 0;
            int words = 20 + (int)(seed % 200);
            for (int k = 0; k < words && n + 16 < sizeof text; k++) {
                seed = seed * 1103515245u + 12345u;
                static const char *const vocab[] = {"model", "data", "the", "answer", "of", "a", "prompt", "judge",
                                                    "rating", "licence", "store", "version", "text", "to", "in"};
                n += (size_t)snprintf(text + n, sizeof text - n, "%s ", vocab[(seed >> 16) % 15]);
            }
            snprintf(text + n, sizeof text - n, "#%d", i);
            uint64_t p = put_prompt(w, text);
            char answer[2100];
            snprintf(answer, sizeof answer, "Answer: %s. In short: %.*s", text, (int)(n / 2), text);
            CHECK(put_response(w, p, answer) != 0);
        }
        CHECK_EQ_INT(commit(w, v ? "v2" : "v1"), (uint32_t)v + 1);
    }
    static gc_seen b1[2 * N + 8], b2[2 * N + 8], a1[2 * N + 8], a2[2 * N + 8];
    size_t nb1 = gc_snapshot(s, 1, b1, 2 * N + 8), nb2 = gc_snapshot(s, 2, b2, 2 * N + 8);
    CHECK_EQ_INT(nb2, 2 * N);
    av_store_info st0;
    CHECK_EQ_INT(av_store_info_get(s, &st0), 0);
    char dir[600];
    snprintf(dir, sizeof dir, "%s", av_store_dir(s));
    /* not while another handle has it open, nor while this one reads */
    av_store *other;
    CHECK_EQ_INT(av_store_open(&other, dir, AV_OPEN_RDONLY), 0);
    av_gc_result res;
    CHECK_EQ_INT(av_store_gc(s, NULL, &res), AV_EBUSY);
    CHECK(strstr(av_errmsg(), "another process") != NULL);
    av_store_close(other);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    CHECK_EQ_INT(av_store_gc(s, NULL, &res), AV_EBUSY);
    av_reader_close(r);
    av_gc_opts o = {.level = 9};
    CHECK_EQ_INT(av_store_gc(s, &o, &res), 0);
    CHECK(res.file_after < res.file_before);
    CHECK(res.text_after < res.text_before);
    CHECK_EQ_INT(res.dicts_added, 2);
    av_store_info st1;
    CHECK_EQ_INT(av_store_info_get(s, &st1), 0);
    CHECK_EQ_INT(st1.dict_count, st0.dict_count + 2);
    CHECK(st1.text_stored_bytes < st0.text_stored_bytes && st1.text_raw_bytes == st0.text_raw_bytes);
    size_t na1 = gc_snapshot(s, 1, a1, 2 * N + 8), na2 = gc_snapshot(s, 2, a2, 2 * N + 8);
    CHECK(gc_same(b1, nb1, a1, na1));
    CHECK(gc_same(b2, nb2, a2, na2));
    gc_free(a1, na1);
    gc_free(a2, na2);
    /* it writes on: a new version, then gc again */
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    uint64_t p3 = put_prompt(w, "a prompt after gc, long enough to go to the text store: ..............");
    CHECK(p3 != 0);
    CHECK_EQ_INT(commit(w, "v3"), 3);
    CHECK_EQ_INT(av_store_gc(s, &o, &res), 0);
    CHECK_EQ_INT(res.dicts_added, 0); /* the classes grew little: the last gc's dictionaries */
    av_store_info st2;
    CHECK_EQ_INT(av_store_info_get(s, &st2), 0);
    CHECK_EQ_INT(st2.dict_count, st1.dict_count);
    na2 = gc_snapshot(s, 2, a2, 2 * N + 8);
    CHECK(gc_same(b2, nb2, a2, na2));
    gc_free(a2, na2);
    av_store_close(s);
    /* and reopened from disk */
    CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDONLY), 0);
    na1 = gc_snapshot(s, 1, a1, 2 * N + 8);
    CHECK(gc_same(b1, nb1, a1, na1));
    gc_free(a1, na1);
    gc_free(b1, nb1);
    gc_free(b2, nb2);
    av_store_close(s);
    av_tune_gc_min_class(0);
}

/* gc meets a damaged text block: it stops with the error, naming the
 * block, and leaves the store as it was (the other texts read, the file
 * is not replaced); the block mended, gc runs. */
static void test_store__gc_damaged_block(void)
{
    av_store *s;
    char dir[600], text[32];
    uint64_t rows[8];
    store_eight_texts(dir, rows);
    mutate_block(dir, save_block);
    mutate_block(dir, frame_past_end);
    CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDWR), 0);
    av_gc_result res;
    CHECK_EQ_INT(av_store_gc(s, NULL, &res), AV_ECORRUPT);
    CHECK(strstr(av_errmsg(), "text block 1") != NULL);
    CHECK_EQ_INT(res.file_after, res.file_before);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    av_record rec;
    av_record_init(&rec);
    CHECK_EQ_INT(av_get(r, rows[7], AV_GET_TEXT, &rec), AV_ECORRUPT); /* the last text, past the frame */
    CHECK_EQ_INT(av_get(r, rows[0], AV_GET_TEXT, &rec), 0);
    CHECK(strncmp(rec.msg[0].text.ptr, "text 0 ", 7) == 0);
    av_reader_close(r);
    av_store_close(s);
    mutate_block(dir, restore_block);
    CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDWR), 0);
    CHECK_EQ_INT(av_store_gc(s, NULL, &res), 0);
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    for (int i = 0; i < 8; i++) {
        CHECK_EQ_INT(av_get(r, rows[i], AV_GET_TEXT, &rec), 0);
        snprintf(text, sizeof text, "text %d ", i);
        CHECK(strncmp(rec.msg[0].text.ptr, text, strlen(text)) == 0);
    }
    av_record_free(&rec);
    av_reader_close(r);
    av_store_close(s);
    free(saved_block);
    saved_block = NULL;
}

static void test_store__ambiguous_prefix(void)
{
    av_store *s = fresh();
    av_writer *w;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    char t[64];
    for (int i = 0; i < 200000; i++) {
        snprintf(t, sizeof t, "p%d", i);
        put_prompt(w, t);
    }
    CHECK_EQ_INT(commit(w, "many"), 1);
    av_reader *r;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    /* find two ids with the same first 8 hex digits: sort (prefix, row) */
    av_record rec;
    av_record_init(&rec);
    uint64_t *pref = calloc(200000, sizeof *pref);
    int found = 0;
    char hex[33], dup[9] = {0};
    for (uint64_t row = 1; row <= 200000; row++) {
        av_get(r, row, 0, &rec);
        uint32_t v = (uint32_t)rec.cid.b[0] << 24 | (uint32_t)rec.cid.b[1] << 16 | (uint32_t)rec.cid.b[2] << 8 | rec.cid.b[3];
        pref[row - 1] = (uint64_t)v << 32 | row;
    }
    qsort(pref, 200000, sizeof *pref, cmp_u64);
    for (int i = 1; i < 200000 && !found; i++)
        if (pref[i] >> 32 == pref[i - 1] >> 32) {
            av_get(r, pref[i] & 0xffffffff, 0, &rec);
            av_id_hex(hex, &rec.cid);
            memcpy(dup, hex, 8);
            found = 1;
        }
    free(pref);
    av_record_free(&rec);
    CHECK(found); /* deterministic content: there is such a pair */
    if (found) {
        uint64_t row;
        CHECK_EQ_INT(av_find_hex(r, dup, &row), AV_EAMBIGUOUS);
        CHECK(strstr(av_errmsg(), "ambiguous") != NULL);
    }
    av_reader_close(r);
    av_store_close(s);
}

int main(void)
{
    RUN(test_store__init_and_format);
    RUN(test_store__newer_or_foreign_refused);
    RUN(test_store__put_get_dedup);
    RUN(test_store__versions_retract_and_index);
    RUN(test_store__provenance_and_events);
    RUN(test_store__provenance_chunks);
    RUN(test_store__reference_chunks);
    RUN(test_store__attribute_key_sets);
    RUN(test_store__texts_dictionary_growth);
    RUN(test_store__dictionary_retrained_when_texts_change);
    RUN(test_store__killed_writer_rolls_back);
    RUN(test_store__sort_unique_rows);
    RUN(test_store__index_chunk_runs);
    RUN(test_store__text_frames);
    RUN(test_store__texts_by_place);
    RUN(test_store__damaged_text_place);
    RUN(test_store__text_index_entries);
    RUN(test_store__uuid_values);
    RUN(test_store__sort_by_key16);
    RUN(test_store__damaged_text_block);
    RUN(test_store__response_texts_in_own_blocks);
    RUN(test_store__texts_cross_classes);
    RUN(test_store__rollback_restores_merged_index);
    RUN(test_store__aux_values_and_rollback);
    RUN(test_store__numeric_index_and_peek);
    RUN(test_store__reader_snapshot);
    RUN(test_store__ambiguous_prefix);
    RUN(test_store__half_hash_keys);
    RUN(test_store__gc);
    RUN(test_store__gc_damaged_block);
    return tap_done();
}
