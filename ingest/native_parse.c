/* native_parse.c: parses one line of a dump (aviary's native JSON Lines, see
 * docs/native-format.md) into an av_native_line, with no store involved.
 * cJSON parses each top-level member separately so that the exact bytes of
 * every attribute value are kept (they are part of a record's content id and
 * must not be re-printed). Strict: unknown or repeated fields, wrong types,
 * bad hex, numbers past 2^53, invalid UTF-8 and embedded NUL are errors. */
#include "ingest/native.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/util.h"

#define MAX_SAFE_INT 9007199254740992.0 /* 2^53 */

typedef struct member {
    const char *key;
    const char *key_raw; /* the key's bytes, quotes included */
    size_t key_len;
    cJSON *val;
    const char *raw;
    size_t raw_len;
} member;

/* What a line owns: parsed cJSON trees and the arrays handed out. */
typedef struct line_mem {
    cJSON **trees;
    size_t ntrees, cap;
} line_mem;

static void keep(line_mem *m, cJSON *t)
{
    if (m->ntrees == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 32;
        m->trees = av_xrealloc(m->trees, m->cap * sizeof *m->trees);
    }
    m->trees[m->ntrees++] = t;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
    return p;
}

/* 1 if the text ends inside a string or an open object/array: a line that
 * was cut short rather than one that is wrong. */
static int looks_truncated(const char *p, size_t len)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return in_str || depth > 0;
}

/* Offset of a \u0000 escape in p[0..len), or -1. Only for text that parsed
 * as JSON: there a backslash can only be inside a string, so an escape is a
 * "\u0000" preceded by an even number of other backslashes. */
static long nul_escape(const char *p, size_t len)
{
    const char *end = p + len, *q = p;
    while ((q = memmem(q, (size_t)(end - q), "\\u0000", 6)) != NULL) {
        size_t n = 0;
        while (q - (long)n > p && q[-(long)n - 1] == '\\') n++;
        if (n % 2 == 0) return (long)(q - p);
        q++;
    }
    return -1;
}

static cJSON *parse_value(line_mem *m, const char *p, const char *end, const char **after)
{
    const char *e = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &e, 0);
    if (!v) return NULL;
    keep(m, v);
    *after = e;
    return v;
}

/* Walks the object at *pp: fills up to cap members (keys and values parsed,
 * value bytes located). */
static int walk_object(line_mem *m, const char *p, const char *end, const char *base, member **out, size_t *out_n,
                       const char **after)
{
    member *mem = NULL;
    size_t n = 0, cap = 0;
    p = skip_ws(p, end);
    if (p >= end || *p != '{') {
        free(mem);
        return av_error_set(AV_EINVAL, "expected a JSON object at byte %ld", (long)(p - base) + 1);
    }
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        p++;
        goto ok;
    }
    for (;;) {
        const char *e;
        if (p >= end || *p != '"') goto bad;
        const char *kstart = p;
        cJSON *k = parse_value(m, p, end, &e);
        if (!k || !cJSON_IsString(k)) goto bad;
        const char *kend = e;
        p = skip_ws(e, end);
        if (p >= end || *p != ':') goto bad;
        p = skip_ws(p + 1, end);
        const char *vstart = p;
        cJSON *v = parse_value(m, p, end, &e);
        if (!v) goto bad;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            mem = av_xrealloc(mem, cap * sizeof *mem);
        }
        mem[n].key = k->valuestring;
        mem[n].key_raw = kstart;
        mem[n].key_len = (size_t)(kend - kstart);
        mem[n].val = v;
        mem[n].raw = vstart;
        mem[n].raw_len = (size_t)(e - vstart);
        n++;
        p = skip_ws(e, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}') {
            p++;
            break;
        }
        goto bad;
    }
ok:
    *out = mem;
    *out_n = n;
    *after = p;
    return 0;
bad:
    free(mem);
    if (p >= end) return av_error_set(AV_EINVAL, "truncated line (the JSON ends early)");
    return av_error_set(AV_EINVAL, "invalid JSON at byte %ld", (long)(p - base) + 1);
}

