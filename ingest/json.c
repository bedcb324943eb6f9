/* json.c: a strict, fast JSON parser into a flat node array (see json.h).
 * Cost: one pass over the input; strings are scanned 16 bytes at a time with
 * SSE2 where available and only copied when they hold escapes; UTF-8 is
 * validated inline at the first non-ASCII byte. Memory: one node per value
 * plus an arena as large as the input, both reused across documents. */
#include "ingest/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

void json_doc_init(jdoc *d)
{
    memset(d, 0, sizeof *d);
}

void json_doc_free(jdoc *d)
{
    if (!d) return;
    free(d->node);
    free(d->arena);
    memset(d, 0, sizeof *d);
}

typedef struct pstate {
    jdoc *d;
    const char *p0, *p, *end;
} pstate;

static int fail(pstate *s, const char *at, const char *fmt, const char *arg)
{
    s->d->err_off = (size_t)(at - s->p0);
    snprintf(s->d->err, sizeof s->d->err, fmt, arg ? arg : "");
    return -1;
}

static size_t new_node(jdoc *d, jtype t, size_t off)
{
    if (d->count == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 256;
        d->node = av_xrealloc(d->node, d->cap * sizeof *d->node);
    }
    jnode *n = &d->node[d->count];
    n->type = (uint8_t)t;
    n->plain = 0;
    n->n = 0;
    n->skip = 1;
    n->off = (uint32_t)off;
    n->s = NULL;
    return d->count++;
}

static void skip_ws(pstate *s)
{
    const char *p = s->p;
    while (p < s->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    s->p = p;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)p[i]);
        if (h < 0) return -1;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return 0;
}

/* Length of a valid UTF-8 sequence at p (first byte >= 0x80), or 0. */
static int utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    if (c >= 0xC2 && c <= 0xDF) {
        if (end - p < 2 || (p[1] & 0xC0) != 0x80) return 0;
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && p[1] < 0xA0) return 0;  /* overlong */
        if (c == 0xED && p[1] >= 0xA0) return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (end - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && p[1] < 0x90) return 0;
        if (c == 0xF4 && p[1] >= 0x90) return 0;
        return 4;
    }
    return 0;
}

static void put_utf8(char *o, size_t *len, unsigned cp)
{
    if (cp < 0x80) {
        o[(*len)++] = (char)cp;
    } else if (cp < 0x800) {
        o[(*len)++] = (char)(0xC0 | cp >> 6);
        o[(*len)++] = (char)(0x80 | (cp & 63));
    } else if (cp < 0x10000) {
        o[(*len)++] = (char)(0xE0 | cp >> 12);
        o[(*len)++] = (char)(0x80 | (cp >> 6 & 63));
        o[(*len)++] = (char)(0x80 | (cp & 63));
    } else {
        o[(*len)++] = (char)(0xF0 | cp >> 18);
        o[(*len)++] = (char)(0x80 | (cp >> 12 & 63));
        o[(*len)++] = (char)(0x80 | (cp >> 6 & 63));
        o[(*len)++] = (char)(0x80 | (cp & 63));
    }
}

/* Index of the first byte in [p, end) that is '"', '\\', a control
 * character or non-ASCII; end - p if none. */
static size_t scan_plain(const char *p, const char *end)
{
    const char *q = p;
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), sp = _mm_set1_epi8(0x1F);
    while (end - q >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)q);
        /* bytes <= 0x1F or >= 0x80 (signed compare: negatives are non-ASCII) */
        __m128i ctl = _mm_cmplt_epi8(v, _mm_add_epi8(sp, _mm_set1_epi8(1)));
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bs)), ctl);
        int mask = _mm_movemask_epi8(m);
        if (mask) return (size_t)(q - p) + (size_t)__builtin_ctz((unsigned)mask);
        q += 16;
    }
#endif
    while (q < end) {
        unsigned char c = (unsigned char)*q;
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        q++;
    }
    return (size_t)(q - p);
}

