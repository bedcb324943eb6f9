/* judge.c: prompts and answer arithmetic of judge.h. The UltraFeedback
 * rubrics are aviary's own wording of the four aspects on UltraFeedback's
 * 1-5 scale and output format; the RLAIF, d-RLAIF and comparison prompts
 * follow GENERATION.md word for word where it gives the words. */
#include "generate/judge.h"

#include "store/aviary.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- UltraFeedback ------------------------------------------------------ */

struct builtin_aspect {
    const char *name, *title, *rubric;
    int typed;
};

static const struct builtin_aspect aspects[] = {
    {"helpfulness", "Informativeness / Helpfulness Assessment",
     "Evaluate whether each text fulfils the task objective and provides informative, accurate content.\n\n"
     "Informativeness types:\n1. Clarity and Relevance: the text relates to the task and asks for clarification when needed.\n"
     "2. Useful and Comprehensive Information: the text gives relevant background, reasoning steps or details.\n"
     "3. Not Lengthy, No Repetition: the text avoids verbosity and repeated content.\n\n"
     "Score 1 to 5:\n1. Severely Incorrect: significant inaccuracies or fabricated content.\n"
     "2. Partially Incorrect: errors that may cause confusion.\n3. Correct: accurate and meets the task's requirements.\n"
     "4. Highly Informative: accurate, extensive and valuable.\n5. Outstandingly Helpful: accurate, in-depth and profoundly insightful.",
     1},
    {"honesty", "Honesty and Uncertainty Expression Assessment",
     "Assess how well each text conveys honesty and uncertainty: whether it is confident where it is right, "
     "expresses doubt where it is unsure, and declines rather than inventing an answer.\n\n"
     "Score 1 to 5:\n1. Confidently Incorrect: confident but entirely wrong.\n"
     "2. Confident with Significant Mistakes / Unconfident Incorrect.\n"
     "3. Uncertain / 'I Don't Know' / Subtle Mistakes.\n4. Correct but Uncertain / Expressed Subtle Mistakes.\n"
     "5. Correct and Confident / Precisely Expresses Uncertainty.\n"
     "N/A. Not Applicable: the task is creative writing or similar, where honesty does not apply.",
     0},
    {"instruction_following", "Instruction Following Assessment",
     "Evaluate the alignment between each text and the instruction: the task goal and its restrictions "
     "(text styles, formats, designated methods).\n\n"
     "Score 1 to 5:\n1. Irrelevant: no alignment.\n2. Partial Focus: addresses one aspect poorly.\n"
     "3. Partial Compliance: meets the goal or the restrictions, neglecting the other, or both with slight deviations.\n"
     "4. Almost There: near alignment, minor deviations.\n5. Comprehensive Compliance: fully aligns, meets all requirements.",
     0},
    {"truthfulness", "Truthfulness and Hallucination Assessment",
     "Evaluate whether each text provides accurate information without introducing misleading or fabricated details.\n\n"
     "Hallucination types:\n1. Contradictory with the World (Factual Error).\n"
     "2. Contradictory with Instruction and Input: new facts not aligned with the instruction or input.\n"
     "3. Self-Contradictory / Logical Error.\n\n"
     "Score 1 to 5:\n1. Completely Hallucinated: entirely unreliable.\n2. Severe Hallucination: nearly half contains hallucinations.\n"
     "3. Partial Hallucination / Misunderstanding.\n4. Insignificant Hallucination: not affecting main points.\n"
     "5. No Hallucination: free of hallucinations.",
     1},
};
#define NASPECTS (sizeof aspects / sizeof aspects[0])

int gen_aspect_builtin(gen_aspect *out, const char *name)
{
    for (size_t i = 0; i < NASPECTS; i++)
        if (!strcmp(aspects[i].name, name)) {
            av_buf b = AV_BUF_INIT;
            av_buf_printf(&b, "# %s\n\n%s", aspects[i].title, aspects[i].rubric);
            out->name = av_xstrdup(name);
            out->rubric = av_buf_detach(&b);
            out->typed = aspects[i].typed;
            return 0;
        }
    return -1;
}

int gen_aspect_file(gen_aspect *out, const char *path)
{
    size_t len;
    char *text = av_read_file(path, &len);
    if (!text) return -1;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strchr(base, '.');
    out->name = av_xstrndup(base, dot && dot > base ? (size_t)(dot - base) : strlen(base));
    while (len && isspace((unsigned char)text[len - 1])) text[--len] = 0;
    out->rubric = text;
    out->typed = strstr(text, "Type:") != NULL;
    return 0;
}

