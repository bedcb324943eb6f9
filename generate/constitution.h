/* constitution.h: principles for `judge pair --constitution` and critique /
 * revision requests for `aviary revise`, read from a file: JSON Lines with
 * "principle", "critique" and "revision" keys ("critique_request" and
 * "revision_request" are accepted too), or plain text with one principle per
 * line. Blank lines and lines starting with '#' are skipped. */
#ifndef AV_GENERATE_CONSTITUTION_H
#define AV_GENERATE_CONSTITUTION_H

#include <stddef.h>

typedef struct gen_principle {
    char *principle; /* for comparisons; NULL if the line has none */
    char *critique;  /* for revise; NULL if none */
    char *revision;
} gen_principle;

typedef struct gen_constitution {
    gen_principle *p;
    size_t n;
} gen_constitution;

/* 0, or -1 with "file:line: reason" in err. */
int gen_constitution_load(gen_constitution *out, const char *path, char *err, size_t cap);
void gen_constitution_release(gen_constitution *c);
/* A deterministic pick for (key, round): the same item on every rerun. */
size_t gen_constitution_pick(const gen_constitution *c, const void *key, size_t klen, unsigned round);

#endif