/* At the opening quote. Fills the node's s/n. */
static int parse_string(pstate *s, jnode *out)
{
    const char *start = ++s->p, *p = start, *end = s->end;
    jdoc *d = s->d;
    char *o = NULL; /* set once an escape forces a copy */
    size_t olen = 0;
    for (;;) {
        size_t k = scan_plain(p, end);
        if (o) {
            memcpy(o + olen, p, k);
            olen += k;
        }
        p += k;
        if (p >= end) return fail(s, start - 1, "unterminated string", NULL);
        unsigned char c = (unsigned char)*p;
        if (c == '"') break;
        if (c >= 0x80) {
            int l = utf8_seq((const unsigned char *)p, (const unsigned char *)end);
            if (!l) return fail(s, p, "invalid UTF-8 in a string", NULL);
            if (o) {
                memcpy(o + olen, p, (size_t)l);
                olen += (size_t)l;
            }
            p += l;
            continue;
        }
        if (c < 0x20) return fail(s, p, "unescaped control character in a string", NULL);
        /* backslash */
        if (!o) {
            o = d->arena + d->alen;
            olen = (size_t)(p - start);
            memcpy(o, start, olen);
        }
        if (p + 1 >= end) return fail(s, p, "unterminated string", NULL);
        char e = p[1];
        p += 2;
        switch (e) {
        case '"': o[olen++] = '"'; break;
        case '\\': o[olen++] = '\\'; break;
        case '/': o[olen++] = '/'; break;
        case 'b': o[olen++] = '\b'; break;
        case 'f': o[olen++] = '\f'; break;
        case 'n': o[olen++] = '\n'; break;
        case 'r': o[olen++] = '\r'; break;
        case 't': o[olen++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (read_hex4(p, end, &cp)) return fail(s, p - 2, "bad \\u escape", NULL);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || read_hex4(p + 2, end, &lo) || lo < 0xDC00 ||
                    lo > 0xDFFF)
                    return fail(s, p - 6, "lone UTF-16 surrogate in a \\u escape", NULL);
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail(s, p - 6, "lone UTF-16 surrogate in a \\u escape", NULL);
            } else if (cp == 0 && !(d->flags & JSON_ALLOW_NUL)) {
                return fail(s, p - 6, "string contains \\u0000 (NUL)", NULL);
            }
            put_utf8(o, &olen, cp);
            break;
        }
        default: return fail(s, p - 2, "bad escape in a string", NULL);
        }
    }
    if (o) {
        out->s = o;
        d->alen += olen;
    } else {
        out->s = start;
        out->plain = 1;
    }
    out->n = (uint32_t)(o ? olen : (size_t)(p - start));
    s->p = p + 1;
    return 0;
}

static int parse_number(pstate *s, jnode *out)
{
    const char *p = s->p, *end = s->end, *start = p;
    if (p < end && *p == '-') p++;
    if (p >= end) return fail(s, start, "bad number", NULL);
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') p++;
    } else {
        return fail(s, start, "bad number", NULL);
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') return fail(s, start, "bad number", NULL);
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') return fail(s, start, "bad number", NULL);
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    out->s = start;
    out->n = (uint32_t)(p - start);
    s->p = p;
    return 0;
}

static int parse_value(pstate *s);

static int parse_container(pstate *s, int is_obj)
{
    jdoc *d = s->d;
    if (++d->depth > JSON_MAX_DEPTH) return fail(s, s->p, "nesting deeper than 64 levels", NULL);
    size_t me = new_node(d, is_obj ? J_OBJ : J_ARR, (size_t)(s->p - s->p0));
    char close = is_obj ? '}' : ']';
    uint32_t count = 0;
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
    } else {
        for (;;) {
            if (is_obj) {
                skip_ws(s);
                if (s->p >= s->end || *s->p != '"') return fail(s, s->p, "expected a string key", NULL);
                size_t k = new_node(d, J_STR, (size_t)(s->p - s->p0));
                if (parse_string(s, &d->node[k])) return -1;
                skip_ws(s);
                if (s->p >= s->end || *s->p != ':') return fail(s, s->p, "expected ':' after a key", NULL);
                s->p++;
            }
            if (parse_value(s)) return -1;
            count++;
            skip_ws(s);
            if (s->p >= s->end) return fail(s, s->p, is_obj ? "unterminated object" : "unterminated array", NULL);
            if (*s->p == ',') {
                s->p++;
                continue;
            }
            if (*s->p == close) {
                s->p++;
                break;
            }
            return fail(s, s->p, is_obj ? "expected ',' or '}'" : "expected ',' or ']'", NULL);
        }
    }
    d->node[me].n = count;
    d->node[me].skip = (uint32_t)(d->count - me);
    d->depth--;
    return 0;
}