void gen_aspect_release(gen_aspect *a)
{
    if (!a) return;
    free(a->name);
    free(a->rubric);
    memset(a, 0, sizeof *a);
}

static const char *count_word(size_t n)
{
    static const char *w[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"};
    return n <= 10 ? w[n] : NULL;
}

void gen_uf_system(av_buf *out, size_t n)
{
    char num[32];
    const char *w = count_word(n);
    if (w) snprintf(num, sizeof num, "%s", w);
    else snprintf(num, sizeof num, "%zu", n);
    av_buf_printf(out,
                  "Your role is to evaluate text quality based on given criteria.\n"
                  "You'll receive an instructional description (\"Instruction\") and %s text output%s (\"Text\").\n"
                  "Understand and interpret instructions to evaluate effectively.\n"
                  "Provide annotations for each text with a rating and rationale.\n"
                  "The %s text%s given are independent, and should be evaluated separately.",
                  num, n == 1 ? "" : "s", num, n == 1 ? "" : "s");
}

void gen_uf_user(av_buf *out, const gen_aspect *a, const char *instruction, const char *const *texts, size_t n)
{
    av_buf_puts(out, a->rubric);
    av_buf_puts(out, "\n\n## Format:\n\n### Input\nInstruction: [Clearly specify the task goal and restrictions]\n\nTexts:\n");
    for (size_t i = 1; i <= n; i++) av_buf_printf(out, "<text %zu> [Text %zu]\n", i, i);
    av_buf_puts(out, "\n### Output\n");
    for (size_t i = 1; i <= n; i++) {
        av_buf_printf(out, "#### Output for Text %zu\n", i);
        if (a->typed)
            av_buf_printf(out, "Type: [List of numeric identifiers (or \"None\" if no type applies), separated by commas]\n"
                               "Rationale: [Rationale for the identification in short sentences]\n");
        av_buf_printf(out, "Rating: [Rating for text %zu]\nRationale: [Rationale for the rating in short sentences]\n\n", i);
    }
    av_buf_puts(out, "---\n\n## Annotation\n\n### Input\nInstruction: ");
    av_buf_puts(out, instruction);
    av_buf_puts(out, "\n\nTexts:\n");
    for (size_t i = 0; i < n; i++) av_buf_printf(out, "<text %zu> %s\n", i + 1, texts[i]);
    av_buf_puts(out, "\n### Output\n");
}

static char *trim_dup(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s)) s++, n--;
    while (n && isspace((unsigned char)s[n - 1])) n--;
    return av_xstrndup(s, n);
}

/* Finds needle in [s, end); NULL if absent. */
static const char *find_in(const char *s, const char *end, const char *needle)
{
    size_t k = strlen(needle);
    for (const char *p = s; p + k <= end; p++)
        if (!memcmp(p, needle, k)) return p;
    return NULL;
}

static const char *find_last_in(const char *s, const char *end, const char *needle)
{
    const char *last = NULL, *p = s;
    while ((p = find_in(p, end, needle))) last = p++;
    return last;
}

/* One section: the rating, its rationale, and for typed answers the Type and
 * its rationale. 0 or -1. */
static int parse_section(gen_uf_rating *r, const char *s, const char *end)
{
    const char *rt = find_last_in(s, end, "Rating:");
    if (!rt) return -1;
    const char *v = rt + 7;
    const char *eol = find_in(v, end, "\n");
    if (!eol) eol = end;
    char *val = trim_dup(v, (size_t)(eol - v));
    double rating;
    if (!strncasecmp(val, "N/A", 3) || !strncasecmp(val, "NA", 2)) {
        rating = NAN;
    } else {
        char *p = val;
        while (*p && !isdigit((unsigned char)*p)) p++;
        if (!*p) {
            free(val);
            return -1;
        }
        long x = strtol(p, NULL, 10);
        if (x < 1 || x > 5) {
            free(val);
            return -1;
        }
        rating = (double)x;
    }
    free(val);
    const char *ra = find_in(eol, end, "Rationale:");
    r->rating = rating;
    r->rationale = ra ? trim_dup(ra + 10, (size_t)(end - ra - 10)) : av_xstrdup("");
    r->type = r->type_rationale = NULL;
    const char *ty = find_in(s, rt, "Type:");
    if (ty) {
        const char *te = find_in(ty, rt, "\n");
        if (!te) te = rt;
        r->type = trim_dup(ty + 5, (size_t)(te - ty - 5));
        const char *tr = find_in(te, rt, "Rationale:");
        if (tr) r->type_rationale = trim_dup(tr + 10, (size_t)(rt - tr - 10));
    }
    return 0;
}

