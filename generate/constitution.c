/* constitution.c: the constitution file reader of constitution.h. */
#include "generate/constitution.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static char *get(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (!cJSON_IsString(v) && b) v = cJSON_GetObjectItemCaseSensitive(o, b);
    return cJSON_IsString(v) && *v->valuestring ? av_xstrdup(v->valuestring) : NULL;
}

int gen_constitution_load(gen_constitution *out, const char *path, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    size_t len;
    char *text = av_read_file(path, &len);
    if (!text) {
        snprintf(err, cap, "cannot read '%s': %s", path, strerror(errno));
        return -1;
    }
    size_t capn = 0, line = 0;
    char *p = text, *end = text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        line++;
        char *s = p;
        p = nl ? nl + 1 : end;
        while (s < e && isspace((unsigned char)*s)) s++;
        char *t = e;
        while (t > s && isspace((unsigned char)t[-1])) t--;
        if (s == t || *s == '#') continue;
        gen_principle pr = {0};
        if (*s == '{') {
            cJSON *j = cJSON_ParseWithLength(s, (size_t)(t - s));
            if (!cJSON_IsObject(j)) {
                snprintf(err, cap, "%s:%zu: not a JSON object", path, line);
                cJSON_Delete(j);
                goto fail;
            }
            pr.principle = get(j, "principle", NULL);
            pr.critique = get(j, "critique", "critique_request");
            pr.revision = get(j, "revision", "revision_request");
            cJSON_Delete(j);
            if (!pr.principle && !(pr.critique && pr.revision)) {
                snprintf(err, cap, "%s:%zu: needs \"principle\", or \"critique\" and \"revision\"", path, line);
                free(pr.principle);
                free(pr.critique);
                free(pr.revision);
                goto fail;
            }
        } else {
            pr.principle = av_xstrndup(s, (size_t)(t - s));
        }
        if (out->n == capn) {
            capn = capn ? capn * 2 : 8;
            out->p = av_xrealloc(out->p, capn * sizeof *out->p);
        }
        out->p[out->n++] = pr;
    }
    free(text);
    if (!out->n) {
        snprintf(err, cap, "'%s' holds no principle", path);
        return -1;
    }
    return 0;
fail:
    free(text);
    gen_constitution_release(out);
    return -1;
}

void gen_constitution_release(gen_constitution *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->p[i].principle);
        free(c->p[i].critique);
        free(c->p[i].revision);
    }
    free(c->p);
    c->p = NULL;
    c->n = 0;
}

size_t gen_constitution_pick(const gen_constitution *c, const void *key, size_t klen, unsigned round)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    const unsigned char *k = key;
    for (size_t i = 0; i < klen; i++) h = (h ^ k[i]) * 1099511628211ull;
    h = (h ^ round) * 1099511628211ull;
    return c->n ? (size_t)(h % c->n) : 0;
}
