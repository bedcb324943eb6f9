/* test_curate_magpie.c: Magpie's 300K recipe on a small hand-made store gives
 * exactly the rows the recipe selects: quality, reward, trailing ':', cluster
 * representative (aviary's dedup tags, else Magpie's min_similar_uuid),
 * one row per prompt, longest responses first (in code points), top N,
 * seeded shuffle; and the selection is tag records that a reader at the
 * named version finds. Magpie's columns sit in a tag record on the response
 * (as ingest stores a row) or on the prompt; both are read. */
#include <stdlib.h>

#include "curate/curate.h"
#include "tap.h"

typedef struct spec {
    const char *instr, *quality, *reward, *similar; /* JSON values; NULL = attribute absent */
    size_t len[2];                                  /* response lengths (code points); 0 = none */
    int accented;                                   /* response of 2-byte characters */
    int on_prompt;                                  /* the Magpie tag is on the prompt, not each response */
    const char *quality2;                           /* the second response's input_quality, if other */
} spec;

#define BASE "Describe photosynthesis in plants step by step for a school project about biology and light."
static const spec specs[] = {
    /* P0 */ {BASE, "\"good\"", "1.0", "null", {500, 0}, 0, 0, NULL},
    /* P1 */ {BASE " Thanks.", "\"excellent\"", "2.0", "\"u0\"", {900, 0}, 0, 0, NULL},
    /* P2 */ {"Summarise the plot of a famous novel about whales and a captain chasing one across oceans.", "\"average\"", "3.0", "null", {1000, 0}, 0, 0, NULL},
    /* P3 */ {"Write a haiku about autumn leaves falling into a quiet pond near an old stone temple.", "\"excellent\"", "-10.0", "null", {800, 0}, 0, 0, NULL},
    /* P4 */ {"How do I reverse a linked list in C without using recursion or any extra arrays at all?", "\"good\"", "-9.99", "null", {300, 0}, 0, 0, NULL},
    /* P5 */ {"List the steps to change a flat tyre on a bicycle, from removing the wheel onward:", "\"good\"", "0", "null", {950, 0}, 0, 0, NULL},
    /* P6 */ {"Compare the economic policies of two neighbouring countries over the last ten years in detail.", "\"excellent\"", "5", "null", {200, 700}, 0, 1, NULL},
    /* P7 */ {"Translate this friendly greeting into French and explain the accents used in each word.", "\"good\"", "1", "null", {600, 0}, 1, 0, NULL},
    /* P8 */ {"What are three good exercises for strengthening the lower back after sitting all day long?", "\"good\"", "0.5", "null", {100, 0}, 0, 0, NULL},
    /* P9 */ {"Plan a three day trip to the mountains with hiking, a lake visit and a local food tour.", "\"good\"", NULL, "null", {850, 0}, 0, 0, NULL},
    /* P10 */ {"Explain why the sky looks blue during the day but red and orange around sunset time.", "\"excellent\"", "2", "\"u-other\"", {400, 0}, 0, 0, NULL},
    /* P11 */ {"Suggest a name for a small bakery that sells sourdough bread and cinnamon buns in town.", "\"poor\"", "1", "null", {650, 250}, 0, 0, "\"good\""},
};
#define NSPEC (sizeof specs / sizeof specs[0])

static uint64_t resp_row[NSPEC][2];