static int parse_value(pstate *s)
{
    skip_ws(s);
    if (s->p >= s->end) return fail(s, s->p, "unexpected end of input", NULL);
    jdoc *d = s->d;
    size_t off = (size_t)(s->p - s->p0);
    switch (*s->p) {
    case '{': return parse_container(s, 1);
    case '[': return parse_container(s, 0);
    case '"': {
        size_t k = new_node(d, J_STR, off);
        return parse_string(s, &d->node[k]);
    }
    case 't':
        if (s->end - s->p >= 4 && !memcmp(s->p, "true", 4)) {
            new_node(d, J_TRUE, off);
            s->p += 4;
            return 0;
        }
        break;
    case 'f':
        if (s->end - s->p >= 5 && !memcmp(s->p, "false", 5)) {
            new_node(d, J_FALSE, off);
            s->p += 5;
            return 0;
        }
        break;
    case 'n':
        if (s->end - s->p >= 4 && !memcmp(s->p, "null", 4)) {
            new_node(d, J_NULL, off);
            s->p += 4;
            return 0;
        }
        break;
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) {
            size_t k = new_node(d, J_NUM, off);
            return parse_number(s, &d->node[k]);
        }
    }
    char what[8] = {0};
    unsigned char c = (unsigned char)*s->p;
    if (c >= 0x20 && c < 0x7f) what[0] = (char)c;
    return fail(s, s->p, what[0] ? "unexpected '%s'" : "unexpected byte", what);
}

int json_parse(jdoc *d, const char *p, size_t n, unsigned flags)
{
    d->count = 0;
    d->alen = 0;
    d->depth = 0;
    d->flags = flags;
    d->err[0] = 0;
    d->err_off = 0;
    if (n > UINT32_MAX) {
        snprintf(d->err, sizeof d->err, "value larger than 4 GiB");
        return -1;
    }
    if (d->acap < n + 1) {
        free(d->arena);
        d->acap = n + 1 > 4096 ? n + 1 : 4096;
        d->arena = av_xmalloc(d->acap);
    }
    pstate s = {d, p, p, p + n};
    if (parse_value(&s)) return -1;
    skip_ws(&s);
    if (s.p != s.end) return fail(&s, s.p, "unexpected data after the value", NULL);
    return 0;
}

const jnode *json_get(const jnode *o, const char *key)
{
    if (!o || o->type != J_OBJ) return NULL;
    size_t kl = strlen(key);
    const jnode *c = o + 1;
    for (uint32_t i = 0; i < o->n; i++) {
        const jnode *v = c + 1;
        if (c->n == kl && !memcmp(c->s, key, kl)) return v;
        c = v + v->skip;
    }
    return NULL;
}

const jnode *json_at(const jnode *a, uint32_t i)
{
    if (!a || a->type != J_ARR || i >= a->n) return NULL;
    const jnode *c = a + 1;
    while (i--) c += c->skip;
    return c;
}

int json_str_is(const jnode *v, const char *lit)
{
    size_t l = strlen(lit);
    return v && v->type == J_STR && v->n == l && !memcmp(v->s, lit, l);
}

const char *json_type_name(const jnode *v)
{
    if (!v) return "missing";
    switch (v->type) {
    case J_NULL: return "null";
    case J_FALSE:
    case J_TRUE: return "a boolean";
    case J_NUM: return "a number";
    case J_STR: return "a string";
    case J_ARR: return "an array";
    default: return "an object";
    }
}

void json_write(av_buf *b, const jnode *v)
{
    switch (v->type) {
    case J_NULL: av_buf_put(b, "null", 4); return;
    case J_FALSE: av_buf_put(b, "false", 5); return;
    case J_TRUE: av_buf_put(b, "true", 4); return;
    case J_NUM: av_buf_put(b, v->s, v->n); return;
    case J_STR:
        if (v->plain) {
            av_buf_grow(b, v->n + 2);
            b->ptr[b->len++] = '"';
            memcpy(b->ptr + b->len, v->s, v->n);
            b->len += v->n;
            b->ptr[b->len++] = '"';
            b->ptr[b->len] = 0;
        } else {
            av_buf_json_str(b, v->s, v->n);
        }
        return;
    case J_ARR: {
        av_buf_putc(b, '[');
        const jnode *c = v + 1;
        for (uint32_t i = 0; i < v->n; i++) {
            if (i) av_buf_putc(b, ',');
            json_write(b, c);
            c += c->skip;
        }
        av_buf_putc(b, ']');
        return;
    }
    default: {
        av_buf_putc(b, '{');
        const jnode *c = v + 1;
        for (uint32_t i = 0; i < v->n; i++) {
            if (i) av_buf_putc(b, ',');
            json_write(b, c);
            av_buf_putc(b, ':');
            json_write(b, c + 1);
            c = c + 1 + c[1].skip;
        }
        av_buf_putc(b, '}');
    }
    }
}
