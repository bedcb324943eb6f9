/* magpie.c: the built-in pre-query templates and raw-prompt rendering of
 * magpie.h. The pre-query strings and stop lists are GENERATION.md's table;
 * the history formats are each family's chat template. */
#include "generate/magpie.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct builtin {
    const char *name, *bos, *sys_open, *sys_close, *user_open, *user_close, *asst_open, *asst_close, *def_sys;
    const char *stop[GEN_TMPL_MAX_STOP];
};

#define QWEN_SYS "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

static const struct builtin builtins[] = {
    {"llama3", "<|begin_of_text|>", "<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>",
     "<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>", "<|start_header_id|>assistant<|end_header_id|>\n\n",
     "<|eot_id|>", NULL,
     {"<|eot_id|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "assistant"}},
    {"llama3-system", "<|begin_of_text|>", "<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>",
     "<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>", "<|start_header_id|>assistant<|end_header_id|>\n\n",
     "<|eot_id|>", "You are a helpful AI assistant.",
     {"<|eot_id|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "assistant"}},
    {"qwen2", "", "<|im_start|>system\n", "<|im_end|>\n", "<|im_start|>user\n", "<|im_end|>\n",
     "<|im_start|>assistant\n", "<|im_end|>\n", NULL,
     {"<|im_start|>", "<|im_end|>", "<|endoftext|>", "Assistant", "assistant"}},
    {"qwen2.5", "", "<|im_start|>system\n", "<|im_end|>\n", "<|im_start|>user\n", "<|im_end|>\n",
     "<|im_start|>assistant\n", "<|im_end|>\n", QWEN_SYS,
     {"<|im_start|>", "<|im_end|>", "<|endoftext|>", "Assistant", "assistant"}},
    {"phi3", "<s> ", "<|system|>\n", "<|end|>\n", "<|user|>\n", "<|end|>\n", "<|assistant|>\n", "<|end|>\n", NULL,
     {"</s>", "<|endoftext|>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>", "assistant"}},
    {"gemma2", "<bos>", NULL, NULL, "<start_of_turn>user\n\n", "<end_of_turn>\n", "<start_of_turn>model\n",
     "<end_of_turn>\n", NULL, {"<eos>", "<end_of_turn>", "assistant"}},
    {"mistral", "<s> ", NULL, NULL, "[INST] ", " [/INST] ", "", "</s> ", NULL, {"</s>", "[INST]", "[/INST]", "assistant"}},
};
#define NBUILTIN (sizeof builtins / sizeof builtins[0])

const char *gen_template_names(void) { return "llama3|llama3-system|qwen2|qwen2.5|phi3|gemma2|mistral|FILE"; }

static char *dup_or_null(const char *s) { return s ? av_xstrdup(s) : NULL; }

static int from_builtin(gen_template *t, const struct builtin *b)
{
    t->name = av_xstrdup(b->name);
    t->bos = av_xstrdup(b->bos);
    t->sys_open = dup_or_null(b->sys_open);
    t->sys_close = dup_or_null(b->sys_close);
    t->user_open = av_xstrdup(b->user_open);
    t->user_close = av_xstrdup(b->user_close);
    t->asst_open = av_xstrdup(b->asst_open);
    t->asst_close = av_xstrdup(b->asst_close);
    t->default_system = dup_or_null(b->def_sys);
    for (size_t i = 0; i < GEN_TMPL_MAX_STOP && b->stop[i]; i++) t->stop[t->nstop++] = av_xstrdup(b->stop[i]);
    return 0;
}

static char *json_str(const cJSON *o, const char *k, int required, const char *path, char *err, size_t cap, int *bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v || cJSON_IsNull(v)) {
        if (required) {
            snprintf(err, cap, "template '%s' has no \"%s\"", path, k);
            *bad = 1;
        }
        return NULL;
    }
    if (!cJSON_IsString(v)) {
        snprintf(err, cap, "template '%s': \"%s\" must be a string", path, k);
        *bad = 1;
        return NULL;
    }
    return av_xstrdup(v->valuestring);
}

int gen_template_load(gen_template *out, const char *name, char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < NBUILTIN; i++)
        if (!strcmp(builtins[i].name, name)) return from_builtin(out, &builtins[i]);
    size_t len = 0;
    char *text = av_read_file(name, &len);
    if (!text) {
        if (errno == ENOENT && !strchr(name, '/') && !strchr(name, '.'))
            snprintf(err, errcap, "unknown template '%s' (use %s)", name, gen_template_names());
        else
            snprintf(err, errcap, "cannot read template '%s': %s", name, strerror(errno));
        return -1;
    }
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(j)) {
        snprintf(err, errcap, "template '%s' is not a JSON object", name);
        cJSON_Delete(j);
        return -1;
    }
    int bad = 0;
    /* a misspelt key would silently drop a header: every key must be known */
    static const char *const keys[] = {"bos",         "system_open",     "system_close",   "user_open", "user_close",
                                       "assistant_open", "assistant_close", "default_system", "stop"};
    const cJSON *kv;
    cJSON_ArrayForEach(kv, j)
    {
        size_t k = 0;
        while (k < sizeof keys / sizeof keys[0] && strcmp(kv->string, keys[k])) k++;
        if (k == sizeof keys / sizeof keys[0]) {
            snprintf(err, errcap, "template '%s': unknown key \"%s\" (known: bos, system_open, system_close, user_open, "
                     "user_close, assistant_open, assistant_close, default_system, stop)", name, kv->string);
            cJSON_Delete(j);
            return -1;
        }
    }
    out->name = av_xstrdup(name);
    out->bos = json_str(j, "bos", 0, name, err, errcap, &bad);
    if (!out->bos) out->bos = av_xstrdup("");
    out->sys_open = json_str(j, "system_open", 0, name, err, errcap, &bad);
    out->sys_close = json_str(j, "system_close", 0, name, err, errcap, &bad);
    out->user_open = json_str(j, "user_open", 1, name, err, errcap, &bad);
    if (out->user_open && !*out->user_open) {
        snprintf(err, errcap, "template '%s': \"user_open\" is empty (Magpie needs the user header to end the pre-query prompt)", name);
        bad = 1;
    }
    out->user_close = json_str(j, "user_close", 0, name, err, errcap, &bad);
    out->asst_open = json_str(j, "assistant_open", 0, name, err, errcap, &bad);
    out->asst_close = json_str(j, "assistant_close", 0, name, err, errcap, &bad);
    out->default_system = json_str(j, "default_system", 0, name, err, errcap, &bad);
    if (!out->user_close) out->user_close = av_xstrdup("");
    if (!out->asst_open) out->asst_open = av_xstrdup("");
    if (!out->asst_close) out->asst_close = av_xstrdup("");
    if (out->sys_open && !out->sys_close) out->sys_close = av_xstrdup("");
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(j, "stop"), *s;
    if (stop && !cJSON_IsArray(stop)) {
        snprintf(err, errcap, "template '%s': \"stop\" must be an array of strings", name);
        bad = 1;
    }
    cJSON_ArrayForEach(s, stop)
    {
        if (!cJSON_IsString(s) || !*s->valuestring) {
            snprintf(err, errcap, "template '%s': \"stop\" must be an array of non-empty strings", name);
            bad = 1;
            break;
        }
        if (out->nstop == GEN_TMPL_MAX_STOP) {
            snprintf(err, errcap, "template '%s': more than %d stop strings", name, GEN_TMPL_MAX_STOP);
            bad = 1;
            break;
        }
        out->stop[out->nstop++] = av_xstrdup(s->valuestring);
    }
    cJSON_Delete(j);
    if (bad) {
        gen_template_release(out);
        return -1;
    }
    return 0;
}

void gen_template_release(gen_template *t)
{
    if (!t) return;
    free(t->name);
    free(t->bos);
    free(t->sys_open);
    free(t->sys_close);
    free(t->user_open);
    free(t->user_close);
    free(t->asst_open);
    free(t->asst_close);
    free(t->default_system);
    for (size_t i = 0; i < t->nstop; i++) free(t->stop[i]);
    memset(t, 0, sizeof *t);
}

void gen_magpie_prompt(av_buf *out, const gen_template *t, const char *system, const char *const *hist, size_t nhist,
                       int drop_bos)
{
    if (!drop_bos) av_buf_puts(out, t->bos);
    const char *sys = system ? system : t->default_system;
    int sys_in_user = 0;
    if (sys && *sys) {
        if (t->sys_open) {
            av_buf_puts(out, t->sys_open);
            av_buf_puts(out, sys);
            av_buf_puts(out, t->sys_close);
        } else {
            sys_in_user = 1;
        }
    }
    for (size_t i = 0; i < nhist; i++) {
        if (i % 2 == 0) {
            av_buf_puts(out, t->user_open);
            if (sys_in_user && i == 0) {
                av_buf_puts(out, sys);
                av_buf_puts(out, "\n\n");
            }
            av_buf_puts(out, hist[i]);
            av_buf_puts(out, t->user_close);
        } else {
            av_buf_puts(out, t->asst_open);
            av_buf_puts(out, hist[i]);
            av_buf_puts(out, t->asst_close);
        }
    }
    av_buf_puts(out, t->user_open);
    if (sys_in_user && nhist == 0) {
        av_buf_puts(out, sys);
        av_buf_puts(out, "\n\n");
    }
}

size_t gen_magpie_clean(const gen_template *t, char *text, size_t len)
{
    for (size_t i = 0; i < t->nstop; i++) {
        char *p = strstr(text, t->stop[i]);
        if (p && (size_t)(p - text) < len) {
            len = (size_t)(p - text);
            text[len] = 0;
        }
    }
    size_t a = 0;
    while (a < len && isspace((unsigned char)text[a])) a++;
    while (len > a && isspace((unsigned char)text[len - 1])) len--;
    memmove(text, text + a, len - a);
    len -= a;
    text[len] = 0;
    return len;
}
