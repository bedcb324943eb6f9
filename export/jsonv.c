/* jsonv.c: the arena JSON parser of jsonv.h. Recursive descent with a
 * nesting limit; children are gathered on a scratch stack and copied into the
 * arena as one block when their container closes, so each container costs
 * one arena allocation. Strings without escapes point into the input; others
 * are decoded (\uXXXX with surrogate pairs to UTF-8) into the arena. */
#include "export/jsonv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "util/util.h"

#define JV_MAX_DEPTH 256

typedef struct cur {
    jv_parser *p;
    const char *s, *e, *start;
    int depth;
} cur;

/* Arena blocks are chained so earlier pointers stay valid when it grows. */
typedef struct arena_blk {
    struct arena_blk *next;
    size_t len, cap;
    char data[];
} arena_blk;

static void *arena_alloc(jv_parser *p, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    arena_blk *b = (arena_blk *)p->arena;
    if (!b || b->len + n > b->cap) {
        size_t cap = n > (1u << 20) ? n : (1u << 20);
        arena_blk *nb = av_xmalloc(sizeof *nb + cap);
        nb->next = b;
        nb->len = 0;
        nb->cap = cap;
        p->arena = (char *)nb;
        p->arena_cap += cap;
        b = nb;
    }
    void *r = b->data + b->len;
    b->len += n;
    return r;
}

/* Returns the unused end of the latest allocation (at p, of size had). */
static void arena_giveback(jv_parser *p, char *at, size_t had, size_t used)
{
    arena_blk *b = (arena_blk *)p->arena;
    size_t h = (had + 15) & ~(size_t)15, u = (used + 15) & ~(size_t)15;
    if (b && at + h == b->data + b->len)
        b->len -= h - u;
}

static void arena_reset(jv_parser *p)
{
    arena_blk *b = (arena_blk *)p->arena;
    if (!b)
        return;
    /* Keep the biggest block (the newest), free the rest. */
    arena_blk *keep = b, *x = b->next;
    keep->next = NULL;
    keep->len = 0;
    while (x) {
        arena_blk *n = x->next;
        free(x);
        x = n;
    }
}

static int fail(cur *c, const char *what)
{
    snprintf(c->p->err, sizeof c->p->err, "%s at byte %zu", what, (size_t)(c->s - c->start));
    return -1;
}

static void ws(cur *c)
{
    while (c->s < c->e && (*c->s == ' ' || *c->s == '\t' || *c->s == '\n' || *c->s == '\r'))
        c->s++;
}

