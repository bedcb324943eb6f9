/* models.c: model name -> licence id, for names whose terms are public fact
 * (each family's model card or licence file). Rules are tried in order; the
 * first whose every needle occurs in the lowercased base name wins. Families
 * with mixed licences by size (Qwen2, Qwen2.5) are listed per size, and
 * anything unlisted is unknown. */
#include "ingest/models.h"

#include <ctype.h>
#include <string.h>

typedef struct rule {
    const char *a, *b, *c; /* all must occur (NULL = nothing more) */
    const char *licence;
} rule;

static const rule rules[] = {
    /* Meta */
    {"llama-3.3", NULL, NULL, "llama3.3"},
    {"llama3.3", NULL, NULL, "llama3.3"},
    {"llama-3.2", NULL, NULL, "llama3.2"},
    {"llama3.2", NULL, NULL, "llama3.2"},
    {"llama-3.1", NULL, NULL, "llama3.1"},
    {"llama3.1", NULL, NULL, "llama3.1"},
    {"llama-3", NULL, NULL, "llama3"},
    {"llama3", NULL, NULL, "llama3"},
    {"llama-2", NULL, NULL, "llama2"},
    {"llama2", NULL, NULL, "llama2"},
    /* Google */
    {"gemma", NULL, NULL, "gemma"},
    {"gemini", NULL, NULL, "gemini-terms"},
    /* Alibaba: Qwen2-72B and Qwen1.5 under the Tongyi Qianwen licence,
     * Qwen2.5-72B under the Qwen licence, Qwen2.5-3B research-only, the
     * other Qwen2 / Qwen2.5 sizes Apache-2.0 */
    {"qwen2-72b", NULL, NULL, "tongyi-qianwen"},
    {"qwen1.5", NULL, NULL, "tongyi-qianwen"},
    {"qwen2.5-72b", NULL, NULL, "qwen"},
    {"qwen2.5-3b", NULL, NULL, "qwen-research"},
    {"qwen2.5-", "0.5b", NULL, "apache-2.0"},
    {"qwen2.5-", "1.5b", NULL, "apache-2.0"},
    {"qwen2.5-", "7b", NULL, "apache-2.0"},
    {"qwen2.5-", "14b", NULL, "apache-2.0"},
    {"qwen2.5-", "32b", NULL, "apache-2.0"},
    {"qwen2-", "0.5b", NULL, "apache-2.0"},
    {"qwen2-", "1.5b", NULL, "apache-2.0"},
    {"qwen2-", "7b", NULL, "apache-2.0"},
    {"qwen2-", "57b", NULL, "apache-2.0"},
    /* Mistral AI: the open-weight Apache-2.0 models; Large under MRL */
    {"mistral-large", NULL, NULL, "mistral-research"},
    {"mistral-7b", NULL, NULL, "apache-2.0"},
    {"mixtral-8x7b", NULL, NULL, "apache-2.0"},
    {"mixtral-8x22b", NULL, NULL, "apache-2.0"},
    {"mistral-nemo", NULL, NULL, "apache-2.0"},
    /* TII: Falcon 7B/40B are Apache-2.0 (180B has its own licence) */
    {"falcon-7b", NULL, NULL, "apache-2.0"},
    {"falcon-40b", NULL, NULL, "apache-2.0"},
    /* Microsoft Phi-2/3/3.5/4 and HuggingFaceH4 Zephyr: MIT */
    {"phi-2", NULL, NULL, "mit"},
    {"phi-3", NULL, NULL, "mit"},
    {"phi-4", NULL, NULL, "mit"},
    {"zephyr-7b", NULL, NULL, "mit"},
    /* EleutherAI Pythia: Apache-2.0 */
    {"pythia-", NULL, NULL, "apache-2.0"},
    /* hosted APIs */
    {"claude", NULL, NULL, "anthropic-terms"},
};

static int starts(const char *s, const char *p)
{
    return !strncmp(s, p, strlen(p));
}

const char *av_model_licence_builtin(const char *name)
{
    if (!name) return NULL;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    char low[256];
    size_t n = strlen(base);
    if (n == 0 || n >= sizeof low) return NULL;
    for (size_t i = 0; i <= n; i++) low[i] = (char)tolower((unsigned char)base[i]);
    /* OpenAI: gpt-*, text-davinci-*, o1/o3 models */
    if (starts(low, "gpt-") || starts(low, "gpt4") || starts(low, "gpt3") || starts(low, "text-davinci") ||
        starts(low, "chatgpt"))
        return "openai-terms";
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const rule *r = &rules[i];
        if (!strstr(low, r->a)) continue;
        if (r->b && !strstr(low, r->b)) continue;
        if (r->c && !strstr(low, r->c)) continue;
        return r->licence;
    }
    return NULL;
}
