/* test_dedup_store.c: `dedup` on a real store: hand-made clusters come back as
 * tag records with the documented attributes; signatures are kept in aux and
 * reused; an incremental run after new prompts equals a from-scratch run; a
 * repeated run changes nothing; changed clusters retract the old tags. */
#include <stdlib.h>

#include "curate/curate.h"
#include "tap.h"

static av_store *fresh_store(void)
{
    const char *dir = tap_tmpdir();
    av_store *s = NULL;
    CHECK_EQ_INT(av_store_init(dir), 0);
    CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDWR), 0);
    return s;
}

static void put_prompts(av_store *s, const char *const *texts, size_t n)
{
    av_writer *w = NULL;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    for (size_t i = 0; i < n; i++) {
        av_msg m = {"user", {texts[i], strlen(texts[i]), {{0}}, 0}};
        av_record rec;
        av_record_init(&rec);
        rec.kind = AV_PROMPT;
        rec.nmsg = 1;
        rec.msg = &m;
        CHECK(av_writer_put(w, &rec) >= 0);
    }
    av_commit_opts o = {.message = "prompts", .command = "test"};
    uint32_t v;
    CHECK(av_writer_commit(w, &o, &v) >= 0);
}

/* Visible prompts (identical texts are one prompt: records are content-addressed). */
static size_t count_prompts(av_store *s)
{
    av_reader *r = NULL;
    av_iter *it = NULL;
    uint64_t row;
    size_t n = 0;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    CHECK_EQ_INT(av_iter_kind(&it, r, AV_PROMPT), 0);
    while (av_iter_next(it, &row) > 0) n++;
    av_iter_free(it);
    av_reader_close(r);
    return n;
}

static int run_dedup(av_store *s, av_curate_dedup_report *rep, int threads)
{
    av_writer *w = NULL;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    av_curate_dedup_opts o = {.dd = AV_DEDUP_OPTS_INIT, .threads = threads};
    int rc = av_curate_dedup(w, &o, rep);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) fprintf(stderr, "dedup: %s\n", av_errmsg());
    av_commit_opts co = {.message = "dedup", .command = "test"};
    uint32_t v;
    return av_writer_commit(w, &co, &v);
}

/* One prompt's visible dedup values, keyed by the prompt's text. */
typedef struct view {
    char *text;
    char *rep_text;
    char *keep, *sim, *size;
    int ntags;
} view;

static char *attr_str(av_reader *r, av_record *rec, const char *key)
{
    const av_attr *a = av_record_attr(rec, key);
    if (!a) return strdup("(none)");
    av_val v = a->json;
    if (!v.ptr && v.len) CHECK_EQ_INT(av_load(r, rec, &v), 0);
    return strndup(v.ptr, v.len);
}

static char *prompt_text_of(av_reader *r, uint64_t row)
{
    av_record rec;
    av_record_init(&rec);
    CHECK_EQ_INT(av_get(r, row, AV_GET_TEXT, &rec), 0);
    char *t = rec.nmsg ? strndup(rec.msg[0].text.ptr, rec.msg[0].text.len) : strdup("");
    av_record_free(&rec);
    return t;
}

static int cmp_view(const void *a, const void *b)
{
    return strcmp(((const view *)a)->text, ((const view *)b)->text);
}

