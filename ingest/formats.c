/* formats.c: the dataset formats aviary ingests: how each is recognised from
 * a row's keys and how its rows map onto records (see FORMATS.md and
 * docs/ingest.md for the mapping of each). Mappers only add records; what a
 * mapping does not model is kept by pl_finish() in the row tag and template. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"

struct av_format {
    const char *name;
    int (*detect)(const jnode *row);
    int (*map)(av_plan *p, const jnode *row);
};

/* ---- helpers ---------------------------------------------------------- */

static const jnode *get_t(const jnode *row, const char *key, jtype t)
{
    const jnode *v = json_get(row, key);
    return v && v->type == t ? v : NULL;
}

static int has(const jnode *row, const char *key)
{
    return json_get(row, key) != NULL;
}

/* The value of a required member of type t, or a pl_fail. */
static int need(av_plan *p, const jnode *o, const char *key, jtype t, const char *where, const jnode **out)
{
    static const char *names[] = {"null", "a boolean", "a boolean", "a number", "a string", "an array", "an object"};
    const jnode *v = json_get(o, key);
    if (!v) return pl_fail(p, "missing required field '%s%s'", where, key);
    if (v->type != t && !(t == J_FALSE && v->type == J_TRUE))
        return pl_fail(p, "'%s%s' must be %s, not %s", where, key, names[t], json_type_name(v));
    *out = v;
    return 0;
}