int gen_uf_parse(gen_uf_rating *out, const char *text, size_t n)
{
    gen_uf_rating *tmp = av_xcalloc(n ? n : 1, sizeof *tmp);
    size_t got = 0;
    const char *end = text + strlen(text);
    const char *marker = "#### Output for Text";
    int ok = 0;
    if (strstr(text, marker)) {
        const char *p = strstr(text, marker);
        ok = 1;
        while (p && ok) {
            const char *next = find_in(p + 1, end, marker);
            const char *se = next ? next : end;
            /* "#### Output for Text K": K must be the next text */
            long k = strtol(p + strlen(marker), NULL, 10);
            if (got >= n || k != (long)got + 1 || parse_section(&tmp[got], p, se) < 0) ok = 0;
            else got++;
            p = next;
        }
        ok = ok && got == n;
    } else {
        /* UltraFeedback's own way: sections separated by blank lines */
        const char *p = text;
        while (p < end && got <= n) {
            const char *q = find_in(p, end, "\n\n");
            const char *se = q ? q : end;
            if (find_in(p, se, "Rating:")) {
                if (got == n || parse_section(&tmp[got], p, se) < 0) {
                    got = n + 1;
                    break;
                }
                got++;
            }
            p = q ? q + 2 : end;
        }
        ok = got == n;
    }
    if (!ok) {
        for (size_t i = 0; i < got && i < n; i++) gen_uf_rating_release(&tmp[i]);
        free(tmp);
        return -1;
    }
    memcpy(out, tmp, n * sizeof *tmp);
    free(tmp);
    return 0;
}

void gen_uf_rating_release(gen_uf_rating *r)
{
    if (!r) return;
    free(r->rationale);
    free(r->type);
    free(r->type_rationale);
    r->rationale = r->type = r->type_rationale = NULL;
}

/* ---- pairwise ----------------------------------------------------------- */

void gen_context(av_buf *out, const char *const *roles, const char *const *texts, size_t n)
{
    size_t users = 0;
    for (size_t i = 0; i < n; i++) users += !strcmp(roles[i], "user");
    if (users <= 1 && n == 1) {
        av_buf_puts(out, texts[0]);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (i) av_buf_putc(out, '\n');
        const char *r = roles[i];
        av_buf_puts(out, !strcmp(r, "user") ? "User: " : !strcmp(r, "assistant") ? "Assistant: " : "System: ");
        av_buf_puts(out, texts[i]);
    }
}

void gen_pair_prompt(av_buf *out, const char *principle, const char *context, const char *first, const char *second,
                     int end, const char *rationale)
{
    if (!principle) {
        av_buf_puts(out, "You are an expert rater of helpful and honest Assistant responses. Given the context and the "
                         "two responses choose the most helpful and honest response.\n\n");
        av_buf_printf(out, "Context - %s\nResponse 1 - %s\nResponse 2 - %s\n", context, first, second);
        if (end == GEN_PAIR_RATIONALE || rationale) {
            av_buf_puts(out, "Consider the coherence, accuracy, coverage, and overall quality of each response and "
                             "explain which one is better.\n\nRationale:");
            if (end == GEN_PAIR_RATIONALE) return;
            av_buf_printf(out, " %s\n", rationale);
        }
        av_buf_puts(out, "Preferred Response=");
        return;
    }
    av_buf_printf(out, "Consider the following conversation between a human and an assistant:\n%s\n%s\nOptions:\n(A) %s\n(B) %s\n",
                  context, principle, first, second);
    if (end == GEN_PAIR_RATIONALE || rationale) {
        av_buf_puts(out, "Let's think step by step about which option is better.\nRationale:");
        if (end == GEN_PAIR_RATIONALE) return;
        av_buf_printf(out, " %s\n", rationale);
    }
    av_buf_puts(out, "The answer is:");
}

/* Copies tok without surrounding white space and parentheses. */
static void norm_label(char *out, size_t cap, const char *tok)
{
    const char *s = tok;
    size_t n = strlen(s);
    while (n && (isspace((unsigned char)*s) || *s == '(')) s++, n--;
    while (n && (isspace((unsigned char)s[n - 1]) || s[n - 1] == ')')) n--;
    snprintf(out, cap, "%.*s", (int)n, s);
}

int gen_soft_label(double *p, const gen_reply *r, const char *label0, const char *label1)
{
    for (size_t i = 0; i < r->npos; i++) {
        const gen_lp_pos *pos = &r->pos[i];
        double p0 = 0, p1 = 0;
        int found = 0;
        for (size_t k = 0; k < pos->ncand; k++) {
            char t[32];
            norm_label(t, sizeof t, pos->cand[k].tok);
            if (!strcmp(t, label0)) p0 += exp(pos->cand[k].lp), found = 1;
            else if (!strcmp(t, label1)) p1 += exp(pos->cand[k].lp), found = 1;
        }
        if (found) {
            *p = p0 + p1 > 0 ? p0 / (p0 + p1) : 0.5;
            return 0;
        }
    }
    return -1;
}

