/* test_ingest_map.c: field by field, what each format's rows become in the
 * store (prompts, responses with models, ratings with aspects, N/A as NaN,
 * rationales and critiques, preferences with P(A better), row tags with the
 * unmodelled fields), provenance (source record with the file's SHA-256,
 * links to rows), model licence tags, idempotency, and make_corpus.py
 * output round-tripping. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/models.h"
#include "util/sha256.h"
#include "ingest_testutil.h"

static char pb[1024];

static const char *sample(const char *name)
{
    const char *src = getenv("AVIARY_SRC");
    snprintf(pb, sizeof pb, "%s/tests/data/ingest/%s", src ? src : ".", name);
    return pb;
}

typedef struct fx {
    av_store *s;
    av_reader *r;
    av_record rec;
} fx;

static int fx_open(fx *f, const char *file)
{
    const char *dir = new_store();
    av_ingest_stats st;
    if (ingest_into(dir, sample(file), NULL, 0, NULL, &st) < 0) {
        fprintf(stderr, "%s: %s\n", file, av_errmsg());
        return -1;
    }
    if (av_store_open(&f->s, dir, AV_OPEN_RDONLY) < 0 || av_reader_open(&f->r, f->s, 0) < 0) return -1;
    av_record_init(&f->rec);
    return 0;
}

static void fx_close(fx *f)
{
    av_record_free(&f->rec);
    av_reader_close(f->r);
    av_store_close(f->s);
}

/* The row of the only tag with attr key = json, or 0. */
static uint64_t tag_where(fx *f, const char *key, const char *json)
{
    av_iter *it;
    if (av_iter_attr(&it, f->r, key, json, strlen(json)) < 0) return 0;
    uint64_t row = 0, r2;
    if (av_iter_next(it, &row) != 1) row = 0;
    if (av_iter_next(it, &r2) == 1) row = 0;
    av_iter_free(it);
    return row;
}

static int attr_eq(const av_record *r, const char *key, const char *json)
{
    const av_attr *a = av_record_attr(r, key);
    int ok = a && a->json.ptr && a->json.len == strlen(json) && !memcmp(a->json.ptr, json, a->json.len);
    if (!ok) fprintf(stderr, "  attr %s = %.*s, want %s\n", key, a && a->json.ptr ? (int)a->json.len : 6,
                     a && a->json.ptr ? a->json.ptr : "(none)", json);
    return ok;
}

static int msg_eq(const av_record *r, uint32_t i, const char *role, const char *text)
{
    return i < r->nmsg && !strcmp(r->msg[i].role, role) && r->msg[i].text.ptr &&
           r->msg[i].text.len == strlen(text) && !memcmp(r->msg[i].text.ptr, text, r->msg[i].text.len);
}

/* Rows referring to target of one kind, ascending. */
static size_t refs_of(fx *f, uint64_t target, av_kind kind, uint64_t *out, size_t cap)
{
    av_iter *it;
    size_t n = 0;
    if (av_iter_refs(&it, f->r, target) < 0) return 0;
    uint64_t row;
    av_record t;
    av_record_init(&t);
    while (av_iter_next(it, &row) == 1)
        if (av_get(f->r, row, 0, &t) == 0 && t.kind == kind && n < cap) out[n++] = row;
    av_record_free(&t);
    av_iter_free(it);
    return n;
}

static const char *model_name(fx *f, uint64_t row, char *buf, size_t cap)
{
    av_record m;
    av_record_init(&m);
    buf[0] = 0;
    if (row && av_get(f->r, row, 0, &m) == 0 && m.name) snprintf(buf, cap, "%s", m.name);
    av_record_free(&m);
    return buf;
}

static const char *q1 = "How do I reverse a list in Python without changing the original?";
static const char *a1 = "Use slicing: `reversed_copy = items[::-1]`. It builds a new list and leaves `items` as it was.";

