/* test_generate_magpie.c: Magpie's templates: the pre-query prompts of
 * GENERATION.md's table, the system and history rendering, BOS dropping,
 * cleaning of what the model wrote, and template files (good and bad). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate/magpie.h"
#include "tap.h"

static char *render(const char *name, const char *system, const char *const *hist, size_t n, int drop_bos)
{
    gen_template t;
    char err[256];
    if (gen_template_load(&t, name, err, sizeof err) < 0) return NULL;
    av_buf b = AV_BUF_INIT;
    gen_magpie_prompt(&b, &t, system, hist, n, drop_bos);
    gen_template_release(&t);
    return av_buf_detach(&b);
}

static void expect(const char *name, const char *want)
{
    char *got = render(name, NULL, NULL, 0, 0);
    CHECK_EQ_STR(got, want);
    free(got);
}

static void test_generate_magpie__prequery_table(void)
{
    expect("llama3", "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n");
    expect("qwen2", "<|im_start|>user\n");
    expect("qwen2.5", "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\n");
    expect("phi3", "<s> <|user|>\n");
    expect("gemma2", "<bos><start_of_turn>user\n\n");
    expect("mistral", "<s> [INST] ");
}

static void test_generate_magpie__system_history_bos(void)
{
    char *s = render("llama3", "Be kind.", NULL, 0, 0);
    CHECK_EQ_STR(s, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe kind.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n");
    free(s);
    const char *hist[] = {"Hi?", "Hello."};
    s = render("qwen2", NULL, hist, 2, 0);
    CHECK_EQ_STR(s, "<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\n");
    free(s);
    s = render("llama3", NULL, NULL, 0, 1);
    CHECK_EQ_STR(s, "<|start_header_id|>user<|end_header_id|>\n\n");
    free(s);
    s = render("mistral", "Sys.", hist, 2, 0);
    CHECK_EQ_STR(s, "<s> [INST] Sys.\n\nHi? [/INST] Hello.</s> [INST] ");
    free(s);
}

static void test_generate_magpie__clean(void)
{
    gen_template t;
    char err[256];
    CHECK_EQ_INT(gen_template_load(&t, "llama3", err, sizeof err), 0);
    CHECK_EQ_INT(t.nstop, 5);
    char a[] = "  How do I sort a list?<|eot_id|>junk";
    CHECK_EQ_INT(gen_magpie_clean(&t, a, strlen(a)), 21);
    CHECK_EQ_STR(a, "How do I sort a list?");
    char b[] = " \n ";
    CHECK_EQ_INT(gen_magpie_clean(&t, b, strlen(b)), 0);
    gen_template_release(&t);
}

static void test_generate_magpie__files(void)
{
    const char *dir = tap_tmpdir();
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/t.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"bos\": \"<B>\", \"user_open\": \"U:\", \"user_close\": \"\\n\", \"assistant_open\": \"A:\", "
          "\"assistant_close\": \"\\n\", \"stop\": [\"U:\"]}", f);
    fclose(f);
    const char *hist[] = {"q", "a"};
    char *s = render(path, NULL, hist, 2, 0);
    CHECK_EQ_STR(s, "<B>U:q\nA:a\nU:");
    free(s);
    gen_template t;
    CHECK_EQ_INT(gen_template_load(&t, "llama4", err, sizeof err), -1);
    CHECK(strstr(err, "unknown template 'llama4'") != NULL);
    f = fopen(path, "w");
    fputs("{\"bos\": \"<B>\"}", f);
    fclose(f);
    CHECK_EQ_INT(gen_template_load(&t, path, err, sizeof err), -1);
    CHECK(strstr(err, "has no \"user_open\"") != NULL);
    f = fopen(path, "w");
    fputs("{\"user_open\": \"U\", \"stop\": [1]}", f);
    fclose(f);
    CHECK_EQ_INT(gen_template_load(&t, path, err, sizeof err), -1);
    CHECK(strstr(err, "\"stop\" must be an array of non-empty strings") != NULL);
    f = fopen(path, "w");
    fputs("{\"user_open\": \"U\", \"asistant_open\": \"A\"}", f);
    fclose(f);
    CHECK_EQ_INT(gen_template_load(&t, path, err, sizeof err), -1);
    CHECK(strstr(err, "unknown key \"asistant_open\"") != NULL);
    f = fopen(path, "w");
    fputs("{\"user_open\": \"\"}", f);
    fclose(f);
    CHECK_EQ_INT(gen_template_load(&t, path, err, sizeof err), -1);
    CHECK(strstr(err, "\"user_open\" is empty") != NULL);
    f = fopen(path, "w");
    fputs("not json", f);
    fclose(f);
    CHECK_EQ_INT(gen_template_load(&t, path, err, sizeof err), -1);
    CHECK(strstr(err, "is not a JSON object") != NULL);
}

int main(void)
{
    RUN(test_generate_magpie__prequery_table);
    RUN(test_generate_magpie__system_history_bos);
    RUN(test_generate_magpie__clean);
    RUN(test_generate_magpie__files);
    return tap_done();
}