static int get_uint(const member *mb, double max, uint64_t *out)
{
    if (!cJSON_IsNumber(mb->val))
        return av_error_set(AV_EINVAL, "'%s' must be a number", mb->key);
    double d = mb->val->valuedouble;
    if (!(d >= 0) || d != floor(d) || d > max)
        return av_error_set(AV_EINVAL, "'%s' must be a whole number from 0 to %.0f", mb->key, max);
    *out = (uint64_t)d;
    return 0;
}

static int get_version(const member *mb, uint32_t *out, int allow_zero)
{
    uint64_t v = 0;
    int rc = get_uint(mb, 4294967295.0, &v);
    if (rc < 0) return rc;
    if (!v && !allow_zero) return av_error_set(AV_EINVAL, "'%s' must be at least 1", mb->key);
    *out = (uint32_t)v;
    return 0;
}

static int get_str(const member *mb, const char **out)
{
    if (!cJSON_IsString(mb->val)) return av_error_set(AV_EINVAL, "'%s' must be a string", mb->key);
    *out = mb->val->valuestring;
    return 0;
}

static int get_id(const cJSON *v, const char *what, av_id *out)
{
    if (!cJSON_IsString(v)) return av_error_set(AV_EINVAL, "%s must be a content id in hex", what);
    if (strlen(v->valuestring) != 32 || av_id_parse(out, v->valuestring) < 0)
        return av_error_set(AV_EINVAL, "%s: bad content id '%.40s' (32 hex digits expected)", what, v->valuestring);
    return 0;
}

/* "2026-11-24T09:30:00Z" -> seconds; exactly the form av_time_iso writes. */
static int get_time(const member *mb, int64_t *out)
{
    const char *s = NULL;
    int rc = get_str(mb, &s);
    if (rc < 0) return rc;
    struct tm tm = {0};
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, &n) != 6 || s[n])
        return av_error_set(AV_EINVAL, "'time' must look like 2026-01-31T12:00:00Z, not '%.40s'", s);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    char back[32];
    av_time_iso(back, (int64_t)t);
    if (strcmp(back, s)) return av_error_set(AV_EINVAL, "'time' is not a valid date: '%s'", s);
    *out = (int64_t)t;
    return 0;
}

static int parse_header(av_native_line *l, member *mb, size_t n)
{
    int have_format = 0, have_version = 0, rc;
    for (size_t i = 0; i < n; i++) {
        uint64_t u = 0;
        if (!strcmp(mb[i].key, "aviary")) {
            if (!cJSON_IsString(mb[i].val) || strcmp(mb[i].val->valuestring, "dump"))
                return av_error_set(AV_EINVAL, "'aviary' must be \"dump\"");
        } else if (!strcmp(mb[i].key, "format")) {
            if ((rc = get_uint(&mb[i], 1e6, &u)) < 0) return rc;
            l->format = (int)u;
            have_format = 1;
        } else if (!strcmp(mb[i].key, "version")) {
            if ((rc = get_version(&mb[i], &l->version, 1)) < 0) return rc;
            have_version = 1;
        } else {
            return av_error_set(AV_EINVAL, "unknown field '%s' in the header", mb[i].key);
        }
    }
    if (!have_format || !have_version) return av_error_set(AV_EINVAL, "the header needs 'format' and 'version'");
    return 0;
}