static av_store *build(void)
{
    const char *dir = tap_tmpdir();
    av_store *s = NULL;
    CHECK_EQ_INT(av_store_init(dir), 0);
    CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDWR), 0);
    av_writer *w = NULL;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    for (size_t i = 0; i < NSPEC; i++) {
        const spec *sp = &specs[i];
        av_msg m = {"user", {sp->instr, strlen(sp->instr), {{0}}, 0}};
        av_record p;
        av_record_init(&p);
        p.kind = AV_PROMPT;
        p.nmsg = 1;
        p.msg = &m;
        CHECK_EQ_INT(av_writer_put(w, &p), 1);
        for (int k = -1; k < 2; k++) {
            /* k = -1: the prompt's tag (if on_prompt); 0, 1: a response and its tag */
            uint64_t target = p.row;
            if (k >= 0) {
                size_t len = sp->len[k];
                if (!len) continue;
                av_buf b = AV_BUF_INIT;
                for (size_t c = 0; c < len; c++) av_buf_puts(&b, sp->accented ? "\xC3\xA9" : (k ? "b" : "a"));
                av_msg rm = {"assistant", {b.ptr, b.len, {{0}}, 0}};
                av_record r;
                av_record_init(&r);
                r.kind = AV_RESPONSE;
                r.ref[0] = p.row;
                r.nmsg = 1;
                r.msg = &rm;
                CHECK_EQ_INT(av_writer_put(w, &r), 1);
                resp_row[i][k] = target = r.row;
                av_buf_free(&b);
                if (sp->on_prompt) continue;
            } else if (!sp->on_prompt) {
                continue;
            }
            char uuid[32];
            snprintf(uuid, sizeof uuid, "\"u%zu%s\"", i, k == 1 ? "b" : "");
            const char *quality = k == 1 && sp->quality2 ? sp->quality2 : sp->quality;
            av_attr a[4];
            uint32_t na = 0;
            memset(a, 0, sizeof a);
            a[na].key = "uuid", a[na].json.ptr = uuid, a[na++].json.len = strlen(uuid);
            a[na].key = "input_quality", a[na].json.ptr = quality, a[na++].json.len = strlen(quality);
            if (sp->reward) a[na].key = "instruct_reward", a[na].json.ptr = sp->reward, a[na++].json.len = strlen(sp->reward);
            a[na].key = "min_similar_uuid", a[na].json.ptr = sp->similar, a[na++].json.len = strlen(sp->similar);
            av_record t;
            av_record_init(&t);
            t.kind = AV_TAG;
            t.ref[0] = target;
            t.nattr = na;
            t.attr = a;
            CHECK_EQ_INT(av_writer_put(w, &t), 1);
        }
    }
    av_commit_opts o = {.message = "build", .command = "test"};
    uint32_t v;
    CHECK_EQ_INT(av_writer_commit(w, &o, &v), 1);
    return s;
}

/* Runs the recipe and names the version; returns the rows in shuffled order. */
static uint64_t *curate(av_store *s, const char *name, size_t top, uint64_t seed, av_curate_magpie_report *rep,
                        size_t *n, uint32_t *ver)
{
    av_writer *w = NULL;
    uint64_t *rows = NULL;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    av_curate_magpie_opts o = {.top = top, .seed = seed, .name = name};
    CHECK_EQ_INT(av_curate_magpie(w, &o, rep, &rows, n), 0);
    av_commit_opts co = {.message = "curate", .command = "test", .allow_empty = 1};
    CHECK_EQ_INT(av_writer_commit(w, &co, ver), 1);
    CHECK_EQ_INT(av_label_set(s, name, *ver, 0), 0);
    return rows;
}

/* The selection as a reader at the name sees it: tag records
 * {curate: name, curate_rank: i} on the chosen responses. */