/* Every visible prompt with its dedup tag's values, sorted by text. */
static view *collect(av_store *s, size_t *out_n)
{
    av_reader *r = NULL;
    CHECK_EQ_INT(av_reader_open(&r, s, 0), 0);
    av_iter *it = NULL;
    uint64_t row;
    size_t n = 0, cap = 64;
    view *v = calloc(cap, sizeof *v);
    CHECK_EQ_INT(av_iter_kind(&it, r, AV_PROMPT), 0);
    av_record rec;
    av_record_init(&rec);
    while (av_iter_next(it, &row) > 0) {
        if (n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
        view *x = &v[n++];
        memset(x, 0, sizeof *x);
        x->text = prompt_text_of(r, row);
        av_iter *t = NULL;
        uint64_t trow;
        CHECK_EQ_INT(av_iter_refs(&t, r, row), 0);
        while (av_iter_next(t, &trow) > 0) {
            CHECK_EQ_INT(av_get(r, trow, 0, &rec), 0);
            if (rec.kind != AV_TAG || !av_record_attr(&rec, "dedup_cluster")) continue;
            x->ntags++;
            char *rephex = attr_str(r, &rec, "dedup_representative");
            char *cl = attr_str(r, &rec, "dedup_cluster");
            x->keep = attr_str(r, &rec, "dedup_keep");
            x->sim = attr_str(r, &rec, "dedup_similarity");
            x->size = attr_str(r, &rec, "dedup_cluster_size");
            /* the representative, by content id and by row, is one prompt */
            av_id id;
            char hex[33];
            uint64_t rep_row = 0;
            CHECK(strlen(rephex) == 34);
            memcpy(hex, rephex + 1, 32);
            hex[32] = 0;
            CHECK_EQ_INT(av_id_parse(&id, hex), 0);
            CHECK_EQ_INT(av_find(r, &id, &rep_row), 0);
            CHECK_EQ_INT(rep_row, strtoull(cl, NULL, 10));
            CHECK_EQ_INT(!strcmp(x->keep, "true"), rep_row == row);
            CHECK(rep_row <= row);
            free(x->rep_text);
            x->rep_text = prompt_text_of(r, rep_row);
            free(rephex);
            free(cl);
        }
        av_iter_free(t);
    }
    av_iter_free(it);
    av_record_free(&rec);
    av_reader_close(r);
    qsort(v, n, sizeof *v, cmp_view);
    *out_n = n;
    return v;
}

static void views_free(view *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].text);
        free(v[i].rep_text);
        free(v[i].keep);
        free(v[i].sim);
        free(v[i].size);
    }
    free(v);
}

static const char *const hand[] = {
    "Explain how the garbage collector in CPython finds reference cycles between container objects.",
    "explain how the GARBAGE collector in cpython finds reference cycles, between container objects!",
    "Write a short poem about the sea at night, with the moon and the waves and a lighthouse far away.",
    "Explain how the garbage collector in CPython finds reference cycles between container objects. Thanks.",
    "What is the capital of France and why did it become the capital city in the first place?",
    "Write a short poem about the sea at night, with the moon and the waves and a lighthouse far away, please.",
};

static const view *find(const view *v, size_t n, const char *text)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].text, text)) return &v[i];
    return NULL;
}

static void test_dedup_store__hand_clusters(void)
{
    av_store *s = fresh_store();
    put_prompts(s, hand, 6);
    av_curate_dedup_report rep;
    CHECK_EQ_INT(run_dedup(s, &rep, 2), 1);
    CHECK_EQ_INT(rep.st.items, 6);
    CHECK_EQ_INT(rep.computed, 6);
    CHECK_EQ_INT(rep.tagged, 6);
    CHECK_EQ_INT(rep.st.clusters, 2);
    CHECK_EQ_INT(rep.st.duplicates, 3);
    size_t n;
    view *v = collect(s, &n);
    CHECK_EQ_INT(n, 6);
    const view *a = find(v, n, hand[1]), *b = find(v, n, hand[3]), *c = find(v, n, hand[4]), *d = find(v, n, hand[5]);
    CHECK(a && b && c && d);
    if (a && b && c && d) {
        CHECK_EQ_STR(a->rep_text, hand[0]);
        CHECK_EQ_STR(a->keep, "false");
        CHECK_EQ_STR(a->sim, "1.0");
        CHECK_EQ_STR(a->size, "3");
        CHECK_EQ_STR(b->rep_text, hand[0]);
        CHECK_EQ_STR(b->sim, "0.9");
        CHECK_EQ_STR(c->rep_text, hand[4]);
        CHECK_EQ_STR(c->keep, "true");
        CHECK_EQ_STR(c->size, "1");
        CHECK_EQ_STR(d->rep_text, hand[2]);
        CHECK_EQ_STR(d->size, "2");
    }
    for (size_t i = 0; i < n; i++) CHECK_EQ_INT(v[i].ntags, 1);
    views_free(v, n);

    /* a second run reuses every signature and changes nothing */
    CHECK_EQ_INT(run_dedup(s, &rep, 1), 0);
    CHECK_EQ_INT(rep.reused, 6);
    CHECK_EQ_INT(rep.computed, 0);
    CHECK_EQ_INT(rep.tagged, 0);
    CHECK_EQ_INT(rep.retracted, 0);

    /* a stricter threshold splits the "thanks" copy off: its tag and the
     * cluster's other tags are replaced, the old ones retracted */
    av_writer *w = NULL;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    av_curate_dedup_opts o = {.dd = AV_DEDUP_OPTS_INIT};
    o.dd.threshold = 0.95;
    CHECK_EQ_INT(av_curate_dedup(w, &o, &rep), 0);
    CHECK_EQ_INT(rep.tagged, 5); /* 0, 1 (size 2 now), 3 (alone), 2 and 5 (apart at 0.95) */
    CHECK_EQ_INT(rep.retracted, 5);
    av_commit_opts co = {.message = "dedup", .command = "test"};
    uint32_t ver;
    CHECK_EQ_INT(av_writer_commit(w, &co, &ver), 1);
    v = collect(s, &n);
    b = find(v, n, hand[3]);
    CHECK(b && !strcmp(b->size, "1") && !strcmp(b->keep, "true"));
    for (size_t i = 0; i < n; i++) CHECK_EQ_INT(v[i].ntags, 1);
    views_free(v, n);
    av_store_close(s);
}

