/* test_dedup_core.c: the pure MinHash/LSH/union-find core: shingles and
 * Jaccard, the aux codec, hand-made clusters with known answers (exact, near,
 * far), and recall/precision against brute-force Jaccard on 3000 generated
 * prompts (tests/data/dedup_prompts_3k.txt, make_corpus.py --dup-rate 0.1). */
#include <stdlib.h>

#include "curate/dedup.h"
#include "curate/normalize.h"
#include "tap.h"

static av_dedup *build(const char *const *texts, size_t n, const av_dedup_opts *o)
{
    av_dedup *d = NULL;
    CHECK_EQ_INT(av_dedup_new(&d, o, n), 0);
    av_buf scratch = AV_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        av_mh_item it = {0};
        av_mh_item_compute(&it, texts[i], strlen(texts[i]), o->ngram, o->perm, &scratch);
        av_dedup_set(d, i, 10 + 10 * i, &it);
        av_mh_item_release(&it);
    }
    av_buf_free(&scratch);
    return d;
}

static void test_dedup_core__shingles_and_jaccard(void)
{
    uint32_t *a, *b, na, nb;
    const char *x = "a b c d e f g", *y = "a b c d e f h";
    av_mh_shingles(&a, &na, x, strlen(x), 5);
    av_mh_shingles(&b, &nb, y, strlen(y), 5);
    CHECK_EQ_INT(na, 3);
    CHECK_EQ_INT(nb, 3);
    /* {abcde, bcdef, cdefg} vs {abcde, bcdef, cdefh}: 2 / 4 */
    CHECK(av_mh_jaccard(a, na, b, nb) == 0.5);
    CHECK(av_mh_jaccard(a, na, a, na) == 1.0);
    free(a);
    free(b);
    av_mh_shingles(&a, &na, "short one", 9, 5); /* fewer words than n: one shingle */
    CHECK_EQ_INT(na, 1);
    free(a);
    av_mh_shingles(&a, &na, "", 0, 5);
    CHECK_EQ_INT(na, 0);
    CHECK(a == NULL);
    av_mh_shingles(&a, &na, "x x x x x x x x", 15, 2); /* repeated n-grams count once */
    CHECK_EQ_INT(na, 1);
    free(a);
}

static void test_dedup_core__signature_estimates_jaccard(void)
{
    /* two sets of 200 numbers sharing 150: J = 150/250 = 0.6 */
    uint32_t a[200], b[200];
    for (uint32_t i = 0; i < 200; i++) { a[i] = i * 7; b[i] = (i + 50) * 7; }
    uint32_t sa[1024], sb[1024];
    av_mh_signature(sa, a, 200, 1024);
    av_mh_signature(sb, b, 200, 1024);
    double e = av_mh_estimate(sa, sb, 1024);
    CHECK(e > 0.52 && e < 0.68);
    CHECK(av_mh_jaccard(a, 200, b, 200) == 0.6);
}

static void test_dedup_core__codec_roundtrip(void)
{
    av_buf scratch = AV_BUF_INIT;
    av_mh_item it = {0}, back = {0};
    const char *t = "The quick brown fox jumps over the lazy dog near the river bank";
    av_mh_item_compute(&it, t, strlen(t), 5, 112, &scratch);
    void *v;
    size_t len;
    av_mh_encode(&v, &len, &it, 5, 112);
    CHECK_EQ_INT(av_mh_decode(&back, v, len, 5, 112), 0);
    CHECK_EQ_INT(back.nsh, it.nsh);
    CHECK(!memcmp(back.sh, it.sh, it.nsh * 4));
    CHECK(!memcmp(back.sig, it.sig, 112 * 4));
    CHECK(back.exact[0] == it.exact[0] && back.exact[1] == it.exact[1]);
    av_mh_item_release(&back);
    CHECK_EQ_INT(av_mh_decode(&back, v, len, 3, 112), 1); /* other parameters: recompute */
    CHECK_EQ_INT(av_mh_decode(&back, v, len, 5, 128), 1);
    CHECK(av_mh_decode(&back, v, len - 1, 5, 112) < 0); /* truncated */
    ((unsigned char *)v)[0] = 'X';
    CHECK(av_mh_decode(&back, v, len, 5, 112) < 0);
    free(v);
    av_mh_item_release(&it);
    av_buf_free(&scratch);
}

/* Stored values are read back from the store: any bytes must be refused or
 * decoded, never crash (run under ASan). Truncations, random bytes and
 * single-byte flips of a valid value. */