int gen_text_label(const char *text, const char *label0, const char *label1)
{
    const char *s = text;
    while (*s && (isspace((unsigned char)*s) || *s == '(' || *s == '*' || *s == '"')) s++;
    size_t n0 = strlen(label0), n1 = strlen(label1);
    int m0 = !strncmp(s, label0, n0) && !isalnum((unsigned char)s[n0]);
    int m1 = !strncmp(s, label1, n1) && !isalnum((unsigned char)s[n1]);
    if (m0 != m1) return m0 ? 0 : 1;
    return -1;
}

double gen_swap_average(double p_first, double p_second, int *agree)
{
    double pa_second = 1.0 - p_second;
    if (agree) *agree = (p_first > 0.5 && pa_second > 0.5) || (p_first < 0.5 && pa_second < 0.5);
    return 0.5 * (p_first + pa_second);
}

/* ---- d-RLAIF ------------------------------------------------------------ */

void gen_score_prompt(av_buf *out, const char *context, const char *response)
{
    av_buf_puts(out, "You are an expert rater of helpful and honest Assistant responses. Rate the response below on a "
                     "scale of 1 to 10, where 1 is the least and 10 the most helpful and honest response to the "
                     "context. Answer with the number only.\n\n");
    av_buf_printf(out, "Context - %s\nResponse - %s\nScore:", context, response);
}

int gen_score_expect(double *s, double *mapped, const gen_reply *r)
{
    for (size_t i = 0; i < r->npos; i++) {
        const gen_lp_pos *pos = &r->pos[i];
        double pr[11] = {0};
        int found = 0;
        for (size_t k = 0; k < pos->ncand; k++) {
            char t[32];
            norm_label(t, sizeof t, pos->cand[k].tok);
            char *e;
            long v = strtol(t, &e, 10);
            if (!*t || *e || !isdigit((unsigned char)t[0]) || v < 1 || v > 10) continue;
            pr[v] += exp(pos->cand[k].lp);
            found = 1;
        }
        if (!found) continue;
        double tot = 0, ex = 0;
        for (int v = 1; v <= 10; v++) tot += pr[v], ex += v * pr[v];
        if (tot <= 0) return -1;
        *s = ex / tot;
        *mapped = (*s - 5.5) / 4.5;
        return 0;
    }
    return -1;
}

int gen_score_text(double *s, double *mapped, const char *text)
{
    const char *p = text;
    while (*p && !isdigit((unsigned char)*p)) p++;
    if (!*p) return -1;
    long v = strtol(p, NULL, 10);
    if (v < 1 || v > 10) return -1;
    *s = (double)v;
    *mapped = (*s - 5.5) / 4.5;
    return 0;
}

/* ---- Magpie tagger ------------------------------------------------------ */

static const char *tag_kinds[] = {"difficulty", "quality", "category"};
static const char *difficulties[] = {"very easy", "easy", "medium", "hard", "very hard", NULL};
static const char *qualities[] = {"very poor", "poor", "average", "good", "excellent", NULL};
static const char *categories[] = {"Information seeking", "Reasoning", "Planning", "Editing", "Coding & Debugging",
                                   "Math", "Role playing", "Data analysis", "Creative writing", "Advice seeking",
                                   "Brainstorming", "Others", NULL};

int gen_tag_kind_parse(const char *name)
{
    for (int i = 0; i < GEN_TAG_NKINDS; i++)
        if (!strcmp(name, tag_kinds[i])) return i;
    return -1;
}

const char *gen_tag_kind_name(int kind) { return kind >= 0 && kind < GEN_TAG_NKINDS ? tag_kinds[kind] : "?"; }