static int parse_commit(av_native_line *l, member *mb, size_t n)
{
    int have_time = 0, rc;
    for (size_t i = 0; i < n; i++) {
        const char *k = mb[i].key;
        if (!strcmp(k, "commit")) {
            if ((rc = get_version(&mb[i], &l->version, 0)) < 0) return rc;
        } else if (!strcmp(k, "time")) {
            if ((rc = get_time(&mb[i], &l->time)) < 0) return rc;
            have_time = 1;
        } else if (!strcmp(k, "message")) {
            if ((rc = get_str(&mb[i], &l->message)) < 0) return rc;
        } else if (!strcmp(k, "command")) {
            if ((rc = get_str(&mb[i], &l->command)) < 0) return rc;
        } else if (!strcmp(k, "added")) {
            if (!cJSON_IsObject(mb[i].val)) return av_error_set(AV_EINVAL, "'added' must be an object");
            for (cJSON *c = mb[i].val->child; c; c = c->next) {
                av_kind kd = av_kind_parse(c->string);
                if (!kd) return av_error_set(AV_EINVAL, "unknown record kind '%s' in 'added'", c->string);
                member sub = {.key = c->string, .val = c};
                if ((rc = get_uint(&sub, MAX_SAFE_INT, &l->added[kd])) < 0) return rc;
            }
        } else if (!strcmp(k, "retracted")) {
            if ((rc = get_uint(&mb[i], MAX_SAFE_INT, &l->retracted)) < 0) return rc;
        } else if (!strcmp(k, "restored")) {
            if ((rc = get_uint(&mb[i], MAX_SAFE_INT, &l->restored)) < 0) return rc;
        } else if (!strcmp(k, "linked")) {
            if ((rc = get_uint(&mb[i], MAX_SAFE_INT, &l->linked)) < 0) return rc;
        } else if (!strcmp(k, "tags")) {
            int nt = cJSON_GetArraySize(mb[i].val);
            if (!cJSON_IsArray(mb[i].val) || nt == 0)
                return av_error_set(AV_EINVAL, "'tags' must be a non-empty array of version names");
            l->tags = av_xcalloc((size_t)nt, sizeof *l->tags);
            for (cJSON *c = mb[i].val->child; c; c = c->next) {
                if (!cJSON_IsString(c) || !*c->valuestring)
                    return av_error_set(AV_EINVAL, "'tags' must be a non-empty array of version names");
                l->tags[l->ntags++] = c->valuestring;
            }
        } else {
            return av_error_set(AV_EINVAL, "unknown field '%s' in a commit", k);
        }
    }
    if (!have_time) return av_error_set(AV_EINVAL, "a commit needs 'time'");
    if (!l->message) l->message = "";
    if (!l->command) l->command = "";
    return 0;
}

