/* magpie.h: Magpie's pre-query templates (GENERATION.md's table) and the raw
 * prompts built from them: the first instruction of a conversation is the
 * template alone; a later one renders the history in the model's chat format
 * and appends the next user header. A template can also come from a JSON
 * file (see docs/generate.md). */
#ifndef AV_GENERATE_MAGPIE_H
#define AV_GENERATE_MAGPIE_H

#include <stddef.h>

#include "util/util.h"

#define GEN_TMPL_MAX_STOP 12

typedef struct gen_template {
    char *name;
    char *bos;            /* literal BOS the template starts with ("" if none) */
    char *sys_open;       /* NULL: no system role (the system text opens the first user turn) */
    char *sys_close;
    char *user_open, *user_close;
    char *asst_open, *asst_close;
    char *default_system; /* used when no --system is given, or NULL */
    size_t nstop;
    char *stop[GEN_TMPL_MAX_STOP];
} gen_template;

/* A built-in template by name (llama3, llama3-system, qwen2, qwen2.5, phi3,
 * gemma2, mistral) or, when name is not one of them, the JSON file at that
 * path. 0 on success; -1 with a message in err otherwise. */
int gen_template_load(gen_template *out, const char *name, char *err, size_t errcap);
void gen_template_release(gen_template *t);
/* "llama3|llama3-system|..." */
const char *gen_template_names(void);

/* The raw prompt asking for user turn number nhist/2 + 1: BOS (unless
 * drop_bos), the system block (system, else the template's default, else
 * none), the history (alternating user, assistant texts), then the user
 * header. */
void gen_magpie_prompt(av_buf *out, const gen_template *t, const char *system, const char *const *hist, size_t nhist,
                       int drop_bos);

/* Trims what a model wrote as an instruction: surrounding white space, and
 * anything from the first stop string on (a server that ignored stop).
 * Returns the new length. */
size_t gen_magpie_clean(const gen_template *t, char *text, size_t len);

#endif