static void check_tags(av_store *s, const char *name, const uint64_t *rows, size_t n)
{
    uint32_t v;
    CHECK_EQ_INT(av_label_get(s, name, &v), 0);
    av_reader *r = NULL;
    CHECK_EQ_INT(av_reader_open(&r, s, v), 0);
    char json[64];
    snprintf(json, sizeof json, "\"%s\"", name);
    av_iter *it = NULL;
    CHECK_EQ_INT(av_iter_attr(&it, r, "curate", json, strlen(json)), 0);
    uint64_t row;
    size_t seen = 0;
    av_record rec;
    av_record_init(&rec);
    while (av_iter_next(it, &row) > 0) {
        CHECK_EQ_INT(av_get(r, row, AV_GET_TEXT, &rec), 0);
        const av_attr *a = av_record_attr(&rec, "curate_rank");
        CHECK(a != NULL);
        if (!a) continue;
        size_t rank = strtoul(a->json.ptr, NULL, 10);
        CHECK(rank < n);
        if (rank < n) CHECK_EQ_INT(rec.ref[0], rows[rank]);
        seen++;
    }
    CHECK_EQ_INT(seen, n);
    av_record_free(&rec);
    av_iter_free(it);
    av_reader_close(r);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Expected: the given rows (already longest first), shuffled by seed. */
static void check_order(const uint64_t *got, size_t n, const uint64_t *sorted, uint64_t seed)
{
    uint64_t e[16];
    memcpy(e, sorted, n * sizeof *e);
    av_curate_shuffle(e, n, seed);
    for (size_t i = 0; i < n; i++) CHECK_EQ_INT(got[i], e[i]);
    /* and it is the same set */
    uint64_t a[16], b[16];
    memcpy(a, got, n * sizeof *a);
    memcpy(b, sorted, n * sizeof *b);
    qsort(a, n, sizeof *a, cmp_u64);
    qsort(b, n, sizeof *b, cmp_u64);
    CHECK(!memcmp(a, b, n * sizeof *a));
}

static void test_curate_magpie__recipe_without_and_with_dedup(void)
{
    av_store *s = build();
    av_curate_magpie_report rep;
    size_t n;
    uint32_t v1, v2;

    /* no dedup tags: Magpie's min_similar_uuid drops P1 (points at u0) and P10 */
    uint64_t *rows = curate(s, "m1", 4, 42, &rep, &n, &v1);
    CHECK_EQ_INT(rep.units, 14);      /* rows: P6 and P11 have two responses */
    CHECK_EQ_INT(rep.quality_ok, 12); /* not P2, not P11's first response */
    CHECK_EQ_INT(rep.reward_ok, 10);  /* not P3 (-10), not P9 (no reward) */
    CHECK_EQ_INT(rep.colon_ok, 9);    /* not P5 */
    CHECK_EQ_INT(rep.rep_ok, 7);      /* not P1, not P10 */
    CHECK_EQ_INT(rep.no_dedup, 7);
    CHECK_EQ_INT(rep.prompts, 6);
    CHECK_EQ_INT(n, 4);
    /* P6's longer response (700), P7 (600 code points, 1200 bytes), P0 (500), P4 (300) */
    uint64_t want1[] = {resp_row[6][1], resp_row[7][0], resp_row[0][0], resp_row[4][0]};
    check_order(rows, n, want1, 42);
    check_tags(s, "m1", rows, n);
    free(rows);

    /* dedup: P1 is a near copy of P0 (P0 is the representative); P10 is unique */
    av_writer *w = NULL;
    CHECK_EQ_INT(av_writer_open(&w, s), 0);
    av_curate_dedup_opts o = {.dd = AV_DEDUP_OPTS_INIT};
    av_curate_dedup_report drep;
    CHECK_EQ_INT(av_curate_dedup(w, &o, &drep), 0);
    CHECK_EQ_INT(drep.st.duplicates, 1);
    av_commit_opts co = {.message = "dedup", .command = "test"};
    uint32_t dv;
    CHECK_EQ_INT(av_writer_commit(w, &co, &dv), 1);

    rows = curate(s, "m2", 4, 42, &rep, &n, &v2);
    CHECK_EQ_INT(rep.rep_ok, 8); /* P10 is back (dedup_keep wins), P1 still out */
    CHECK_EQ_INT(rep.no_dedup, 0);
    CHECK_EQ_INT(rep.prompts, 7);
    uint64_t want2[] = {resp_row[6][1], resp_row[7][0], resp_row[0][0], resp_row[10][0]};
    check_order(rows, n, want2, 42);
    check_tags(s, "m2", rows, n);
    free(rows);

    /* more than there are: all seven, longest first, shuffled with another
     * seed; P11 comes with its second response (the first is "poor") */
    rows = curate(s, "all", 100, 7, &rep, &n, &v2);
    CHECK_EQ_INT(n, 7);
    uint64_t want3[] = {resp_row[6][1], resp_row[7][0], resp_row[0][0], resp_row[10][0],
                        resp_row[4][0], resp_row[11][1], resp_row[8][0]};
    check_order(rows, n, want3, 7);
    check_tags(s, "all", rows, n);
    free(rows);
    av_store_close(s);
}

static void test_curate_magpie__shuffle_is_seeded(void)
{
    uint64_t a[50], b[50], c[50];
    for (int i = 0; i < 50; i++) a[i] = b[i] = c[i] = (uint64_t)i;
    av_curate_shuffle(a, 50, 42);
    av_curate_shuffle(b, 50, 42);
    av_curate_shuffle(c, 50, 43);
    CHECK(!memcmp(a, b, sizeof a));
    CHECK(memcmp(a, c, sizeof a) != 0);
    int moved = 0, sum = 0;
    for (int i = 0; i < 50; i++) { moved += a[i] != (uint64_t)i; sum += (int)a[i]; }
    CHECK(moved > 40);
    CHECK_EQ_INT(sum, 49 * 50 / 2); /* a permutation */
}

int main(void)
{
    RUN(test_curate_magpie__recipe_without_and_with_dedup);
    RUN(test_curate_magpie__shuffle_is_seeded);
    return tap_done();
}
