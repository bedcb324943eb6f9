/* test_generate_judge.c: the judges' arithmetic and parsers on given model
 * outputs: soft labels from log-probabilities in the chat and completions
 * shapes, "(A)"/"(B)" found past a "(" token, swap averaging and agreement,
 * d-RLAIF expectations, UltraFeedback parsing of good and malformed answers,
 * Magpie tagger JSON, and reply parsing of llama.cpp and Ollama bodies. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "generate/judge.h"
#include "generate/llm.h"
#include "tap.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

static void test_generate_judge__soft_label_chat(void)
{
    /* P("1") = 0.7, P("2") = 0.2 (and other tokens): softmax over the two = 0.7/0.9 */
    const char *body = "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"1\"},"
                       "\"finish_reason\":\"stop\",\"logprobs\":{\"content\":[{\"token\":\"1\",\"logprob\":-0.35667494393873245,"
                       "\"bytes\":[49],\"top_logprobs\":[{\"token\":\"1\",\"logprob\":-0.35667494393873245,\"bytes\":[49]},"
                       "{\"token\":\" 2\",\"logprob\":-1.6094379124341003,\"bytes\":[32,50]},"
                       "{\"token\":\"The\",\"logprob\":-2.3025850929940455,\"bytes\":[84,104,101]}]}]}}],"
                       "\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":1,\"total_tokens\":51}}";
    gen_reply r;
    CHECK_EQ_INT(gen_reply_parse(&r, GEN_API_CHAT, body, strlen(body)), 0);
    CHECK_EQ_STR(r.text, "1");
    CHECK_EQ_INT(r.prompt_tokens, 50);
    CHECK_EQ_INT(r.npos, 1);
    CHECK_EQ_INT(r.pos[0].ncand, 3);
    double p = -1;
    CHECK_EQ_INT(gen_soft_label(&p, &r, "1", "2"), 0);
    CHECK(NEAR(p, 0.7 / 0.9));
    CHECK_EQ_INT(gen_soft_label(&p, &r, "A", "B"), -1);
    gen_reply_free(&r);
}

static void test_generate_judge__soft_label_completions(void)
{
    /* "(A)" as three tokens: the label sits at the second position */
    const char *body = "{\"choices\":[{\"index\":0,\"text\":\" (B)\",\"finish_reason\":\"stop\",\"logprobs\":{"
                       "\"tokens\":[\" (\",\"B\",\")\"],\"token_logprobs\":[-0.01,-0.2231435513142097,-0.01],"
                       "\"top_logprobs\":[{\" (\":-0.01,\" The\":-5.0},{\"B\":-0.2231435513142097,\"A\":-1.6094379124341003},"
                       "{\")\":-0.01}],\"text_offset\":[0,2,3]}}],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3}}";
    gen_reply r;
    CHECK_EQ_INT(gen_reply_parse(&r, GEN_API_COMPLETIONS, body, strlen(body)), 0);
    CHECK_EQ_INT(r.npos, 3);
    double p = -1;
    CHECK_EQ_INT(gen_soft_label(&p, &r, "A", "B"), 0);
    CHECK(NEAR(p, 0.2 / 1.0)); /* P(A) = 0.2 / (0.2 + 0.8) */
    CHECK_EQ_INT(r.completion_tokens, 3);
    gen_reply_free(&r);
}

static void test_generate_judge__soft_label_missing_other(void)
{
    gen_reply r;
    memset(&r, 0, sizeof r);
    r.npos = 1;
    r.pos[0].ncand = 1;
    snprintf(r.pos[0].cand[0].tok, sizeof r.pos[0].cand[0].tok, "2");
    r.pos[0].cand[0].lp = -0.1;
    double p = -1;
    CHECK_EQ_INT(gen_soft_label(&p, &r, "1", "2"), 0);
    CHECK(NEAR(p, 0.0));
}

static void test_generate_judge__text_fallback(void)
{
    CHECK_EQ_INT(gen_text_label("1", "1", "2"), 0);
    CHECK_EQ_INT(gen_text_label(" 2\n", "1", "2"), 1);
    CHECK_EQ_INT(gen_text_label("(B) is better", "A", "B"), 1);
    CHECK_EQ_INT(gen_text_label("12", "1", "2"), -1);
    CHECK_EQ_INT(gen_text_label("Neither", "A", "B"), -1);
}

