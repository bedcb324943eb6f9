/* judge.h: the judges' prompts and the arithmetic on their answers, kept
 * free of HTTP and of the store so each piece is unit-tested on given
 * outputs: UltraFeedback's rating prompts and parser, RLAIF pairwise prompts
 * with soft labels from log-probabilities and position-swap averaging,
 * d-RLAIF's expected score, Magpie's tagger prompts and JSON answers, and
 * Constitutional AI's comparison prompt. */
#ifndef AV_GENERATE_JUDGE_H
#define AV_GENERATE_JUDGE_H

#include <stddef.h>
#include <stdint.h>

#include "generate/llm.h"
#include "util/util.h"

/* ---- UltraFeedback ------------------------------------------------------ */

/* An aspect: its name, the rubric text before "## Format", and whether its
 * answers use the four-line Type/Rationale/Rating/Rationale form. */
typedef struct gen_aspect {
    char *name;
    char *rubric;
    int typed;
} gen_aspect;

/* helpfulness, honesty, instruction_following, truthfulness; -1 if unknown. */
int gen_aspect_builtin(gen_aspect *out, const char *name);
/* A rubric file: the aspect is named after the file (without directory and
 * extension); it is typed if the rubric mentions "Type:". -1 with errno. */
int gen_aspect_file(gen_aspect *out, const char *path);
void gen_aspect_release(gen_aspect *a);

/* The system prompt for n texts ("four" when n is 4, as UltraFeedback). */
void gen_uf_system(av_buf *out, size_t n);
/* The user message: rubric, format, then the annotation input ending "### Output\n". */
void gen_uf_user(av_buf *out, const gen_aspect *a, const char *instruction, const char *const *texts, size_t n);

typedef struct gen_uf_rating {
    double rating;     /* 1..5, NAN for "N/A" */
    char *rationale;   /* malloc'd */
    char *type;        /* typed aspects: the Type line, else NULL */
    char *type_rationale;
} gen_uf_rating;

/* Parses a judge's answer for n texts into out[0..n). 0 on success; -1 when
 * any text lacks a usable rating (the caller re-asks), with out untouched. */
int gen_uf_parse(gen_uf_rating *out, const char *text, size_t n);
void gen_uf_rating_release(gen_uf_rating *r);

/* ---- pairwise preferences ---------------------------------------------- */

/* The conversation of a prompt as a judge sees it: a single user turn as is;
 * otherwise "User: ...\nAssistant: ...\nUser: ..." lines. */
void gen_context(av_buf *out, const char *const *roles, const char *const *texts, size_t n);

enum gen_pair_end {
    GEN_PAIR_ANSWER = 0,  /* ends "Preferred Response=" (or "The answer is:") */
    GEN_PAIR_RATIONALE,   /* ends asking for a rationale, "Rationale:" */
};
/* RLAIF's helpfulness prompt (principle NULL) or, with a principle,
 * Constitutional AI's comparison with (A)/(B). With rationale (from a CoT
 * step) the rationale is included before the answer cue. */
void gen_pair_prompt(av_buf *out, const char *principle, const char *context, const char *first, const char *second,
                     int end, const char *rationale);

/* The soft label P(first label) from the first position whose top
 * candidates include label0 or label1 (compared after trimming white space
 * and parentheses; variants of a label add up): softmax over the two. A label
 * missing from the candidates has probability 0. Returns 0 and sets *p, or
 * -1 when no position names either label. */
int gen_soft_label(double *p, const gen_reply *r, const char *label0, const char *label1);
/* The label a text answer names: 0 for label0, 1 for label1, -1 for neither. */
int gen_text_label(const char *text, const char *label0, const char *label1);
/* Position-swap averaging: p_first = P(A) when A was shown first,
 * p_second = P(first shown) when B was shown first. P(A better) =
 * (p_first + 1 - p_second) / 2; *agree = 1 when both orders prefer the same
 * response (a 0.5 in either order is not agreement). */
double gen_swap_average(double p_first, double p_second, int *agree);

/* ---- d-RLAIF ----------------------------------------------------------- */

void gen_score_prompt(av_buf *out, const char *context, const char *response);
/* The expectation s = sum i * P(i) over the score tokens 1..10 found at the
 * first position with any of them (normalised over those present), and
 * (s - 5.5) / 4.5 in [-1, 1]. 0 on success, -1 without score tokens. */
int gen_score_expect(double *s, double *mapped, const gen_reply *r);
/* A text answer's score (the first integer 1..10); -1 if none. */
int gen_score_text(double *s, double *mapped, const char *text);

/* ---- Magpie tagger ----------------------------------------------------- */

enum gen_tag_kind { GEN_TAG_DIFFICULTY = 0, GEN_TAG_QUALITY, GEN_TAG_CATEGORY, GEN_TAG_NKINDS };
/* "difficulty", "quality", "category" -> kind; -1 otherwise. */
int gen_tag_kind_parse(const char *name);
const char *gen_tag_kind_name(int kind);
void gen_tag_prompt(av_buf *out, int kind, const char *query);
/* The JSON object in a tagger's answer (fenced or not), checked, as
 * aviary tag attributes in a JSON object text written to out:
 * difficulty -> {"intent","knowledge","difficulty"}; quality ->
 * {"input_quality","quality_explanation"}; category ->
 * {"task_category","other_task_category"}. 0, or -1 if the answer is unusable. */
int gen_tag_parse(av_buf *out, int kind, const char *text);

/* Splits a JSON object text into attributes (key and value as compact JSON,
 * both malloc'd: the caller frees key and json.ptr). At most cap; -1 if json
 * is not an object. */
struct av_attr;
int gen_json_object_attrs(const char *json, struct av_attr *out, uint32_t cap, uint32_t *n);

#endif