static int parse_record(av_native_line *l, line_mem *m, member *mb, size_t n, const char *base)
{
    int rc;
    for (size_t i = 0; i < n; i++) {
        const char *k = mb[i].key;
        cJSON *v = mb[i].val;
        if (!strcmp(k, "kind")) {
            const char *s = NULL;
            if ((rc = get_str(&mb[i], &s)) < 0) return rc;
            l->kind = av_kind_parse(s);
            if (!l->kind) return av_error_set(AV_EINVAL, "unknown record kind '%.40s'", s);
        } else if (!strcmp(k, "id")) {
            if ((rc = get_id(v, "'id'", &l->id)) < 0) return rc;
            l->has_id = 1;
        } else if (!strcmp(k, "version")) {
            if ((rc = get_version(&mb[i], &l->version, 0)) < 0) return rc;
            l->has_version = 1;
        } else if (!strcmp(k, "refs")) {
            if (!cJSON_IsArray(v)) return av_error_set(AV_EINVAL, "'refs' must be an array");
            int j = 0;
            for (cJSON *c = v->child; c; c = c->next, j++) {
                if (j >= 3) return av_error_set(AV_EINVAL, "'refs' has more than 3 entries");
                if (cJSON_IsNull(c)) continue;
                if ((rc = get_id(c, "'refs'", &l->ref[j])) < 0) return rc;
                l->ref_set[j] = 1;
            }
            l->nref = j;
        } else if (!strcmp(k, "model")) {
            if ((rc = get_str(&mb[i], &l->model)) < 0) return rc;
            if (!*l->model) return av_error_set(AV_EINVAL, "'model' must not be empty");
        } else if (!strcmp(k, "run")) {
            if ((rc = get_id(v, "'run'", &l->run)) < 0) return rc;
            l->has_run = 1;
        } else if (!strcmp(k, "name")) {
            if ((rc = get_str(&mb[i], &l->name)) < 0) return rc;
        } else if (!strcmp(k, "num")) {
            if (cJSON_IsNumber(v)) {
                l->num = v->valuedouble;
            } else if (cJSON_IsString(v) && !strcmp(v->valuestring, "inf")) {
                l->num = INFINITY;
            } else if (cJSON_IsString(v) && !strcmp(v->valuestring, "-inf")) {
                l->num = -INFINITY;
            } else {
                return av_error_set(AV_EINVAL, "'num' must be a number");
            }
        } else if (!strcmp(k, "msgs")) {
            if (!cJSON_IsArray(v)) return av_error_set(AV_EINVAL, "'msgs' must be an array");
            int cnt = cJSON_GetArraySize(v);
            l->msg = av_xcalloc((size_t)cnt + 1, sizeof *l->msg);
            for (cJSON *c = v->child; c; c = c->next) {
                cJSON *role = cJSON_GetObjectItemCaseSensitive(c, "role");
                cJSON *text = cJSON_GetObjectItemCaseSensitive(c, "text");
                if (!cJSON_IsObject(c) || !cJSON_IsString(role) || !cJSON_IsString(text) ||
                    cJSON_GetArraySize(c) != 2)
                    return av_error_set(AV_EINVAL, "each of 'msgs' must be {\"role\": string, \"text\": string}");
                av_msg *ms = &l->msg[l->nmsg++];
                ms->role = role->valuestring;
                ms->text.ptr = text->valuestring;
                ms->text.len = strlen(text->valuestring);
            }
        } else if (!strcmp(k, "attrs")) {
            if (!cJSON_IsObject(v)) return av_error_set(AV_EINVAL, "'attrs' must be an object");
            member *am = NULL;
            size_t an = 0;
            const char *after;
            if ((rc = walk_object(m, mb[i].raw, mb[i].raw + mb[i].raw_len, base, &am, &an, &after)) < 0) return rc;
            l->attr = av_xcalloc(an + 1, sizeof *l->attr);
            for (size_t j = 0; j < an; j++) {
                long nul = nul_escape(am[j].key_raw, am[j].key_len);
                if (nul >= 0) {
                    long at = (long)(am[j].key_raw - base) + nul + 1;
                    free(am);
                    return av_error_set(AV_EINVAL, "\\u0000 (NUL) in an attribute key at byte %ld is not supported", at);
                }
                l->attr[j].key = am[j].key;
                l->attr[j].json.ptr = am[j].raw;
                l->attr[j].json.len = am[j].raw_len;
            }
            l->nattr = (uint32_t)an;
            free(am);
        } else if (!strcmp(k, "prov")) {
            if (!cJSON_IsArray(v)) return av_error_set(AV_EINVAL, "'prov' must be an array");
            l->prov = av_xcalloc((size_t)cJSON_GetArraySize(v) + 1, sizeof *l->prov);
            for (cJSON *c = v->child; c; c = c->next) {
                av_native_prov *p = &l->prov[l->nprov++];
                cJSON *src = cJSON_GetObjectItemCaseSensitive(c, "source");
                cJSON *ln = cJSON_GetObjectItemCaseSensitive(c, "line");
                cJSON *ver = cJSON_GetObjectItemCaseSensitive(c, "version");
                if (!cJSON_IsObject(c) || !src || !ln || !ver || cJSON_GetArraySize(c) != 3)
                    return av_error_set(AV_EINVAL, "each of 'prov' must be {\"source\", \"line\", \"version\"}");
                if ((rc = get_id(src, "'prov' source", &p->source)) < 0) return rc;
                member lm = {.key = "line", .val = ln}, vm = {.key = "version", .val = ver};
                if ((rc = get_uint(&lm, MAX_SAFE_INT, &p->line)) < 0) return rc;
                if ((rc = get_version(&vm, &p->version, 0)) < 0) return rc;
            }
        } else if (!strcmp(k, "history")) {
            if (!cJSON_IsArray(v)) return av_error_set(AV_EINVAL, "'history' must be an array");
            l->hist = av_xcalloc((size_t)cJSON_GetArraySize(v) + 1, sizeof *l->hist);
            for (cJSON *c = v->child; c; c = c->next) {
                av_native_event *h = &l->hist[l->nhist++];
                cJSON *ver = cJSON_GetObjectItemCaseSensitive(c, "version");
                cJSON *ev = cJSON_GetObjectItemCaseSensitive(c, "event");
                if (!cJSON_IsObject(c) || !ver || !cJSON_IsString(ev) || cJSON_GetArraySize(c) != 2)
                    return av_error_set(AV_EINVAL, "each of 'history' must be {\"version\", \"event\"}");
                member vm = {.key = "version", .val = ver};
                if ((rc = get_version(&vm, &h->version, 0)) < 0) return rc;
                if (!strcmp(ev->valuestring, "retract")) h->restore = 0;
                else if (!strcmp(ev->valuestring, "restore")) h->restore = 1;
                else return av_error_set(AV_EINVAL, "unknown history event '%.40s'", ev->valuestring);
                if ((int)((l->nhist - 1) & 1) != h->restore)
                    return av_error_set(AV_EINVAL, "'history' must alternate retract, restore, retract, ...");
                if (l->nhist > 1 && h->version <= h[-1].version)
                    return av_error_set(AV_EINVAL, "'history' is not in version order");
            }
        } else {
            return av_error_set(AV_EINVAL, "unknown field '%s' in a record", k);
        }
    }
    if (!l->kind) return av_error_set(AV_EINVAL, "a record needs 'kind'");
    for (size_t i = 0; i < l->nhist; i++)
        if (l->hist[i].version < l->version)
            return av_error_set(AV_EINVAL, "'history' has version %u, before the record's version %u",
                                l->hist[i].version, l->version);
    for (size_t i = 0; i < l->nprov; i++)
        if (l->prov[i].version < l->version)
            return av_error_set(AV_EINVAL, "'prov' has version %u, before the record's version %u",
                                l->prov[i].version, l->version);
    return 0;
}