static void test_generate_judge__swap_average(void)
{
    int agree = -1;
    /* A shown first: P(first)=0.9; B shown first: P(first)=0.3 -> P(A)=0.7 */
    CHECK(NEAR(gen_swap_average(0.9, 0.3, &agree), 0.8));
    CHECK_EQ_INT(agree, 1);
    /* position bias: the first shown always wins -> 0.5 and disagreement */
    CHECK(NEAR(gen_swap_average(0.8, 0.8, &agree), 0.5));
    CHECK_EQ_INT(agree, 0);
    /* text fallback: 1 and 0 in the two orders */
    CHECK(NEAR(gen_swap_average(1.0, 1.0, &agree), 0.5));
    CHECK_EQ_INT(agree, 0);
    CHECK(NEAR(gen_swap_average(0.0, 1.0, &agree), 0.0));
    CHECK_EQ_INT(agree, 1);
    CHECK(NEAR(gen_swap_average(0.5, 0.4, &agree), 0.55));
    CHECK_EQ_INT(agree, 0);
}

static void test_generate_judge__drlaif(void)
{
    gen_reply r;
    memset(&r, 0, sizeof r);
    r.npos = 1;
    const char *toks[] = {"7", " 8", "6", "10", "The"};
    double pr[] = {0.5, 0.2, 0.1, 0.1, 0.1};
    for (int i = 0; i < 5; i++) {
        snprintf(r.pos[0].cand[i].tok, sizeof r.pos[0].cand[i].tok, "%s", toks[i]);
        r.pos[0].cand[i].lp = log(pr[i]);
    }
    r.pos[0].ncand = 5;
    double s, m;
    CHECK_EQ_INT(gen_score_expect(&s, &m, &r), 0);
    double want = (7 * 0.5 + 8 * 0.2 + 6 * 0.1 + 10 * 0.1) / 0.9;
    CHECK(NEAR(s, want));
    CHECK(NEAR(m, (want - 5.5) / 4.5));
    /* extremes map to -1 and 1 */
    r.pos[0].ncand = 1;
    snprintf(r.pos[0].cand[0].tok, sizeof r.pos[0].cand[0].tok, "1");
    CHECK_EQ_INT(gen_score_expect(&s, &m, &r), 0);
    CHECK(NEAR(m, -1.0));
    snprintf(r.pos[0].cand[0].tok, sizeof r.pos[0].cand[0].tok, "10");
    CHECK_EQ_INT(gen_score_expect(&s, &m, &r), 0);
    CHECK(NEAR(m, 1.0));
    snprintf(r.pos[0].cand[0].tok, sizeof r.pos[0].cand[0].tok, "eleven");
    CHECK_EQ_INT(gen_score_expect(&s, &m, &r), -1);
    CHECK_EQ_INT(gen_score_text(&s, &m, "Score: 4/10"), 0);
    CHECK(NEAR(s, 4.0));
    CHECK_EQ_INT(gen_score_text(&s, &m, "no idea"), -1);
}

static void test_generate_judge__uf_parse_good(void)
{
    const char *out = "#### Output for Text 1\nRating: 4\nRationale: Accurate and clear.\n\n"
                      "#### Output for Text 2\nRating: 2 (partially incorrect)\nRationale: Misses the point.\nIt rambles.";
    gen_uf_rating r[2];
    CHECK_EQ_INT(gen_uf_parse(r, out, 2), 0);
    CHECK(NEAR(r[0].rating, 4));
    CHECK_EQ_STR(r[0].rationale, "Accurate and clear.");
    CHECK(NEAR(r[1].rating, 2));
    CHECK_EQ_STR(r[1].rationale, "Misses the point.\nIt rambles.");
    CHECK(r[0].type == NULL);
    gen_uf_rating_release(&r[0]);
    gen_uf_rating_release(&r[1]);
}