static const char *norm_role(av_plan *p, const jnode *s)
{
    static const char *const map[][2] = {
        {"human", "user"}, {"user", "user"}, {"gpt", "assistant"}, {"assistant", "assistant"},
        {"chatgpt", "assistant"}, {"bard", "assistant"}, {"bing", "assistant"}, {"model", "assistant"},
        {"system", "system"}, {"function_call", "function_call"}, {"observation", "observation"},
        {"tool", "tool"}, {"function", "function"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (json_str_is(s, map[i][0])) return map[i][1];
    if (s->n == 0 || s->n > 32 || memchr(s->s, 0, s->n)) return NULL;
    return pl_strdup(p, s->s, s->n);
}

static int is_assistant(const char *role)
{
    return !strcmp(role, "assistant");
}

/* A prompt with msgs equal to these, or a new one. */
static int prompt_from(av_plan *p, const pl_msg *m, size_t n)
{
    for (size_t i = 0; i < p->nrec; i++) {
        pl_rec *r = &p->rec[i];
        if (r->kind != AV_PROMPT || r->nmsg != n) continue;
        size_t k = 0;
        for (; k < n; k++) {
            const pl_msg *a = &p->msg[r->msg0 + k];
            if (a->n != m[k].n || strcmp(a->role, m[k].role) || memcmp(a->s, m[k].s, a->n)) break;
        }
        if (k == n) return (int)i;
    }
    int pr = pl_add(p, AV_PROMPT);
    for (size_t k = 0; k < n; k++) pl_add_msg(p, pr, m[k].role, m[k].s, m[k].n);
    return pr;
}

/* A response to prompt with this text (and model), or a new one. */
static int response_to(av_plan *p, int prompt, const char *s, size_t n, const char *model, size_t model_n)
{
    for (size_t i = 0; i < p->nrec; i++) {
        pl_rec *r = &p->rec[i];
        if (r->kind != AV_RESPONSE || r->ref[0] != prompt || r->nmsg < 1) continue;
        const pl_msg *a = &p->msg[r->msg0];
        if (a->n != n || memcmp(a->s, s, n)) continue;
        if (!model || (r->model && r->model_n == model_n && !memcmp(r->model, model, model_n))) return (int)i;
        if (!r->model) {
            pl_set_model(p, (int)i, model, model_n);
            return (int)i;
        }
    }
    int rr = pl_add(p, AV_RESPONSE);
    pl_set_ref(p, rr, 0, prompt);
    if (model) pl_set_model(p, rr, model, model_n);
    pl_add_msg(p, rr, "assistant", s, n);
    return rr;
}

typedef struct turns {
    pl_msg *m;
    size_t n;
} turns;

/* Reads a list of {rk: role, tk: text} turns (where names the field). */
static int read_turns(av_plan *p, const jnode *arr, const char *rk, const char *tk, const char *where, turns *out)
{
    out->m = (pl_msg *)pl_alloc(p, (arr->n ? arr->n : 1) * sizeof(pl_msg));
    out->n = 0;
    const jnode *c = arr + 1;
    for (uint32_t i = 0; i < arr->n; i++, c = json_next(c)) {
        char w[64];
        snprintf(w, sizeof w, "%s[%u].", where, i);
        if (c->type != J_OBJ) return pl_fail(p, "'%s[%u]' must be an object, not %s", where, i, json_type_name(c));
        const jnode *role = NULL, *text = json_get(c, tk);
        if (need(p, c, rk, J_STR, w, &role)) return -1;
        const char *r = norm_role(p, role);
        if (!r) return pl_fail(p, "'%s%s' is not a role name", w, rk);
        if (text && text->type == J_NULL) {
            /* OpenAI tool calls: content null, the call in tool_calls or
             * function_call, kept as a "function_call" turn holding its JSON */
            const jnode *call = json_get(c, "tool_calls");
            if (!call) call = json_get(c, "function_call");
            av_buf_reset(&p->scratch);
            if (call) json_write(&p->scratch, call);
            out->m[out->n++] = (pl_msg){call ? "function_call" : r,
                                        pl_strdup(p, p->scratch.ptr ? p->scratch.ptr : "", p->scratch.len),
                                        p->scratch.len};
            continue;
        }
        if (need(p, c, tk, J_STR, w, &text)) return -1;
        out->m[out->n++] = (pl_msg){r, text->s, text->n};
    }
    return 0;
}

/* Prompt = turns before the last assistant turn, response = that turn. If the
 * turns do not end with an assistant turn, all of them are the prompt. */
static int conv_records(av_plan *p, const turns *t, const char *model, size_t model_n, int *out_prompt, int *out_resp,
                        const char *where)
{
    size_t np = t->n;
    *out_resp = -1;
    if (np && is_assistant(t->m[np - 1].role)) np--;
    if (np == 0) return pl_fail(p, "'%s' has no turn before the assistant's", where);
    *out_prompt = prompt_from(p, t->m, np);
    if (np < t->n) *out_resp = response_to(p, *out_prompt, t->m[np].s, t->m[np].n, model, model_n);
    return 0;
}

/* A preference between two responses (to one prompt, normally). */
static int add_pref(av_plan *p, int prompt, int a, int b, double prob, const char *method)
{
    int pf = pl_add(p, AV_PREFERENCE);
    pl_set_ref(p, pf, 0, prompt);
    pl_set_ref(p, pf, 1, a);
    pl_set_ref(p, pf, 2, b);
    pl_set_num(p, pf, prob, NULL, 0);
    pl_set_name(p, pf, method);
    return pf;
}

static int add_rating(av_plan *p, int resp, const char *aspect, double num, const jnode *node, char style)
{
    int rt = pl_add(p, AV_RATING);
    pl_set_ref(p, rt, 0, resp);
    pl_set_name(p, rt, aspect);
    pl_set_num(p, rt, num, node, style);
    return rt;
}

static double num_of(const jnode *v)
{
    if (!v) return NAN;
    if (v->type == J_NUM) return strtod(v->s, NULL);
    if (v->type == J_TRUE) return 1;
    if (v->type == J_FALSE) return 0;
    if (v->type == J_STR && v->n > 0 && v->n < 40) {
        char tmp[48];
        memcpy(tmp, v->s, v->n);
        tmp[v->n] = 0;
        char *end;
        double d = strtod(tmp, &end);
        if (*end == 0) return d;
    }
    return NAN;
}

/* A chosen/rejected pair of message lists (the prompt inside). */
static int pair_lists(av_plan *p, const jnode *row, const char *ck, const char *rk, const char *method,
                      const jnode *cmodel, const jnode *rmodel, int *out_a, int *out_b)
{
    const jnode *c = NULL, *r = NULL;
    if (need(p, row, ck, J_ARR, "", &c) || need(p, row, rk, J_ARR, "", &r)) return -1;
    turns tc = {0}, tr = {0};
    if (read_turns(p, c, "role", "content", ck, &tc) || read_turns(p, r, "role", "content", rk, &tr)) return -1;
    if (!tc.n || !is_assistant(tc.m[tc.n - 1].role))
        return pl_fail(p, "'%s' must end with an assistant message", ck);
    if (!tr.n || !is_assistant(tr.m[tr.n - 1].role))
        return pl_fail(p, "'%s' must end with an assistant message", rk);
    int pc = -1, pr = -1, a = -1, b = -1;
    if (conv_records(p, &tc, cmodel ? cmodel->s : NULL, cmodel ? cmodel->n : 0, &pc, &a, ck) ||
        conv_records(p, &tr, rmodel ? rmodel->s : NULL, rmodel ? rmodel->n : 0, &pr, &b, rk))
        return -1;
    p->main = add_pref(p, pc, a, b, 1.0, method);
    *out_a = a;
    *out_b = b;
    return 0;
}

/* ---- Magpie ----------------------------------------------------------- */

static int detect_magpie(const jnode *r)
{
    if (has(r, "uuid") && (has(r, "conversations") || has(r, "instruction"))) return 1;
    if (has(r, "pre_query_template") && has(r, "instruction")) return 1;
    if ((has(r, "gen_input_configs") || has(r, "gen_input_config")) && (has(r, "instruction") || has(r, "input")))
        return 1;
    if (has(r, "instruction") && has(r, "responses")) return 1;
    return 0;
}

/* The model that wrote the responses: gen_response_configs.output_generator,
 * else model, else the input generator (only when they are objects/strings:
 * Python-repr strings are left alone). */
static const jnode *magpie_model(const jnode *row)
{
    const jnode *g = get_t(row, "gen_response_configs", J_OBJ);
    const jnode *m = g ? get_t(g, "output_generator", J_STR) : NULL;
    if (!m) m = get_t(row, "model", J_STR);
    if (!m) {
        g = get_t(row, "gen_input_configs", J_OBJ);
        if (!g) g = get_t(row, "gen_input_config", J_OBJ);
        m = g ? get_t(g, "input_generator", J_STR) : NULL;
    }
    return m && m->n ? m : NULL;
}

/* The model that wrote the instruction: gen_input_configs.input_generator
 * (gen_input_config in the raw pools), else model. */
static const jnode *magpie_input_model(const jnode *row)
{
    const jnode *g = get_t(row, "gen_input_configs", J_OBJ);
    if (!g) g = get_t(row, "gen_input_config", J_OBJ);
    const jnode *m = g ? get_t(g, "input_generator", J_STR) : NULL;
    if (!m) m = get_t(row, "model", J_STR);
    return m && m->n ? m : NULL;
}

static int map_magpie(av_plan *p, const jnode *row)
{
    const jnode *model = magpie_model(row);
    const char *mn = model ? model->s : NULL;
    size_t ml = model ? model->n : 0;
    const jnode *conv = json_get(row, "conversations");
    turns t = {0};
    if (conv) {
        if (conv->type != J_ARR) return pl_fail(p, "'conversations' must be an array, not %s", json_type_name(conv));
        if (read_turns(p, conv, "from", "value", "conversations", &t)) return -1;
    } else {
        /* instruction/response, instruction_2/response_2, ...; or input/output */
        t.m = (pl_msg *)pl_alloc(p, 64 * sizeof(pl_msg));
        const char *ik = has(row, "instruction") ? "instruction" : "input";
        const char *ok = has(row, "instruction") ? "response" : "output";
        for (int turn = 1; turn <= 32; turn++) {
            char ikey[32], okey[32];
            if (turn == 1) {
                snprintf(ikey, sizeof ikey, "%s", ik);
                snprintf(okey, sizeof okey, "%s", ok);
            } else {
                snprintf(ikey, sizeof ikey, "%s_%d", ik, turn);
                snprintf(okey, sizeof okey, "%s_%d", ok, turn);
            }
            const jnode *iv = json_get(row, ikey), *ov = json_get(row, okey);
            if (!iv) {
                if (turn == 1) return pl_fail(p, "missing required field 'instruction'");
                break;
            }
            if (iv->type != J_STR) return pl_fail(p, "'%s' must be a string, not %s", ikey, json_type_name(iv));
            t.m[t.n++] = (pl_msg){"user", iv->s, iv->n};
            if (!ov || ov->type == J_NULL) break;
            if (ov->type != J_STR) return pl_fail(p, "'%s' must be a string, not %s", okey, json_type_name(ov));
            t.m[t.n++] = (pl_msg){"assistant", ov->s, ov->n};
        }
    }
    int prompt = -1, resp = -1;
    if (conv_records(p, &t, mn, ml, &prompt, &resp, conv ? "conversations" : "instruction")) return -1;
    p->main = resp >= 0 ? resp : prompt;
    /* Magpie's instructions are written by a model too (the audit's "generator") */
    const jnode *im = magpie_input_model(row);
    if (im) pl_set_model(p, prompt, im->s, im->n);

    /* DPO stage: several responses with ArmoRM rewards, chosen/rejected */
    const jnode *rs = json_get(row, "responses");
    if (rs) {
        if (rs->type != J_ARR) return pl_fail(p, "'responses' must be an array, not %s", json_type_name(rs));
        const jnode *rw = get_t(row, "rewards_armorm", J_ARR);
        const jnode *c = rs + 1;
        for (uint32_t i = 0; i < rs->n; i++, c = json_next(c)) {
            if (c->type != J_STR) return pl_fail(p, "'responses[%u]' must be a string, not %s", i, json_type_name(c));
            int r = response_to(p, prompt, c->s, c->n, mn, ml);
            const jnode *sc = rw ? json_get(json_at(rw, i), "score") : NULL;
            if (sc && sc->type == J_NUM) add_rating(p, r, "armorm", num_of(sc), sc, 'f');
        }
        p->main = prompt;
    }
    const jnode *ch = json_get(row, "chosen"), *rj = json_get(row, "rejected");
    if (ch && rj && ch->type == J_ARR && rj->type == J_ARR) {
        int a = -1, b = -1;
        if (pair_lists(p, row, "chosen", "rejected", "armorm", model, model, &a, &b)) return -1;
        p->main = prompt;
    }
    return 0;
}

/* ---- UltraFeedback (raw) ---------------------------------------------- */

/* UltraFeedback's annotations, critiques and scores were all written by
 * GPT-4 (Cui et al., 2023; openbmb/UltraFeedback's card), so its verdicts
 * carry GPT-4's terms: they are recorded with this judge. */
#define UF_JUDGE "gpt-4"

static int detect_uf(const jnode *r)
{
    return has(r, "completions") && has(r, "instruction");
}

static int map_uf(av_plan *p, const jnode *row)
{
    const jnode *ins = NULL, *comps = NULL;
    if (need(p, row, "instruction", J_STR, "", &ins) || need(p, row, "completions", J_ARR, "", &comps)) return -1;
    int prompt = pl_add(p, AV_PROMPT);
    pl_add_msg(p, prompt, "user", ins->s, ins->n);
    p->main = prompt;
    const jnode *c = comps + 1;
    for (uint32_t i = 0; i < comps->n; i++, c = json_next(c)) {
        char w[40];
        snprintf(w, sizeof w, "completions[%u].", i);
        if (c->type != J_OBJ) return pl_fail(p, "'completions[%u]' must be an object, not %s", i, json_type_name(c));
        const jnode *resp = NULL, *model = get_t(c, "model", J_STR);
        if (need(p, c, "response", J_STR, w, &resp)) return -1;
        int r = pl_add(p, AV_RESPONSE);
        pl_set_ref(p, r, 0, prompt);
        if (model && model->n) pl_set_model(p, r, model->s, model->n);
        pl_add_msg(p, r, "assistant", resp->s, resp->n);
        const jnode *sys = get_t(c, "custom_system_prompt", J_STR);
        if (sys) pl_add_msg(p, r, "system", sys->s, sys->n);
        const jnode *ann = get_t(c, "annotations", J_OBJ);
        if (ann) {
            const jnode *k = ann + 1;
            for (uint32_t j = 0; j < ann->n; j++, k = json_next(k + 1)) {
                const jnode *a = k + 1;
                if (a->type != J_OBJ) continue; /* kept in the template */
                const jnode *rating = json_get(a, "Rating");
                int rt = add_rating(p, r, pl_strdup(p, k->s, k->n), num_of(rating), rating, 's');
                pl_set_model(p, rt, UF_JUDGE, strlen(UF_JUDGE));
                const jnode *ra = get_t(a, "Rationale", J_STR), *rr = get_t(a, "Rationale For Rating", J_STR);
                if (ra) pl_add_msg(p, rt, "rationale", ra->s, ra->n);
                if (rr) pl_add_msg(p, rt, "rationale_for_rating", rr->s, rr->n);
                const jnode *ty = json_get(a, "Type");
                if (ty) pl_add_attr_node(p, rt, "Type", ty);
            }
        }
        const jnode *ov = get_t(c, "overall_score", J_NUM), *crit = get_t(c, "critique", J_STR);
        if (ov || crit) {
            int rt = add_rating(p, r, "overall", num_of(ov), ov, 'f');
            pl_set_model(p, rt, UF_JUDGE, strlen(UF_JUDGE));
            if (crit) pl_add_msg(p, rt, "critique", crit->s, crit->n);
        }
        const jnode *fg = get_t(c, "fine-grained_score", J_NUM);
        if (fg) pl_set_model(p, add_rating(p, r, "fine-grained", num_of(fg), fg, 'f'), UF_JUDGE, strlen(UF_JUDGE));
    }
    return 0;
}

/* ---- preference formats ----------------------------------------------- */

static int detect_binarized(const jnode *r)
{
    return has(r, "chosen") && has(r, "rejected") &&
           (has(r, "prompt_id") || has(r, "score_chosen") || has(r, "messages")) && !has(r, "chosen-rating");
}

static int map_binarized(av_plan *p, const jnode *row)
{
    int a = -1, b = -1;
    if (pair_lists(p, row, "chosen", "rejected", "score", NULL, NULL, &a, &b)) return -1;
    const jnode *sc = get_t(row, "score_chosen", J_NUM), *sr = get_t(row, "score_rejected", J_NUM);
    if (sc) add_rating(p, a, "score", num_of(sc), sc, 'f');
    if (sr) add_rating(p, b, "score", num_of(sr), sr, 'f');
    const jnode *m = get_t(row, "messages", J_ARR);
    if (m) {
        turns t = {0};
        if (read_turns(p, m, "role", "content", "messages", &t)) return -1;
    }
    return 0;
}

static int detect_argilla(const jnode *r)
{
    return has(r, "chosen-rating") || has(r, "chosen-model");
}

static int map_argilla(av_plan *p, const jnode *row)
{
    int a = -1, b = -1;
    const jnode *cm = get_t(row, "chosen-model", J_STR), *rm = get_t(row, "rejected-model", J_STR);
    if (pair_lists(p, row, "chosen", "rejected", "score", cm, rm, &a, &b)) return -1;
    const jnode *sc = get_t(row, "chosen-rating", J_NUM), *sr = get_t(row, "rejected-rating", J_NUM);
    if (sc) add_rating(p, a, "rating", num_of(sc), sc, 'f');
    if (sr) add_rating(p, b, "rating", num_of(sr), sr, 'f');
    return 0;
}

static int detect_skywork(const jnode *r)
{
    const jnode *c = json_get(r, "chosen");
    return c && c->type == J_ARR && has(r, "rejected") && !has(r, "prompt") && !has(r, "conversations");
}

static int map_skywork(av_plan *p, const jnode *row)
{
    int a = -1, b = -1;
    return pair_lists(p, row, "chosen", "rejected", "dataset", NULL, NULL, &a, &b);
}

static int detect_nectar(const jnode *r)
{
    return has(r, "answers") && has(r, "prompt");
}

/* "\n\nHuman: ...\n\nAssistant: ..." into turns; the trailing empty
 * assistant turn is dropped. 0 if the text is not in that form. */
static int parse_hh(av_plan *p, const char *s, size_t n, turns *t)
{
    static const char H[] = "\n\nHuman: ", A[] = "\n\nAssistant: ";
    size_t cap = 8;
    t->m = (pl_msg *)pl_alloc(p, cap * sizeof(pl_msg));
    t->n = 0;
    size_t i = 0;
    while (i < n) {
        const char *role;
        size_t ml;
        if (n - i >= sizeof H - 1 && !memcmp(s + i, H, sizeof H - 1)) role = "user", ml = sizeof H - 1;
        else if (n - i >= sizeof A - 1 && !memcmp(s + i, A, sizeof A - 1)) role = "assistant", ml = sizeof A - 1;
        else return 0;
        i += ml;
        size_t j = i;
        while (j < n && !(n - j >= sizeof H - 1 && !memcmp(s + j, H, sizeof H - 1)) &&
               !(n - j >= sizeof A - 1 && !memcmp(s + j, A, sizeof A - 1)))
            j++;
        if (t->n == cap) {
            pl_msg *m = (pl_msg *)pl_alloc(p, 2 * cap * sizeof(pl_msg));
            memcpy(m, t->m, cap * sizeof(pl_msg));
            t->m = m;
            cap *= 2;
        }
        t->m[t->n++] = (pl_msg){role, s + i, j - i};
        i = j;
    }
    if (t->n && is_assistant(t->m[t->n - 1].role) && t->m[t->n - 1].n == 0) t->n--;
    return t->n > 0;
}

static int map_nectar(av_plan *p, const jnode *row)
{
    const jnode *pr = NULL, *ans = NULL;
    if (need(p, row, "prompt", J_STR, "", &pr) || need(p, row, "answers", J_ARR, "", &ans)) return -1;
    turns t = {0};
    int prompt = -1;
    if (parse_hh(p, pr->s, pr->n, &t)) {
        prompt = prompt_from(p, t.m, t.n);
        pl_sub_hh(p, prompt, pr);
    } else {
        prompt = pl_add(p, AV_PROMPT);
        pl_add_msg(p, prompt, "user", pr->s, pr->n);
    }
    p->main = prompt;
    const jnode *c = ans + 1;
    for (uint32_t i = 0; i < ans->n; i++, c = json_next(c)) {
        char w[40];
        snprintf(w, sizeof w, "answers[%u].", i);
        if (c->type != J_OBJ) return pl_fail(p, "'answers[%u]' must be an object, not %s", i, json_type_name(c));
        const jnode *text = NULL, *model = get_t(c, "model", J_STR);
        if (need(p, c, "answer", J_STR, w, &text)) return -1;
        int r = response_to(p, prompt, text->s, text->n, model && model->n ? model->s : NULL, model ? model->n : 0);
        const jnode *rank = get_t(c, "rank", J_NUM);
        if (rank) add_rating(p, r, "rank", num_of(rank), rank, memchr(rank->s, '.', rank->n) ? 'f' : 'i');
    }
    return 0;
}

static const char *const hs2_aspects[] = {"helpfulness", "correctness", "coherence", "complexity", "verbosity"};

static int detect_hs2(const jnode *r)
{
    return has(r, "prompt") && has(r, "response") && has(r, "helpfulness");
}

static int map_hs2(av_plan *p, const jnode *row)
{
    const jnode *pr = NULL, *rs = NULL;
    if (need(p, row, "prompt", J_STR, "", &pr) || need(p, row, "response", J_STR, "", &rs)) return -1;
    int prompt = pl_add(p, AV_PROMPT);
    pl_add_msg(p, prompt, "user", pr->s, pr->n);
    int r = response_to(p, prompt, rs->s, rs->n, NULL, 0);
    p->main = r;
    for (size_t i = 0; i < 5; i++) {
        const jnode *v = json_get(row, hs2_aspects[i]);
        if (!v) continue;
        if (v->type != J_NUM) return pl_fail(p, "'%s' must be a number, not %s", hs2_aspects[i], json_type_name(v));
        add_rating(p, r, hs2_aspects[i], num_of(v), v, memchr(v->s, '.', v->n) ? 'f' : 'i');
    }
    return 0;
}

static int detect_hs2pref(const jnode *r)
{
    return has(r, "response_1") && has(r, "response_2") && has(r, "preference_strength");
}

/* preference_strength runs from -3 (response_1 much better) to 3 (response_2
 * much better); P(response_1 better) = (3 - strength) / 6. */
static int map_hs2pref(av_plan *p, const jnode *row)
{
    const jnode *pr = NULL, *r1 = NULL, *r2 = NULL, *st = NULL;
    if (need(p, row, "prompt", J_STR, "", &pr) || need(p, row, "response_1", J_STR, "", &r1) ||
        need(p, row, "response_2", J_STR, "", &r2) || need(p, row, "preference_strength", J_NUM, "", &st))
        return -1;
    int prompt = pl_add(p, AV_PROMPT);
    pl_add_msg(p, prompt, "user", pr->s, pr->n);
    int a = response_to(p, prompt, r1->s, r1->n, NULL, 0);
    int b = response_to(p, prompt, r2->s, r2->n, NULL, 0);
    double s = num_of(st);
    if (!(s >= -3 && s <= 3)) return pl_fail(p, "'preference_strength' must be between -3 and 3");
    p->main = add_pref(p, prompt, a, b, (3 - s) / 6, "human");
    const jnode *why = get_t(row, "preference_statement", J_STR);
    if (why) pl_add_msg(p, p->main, "rationale", why->s, why->n);
    const jnode *el = get_t(row, "preference_elaboration", J_STR);
    if (el) pl_add_msg(p, p->main, "elaboration", el->s, el->n);
    return 0;
}

static int detect_sgdpo(const jnode *r)
{
    const jnode *c = json_get(r, "chosen");
    return has(r, "conversations") && c && c->type == J_OBJ && has(r, "rejected");
}

static int map_sgdpo(av_plan *p, const jnode *row)
{
    const jnode *conv = NULL, *ch = NULL, *rj = NULL, *cv = NULL, *rv = NULL;
    if (need(p, row, "conversations", J_ARR, "", &conv) || need(p, row, "chosen", J_OBJ, "", &ch) ||
        need(p, row, "rejected", J_OBJ, "", &rj) || need(p, ch, "value", J_STR, "chosen.", &cv) ||
        need(p, rj, "value", J_STR, "rejected.", &rv))
        return -1;
    turns t = {0};
    if (read_turns(p, conv, "from", "value", "conversations", &t)) return -1;
    if (!t.n) return pl_fail(p, "'conversations' is empty");
    int prompt = prompt_from(p, t.m, t.n);
    int a = response_to(p, prompt, cv->s, cv->n, NULL, 0);
    int b = response_to(p, prompt, rv->s, rv->n, NULL, 0);
    p->main = add_pref(p, prompt, a, b, 1.0, "dataset");
    return 0;
}

/* ---- chat formats ----------------------------------------------------- */

static int detect_sharegpt(const jnode *r)
{
    return has(r, "conversations");
}

static int map_sharegpt(av_plan *p, const jnode *row)
{
    const jnode *conv = NULL;
    if (need(p, row, "conversations", J_ARR, "", &conv)) return -1;
    turns t = {0};
    if (read_turns(p, conv, "from", "value", "conversations", &t)) return -1;
    const jnode *sys = get_t(row, "system", J_STR);
    if (sys && (!t.n || strcmp(t.m[0].role, "system"))) {
        pl_msg *m = (pl_msg *)pl_alloc(p, (t.n + 1) * sizeof(pl_msg));
        m[0] = (pl_msg){"system", sys->s, sys->n};
        memcpy(m + 1, t.m, t.n * sizeof(pl_msg));
        t.m = m;
        t.n++;
    }
    int prompt = -1, resp = -1;
    if (conv_records(p, &t, NULL, 0, &prompt, &resp, "conversations")) return -1;
    p->main = resp >= 0 ? resp : prompt;
    return 0;
}

static int detect_openai(const jnode *r)
{
    return has(r, "messages");
}

static int map_openai(av_plan *p, const jnode *row)
{
    const jnode *msgs = NULL;
    if (need(p, row, "messages", J_ARR, "", &msgs)) return -1;
    turns t = {0};
    if (read_turns(p, msgs, "role", "content", "messages", &t)) return -1;
    int prompt = -1, resp = -1;
    if (conv_records(p, &t, NULL, 0, &prompt, &resp, "messages")) return -1;
    p->main = resp >= 0 ? resp : prompt;
    const jnode *label = json_get(row, "label");
    if (label && resp >= 0 && (label->type == J_TRUE || label->type == J_FALSE))
        add_rating(p, resp, "kto_label", label->type == J_TRUE ? 1 : 0, label, 'b');
    return 0;
}

static int detect_alpaca(const jnode *r)
{
    return has(r, "instruction") && has(r, "output");
}

static int map_alpaca(av_plan *p, const jnode *row)
{
    const jnode *ins = NULL, *out = NULL, *in = json_get(row, "input");
    if (need(p, row, "instruction", J_STR, "", &ins) || need(p, row, "output", J_STR, "", &out)) return -1;
    if (in && in->type != J_STR) return pl_fail(p, "'input' must be a string, not %s", json_type_name(in));
    turns t = {(pl_msg *)pl_alloc(p, 2 * sizeof(pl_msg)), 0};
    const jnode *sys = get_t(row, "system", J_STR);
    const jnode *hist = get_t(row, "history", J_ARR);
    size_t cap = 2 + (sys ? 1 : 0) + (hist ? 2 * hist->n : 0);
    t.m = (pl_msg *)pl_alloc(p, cap * sizeof(pl_msg));
    if (sys) t.m[t.n++] = (pl_msg){"system", sys->s, sys->n};
    if (hist) {
        const jnode *h = hist + 1;
        for (uint32_t i = 0; i < hist->n; i++, h = json_next(h)) {
            const jnode *q = json_at(h, 0), *a = json_at(h, 1);
            if (!q || !a || q->type != J_STR || a->type != J_STR || h->n != 2)
                return pl_fail(p, "'history[%u]' must be a [question, answer] pair of strings", i);
            t.m[t.n++] = (pl_msg){"user", q->s, q->n};
            t.m[t.n++] = (pl_msg){"assistant", a->s, a->n};
        }
    }
    if (in && in->n) {
        /* the user turn is the instruction, a blank line, then the input */
        char *u = pl_alloc(p, ins->n + 2 + in->n);
        memcpy(u, ins->s, ins->n);
        memcpy(u + ins->n, "\n\n", 2);
        memcpy(u + ins->n + 2, in->s, in->n);
        t.m[t.n++] = (pl_msg){"user", u, ins->n + 2 + in->n};
    } else {
        t.m[t.n++] = (pl_msg){"user", ins->s, ins->n};
    }
    int prompt = prompt_from(p, t.m, t.n);
    p->main = response_to(p, prompt, out->s, out->n, NULL, 0);
    return 0;
}

/* ---- PRM800K ---------------------------------------------------------- */

static int detect_prm(const jnode *r)
{
    return get_t(r, "question", J_OBJ) && get_t(r, "label", J_OBJ);
}

static int map_prm(av_plan *p, const jnode *row)
{
    const jnode *q = NULL, *label = NULL, *problem = NULL, *steps = NULL;
    if (need(p, row, "question", J_OBJ, "", &q) || need(p, q, "problem", J_STR, "question.", &problem) ||
        need(p, row, "label", J_OBJ, "", &label) || need(p, label, "steps", J_ARR, "label.", &steps))
        return -1;
    int prompt = pl_add(p, AV_PROMPT);
    pl_add_msg(p, prompt, "user", problem->s, problem->n);
    /* the solution: each step's chosen completion, else its human one */
    const jnode **pick = (const jnode **)pl_alloc(p, (steps->n + 1) * sizeof *pick);
    av_buf *b = &p->scratch;
    av_buf_reset(b);
    uint32_t nsteps = 0;
    const jnode *s = steps + 1;
    for (uint32_t i = 0; i < steps->n; i++, s = json_next(s)) {
        if (s->type != J_OBJ) return pl_fail(p, "'label.steps[%u]' must be an object, not %s", i, json_type_name(s));
        const jnode *comps = get_t(s, "completions", J_ARR), *chosen = get_t(s, "chosen_completion", J_NUM);
        const jnode *human = get_t(s, "human_completion", J_OBJ), *c = NULL;
        if (chosen && comps) c = json_at(comps, (uint32_t)strtoul(chosen->s, NULL, 10));
        else if (human) c = human;
        else if (comps && comps->n == 1) c = json_at(comps, 0);
        if (!c || c->type != J_OBJ || !get_t(c, "text", J_STR)) break;
        pick[nsteps++] = c;
    }
    if (!nsteps) {
        p->main = prompt;
        return 0;
    }
    for (uint32_t i = 0; i < nsteps; i++) {
        const jnode *t = get_t(pick[i], "text", J_STR);
        if (i) av_buf_putc(b, '\n');
        av_buf_put(b, t->s, t->n);
    }
    const char *sol = pl_strdup(p, b->ptr, b->len);
    size_t soln = b->len;
    int r = pl_add(p, AV_RESPONSE);
    pl_set_ref(p, r, 0, prompt);
    pl_add_msg(p, r, "assistant", sol, soln);
    p->main = r;
    for (uint32_t i = 0; i < nsteps; i++) {
        const jnode *t = get_t(pick[i], "text", J_STR), *rating = json_get(pick[i], "rating");
        int rt = add_rating(p, r, "step", rating && rating->type == J_NUM ? num_of(rating) : NAN,
                            rating && rating->type == J_NUM ? rating : NULL, 'i');
        pl_add_msg(p, rt, "step", t->s, t->n);
        char idx[16];
        snprintf(idx, sizeof idx, "%u", i);
        pl_add_attr_json(p, rt, "step", pl_strdup(p, idx, strlen(idx)));
    }
    return 0;
}

/* ---- the table -------------------------------------------------------- */

/* Detection order: most specific shapes first. */
static const av_format formats[] = {
    {"prm800k", detect_prm, map_prm},
    {"ultrafeedback", detect_uf, map_uf},
    {"nectar", detect_nectar, map_nectar},
    {"argilla", detect_argilla, map_argilla},
    {"binarized", detect_binarized, map_binarized},
    {"helpsteer2-preference", detect_hs2pref, map_hs2pref},
    {"helpsteer2", detect_hs2, map_hs2},
    {"sharegpt-dpo", detect_sgdpo, map_sgdpo},
    {"magpie", detect_magpie, map_magpie},
    {"skywork", detect_skywork, map_skywork},
    {"alpaca", detect_alpaca, map_alpaca},
    {"sharegpt", detect_sharegpt, map_sharegpt},
    {"openai", detect_openai, map_openai},
};
#define NFORMATS (sizeof formats / sizeof formats[0])

const av_format *av_format_find(const char *name)
{
    for (size_t i = 0; i < NFORMATS; i++)
        if (!strcmp(formats[i].name, name)) return &formats[i];
    return NULL;
}

const av_format *av_format_detect(const jnode *row)
{
    if (!row || row->type != J_OBJ) return NULL;
    for (size_t i = 0; i < NFORMATS; i++)
        if (formats[i].detect(row)) return &formats[i];
    return NULL;
}

const char *av_format_name(const av_format *f)
{
    return f->name;
}

const char *av_format_names(void)
{
    return "magpie, ultrafeedback, binarized, argilla, skywork, nectar, helpsteer2, helpsteer2-preference, "
           "sharegpt, sharegpt-dpo, openai, alpaca, prm800k";
}

int av_format_map(const av_format *f, av_plan *p, const jnode *row)
{
    av_plan_reset(p, f->name);
    if (!row || row->type != J_OBJ) return pl_fail(p, "a row must be a JSON object, not %s", json_type_name(row));
    if (f->map(p, row)) return -1;
    return pl_finish(p, row);
}