static void test_dedup_core__codec_hostile_bytes(void)
{
    av_buf scratch = AV_BUF_INIT;
    av_mh_item it = {0}, back = {0};
    const char *t = "one two three four five six seven eight nine ten eleven twelve";
    av_mh_item_compute(&it, t, strlen(t), 5, 112, &scratch);
    void *v;
    size_t len;
    av_mh_encode(&v, &len, &it, 5, 112);
    unsigned char *b = v;
    for (size_t cut = 0; cut < len; cut++) CHECK(av_mh_decode(&back, b, cut, 5, 112) < 0);
    int decoded = 0;
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            b[i] ^= (unsigned char)(1 << bit);
            int rc = av_mh_decode(&back, b, len, 5, 112);
            CHECK(rc <= 1);
            if (rc == 0) {
                decoded++;
                av_mh_item_release(&back);
            }
            b[i] ^= (unsigned char)(1 << bit);
        }
    }
    CHECK(decoded > 0); /* flips in the signature are still a well-formed value */
    uint64_t st = 42;
    unsigned char junk[700];
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(st % sizeof junk);
        for (size_t i = 0; i < n; i++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            junk[i] = (unsigned char)(st >> 56);
        }
        if (n >= 3 && round % 2) { junk[0] = 'M'; junk[1] = 'H'; junk[2] = 1; }
        int rc = av_mh_decode(&back, junk, n, 5, 112);
        CHECK(rc <= 1);
        if (rc == 0) av_mh_item_release(&back);
    }
    free(v);
    av_mh_item_release(&it);
    av_buf_free(&scratch);
}

static const char *const hand[] = {
    /* 0 */ "Explain how the garbage collector in CPython finds reference cycles between container objects.",
    /* 1 */ "explain how the GARBAGE collector in cpython finds reference cycles, between container objects!",
    /* 2 */ "Write a short poem about the sea at night, with the moon and the waves and a lighthouse far away.",
    /* 3 */ "Explain how the garbage collector in CPython finds reference cycles between container objects. Thanks.",
    /* 4 */ "What is the capital of France and why did it become the capital city in the first place?",
    /* 5 */ "Write a short poem about the sea at night, with the moon and the waves and a lighthouse far away, please.",
    /* 6 */ "Caf\xC3\xA9 owners in 2019 reported 15 percent growth; what explains the change for caf\xC3\xA9s?",
    /* 7 */ "CAFE owners in 2023 reported 99 percent growth -- what explains the change for cafes",
    /* 8 */ "",
    /* 9 */ "?!",
};

static void test_dedup_core__hand_clusters(void)
{
    av_dedup_opts o = AV_DEDUP_OPTS_INIT;
    av_dedup *d = build(hand, 10, &o);
    av_dedup_stats st;
    CHECK_EQ_INT(av_dedup_run(d, &st), 0);
    av_dedup_result r[10];
    for (size_t i = 0; i < 10; i++) av_dedup_result_get(d, i, &r[i]);
    /* exact after normalisation: 1 = 0, 7 = 6, 9 = 8 (both empty) */
    CHECK_EQ_INT(r[1].rep_row, 10);
    CHECK(r[1].similarity == 1.0 && r[0].similarity == 1.0);
    CHECK_EQ_INT(r[7].rep_row, r[6].row);
    CHECK_EQ_INT(r[9].rep_row, r[8].row);
    /* near: 3 is 0 plus "thanks" (J = 11/12), 5 is 2 plus "please" */
    CHECK_EQ_INT(r[3].rep_row, 10);
    CHECK_EQ_INT(r[0].size, 3);
    CHECK(r[3].similarity == 0.9); /* 13 words: 9 five-grams, plus one */
    CHECK_EQ_INT(r[5].rep_row, r[2].row);
    CHECK_EQ_INT(r[2].size, 2);
    /* far: 4 is alone */
    CHECK_EQ_INT(r[4].rep_row, r[4].row);
    CHECK_EQ_INT(r[4].size, 1);
    CHECK(r[4].similarity < 0.5);
    CHECK_EQ_INT(st.items, 10);
    CHECK_EQ_INT(st.exact_dups, 3);
    CHECK_EQ_INT(st.clusters, 4);
    CHECK_EQ_INT(st.duplicates, 5);
    av_dedup_free(d);

    /* exact only: the near copies stay apart */
    o.near = 0;
    d = build(hand, 10, &o);
    CHECK_EQ_INT(av_dedup_run(d, &st), 0);
    av_dedup_result_get(d, 3, &r[3]);
    av_dedup_result_get(d, 0, &r[0]);
    CHECK_EQ_INT(r[3].size, 1);
    CHECK_EQ_INT(r[0].size, 2);
    CHECK_EQ_INT(st.duplicates, 3);
    av_dedup_free(d);

    /* near only: the empty texts are not compared; a strict threshold splits 3 off */
    o.near = 1;
    o.exact = 0;
    o.threshold = 0.95;
    d = build(hand, 10, &o);
    CHECK_EQ_INT(av_dedup_run(d, &st), 0);
    for (size_t i = 0; i < 10; i++) av_dedup_result_get(d, i, &r[i]);
    CHECK_EQ_INT(r[9].size, 1);
    CHECK_EQ_INT(r[3].size, 1);
    CHECK_EQ_INT(r[1].rep_row, 10);
    CHECK_EQ_INT(r[0].size, 2);
    av_dedup_free(d);
}