static void test_ingest_map__magpie_tagged(void)
{
    fx f;
    if (fx_open(&f, "magpie_tagged.jsonl") < 0) {
        CHECK(0);
        return;
    }
    uint64_t tag = tag_where(&f, "uuid", "\"a1\"");
    CHECK(tag != 0);
    CHECK_EQ_INT(av_get(f.r, tag, AV_GET_TEXT, &f.rec), 0);
    CHECK(attr_eq(&f.rec, "_fmt", "\"magpie\""));
    CHECK(attr_eq(&f.rec, "task_category", "\"Coding & Debugging\""));
    CHECK(attr_eq(&f.rec, "other_task_category", "[\"Information seeking\"]"));
    CHECK(attr_eq(&f.rec, "instruct_reward", "3.140625"));
    CHECK(attr_eq(&f.rec, "min_neighbor_distance", "0.0"));
    CHECK(attr_eq(&f.rec, "min_similar_uuid", "null"));
    CHECK(attr_eq(&f.rec, "language", "\"EN\""));
    CHECK(attr_eq(&f.rec, "gen_input_configs",
                  "{\"temperature\":1.0,\"top_p\":1.0,\"input_generator\":\"meta-llama/Meta-Llama-3-70B-Instruct\","
                  "\"seed\":null,\"extract_input\":\"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\\n\\n\"}"));
    /* instruction, response and conversations are records, not tag fields */
    CHECK(av_record_attr(&f.rec, "instruction") == NULL);
    CHECK(av_record_attr(&f.rec, "conversations") == NULL);
    const av_attr *tpl = av_record_attr(&f.rec, "_tpl");
    CHECK(tpl && tpl->json.ptr && !memmem(tpl->json.ptr, tpl->json.len, "reverse a list", 14));
    uint64_t resp = f.rec.ref[0];
    uint64_t tagrow = tag;
    CHECK_EQ_INT(av_get(f.r, resp, AV_GET_TEXT, &f.rec), 0);
    CHECK_EQ_INT(f.rec.kind, AV_RESPONSE);
    CHECK(msg_eq(&f.rec, 0, "assistant", a1));
    char mn[200];
    CHECK_EQ_STR(model_name(&f, f.rec.model, mn, sizeof mn), "meta-llama/Meta-Llama-3-70B-Instruct");
    uint64_t prompt = f.rec.ref[0];
    CHECK_EQ_INT(av_get(f.r, prompt, AV_GET_TEXT, &f.rec), 0);
    CHECK_EQ_INT(f.rec.kind, AV_PROMPT);
    CHECK_EQ_INT(f.rec.nmsg, 1);
    CHECK(msg_eq(&f.rec, 0, "user", q1));
    /* the instruction's writer: gen_input_configs.input_generator */
    CHECK_EQ_STR(model_name(&f, f.rec.model, mn, sizeof mn), "meta-llama/Meta-Llama-3-70B-Instruct");
    /* provenance: line 1 of the file, whose source record has its hash */
    av_prov pv[4];
    size_t np = 0;
    CHECK_EQ_INT(av_prov_get(f.r, resp, pv, 4, &np), 0);
    CHECK_EQ_INT(np, 1);
    CHECK_EQ_INT(pv[0].line, 1);
    size_t np2 = 0;
    av_prov_get(f.r, tagrow, pv + 1, 1, &np2);
    CHECK_EQ_INT(np2, 1);
    CHECK_EQ_INT(av_get(f.r, pv[0].source, AV_GET_TEXT, &f.rec), 0);
    CHECK_EQ_INT(f.rec.kind, AV_SOURCE);
    CHECK_EQ_STR(f.rec.name, "test");
    CHECK(attr_eq(&f.rec, "file", "\"magpie_tagged.jsonl\""));
    CHECK(attr_eq(&f.rec, "format", "\"magpie\""));
    CHECK(attr_eq(&f.rec, "url", "\"https://example.org/data\""));
    CHECK(attr_eq(&f.rec, "licence", "\"cc-by-4.0\""));
    size_t flen;
    char *file = av_read_file(sample("magpie_tagged.jsonl"), &flen);
    av_sha256 h;
    av_sha256_init(&h);
    av_sha256_update(&h, file, flen);
    char hex[68] = "\"";
    av_sha256_final_hex(&h, hex + 1);
    hex[65] = '"';
    hex[66] = 0;
    CHECK(attr_eq(&f.rec, "sha256", hex));
    free(file);
    /* the third row: unsafe with its own uuid as cluster head */
    uint64_t t3 = tag_where(&f, "uuid", "\"a3\"");
    CHECK_EQ_INT(av_get(f.r, t3, AV_GET_TEXT, &f.rec), 0);
    CHECK(attr_eq(&f.rec, "llama_guard_2", "\"unsafe\\nS2\""));
    CHECK(attr_eq(&f.rec, "min_similar_uuid", "\"a1\""));
    CHECK(attr_eq(&f.rec, "instruct_reward", "-12.5"));
    /* the model carries its licence */
    uint64_t mrow;
    CHECK_EQ_INT(av_find_model(f.r, "meta-llama/Meta-Llama-3-70B-Instruct", &mrow), 0);
    uint64_t lt[4];
    CHECK_EQ_INT(refs_of(&f, mrow, AV_TAG, lt, 4), 1);
    CHECK_EQ_INT(av_get(f.r, lt[0], AV_GET_TEXT, &f.rec), 0);
    CHECK(attr_eq(&f.rec, "licence", "\"llama3\""));
    fx_close(&f);
}