/* The 3000 generated prompts (see test_dedup_core.c). */
static char **load_sample(size_t *out_n)
{
    const char *src = getenv("AVIARY_SRC");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/dedup_prompts_3k.txt", src && *src ? src : ".");
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char **v = NULL, *line = NULL;
    size_t n = 0, cap = 0, lcap = 0;
    ssize_t len;
    int first = 1;
    while ((len = getline(&line, &lcap, f)) > 0) {
        if (first) { first = 0; continue; }
        if (line[len - 1] == '\n') line[--len] = 0;
        char *s = malloc((size_t)len + 1), *q = s;
        for (ssize_t i = 0; i < len; i++) {
            if (line[i] == '\\' && i + 1 < len) { i++; *q++ = line[i] == 'n' ? '\n' : line[i]; }
            else *q++ = line[i];
        }
        *q = 0;
        if (n == cap) v = realloc(v, (cap = cap ? cap * 2 : 1024) * sizeof *v);
        v[n++] = s;
    }
    free(line);
    fclose(f);
    *out_n = n;
    return v;
}

static void test_dedup_store__incremental_equals_scratch(void)
{
    size_t n = 0;
    char **t = load_sample(&n);
    CHECK(t && n == 3000);
    if (!t) return;
    n = 1500; /* enough duplicates, quick under ASan */
    size_t first = 1000;
    av_curate_dedup_report rep;

    av_store *inc = fresh_store();
    put_prompts(inc, (const char *const *)t, first);
    size_t n1 = count_prompts(inc);
    CHECK(n1 > 900 && n1 <= first);
    CHECK_EQ_INT(run_dedup(inc, &rep, 2), 1);
    CHECK_EQ_INT(rep.computed, n1);
    put_prompts(inc, (const char *const *)t + first, n - first);
    size_t n2 = count_prompts(inc);
    CHECK_EQ_INT(run_dedup(inc, &rep, 2), 1);
    CHECK_EQ_INT(rep.computed, n2 - n1); /* old signatures are not computed again */
    CHECK_EQ_INT(rep.reused, n1);
    CHECK(rep.st.duplicates > 20);

    av_store *scratch = fresh_store();
    put_prompts(scratch, (const char *const *)t, n);
    av_curate_dedup_report rep2;
    CHECK_EQ_INT(run_dedup(scratch, &rep2, 1), 1);
    CHECK_EQ_INT(rep2.computed, n2);
    CHECK_EQ_INT(rep2.st.clusters, rep.st.clusters);
    CHECK_EQ_INT(rep2.st.duplicates, rep.st.duplicates);
    CHECK_EQ_INT(rep2.st.candidates, rep.st.candidates);

    size_t na, nb;
    view *a = collect(inc, &na), *b = collect(scratch, &nb);
    CHECK_EQ_INT(na, nb);
    size_t same = 0;
    for (size_t i = 0; i < na && i < nb; i++) {
        CHECK_EQ_INT(a[i].ntags, 1);
        int eq = !strcmp(a[i].text, b[i].text) && a[i].rep_text && b[i].rep_text &&
                 !strcmp(a[i].rep_text, b[i].rep_text) && !strcmp(a[i].keep, b[i].keep) &&
                 !strcmp(a[i].sim, b[i].sim) && !strcmp(a[i].size, b[i].size);
        same += eq;
    }
    CHECK_EQ_INT(same, na);
    views_free(a, na);
    views_free(b, nb);
    av_store_close(inc);
    av_store_close(scratch);
    for (size_t i = 0; i < 3000; i++) free(t[i]);
    free(t);
}

int main(void)
{
    RUN(test_dedup_store__hand_clusters);
    RUN(test_dedup_store__incremental_equals_scratch);
    return tap_done();
}