static void test_generate_judge__uf_parse_typed_and_na(void)
{
    const char *out = "#### Output for Text 1\nType: 1, 3\nRationale: Clear and concise.\nRating: 5\nRationale: Excellent.\n\n"
                      "#### Output for Text 2\nType: None\nRationale: Nothing.\nRating: N/A\nRationale: Creative task.";
    gen_uf_rating r[2];
    CHECK_EQ_INT(gen_uf_parse(r, out, 2), 0);
    CHECK(NEAR(r[0].rating, 5));
    CHECK_EQ_STR(r[0].type, "1, 3");
    CHECK_EQ_STR(r[0].type_rationale, "Clear and concise.");
    CHECK_EQ_STR(r[0].rationale, "Excellent.");
    CHECK(isnan(r[1].rating));
    gen_uf_rating_release(&r[0]);
    gen_uf_rating_release(&r[1]);
    /* UltraFeedback's own splitting on blank lines, without the headers */
    const char *plain = "Here are my ratings.\n\nRating: 3\nRationale: ok\n\nRating: 1\nRationale: wrong";
    CHECK_EQ_INT(gen_uf_parse(r, plain, 2), 0);
    CHECK(NEAR(r[0].rating, 3) && NEAR(r[1].rating, 1));
    gen_uf_rating_release(&r[0]);
    gen_uf_rating_release(&r[1]);
}

static void test_generate_judge__uf_parse_malformed(void)
{
    gen_uf_rating r[2];
    memset(r, 0, sizeof r);
    CHECK_EQ_INT(gen_uf_parse(r, "I cannot rate these texts.", 2), -1);
    CHECK_EQ_INT(gen_uf_parse(r, "#### Output for Text 1\nRating: 4\nRationale: fine", 2), -1);                 /* one missing */
    CHECK_EQ_INT(gen_uf_parse(r, "#### Output for Text 1\nRating: 9\nRationale: x\n\n#### Output for Text 2\nRating: 3\nRationale: y", 2), -1); /* out of range */
    CHECK_EQ_INT(gen_uf_parse(r, "#### Output for Text 1\nRating: good\nRationale: x\n\n#### Output for Text 2\nRating: 3\nRationale: y", 2), -1);
    CHECK_EQ_INT(gen_uf_parse(r, "#### Output for Text 2\nRating: 4\nRationale: x\n\n#### Output for Text 1\nRating: 3\nRationale: y", 2), -1); /* order */
    CHECK_EQ_INT(gen_uf_parse(r, "#### Output for Text 1\nRating: 4\nRationale: x\n#### Output for Text 2\nRating: 3\nRationale: y\n#### Output for Text 3\nRating: 3\nRationale: z", 2), -1); /* extra */
    CHECK(r[0].rationale == NULL);
}

static void test_generate_judge__uf_prompt(void)
{
    gen_aspect a;
    CHECK_EQ_INT(gen_aspect_builtin(&a, "honesty"), 0);
    gen_aspect none;
    CHECK_EQ_INT(gen_aspect_builtin(&none, "nonsense"), -1);
    av_buf s = AV_BUF_INIT, u = AV_BUF_INIT;
    gen_uf_system(&s, 4);
    CHECK(strstr(s.ptr, "and four text outputs (\"Text\")") != NULL);
    CHECK(strstr(s.ptr, "The four texts given are independent") != NULL);
    const char *texts[] = {"first", "second"};
    gen_uf_user(&u, &a, "Say hi.", texts, 2);
    CHECK(strstr(u.ptr, "## Annotation\n\n### Input\nInstruction: Say hi.\n\nTexts:\n<text 1> first\n<text 2> second\n\n### Output\n") != NULL);
    CHECK(strstr(u.ptr, "Type:") == NULL);
    av_buf_free(&s);
    av_buf_free(&u);
    gen_aspect_release(&a);
}

static void test_generate_judge__pair_prompt(void)
{
    av_buf b = AV_BUF_INIT;
    gen_pair_prompt(&b, NULL, "What is 2+2?", "4", "5", GEN_PAIR_ANSWER, NULL);
    CHECK_EQ_STR(b.ptr, "You are an expert rater of helpful and honest Assistant responses. Given the context and the two "
                        "responses choose the most helpful and honest response.\n\nContext - What is 2+2?\nResponse 1 - 4\n"
                        "Response 2 - 5\nPreferred Response=");
    av_buf_reset(&b);
    gen_pair_prompt(&b, "Please choose the most helpful response.", "Human: hi", "a", "b", GEN_PAIR_ANSWER, NULL);
    CHECK_EQ_STR(b.ptr, "Consider the following conversation between a human and an assistant:\nHuman: hi\n"
                        "Please choose the most helpful response.\nOptions:\n(A) a\n(B) b\nThe answer is:");
    av_buf_free(&b);
}