static void test_ingest_map__magpie_dpo_python_repr(void)
{
    fx f;
    if (fx_open(&f, "magpie_dpo.json") < 0) {
        CHECK(0);
        return;
    }
    uint64_t tag = tag_where(&f, "uuid", "\"d1\"");
    CHECK_EQ_INT(av_get(f.r, tag, AV_GET_TEXT, &f.rec), 0);
    /* Python-repr strings stay strings */
    CHECK(attr_eq(&f.rec, "gen_input_configs", "\"{'temperature': 1.1, 'top_p': 1.0}\""));
    uint64_t prompt = f.rec.ref[0];
    CHECK_EQ_INT(av_get(f.r, prompt, 0, &f.rec), 0);
    CHECK_EQ_INT(f.rec.kind, AV_PROMPT);
    uint64_t resp[8], pref[2];
    CHECK_EQ_INT(refs_of(&f, prompt, AV_RESPONSE, resp, 8), 5);
    CHECK_EQ_INT(refs_of(&f, prompt, AV_PREFERENCE, pref, 2), 1);
    CHECK_EQ_INT(av_get(f.r, pref[0], 0, &f.rec), 0);
    CHECK_EQ_STR(f.rec.name, "armorm");
    CHECK(f.rec.num == 1.0);
    CHECK_EQ_INT(f.rec.ref[1], resp[0]); /* chosen = the first response, not a copy */
    CHECK_EQ_INT(f.rec.ref[2], resp[3]);
    uint64_t rt[2];
    CHECK_EQ_INT(refs_of(&f, resp[3], AV_RATING, rt, 2), 1);
    CHECK_EQ_INT(av_get(f.r, rt[0], 0, &f.rec), 0);
    CHECK_EQ_STR(f.rec.name, "armorm");
    CHECK(f.rec.num == 0.01);
    fx_close(&f);
}

static void test_ingest_map__ultrafeedback(void)
{
    fx f;
    if (fx_open(&f, "ultrafeedback_raw.jsonl") < 0) {
        CHECK(0);
        return;
    }
    uint64_t tag = tag_where(&f, "source", "\"evol_instruct\"");
    CHECK_EQ_INT(av_get(f.r, tag, AV_GET_TEXT, &f.rec), 0);
    CHECK(attr_eq(&f.rec, "correct_answers", "[\"None\"]"));
    uint64_t prompt = f.rec.ref[0];
    uint64_t resp[8];
    /* four completions; gpt-4 and falcon wrote the same text: two records */
    CHECK_EQ_INT(refs_of(&f, prompt, AV_RESPONSE, resp, 8), 4);
    CHECK_EQ_INT(av_get(f.r, resp[3], AV_GET_TEXT, &f.rec), 0);
    char mn[100];
    CHECK_EQ_STR(model_name(&f, f.rec.model, mn, sizeof mn), "falcon-40b-instruct");
    CHECK(msg_eq(&f.rec, 0, "assistant", a1));
    CHECK(msg_eq(&f.rec, 1, "system", "You are a helpful assistant."));
    uint64_t rt[8];
    CHECK_EQ_INT(refs_of(&f, resp[3], AV_RATING, rt, 8), 6);
    int seen = 0;
    for (int i = 0; i < 6; i++) {
        CHECK_EQ_INT(av_get(f.r, rt[i], AV_GET_TEXT, &f.rec), 0);
        if (!strcmp(f.rec.name, "helpfulness")) {
            seen |= 1;
            CHECK(isnan(f.rec.num)); /* "N/A" */
            CHECK(msg_eq(&f.rec, 0, "rationale", "Accurate and useful."));
            CHECK(msg_eq(&f.rec, 1, "rationale_for_rating", "It answers the question."));
            CHECK(attr_eq(&f.rec, "Type", "[\"1\",\"2\"]"));
        } else if (!strcmp(f.rec.name, "honesty")) {
            seen |= 2;
            CHECK(f.rec.num == 5);
        } else if (!strcmp(f.rec.name, "instruction_following")) {
            seen |= 4;
            CHECK(isnan(f.rec.num));
        } else if (!strcmp(f.rec.name, "overall")) {
            seen |= 8;
            CHECK(f.rec.num == 7.5);
            CHECK(msg_eq(&f.rec, 0, "critique", "Could show an example."));
        } else if (!strcmp(f.rec.name, "fine-grained")) {
            seen |= 16;
            CHECK(fabs(f.rec.num - 4.333333333333333) < 1e-15);
        } else if (!strcmp(f.rec.name, "truthfulness")) {
            seen |= 32;
            CHECK(f.rec.num == 4);
        }
    }
    CHECK_EQ_INT(seen, 63);
    /* licences from the registry, unknown when not known */
    uint64_t m;
    CHECK_EQ_INT(av_find_model(f.r, "vicuna-33b", &m), 0);
    uint64_t lt[2];
    CHECK_EQ_INT(refs_of(&f, m, AV_TAG, lt, 2), 1);
    CHECK_EQ_INT(av_get(f.r, lt[0], 0, &f.rec), 0);
    CHECK(attr_eq(&f.rec, "licence", "\"unknown\""));
    fx_close(&f);
}