int av_native_parse(av_native_line *out, const char *text, size_t len)
{
    memset(out, 0, sizeof *out);
    out->num = NAN;
    line_mem *m = av_xcalloc(1, sizeof *m);
    out->priv_ = m;
    const char *end = text + len, *p = skip_ws(text, end), *after;
    member *mb = NULL;
    size_t n = 0;
    int rc = 0;
    if (p == end) return 0; /* blank */
    size_t bad;
    if (!av_utf8_valid(text, len, &bad))
        return av_error_set(AV_EINVAL, "invalid UTF-8 at byte %zu", bad + 1);
    if (memchr(text, 0, len)) return av_error_set(AV_EINVAL, "a NUL byte in the line");
    if (*p != '{') return av_error_set(AV_EINVAL, "not a JSON object");
    if ((rc = walk_object(m, p, end, text, &mb, &n, &after)) < 0) {
        if (looks_truncated(text, len)) rc = av_error_set(AV_EINVAL, "truncated line (the JSON ends early)");
        goto done;
    }
    if (skip_ws(after, end) != end) {
        rc = av_error_set(AV_EINVAL, "extra text after the JSON object at byte %ld", (long)(after - text) + 1);
        goto done;
    }
    /* \u0000 would cut a decoded string short; attr values are kept as
       JSON text, so there it is fine */
    for (size_t i = 0; i < n; i++) {
        long nul = nul_escape(mb[i].key_raw, mb[i].key_len);
        const char *base = mb[i].key_raw;
        if (nul < 0 && strcmp(mb[i].key, "attrs")) {
            nul = nul_escape(mb[i].raw, mb[i].raw_len);
            base = mb[i].raw;
        }
        if (nul >= 0) {
            rc = av_error_set(AV_EINVAL, "\\u0000 (NUL) in a string at byte %ld is not supported",
                              (long)(base - text) + nul + 1);
            goto done;
        }
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(mb[i].key, mb[j].key)) {
                rc = av_error_set(AV_EINVAL, "field '%s' appears twice", mb[i].key);
                goto done;
            }
    out->type = AV_NATIVE_BLANK;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(mb[i].key, "aviary")) out->type = AV_NATIVE_HEADER;
        else if (!strcmp(mb[i].key, "commit") && !out->type) out->type = AV_NATIVE_COMMIT;
        else if (!strcmp(mb[i].key, "kind") && !out->type) out->type = AV_NATIVE_RECORD;
    }
    switch (out->type) {
    case AV_NATIVE_HEADER: rc = parse_header(out, mb, n); break;
    case AV_NATIVE_COMMIT: rc = parse_commit(out, mb, n); break;
    case AV_NATIVE_RECORD: rc = parse_record(out, m, mb, n, text); break;
    default: rc = av_error_set(AV_EINVAL, "not a dump line (no 'kind', 'commit' or 'aviary' field)"); break;
    }
done:
    free(mb);
    return rc;
}

void av_native_line_free(av_native_line *l)
{
    if (!l) return;
    line_mem *m = l->priv_;
    if (m) {
        for (size_t i = 0; i < m->ntrees; i++) cJSON_Delete(m->trees[i]);
        free(m->trees);
        free(m);
    }
    free(l->msg);
    free(l->attr);
    free(l->prov);
    free(l->hist);
    free(l->tags);
    memset(l, 0, sizeof *l);
}