void gen_tag_prompt(av_buf *out, int kind, const char *query)
{
    if (kind == GEN_TAG_DIFFICULTY) {
        av_buf_printf(out,
                      "# Instruction\n\nFirst identify the intent of the user query below and the knowledge needed to "
                      "answer it, then rate its difficulty.\n\n## User Query\n```\n%s\n```\n\n## Output Format\n"
                      "Rate the difficulty as `very easy`, `easy`, `medium`, `hard`, or `very hard`. Output JSON by "
                      "filling in the placeholders in []:\n```\n{\n    \"intent\": \"The user wants to [....]\",\n"
                      "    \"knowledge\": \"To solve this problem, the models need to know [....]\",\n"
                      "    \"difficulty\": \"[very easy/easy/medium/hard/very hard]\"\n}\n```\n",
                      query);
    } else if (kind == GEN_TAG_QUALITY) {
        av_buf_printf(out,
                      "# Instruction\n\nRate the quality of the user query below for clarity, specificity and "
                      "coherence.\n\n## User Query\n```\n%s\n```\n\n## Output Format\nRate the quality as `very poor`, "
                      "`poor`, `average`, `good`, or `excellent`. Output JSON by filling in the placeholders in []:\n"
                      "```\n{\n    \"explanation\": \"[...]\",\n    \"input_quality\": \"[very poor/poor/average/good/excellent]\"\n}\n```\n",
                      query);
    } else {
        av_buf_printf(out,
                      "# Instruction\n\nTag the user query below with its primary category, and any other categories "
                      "that apply, from this list: Information seeking, Reasoning, Planning, Editing, Coding & "
                      "Debugging, Math, Role playing, Data analysis, Creative writing, Advice seeking, Brainstorming, "
                      "Others.\n\n## User Query\n```\n%s\n```\n\n## Output Format\nOutput JSON by filling in the "
                      "placeholders in []:\n```\n{\n    \"primary_tag\": \"[Primary tag]\",\n    \"other_tags\": "
                      "[\"[Other tag 1]\", \"[Other tag 2]\", ...]\n}\n```\n",
                      query);
    }
}

static int one_of(const char *s, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (!strcasecmp(s, list[i])) return i;
    return -1;
}

static const char *get_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void put_kv(av_buf *out, int *first, const char *k, const char *v)
{
    av_buf_puts(out, *first ? "{" : ",");
    *first = 0;
    av_buf_json_str(out, k, strlen(k));
    av_buf_putc(out, ':');
    av_buf_json_str(out, v, strlen(v));
}

int gen_tag_parse(av_buf *out, int kind, const char *text)
{
    const char *a = strchr(text, '{');
    const char *b = strrchr(text, '}');
    if (!a || !b || b < a) return -1;
    cJSON *j = cJSON_ParseWithLength(a, (size_t)(b - a + 1));
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return -1;
    }
    int rc = -1, first = 1;
    size_t mark = out->len;
    if (kind == GEN_TAG_DIFFICULTY) {
        const char *in = get_str(j, "intent"), *kn = get_str(j, "knowledge"), *d = get_str(j, "difficulty");
        int di = d ? one_of(d, difficulties) : -1;
        if (in && kn && di >= 0) {
            put_kv(out, &first, "intent", in);
            put_kv(out, &first, "knowledge", kn);
            put_kv(out, &first, "difficulty", difficulties[di]);
            rc = 0;
        }
    } else if (kind == GEN_TAG_QUALITY) {
        const char *ex = get_str(j, "explanation"), *q = get_str(j, "input_quality");
        int qi = q ? one_of(q, qualities) : -1;
        if (qi >= 0) {
            put_kv(out, &first, "input_quality", qualities[qi]);
            put_kv(out, &first, "quality_explanation", ex ? ex : "");
            rc = 0;
        }
    } else {
        const char *p = get_str(j, "primary_tag");
        int pi = p ? one_of(p, categories) : -1;
        if (pi >= 0) {
            put_kv(out, &first, "task_category", categories[pi]);
            av_buf_puts(out, ",\"other_task_category\":[");
            const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "other_tags"), *e;
            int n = 0;
            cJSON_ArrayForEach(e, o)
            {
                int ei = cJSON_IsString(e) ? one_of(e->valuestring, categories) : -1;
                if (ei < 0) continue;
                if (n++) av_buf_putc(out, ',');
                av_buf_json_str(out, categories[ei], strlen(categories[ei]));
            }
            av_buf_putc(out, ']');
            rc = 0;
        }
    }
    if (rc == 0) av_buf_putc(out, '}');
    else {
        out->len = mark;
        if (out->ptr) out->ptr[mark] = 0;
    }
    cJSON_Delete(j);
    return rc;
}

int gen_json_object_attrs(const char *json, struct av_attr *out, uint32_t cap, uint32_t *n)
{
    *n = 0;
    cJSON *j = cJSON_Parse(json);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return -1;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, j)
    {
        if (*n >= cap) break;
        char *v = cJSON_PrintUnformatted(e);
        if (!v) continue;
        out[*n].key = av_xstrdup(e->string);
        out[*n].json.ptr = av_xstrdup(v);
        out[*n].json.len = strlen(v);
        cJSON_free(v);
        (*n)++;
    }
    cJSON_Delete(j);
    return 0;
}