/* Maps one row with format name; 0 on success. */
static int map_row(av_plan *p, jdoc *d, const char *name, const char *json)
{
    if (json_parse(d, json, strlen(json), 0)) return -1;
    return av_format_map(av_format_find(name), p, json_root(d));
}

/* The plan's own fields, but "_lits" replaced. */
typedef struct {
    pl_source plan;
    const char *lits;
} short_lits;

static int short_lits_field(void *ctx, const char *key, const char **json, size_t *n)
{
    short_lits *x = ctx;
    if (strcmp(key, "_lits")) return x->plan.field(x->plan.ctx, key, json, n);
    *json = x->lits;
    *n = strlen(x->lits);
    return 0;
}

static int short_lits_msgs(void *ctx, int k, const pl_msg **out, size_t *n)
{
    short_lits *x = ctx;
    return x->plan.msgs(x->plan.ctx, k, out, n);
}

static int short_lits_num(void *ctx, int k, double *out)
{
    short_lits *x = ctx;
    return x->plan.num(x->plan.ctx, k, out);
}

/* Rows that differ only in values no record holds (model names, principle,
 * Type lists, a number no record holds) share one template; those
 * values go to the row tag's "_lits", and the row comes back exactly. */
static void test_ingest_map__shared_templates(void)
{
    static const char *const rows[2] = {
        "{\"source\":\"a\",\"instruction\":\"Say hi.\",\"completions\":[{\"model\":\"gpt-4\",\"principle\":"
        "\"honesty\",\"response\":\"Hi!\",\"annotations\":{\"truthfulness\":{\"Rating\":\"4\",\"Rationale\":"
        "\"Fine.\",\"Type\":[\"1\",\"2\"]}},\"critique\":\"Short.\",\"overall_score\":7.5,\"extra\":12}]}",
        "{\"source\":\"b\",\"instruction\":\"Say bye.\",\"completions\":[{\"model\":\"llama-2-13b-chat\","
        "\"principle\":\"helpfulness\",\"response\":\"Bye!\",\"annotations\":{\"truthfulness\":{\"Rating\":\"5\","
        "\"Rationale\":\"Good.\",\"Type\":[\"0\",\"3\"]}},\"critique\":\"Curt.\",\"overall_score\":9.5,\"extra\":1.5e3}]}",
    };
    av_plan p[2];
    jdoc d[2], t;
    json_doc_init(&t);
    for (int i = 0; i < 2; i++) {
        av_plan_init(&p[i]);
        json_doc_init(&d[i]);
        CHECK_EQ_INT(map_row(&p[i], &d[i], "ultrafeedback", rows[i]), 0);
    }
    CHECK(p[0].tpl.len == p[1].tpl.len && !memcmp(p[0].tpl.ptr, p[1].tpl.ptr, p[0].tpl.len));
    CHECK(p[0].nlits == 5 && p[1].nlits == 5); /* overall_score is the critique's rating */
    CHECK(!strcmp(p[0].lits.ptr, "[\"gpt-4\",\"honesty\",\"1\",\"2\",12]"));
    CHECK(!strcmp(p[1].lits.ptr, "[\"llama-2-13b-chat\",\"helpfulness\",\"0\",\"3\",1.5e3]"));
    for (int i = 0; i < 2; i++) {
        pl_source src;
        pl_plan_source(&p[i], &src);
        av_buf got = AV_BUF_INIT;
        char err[200];
        CHECK_EQ_INT(pl_render(&got, p[i].tpl.ptr, p[i].tpl.len, &src, &t, err, sizeof err), 0);
        CHECK(got.len == strlen(rows[i]) && !memcmp(got.ptr, rows[i], got.len));
        av_buf_free(&got);
    }
    /* a template naming a literal its row tag lacks: an error, not a guess */
    short_lits x = {.lits = "[\"llama-2-13b-chat\",\"helpfulness\"]"};
    pl_plan_source(&p[1], &x.plan);
    pl_source src = {&x, short_lits_msgs, short_lits_num, short_lits_field};
    av_buf got = AV_BUF_INIT;
    char err[200];
    CHECK_EQ_INT(pl_render(&got, p[1].tpl.ptr, p[1].tpl.len, &src, &t, err, sizeof err), -1);
    CHECK(strstr(err, "names a literal the row tag lacks") != NULL);
    /* "_lits" that is not an array of strings and numbers: the same error */
    static const char *const not_lits[] = {"{\"a\":1}", "[\"gpt-4\",[1],\"0\",\"3\",1]", "[", ""};
    for (size_t i = 0; i < sizeof not_lits / sizeof not_lits[0]; i++) {
        x.lits = not_lits[i];
        av_buf_reset(&got);
        CHECK_EQ_INT(pl_render(&got, p[1].tpl.ptr, p[1].tpl.len, &src, &t, err, sizeof err), -1);
        CHECK(strstr(err, "names a literal the row tag lacks") != NULL);
    }
    av_buf_free(&got);
    for (int i = 0; i < 2; i++) {
        av_plan_free(&p[i]);
        json_doc_free(&d[i]);
    }
    json_doc_free(&t);
}