static void test_generate_judge__tags(void)
{
    av_buf b = AV_BUF_INIT;
    CHECK_EQ_INT(gen_tag_parse(&b, GEN_TAG_DIFFICULTY,
                               "Sure!\n```json\n{\"intent\": \"The user wants to add\", \"knowledge\": \"To solve this "
                               "problem, the models need to know sums\", \"difficulty\": \"Very Easy\"}\n```"),
                 0);
    CHECK_EQ_STR(b.ptr, "{\"intent\":\"The user wants to add\",\"knowledge\":\"To solve this problem, the models need to "
                        "know sums\",\"difficulty\":\"very easy\"}");
    av_buf_reset(&b);
    CHECK_EQ_INT(gen_tag_parse(&b, GEN_TAG_CATEGORY, "{\"primary_tag\": \"math\", \"other_tags\": [\"Reasoning\", \"Cooking\"]}"), 0);
    CHECK_EQ_STR(b.ptr, "{\"task_category\":\"Math\",\"other_task_category\":[\"Reasoning\"]}");
    av_buf_reset(&b);
    CHECK_EQ_INT(gen_tag_parse(&b, GEN_TAG_QUALITY, "{\"explanation\": \"x\", \"input_quality\": \"superb\"}"), -1);
    CHECK_EQ_INT(gen_tag_parse(&b, GEN_TAG_QUALITY, "no json here"), -1);
    CHECK_EQ_INT(gen_tag_parse(&b, GEN_TAG_DIFFICULTY, "{\"intent\": \"x\""), -1);
    CHECK_EQ_INT((int)b.len, 0);
    av_buf_free(&b);
}

static void test_generate_judge__replies_native(void)
{
    gen_reply r;
    const char *ll = "{\"content\":\"Hello\",\"tokens_predicted\":2,\"tokens_evaluated\":7,\"stopped_limit\":false}";
    CHECK_EQ_INT(gen_reply_parse(&r, GEN_API_COMPLETIONS, ll, strlen(ll)), 0);
    CHECK_EQ_STR(r.text, "Hello");
    CHECK_EQ_INT(r.prompt_tokens, 7);
    CHECK_EQ_INT(r.completion_tokens, 2);
    gen_reply_free(&r);
    const char *ol = "{\"model\":\"m\",\"response\":\"Hi there\",\"done\":true,\"done_reason\":\"length\",\"prompt_eval_count\":3,\"eval_count\":4}";
    CHECK_EQ_INT(gen_reply_parse(&r, GEN_API_OLLAMA, ol, strlen(ol)), 0);
    CHECK_EQ_STR(r.text, "Hi there");
    CHECK_EQ_STR(r.finish, "length");
    gen_reply_free(&r);
    CHECK_EQ_INT(gen_reply_parse(&r, GEN_API_CHAT, "{\"choices\": [{\"text\": \"unterminated", 35), -1);
    CHECK_EQ_INT(gen_reply_parse(&r, GEN_API_CHAT, "{\"choices\": []}", 15), -1);
}

int main(void)
{
    RUN(test_generate_judge__soft_label_chat);
    RUN(test_generate_judge__soft_label_completions);
    RUN(test_generate_judge__soft_label_missing_other);
    RUN(test_generate_judge__text_fallback);
    RUN(test_generate_judge__swap_average);
    RUN(test_generate_judge__drlaif);
    RUN(test_generate_judge__uf_parse_good);
    RUN(test_generate_judge__uf_parse_typed_and_na);
    RUN(test_generate_judge__uf_parse_malformed);
    RUN(test_generate_judge__uf_prompt);
    RUN(test_generate_judge__pair_prompt);
    RUN(test_generate_judge__tags);
    RUN(test_generate_judge__replies_native);
    return tap_done();
}