static void push(jv_parser *p, const jv *v)
{
    if (p->stack_len == p->stack_cap) {
        p->stack_cap = p->stack_cap ? p->stack_cap * 2 : 256;
        p->stack = av_xrealloc(p->stack, p->stack_cap * sizeof *p->stack);
    }
    p->stack[p->stack_len++] = *v;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = s[i];
        v <<= 4;
        if (ch >= '0' && ch <= '9')
            v |= (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            v |= (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            v |= (unsigned)(ch - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Bytes that end the fast scan of a string: the quote, a backslash, and
 * control characters (which JSON forbids raw). */
static inline const char *scan_plain(const char *q, const char *e)
{
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), ctl = _mm_set1_epi8(0x1F);
    while (e - q >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)q);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
                                 _mm_cmpeq_epi8(_mm_max_epu8(x, ctl), ctl));
        int mask = _mm_movemask_epi8(m);
        if (mask)
            return q + __builtin_ctz((unsigned)mask);
        q += 16;
    }
#endif
    while (q < e && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
        q++;
    return q;
}

/* Parses a string at c->s (on the quote); sets *out and *n. Strings without
 * escapes point into the input; others are decoded into arena space sized
 * for the rest of the input, whose unused tail is given back. */
static int parse_str(cur *c, const char **out, uint32_t *n)
{
    const char *s = ++c->s;
    const char *q = scan_plain(s, c->e);
    if (q >= c->e)
        return fail(c, "unterminated string");
    if (*q == '"') {
        *out = s;
        *n = (uint32_t)(q - s);
        c->s = q + 1;
        return 0;
    }
    if (*q != '\\')
        return c->s = q, fail(c, "control character in string");
    size_t room = (size_t)(c->e - s);
    char *d = arena_alloc(c->p, room), *o = d;
    memcpy(o, s, (size_t)(q - s));
    o += q - s;
    for (;;) {
        if (q >= c->e)
            return fail(c, "unterminated string");
        if (*q == '"')
            break;
        if (*q != '\\')
            return c->s = q, fail(c, "control character in string");
        q++;
        if (q >= c->e)
            return fail(c, "unterminated string");
        switch (*q) {
        case '"': *o++ = '"'; q++; break;
        case '\\': *o++ = '\\'; q++; break;
        case '/': *o++ = '/'; q++; break;
        case 'b': *o++ = '\b'; q++; break;
        case 'f': *o++ = '\f'; q++; break;
        case 'n': *o++ = '\n'; q++; break;
        case 'r': *o++ = '\r'; q++; break;
        case 't': *o++ = '\t'; q++; break;
        case 'u': {
            unsigned cp, lo;
            if (c->e - q < 5 || hex4(q + 1, &cp) < 0)
                return c->s = q, fail(c, "bad \\u escape");
            q += 5;
            if (cp >= 0xD800 && cp <= 0xDBFF && c->e - q >= 6 && q[0] == '\\' && q[1] == 'u' &&
                hex4(q + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                q += 6;
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                cp = 0xFFFD; /* a lone surrogate has no UTF-8 form */
            }
            if (cp < 0x80) {
                *o++ = (char)cp;
            } else if (cp < 0x800) {
                *o++ = (char)(0xC0 | (cp >> 6));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *o++ = (char)(0xE0 | (cp >> 12));
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *o++ = (char)(0xF0 | (cp >> 18));
                *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            return c->s = q, fail(c, "bad escape");
        }
        const char *r = scan_plain(q, c->e);
        memcpy(o, q, (size_t)(r - q));
        o += r - q;
        q = r;
    }
    *out = d;
    *n = (uint32_t)(o - d);
    arena_giveback(c->p, d, room, (size_t)(o - d));
    c->s = q + 1;
    return 0;
}

static int parse_value(cur *c, jv *v);

static int parse_container(cur *c, jv *v, int object)
{
    jv_parser *p = c->p;
    size_t base = p->stack_len;
    char close = object ? '}' : ']';
    if (++c->depth > JV_MAX_DEPTH)
        return fail(c, "nesting too deep");
    c->s++;
    ws(c);
    if (c->s < c->e && *c->s == close) {
        c->s++;
    } else {
        for (;;) {
            jv item;
            memset(&item, 0, sizeof item);
            ws(c);
            if (object) {
                const char *k;
                uint32_t kn;
                if (c->s >= c->e || *c->s != '"')
                    return fail(c, "expected a key");
                if (parse_str(c, &k, &kn) < 0)
                    return -1;
                ws(c);
                if (c->s >= c->e || *c->s != ':')
                    return fail(c, "expected ':'");
                c->s++;
                if (parse_value(c, &item) < 0)
                    return -1;
                item.key = k;
                item.klen = kn;
            } else if (parse_value(c, &item) < 0) {
                return -1;
            }
            push(p, &item);
            ws(c);
            if (c->s < c->e && *c->s == ',') {
                c->s++;
                continue;
            }
            if (c->s < c->e && *c->s == close) {
                c->s++;
                break;
            }
            return fail(c, object ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    size_t n = p->stack_len - base;
    v->type = object ? JV_OBJECT : JV_ARRAY;
    v->n = (uint32_t)n;
    v->u.items = NULL;
    if (n) {
        v->u.items = arena_alloc(p, n * sizeof(jv));
        memcpy(v->u.items, p->stack + base, n * sizeof(jv));
    }
    p->stack_len = base;
    c->depth--;
    return 0;
}

static int parse_number(cur *c, jv *v)
{
    const char *s = c->s, *q = s;
    int integral = 1;
    if (q < c->e && *q == '-')
        q++;
    if (q >= c->e || *q < '0' || *q > '9')
        return fail(c, "bad number");
    while (q < c->e && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' || *q == '+' || *q == '-')) {
        if (*q == '.' || *q == 'e' || *q == 'E')
            integral = 0;
        q++;
    }
    char tmp[64];
    size_t n = (size_t)(q - s);
    char *buf = n < sizeof tmp ? tmp : av_xmalloc(n + 1);
    memcpy(buf, s, n);
    buf[n] = 0;
    char *endp;
    errno = 0;
    if (integral) {
        long long x = strtoll(buf, &endp, 10);
        if (errno == 0 && *endp == 0) {
            v->type = JV_INT;
            v->u.i = x;
            goto done;
        }
        errno = 0;
    }
    v->u.d = strtod(buf, &endp);
    v->type = JV_DOUBLE;
    if (*endp != 0) {
        if (buf != tmp)
            free(buf);
        return fail(c, "bad number");
    }
done:
    if (buf != tmp)
        free(buf);
    c->s = q;
    return 0;
}

static int parse_value(cur *c, jv *v)
{
    ws(c);
    if (c->s >= c->e)
        return fail(c, "unexpected end of input");
    switch (*c->s) {
    case '{': return parse_container(c, v, 1);
    case '[': return parse_container(c, v, 0);
    case '"':
        v->type = JV_STRING;
        return parse_str(c, &v->u.s, &v->n);
    case 't':
        if (c->e - c->s >= 4 && memcmp(c->s, "true", 4) == 0)
            return v->type = JV_TRUE, c->s += 4, 0;
        break;
    case 'f':
        if (c->e - c->s >= 5 && memcmp(c->s, "false", 5) == 0)
            return v->type = JV_FALSE, c->s += 5, 0;
        break;
    case 'n':
        if (c->e - c->s >= 4 && memcmp(c->s, "null", 4) == 0)
            return v->type = JV_NULL, c->s += 4, 0;
        break;
    default:
        if (*c->s == '-' || (*c->s >= '0' && *c->s <= '9'))
            return parse_number(c, v);
    }
    return fail(c, "unexpected character");
}

const jv *jv_parse(jv_parser *p, const char *text, size_t len)
{
    arena_reset(p);
    p->stack_len = 0;
    p->err[0] = 0;
    cur c = {p, text, text + len, text, 0};
    jv *root = arena_alloc(p, sizeof *root);
    memset(root, 0, sizeof *root);
    if (parse_value(&c, root) < 0)
        return NULL;
    ws(&c);
    if (c.s != c.e) {
        fail(&c, "trailing characters");
        return NULL;
    }
    return root;
}

void jv_parser_release(jv_parser *p)
{
    arena_blk *b = (arena_blk *)p->arena;
    while (b) {
        arena_blk *n = b->next;
        free(b);
        b = n;
    }
    free(p->stack);
    memset(p, 0, sizeof *p);
}

const jv *jv_get(const jv *o, const char *key)
{
    if (!o || o->type != JV_OBJECT)
        return NULL;
    size_t kl = strlen(key);
    for (uint32_t i = 0; i < o->n; i++)
        if (o->u.items[i].klen == kl && memcmp(o->u.items[i].key, key, kl) == 0)
            return &o->u.items[i];
    return NULL;
}