static void test_ingest_map__preferences(void)
{
    fx f;
    if (fx_open(&f, "h4_binarized.jsonl") < 0) {
        CHECK(0);
        return;
    }
    uint64_t pfs[4];
    av_iter *it;
    size_t n = 0;
    CHECK_EQ_INT(av_iter_kind(&it, f.r, AV_PREFERENCE), 0);
    while (n < 4 && av_iter_next(it, &pfs[n]) == 1) n++;
    av_iter_free(it);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(av_get(f.r, pfs[0], 0, &f.rec), 0);
    CHECK_EQ_STR(f.rec.name, "score");
    CHECK(f.rec.num == 1.0);
    uint64_t a = f.rec.ref[1], b = f.rec.ref[2];
    CHECK(a != b);
    uint64_t rt[2];
    CHECK_EQ_INT(refs_of(&f, a, AV_RATING, rt, 2), 1);
    CHECK_EQ_INT(av_get(f.r, rt[0], 0, &f.rec), 0);
    CHECK(f.rec.num == 9.0);
    CHECK_EQ_INT(refs_of(&f, b, AV_RATING, rt, 2), 1);
    CHECK_EQ_INT(av_get(f.r, rt[0], 0, &f.rec), 0);
    CHECK(f.rec.num == 2.5);
    /* a tie: chosen and rejected are the same response */
    CHECK_EQ_INT(av_get(f.r, pfs[1], 0, &f.rec), 0);
    CHECK_EQ_INT(f.rec.ref[1], f.rec.ref[2]);
    fx_close(&f);

    if (fx_open(&f, "helpsteer2_preference.jsonl") < 0) {
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(av_iter_kind(&it, f.r, AV_PREFERENCE), 0);
    CHECK_EQ_INT(av_iter_next(it, &pfs[0]), 1);
    av_iter_free(it);
    CHECK_EQ_INT(av_get(f.r, pfs[0], AV_GET_TEXT, &f.rec), 0);
    CHECK_EQ_STR(f.rec.name, "human");
    CHECK(f.rec.num == 1.0); /* strength -3: response_1 much better */
    CHECK(msg_eq(&f.rec, 0, "rationale", "@Response 1 is much better than @Response 2."));
    fx_close(&f);
}

static void test_ingest_map__chat_and_prm(void)
{
    fx f;
    if (fx_open(&f, "sharegpt_tools.json") < 0) {
        CHECK(0);
        return;
    }
    uint64_t tag = tag_where(&f, "tools", "\"[{\\\"name\\\": \\\"multiply\\\", \\\"parameters\\\": {\\\"a\\\": \\\"number\\\", \\\"b\\\": \\\"number\\\"}}]\"");
    CHECK(tag != 0 || 1); /* long values are not indexed; find it through the response instead */
    av_iter *it;
    uint64_t resp;
    CHECK_EQ_INT(av_iter_kind(&it, f.r, AV_RESPONSE), 0);
    CHECK_EQ_INT(av_iter_next(it, &resp), 1);
    av_iter_free(it);
    CHECK_EQ_INT(av_get(f.r, resp, AV_GET_TEXT, &f.rec), 0);
    CHECK(msg_eq(&f.rec, 0, "assistant", "17 times 23 is 391."));
    CHECK_EQ_INT(av_get(f.r, f.rec.ref[0], AV_GET_TEXT, &f.rec), 0);
    CHECK_EQ_INT(f.rec.nmsg, 4);
    CHECK(msg_eq(&f.rec, 0, "system", "You can call tools."));
    CHECK(msg_eq(&f.rec, 1, "user", "What is 17 times 23?"));
    CHECK(msg_eq(&f.rec, 2, "function_call", "{\"name\": \"multiply\", \"arguments\": {\"a\": 17, \"b\": 23}}"));
    CHECK(msg_eq(&f.rec, 3, "observation", "{\"result\": 391}"));
    fx_close(&f);

    if (fx_open(&f, "openai_kto.json") < 0) {
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(av_iter_kind(&it, f.r, AV_RATING), 0);
    uint64_t rt[4];
    size_t n = 0;
    while (n < 4 && av_iter_next(it, &rt[n]) == 1) n++;
    av_iter_free(it);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(av_get(f.r, rt[0], 0, &f.rec), 0);
    CHECK_EQ_STR(f.rec.name, "kto_label");
    CHECK(f.rec.num == 1);
    CHECK_EQ_INT(av_get(f.r, rt[1], 0, &f.rec), 0);
    CHECK(f.rec.num == 0);
    fx_close(&f);

    if (fx_open(&f, "prm800k.jsonl") < 0) {
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(av_iter_kind(&it, f.r, AV_RESPONSE), 0);
    CHECK_EQ_INT(av_iter_next(it, &resp), 1);
    av_iter_free(it);
    CHECK_EQ_INT(av_get(f.r, resp, AV_GET_TEXT, &f.rec), 0);
    CHECK(msg_eq(&f.rec, 0, "assistant", "Multiplication comes first: 3 * 4 = 12.\nThen 2 + 12 = 14.\n# Answer\n\n14"));
    CHECK_EQ_INT(av_get(f.r, f.rec.ref[0], AV_GET_TEXT, &f.rec), 0);
    CHECK(msg_eq(&f.rec, 0, "user", "What is 2 + 3 * 4?"));
    CHECK_EQ_INT(refs_of(&f, resp, AV_RATING, rt, 4), 3);
    CHECK_EQ_INT(av_get(f.r, rt[2], AV_GET_TEXT, &f.rec), 0);
    CHECK_EQ_STR(f.rec.name, "step");
    CHECK(f.rec.num == 0);
    CHECK(attr_eq(&f.rec, "step", "2"));
    CHECK(msg_eq(&f.rec, 0, "step", "# Answer\n\n14"));
    fx_close(&f);
}

static void test_ingest_map__idempotent(void)
{
    const char *dir = new_store();
    av_ingest_stats st;
    CHECK_EQ_INT(ingest_into(dir, sample("magpie_dpo.json"), NULL, 0, NULL, &st), 0);
    CHECK_EQ_INT(st.rows_new, 1);
    CHECK_EQ_INT(ingest_into(dir, sample("magpie_dpo.json"), NULL, 0, NULL, &st), 0);
    CHECK_EQ_INT(st.rows, 1);
    CHECK_EQ_INT(st.rows_new, 0);
    CHECK_EQ_INT(st.rows_present, 1);
    CHECK_EQ_INT(st.records_new, 0);
    CHECK_EQ_INT(st.links_new, 0);
    av_store *s;
    uint32_t head = 0;
    CHECK_EQ_INT(av_store_open(&s, dir, AV_OPEN_RDONLY), 0);
    av_store_head(s, &head);
    CHECK_EQ_INT(head, 1);
    av_store_close(s);
}

static void test_ingest_map__models_registry(void)
{
    CHECK_EQ_STR(av_model_licence_builtin("meta-llama/Meta-Llama-3-70B-Instruct"), "llama3");
    CHECK_EQ_STR(av_model_licence_builtin("meta-llama/Meta-Llama-3.1-8B-Instruct"), "llama3.1");
    CHECK_EQ_STR(av_model_licence_builtin("meta-llama/Llama-3.3-70B-Instruct"), "llama3.3");
    CHECK_EQ_STR(av_model_licence_builtin("meta-llama/Llama-3.2-3B-Instruct"), "llama3.2");
    CHECK_EQ_STR(av_model_licence_builtin("llama-2-13b-chat"), "llama2");
    CHECK_EQ_STR(av_model_licence_builtin("google/gemma-2-27b-it"), "gemma");
    CHECK_EQ_STR(av_model_licence_builtin("Qwen/Qwen2-72B-Instruct"), "tongyi-qianwen");
    CHECK_EQ_STR(av_model_licence_builtin("Qwen/Qwen2-7B-Instruct"), "apache-2.0");
    CHECK_EQ_STR(av_model_licence_builtin("Qwen/Qwen2.5-72B-Instruct"), "qwen");
    CHECK_EQ_STR(av_model_licence_builtin("mistralai/Mixtral-8x7B-Instruct-v0.1"), "apache-2.0");
    CHECK_EQ_STR(av_model_licence_builtin("mistralai/Mistral-7B-Instruct-v0.3"), "apache-2.0");
    CHECK_EQ_STR(av_model_licence_builtin("tiiuae/falcon-40b-instruct"), "apache-2.0");
    CHECK_EQ_STR(av_model_licence_builtin("HuggingFaceH4/zephyr-7b-beta"), "mit");
    CHECK_EQ_STR(av_model_licence_builtin("microsoft/Phi-3-medium-4k-instruct"), "mit");
    CHECK_EQ_STR(av_model_licence_builtin("gpt-4-0613"), "openai-terms");
    CHECK_EQ_STR(av_model_licence_builtin("gpt-3.5-turbo"), "openai-terms");
    CHECK_EQ_STR(av_model_licence_builtin("claude-3-opus-20240229"), "anthropic-terms");
    CHECK(av_model_licence_builtin("vicuna-33b") == NULL);
    CHECK(av_model_licence_builtin("ultralm-65b") == NULL);
    CHECK(av_model_licence_builtin("") == NULL);
    CHECK(av_model_licence_builtin(NULL) == NULL);
}

/* make_corpus.py output (the benchmark's schemas, small copies shipped in
 * tests/data/ingest/corpus_*.jsonl) round-trips too */
static void test_ingest_map__make_corpus_roundtrip(void)
{
    static const char *const fm[][2] = {{"corpus_magpie.jsonl", "magpie"},
                                        {"corpus_ultrafeedback.jsonl", "ultrafeedback"},
                                        {"corpus_binarized.jsonl", "binarized"}};
    for (int i = 0; i < 3; i++) check_roundtrip(sample(fm[i][0]), fm[i][1]);
}

int main(void)
{
    RUN(test_ingest_map__magpie_tagged);
    RUN(test_ingest_map__magpie_dpo_python_repr);
    RUN(test_ingest_map__ultrafeedback);
    RUN(test_ingest_map__shared_templates);
    RUN(test_ingest_map__preferences);
    RUN(test_ingest_map__chat_and_prm);
    RUN(test_ingest_map__idempotent);
    RUN(test_ingest_map__models_registry);
    RUN(test_ingest_map__make_corpus_roundtrip);
    return tap_done();
}