static void test_dedup_core__bad_opts(void)
{
    av_dedup *d = NULL;
    av_dedup_opts o = AV_DEDUP_OPTS_INIT;
    o.bands = 15;
    CHECK(av_dedup_new(&d, &o, 3) < 0);
    o = (av_dedup_opts)AV_DEDUP_OPTS_INIT;
    o.threshold = 0;
    CHECK(av_dedup_new(&d, &o, 3) < 0);
    o.threshold = 1.5;
    CHECK(av_dedup_new(&d, &o, 3) < 0);
    o = (av_dedup_opts)AV_DEDUP_OPTS_INIT;
    o.ngram = 0;
    CHECK(av_dedup_new(&d, &o, 3) < 0);
    CHECK(d == NULL);
}

/* ---- recall and precision on generated prompts ---- */

static char **load_sample(size_t *out_n)
{
    const char *src = getenv("AVIARY_SRC");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/dedup_prompts_3k.txt", src && *src ? src : ".");
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char **v = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int first = 1;
    while ((len = getline(&line, &lcap, f)) > 0) {
        if (first) { first = 0; continue; } /* the header */
        if (line[len - 1] == '\n') line[--len] = 0;
        char *s = malloc((size_t)len + 1), *q = s;
        for (ssize_t i = 0; i < len; i++) {
            if (line[i] == '\\' && i + 1 < len) {
                i++;
                *q++ = line[i] == 'n' ? '\n' : line[i];
            } else {
                *q++ = line[i];
            }
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

struct pairlog {
    size_t n;
    unsigned char *cand; /* n x n bitmap of proposed pairs */
};

static void on_pair(void *ctx, size_t a, size_t b, double j)
{
    struct pairlog *pl = ctx;
    (void)j;
    pl->cand[a * pl->n + b] = 1;
}

static void test_dedup_core__recall_vs_brute_force(void)
{
    size_t n = 0;
    char **texts = load_sample(&n);
    CHECK(texts != NULL);
    if (!texts) return;
    CHECK_EQ_INT(n, 3000);
    av_dedup_opts o = AV_DEDUP_OPTS_INIT;
    av_dedup *d = build((const char *const *)texts, n, &o);
    /* brute force needs the sets too */
    uint32_t **sh = malloc(n * sizeof *sh), *nsh = malloc(n * sizeof *nsh);
    av_buf b = AV_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        av_text_normalize(&b, texts[i], strlen(texts[i]));
        av_mh_shingles(&sh[i], &nsh[i], b.ptr, b.len, 5);
    }
    av_buf_free(&b);
    struct pairlog pl = {n, calloc(n * n, 1)};
    av_dedup_on_pair(d, on_pair, &pl);
    av_dedup_stats st;
    CHECK_EQ_INT(av_dedup_run(d, &st), 0);
    av_dedup_result *r = malloc(n * sizeof *r);
    for (size_t i = 0; i < n; i++) av_dedup_result_get(d, i, &r[i]);

    size_t hi = 0, hi_found = 0, th = 0, th_found = 0, same = 0, same_ok = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double jac = av_mh_jaccard(sh[i], nsh[i], sh[j], nsh[j]);
            int together = r[i].rep == r[j].rep;
            if (jac >= 0.8) { hi++; hi_found += together; }
            if (jac >= 0.7) { th++; th_found += together; }
            if (together) { same++; same_ok += jac >= 0.7; }
            /* every candidate joined is really at or above the threshold */
            if (pl.cand[i * n + j] && jac >= 0.7) CHECK(together);
        }
    double recall8 = (double)hi_found / hi, recall7 = (double)th_found / th, precision = (double)same_ok / same;
    printf("# 3000 prompts: %zu pairs J>=0.8 (recall %.4f), %zu pairs J>=0.7 (recall %.4f), "
           "%zu pairs clustered (precision %.4f), %zu candidates, %zu clusters\n",
           hi, recall8, th, recall7, same, precision, st.candidates, st.clusters);
    CHECK(hi > 100); /* the sample really has near duplicates */
    CHECK(recall8 >= 0.95);
    CHECK(precision >= 0.95);
    for (size_t i = 0; i < n; i++) { free(sh[i]); free(texts[i]); }
    free(sh);
    free(nsh);
    free(texts);
    free(pl.cand);
    free(r);
    av_dedup_free(d);
}

int main(void)
{
    RUN(test_dedup_core__shingles_and_jaccard);
    RUN(test_dedup_core__signature_estimates_jaccard);
    RUN(test_dedup_core__codec_roundtrip);
    RUN(test_dedup_core__codec_hostile_bytes);
    RUN(test_dedup_core__hand_clusters);
    RUN(test_dedup_core__bad_opts);
    RUN(test_dedup_core__recall_vs_brute_force);
    return tap_done();
}
