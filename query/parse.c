/* parse.c: the filter language's lexer and recursive-descent parser, field
 * names, static type checks and the error messages (the expression with a
 * caret under the position; the nearest known fields for an unknown one).
 * Pure code: no store access. Recursion depth is bounded (Q_MAX_DEPTH), so
 * any input, however hostile, costs time linear in its length. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "query/qint.h"

#define Q_MAX_DEPTH 256
#define Q_MAX_CONDITIONS 1000

enum tok {
    T_EOF,
    T_IDENT,
    T_STR,
    T_NUM,
    T_LP,
    T_RP,
    T_COMMA,
    T_OP,
    T_AND,
    T_OR,
    T_NOT,
    T_IN,
    T_EXISTS,
    T_CONTAINS,
    T_MATCHES,
    T_TRUE,
    T_FALSE,
    T_NULL,
    T_BAD,
};

typedef struct parser {
    const char *src;
    size_t n;
    size_t pos;   /* next byte to lex */
    /* current token */
    enum tok t;
    size_t tpos, tend;
    enum q_op op;
    char *str; /* T_STR: decoded (malloc'd), T_IDENT: copy */
    size_t slen;
    double num;
    int depth;
    int conditions; /* predicates so far (bounded, so evaluation recursion is too) */
    char *err; /* first error */
} parser;

/* ---- messages -------------------------------------------------------- */

char *q_errmsg_at(const char *expr, size_t pos, const char *fmt, ...)
{
    av_buf b = AV_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    av_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    size_t n = expr ? strlen(expr) : 0;
    if (pos > n) pos = n;
    /* the column counts code points, so the caret lines up under UTF-8 */
    size_t col = av_utf8_valid(expr, pos, NULL) ? av_utf8_len(expr, pos) : pos;
    av_buf_printf(&b, " at column %zu\n  ", col + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)expr[i];
        av_buf_putc(&b, c < 0x20 || c == 0x7f ? ' ' : (char)c);
    }
    av_buf_puts(&b, "\n  ");
    for (size_t i = 0; i < col; i++) av_buf_putc(&b, ' ');
    av_buf_putc(&b, '^');
    return av_buf_detach(&b);
}

static int fail(parser *p, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(parser *p, size_t pos, const char *fmt, ...)
{
    if (p->err) return AV_EINVAL;
    av_buf m = AV_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    av_buf_vprintf(&m, fmt, ap);
    va_end(ap);
    p->err = q_errmsg_at(p->src, pos, "%s", m.ptr);
    av_buf_free(&m);
    return AV_EINVAL;
}

const char *q_type_name(enum qv_type t)
{
    switch (t) {
    case QV_NULL: return "null";
    case QV_BOOL: return "a boolean";
    case QV_NUM: return "a number";
    case QV_STR: return "a string";
    case QV_ARRAY: return "an array";
    case QV_OBJECT: return "an object";
    }
    return "a value";
}

void q_val_json(av_buf *b, const qval *v)
{
    switch (v->t) {
    case QV_NULL: av_buf_puts(b, "null"); break;
    case QV_BOOL: av_buf_puts(b, v->num != 0 ? "true" : "false"); break;
    case QV_NUM:
        if (v->num == floor(v->num) && fabs(v->num) < 9007199254740992.0) av_buf_printf(b, "%.0f", v->num);
        else av_buf_json_num(b, v->num);
        break;
    case QV_STR: av_buf_json_str(b, v->s, v->len); break;
    case QV_ARRAY:
    case QV_OBJECT: av_buf_put(b, v->s, v->len); break;
    }
}

void q_lit_json(av_buf *b, const qval *v)
{
    q_val_json(b, v);
}

/* ---- lexer ----------------------------------------------------------- */

static int is_ident_start(int c) { return isalpha(c) || c == '_'; }
static int is_ident_char(int c) { return isalnum(c) || c == '_' || c == '.' || c == '-'; }

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void put_utf8(av_buf *b, unsigned cp)
{
    if (cp < 0x80) {
        av_buf_putc(b, (char)cp);
    } else if (cp < 0x800) {
        av_buf_putc(b, (char)(0xc0 | (cp >> 6)));
        av_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        av_buf_putc(b, (char)(0xe0 | (cp >> 12)));
        av_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
        av_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
    } else {
        av_buf_putc(b, (char)(0xf0 | (cp >> 18)));
        av_buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
        av_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
        av_buf_putc(b, (char)(0x80 | (cp & 0x3f)));
    }
}

static int read_hex4(parser *p, size_t at, unsigned *out)
{
    if (at + 4 > p->n) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)p->src[at + i]);
        if (h < 0) return -1;
        v = v * 16 + (unsigned)h;
    }
    *out = v;
    return 0;
}

/* A quoted string ('...' or "..."), JSON escapes. */
static int lex_string(parser *p)
{
    char q = p->src[p->pos];
    size_t start = p->pos;
    size_t i = p->pos + 1;
    av_buf b = AV_BUF_INIT;
    av_buf_put(&b, "", 0); /* allocated and NUL-terminated even when empty */
    for (;;) {
        if (i >= p->n) {
            av_buf_free(&b);
            return fail(p, start, "unterminated string (no closing %c)", q);
        }
        char c = p->src[i];
        if (c == q) break;
        if (c != '\\') {
            av_buf_putc(&b, c);
            i++;
            continue;
        }
        size_t esc = i;
        if (i + 1 >= p->n) {
            av_buf_free(&b);
            return fail(p, start, "unterminated string (no closing %c)", q);
        }
        char e = p->src[i + 1];
        i += 2;
        switch (e) {
        case '"': av_buf_putc(&b, '"'); break;
        case '\'': av_buf_putc(&b, '\''); break;
        case '\\': av_buf_putc(&b, '\\'); break;
        case '/': av_buf_putc(&b, '/'); break;
        case 'n': av_buf_putc(&b, '\n'); break;
        case 't': av_buf_putc(&b, '\t'); break;
        case 'r': av_buf_putc(&b, '\r'); break;
        case 'b': av_buf_putc(&b, '\b'); break;
        case 'f': av_buf_putc(&b, '\f'); break;
        case 'u': {
            unsigned cp;
            if (read_hex4(p, i, &cp) < 0) {
                av_buf_free(&b);
                return fail(p, esc, "bad \\u escape: expected 4 hex digits");
            }
            i += 4;
            if (cp >= 0xd800 && cp < 0xdc00) {
                unsigned lo;
                if (i + 1 < p->n && p->src[i] == '\\' && p->src[i + 1] == 'u' && read_hex4(p, i + 2, &lo) == 0 &&
                    lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    i += 6;
                } else {
                    av_buf_free(&b);
                    return fail(p, esc, "bad \\u escape: a lone surrogate");
                }
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                av_buf_free(&b);
                return fail(p, esc, "bad \\u escape: a lone surrogate");
            }
            if (cp == 0) {
                av_buf_free(&b);
                return fail(p, esc, "a string cannot hold \\u0000");
            }
            put_utf8(&b, cp);
            break;
        }
        default:
            av_buf_free(&b);
            return fail(p, esc, "bad escape '\\%c' in a string (use \\\\ for a backslash)", isprint((unsigned char)e) ? e : '?');
        }
    }
    size_t bad;
    if (!av_utf8_valid(b.ptr, b.len, &bad)) {
        av_buf_free(&b);
        return fail(p, start, "invalid UTF-8 in a string");
    }
    if (memchr(b.ptr, 0, b.len)) {
        av_buf_free(&b);
        return fail(p, start, "a string cannot hold a NUL byte");
    }
    p->slen = b.len;
    p->str = av_buf_detach(&b);
    p->t = T_STR;
    p->pos = i + 1;
    p->tend = p->pos;
    return 0;
}

static int kw(const char *s, size_t n, const char *k)
{
    return strlen(k) == n && !strncasecmp(s, k, n);
}

/* Reads the next token into p. */
static int lex(parser *p)
{
    free(p->str);
    p->str = NULL;
    while (p->pos < p->n && isspace((unsigned char)p->src[p->pos])) p->pos++;
    p->tpos = p->pos;
    if (p->pos >= p->n) {
        p->t = T_EOF;
        p->tend = p->pos;
        return 0;
    }
    const char *s = p->src + p->pos;
    unsigned char c = (unsigned char)*s;
    p->t = T_OP;
    size_t len = 1;
    switch (c) {
    case '(': p->t = T_LP; break;
    case ')': p->t = T_RP; break;
    case ',': p->t = T_COMMA; break;
    case '=': p->op = QOP_EQ; len = s[1] == '=' && p->pos + 1 < p->n ? 2 : 1; break;
    case '!':
        if (p->pos + 1 < p->n && s[1] == '=') {
            p->op = QOP_NE;
            len = 2;
        } else {
            return fail(p, p->pos, "unexpected '!' (use 'not' or '!=')");
        }
        break;
    case '<':
        if (p->pos + 1 < p->n && s[1] == '=') { p->op = QOP_LE; len = 2; }
        else if (p->pos + 1 < p->n && s[1] == '>') { p->op = QOP_NE; len = 2; }
        else p->op = QOP_LT;
        break;
    case '>':
        if (p->pos + 1 < p->n && s[1] == '=') { p->op = QOP_GE; len = 2; }
        else p->op = QOP_GT;
        break;
    case '"':
    case '\'':
        return lex_string(p);
    default:
        if (isdigit(c) || ((c == '-' || c == '+' || c == '.') && p->pos + 1 < p->n &&
                           (isdigit((unsigned char)s[1]) || (s[1] == '.' && p->pos + 2 < p->n && isdigit((unsigned char)s[2]))))) {
            size_t i = p->pos;
            if (p->src[i] == '-' || p->src[i] == '+') i++;
            while (i < p->n && isdigit((unsigned char)p->src[i])) i++;
            if (i < p->n && p->src[i] == '.') {
                i++;
                while (i < p->n && isdigit((unsigned char)p->src[i])) i++;
            }
            if (i < p->n && (p->src[i] == 'e' || p->src[i] == 'E')) {
                size_t j = i + 1;
                if (j < p->n && (p->src[j] == '+' || p->src[j] == '-')) j++;
                if (j < p->n && isdigit((unsigned char)p->src[j])) {
                    while (j < p->n && isdigit((unsigned char)p->src[j])) j++;
                    i = j;
                }
            }
            if (i < p->n && (isalpha((unsigned char)p->src[i]) || p->src[i] == '_'))
                return fail(p, p->pos, "bad number '%.*s'", (int)(i + 1 - p->pos), s);
            char tmp[64];
            size_t tl = i - p->pos;
            if (tl >= sizeof tmp) return fail(p, p->pos, "number too long");
            memcpy(tmp, s, tl);
            tmp[tl] = 0;
            p->num = strtod(tmp, NULL);
            if (!isfinite(p->num)) return fail(p, p->pos, "number out of range '%s'", tmp);
            p->t = T_NUM;
            p->pos = i;
            p->tend = i;
            return 0;
        }
        if (is_ident_start(c)) {
            size_t i = p->pos + 1;
            while (i < p->n && is_ident_char((unsigned char)p->src[i])) i++;
            len = i - p->pos;
            p->t = T_IDENT;
            if (kw(s, len, "and")) p->t = T_AND;
            else if (kw(s, len, "or")) p->t = T_OR;
            else if (kw(s, len, "not")) p->t = T_NOT;
            else if (kw(s, len, "in")) p->t = T_IN;
            else if (kw(s, len, "exists")) p->t = T_EXISTS;
            else if (kw(s, len, "contains")) p->t = T_CONTAINS;
            else if (kw(s, len, "matches")) p->t = T_MATCHES;
            else if (kw(s, len, "true")) p->t = T_TRUE;
            else if (kw(s, len, "false")) p->t = T_FALSE;
            else if (kw(s, len, "null")) p->t = T_NULL;
            else {
                p->str = av_xstrndup(s, len);
                p->slen = len;
            }
            break;
        }
        if (c >= 0x80) {
            size_t i = p->pos;
            while (i < p->n && ((unsigned char)p->src[i] >= 0x80)) i++;
            return fail(p, p->pos, "unexpected '%.*s' (strings need quotes)", (int)(i - p->pos), s);
        }
        return fail(p, p->pos, "unexpected '%c'", isprint(c) ? c : '?');
    }
    p->pos += len;
    p->tend = p->pos;
    return 0;
}

/* The current token as written, for messages. */
static void tok_text(parser *p, char *out, size_t cap)
{
    if (p->t == T_EOF) {
        snprintf(out, cap, "the end");
        return;
    }
    size_t n = p->tend - p->tpos;
    if (n > 40) n = 40;
    snprintf(out, cap, "'%.*s'", (int)n, p->src + p->tpos);
}

/* ---- fields ---------------------------------------------------------- */

static const char *const known_fields[] = {
    "kind", "id", "model", "source", "licence", "version", "tag.<key>", "rating.<aspect>",
    "rating.<aspect>[<judge>]", "preference.p", "len(instruction)", "len(response)", "turns", "instruction", "response", "name", "score",
};
#define NKNOWN (sizeof known_fields / sizeof known_fields[0])

static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64) return 99;
    size_t row[65];
    for (size_t j = 0; j <= m; j++) row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t cur = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = prev + cost;
            if (row[j] + 1 < v) v = row[j] + 1;
            if (row[j - 1] + 1 < v) v = row[j - 1] + 1;
            row[j] = v;
            prev = cur;
        }
    }
    return row[m];
}

/* "unknown field 'x'; nearest known: a, b" (or the whole list). */
static void unknown_field_msg(av_buf *b, const char *name)
{
    const char *cand[NKNOWN + 2];
    char *owned[2] = {NULL, NULL};
    size_t nc = 0;
    for (size_t i = 0; i < NKNOWN; i++)
        if (!strchr(known_fields[i], '<')) cand[nc++] = known_fields[i];
    const char *dot = strchr(name, '.');
    const char *rest = dot ? dot + 1 : name;
    if (*rest && strlen(rest) < 200) {
        av_buf t = AV_BUF_INIT;
        av_buf_printf(&t, "tag.%s", rest);
        owned[0] = av_buf_detach(&t);
        cand[nc++] = owned[0];
        if (dot) {
            av_buf_printf(&t, "rating.%s", rest);
            owned[1] = av_buf_detach(&t);
            cand[nc++] = owned[1];
        }
    }
    size_t dist[NKNOWN + 2];
    size_t limit = strlen(name) / 3;
    if (limit < 2) limit = 2;
    for (size_t i = 0; i < nc; i++) dist[i] = edit_distance(name, cand[i]);
    av_buf_printf(b, "unknown field '%s'", name);
    int shown = 0;
    for (size_t d = 0; d <= limit && shown < 3; d++) {
        for (size_t i = 0; i < nc && shown < 3; i++) {
            if (dist[i] != d) continue;
            /* tag.<name> for an unqualified name: only when nothing else is close */
            if (!dot && cand[i] == owned[0]) continue;
            av_buf_puts(b, shown ? ", " : "; nearest known: ");
            av_buf_puts(b, cand[i]);
            shown++;
        }
    }
    if (!shown && !dot && owned[0]) {
        av_buf_printf(b, "; nearest known: %s (a tag key is written tag.<key>)", owned[0]);
        shown = 1;
    }
    if (!shown) {
        av_buf_puts(b, "; known fields: ");
        for (size_t i = 0; i < NKNOWN; i++) {
            if (i) av_buf_puts(b, ", ");
            av_buf_puts(b, known_fields[i]);
        }
    }
    free(owned[0]);
    free(owned[1]);
}

void q_field_release(qfield *f)
{
    if (!f) return;
    free(f->key);
    free(f->judge);
    free(f->name);
    memset(f, 0, sizeof *f);
}

static void field_set(qfield *f, enum qf_kind k, enum q_type t, const char *name)
{
    f->f = k;
    f->type = t;
    f->name = av_xstrdup(name);
}

/* Parses a field at the current token (an identifier). */
static int parse_field(parser *p, qfield *f)
{
    size_t at = p->tpos;
    if (p->t != T_IDENT) {
        char tt[64];
        tok_text(p, tt, sizeof tt);
        if (p->t == T_STR) return fail(p, at, "expected a field before a string (put the field first: tag.x = \"...\")");
        return fail(p, at, "expected a field, 'not', 'exists' or '(', found %s", tt);
    }
    const char *id = p->str;
    static const struct {
        const char *name;
        enum qf_kind k;
        enum q_type t;
    } simple[] = {
        {"kind", QF_KIND, QT_STR},       {"id", QF_ID, QT_STR},
        {"model", QF_MODEL, QT_STR},     {"source", QF_SOURCE, QT_STR},
        {"licence", QF_LICENCE, QT_STR}, {"version", QF_VERSION, QT_NUM},
        {"preference.p", QF_PREF_P, QT_NUM}, {"turns", QF_TURNS, QT_NUM},
        {"instruction", QF_INSTRUCTION, QT_STR}, {"response", QF_RESPONSE, QT_STR},
        {"name", QF_NAME, QT_STR},       {"score", QF_SCORE, QT_NUM},
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        if (!strcmp(id, simple[i].name)) {
            field_set(f, simple[i].k, simple[i].t, id);
            return lex(p);
        }
    }
    if (!strcmp(id, "len")) {
        if (p->pos < p->n && p->src[p->pos] == '(') {
            int rc;
            if ((rc = lex(p)) < 0) return rc; /* ( */
            if ((rc = lex(p)) < 0) return rc;
            size_t argat = p->tpos;
            if (p->t != T_IDENT || (strcmp(p->str, "instruction") && strcmp(p->str, "response")))
                return fail(p, argat, "len() takes instruction or response");
            int resp = !strcmp(p->str, "response");
            if ((rc = lex(p)) < 0) return rc;
            if (p->t != T_RP) return fail(p, p->tpos, "expected ')' after len(%s", resp ? "response" : "instruction");
            field_set(f, resp ? QF_LEN_RESPONSE : QF_LEN_INSTRUCTION, QT_NUM, resp ? "len(response)" : "len(instruction)");
            return lex(p);
        }
    }
    int is_tag = !strncmp(id, "tag.", 4), is_rating = !strncmp(id, "rating.", 7);
    if (is_tag || is_rating) {
        const char *key = id + (is_tag ? 4 : 7);
        char *keycopy = NULL;
        int rc;
        if (!*key) {
            /* tag."key with spaces" */
            if (p->pos < p->n && (p->src[p->pos] == '"' || p->src[p->pos] == '\'')) {
                if ((rc = lex(p)) < 0) return rc;
                if (!p->slen) return fail(p, p->tpos, "empty %s key", is_tag ? "tag" : "rating aspect");
                keycopy = av_xstrdup(p->str);
            } else {
                return fail(p, at, "%s needs a %s: %s.<%s>", is_tag ? "tag" : "rating", is_tag ? "key" : "aspect",
                            is_tag ? "tag" : "rating", is_tag ? "key" : "aspect");
            }
        } else {
            keycopy = av_xstrdup(key);
        }
        char *judge = NULL;
        if (is_rating && p->pos < p->n && p->src[p->pos] == '[') {
            size_t open = p->pos;
            size_t i = open + 1;
            while (i < p->n && p->src[i] != ']') i++;
            if (i >= p->n) {
                free(keycopy);
                return fail(p, open, "unclosed '[' (a judge is written rating.<aspect>[<judge>])");
            }
            size_t a = open + 1, b = i;
            while (a < b && isspace((unsigned char)p->src[a])) a++;
            while (b > a && isspace((unsigned char)p->src[b - 1])) b--;
            if (b > a + 1 && (p->src[a] == '"' || p->src[a] == '\'') && p->src[b - 1] == p->src[a]) {
                a++;
                b--;
            }
            if (a == b) {
                free(keycopy);
                return fail(p, open, "empty judge in '[]'");
            }
            judge = av_xstrndup(p->src + a, b - a);
            if (memchr(judge, 0, b - a)) {
                free(keycopy);
                free(judge);
                return fail(p, open, "bad judge name");
            }
            p->pos = i + 1;
        } else if (is_tag && p->pos < p->n && p->src[p->pos] == '[') {
            free(keycopy);
            return fail(p, p->pos, "only rating.<aspect> takes a [judge]");
        }
        av_buf nm = AV_BUF_INIT;
        av_buf_puts(&nm, is_tag ? "tag." : "rating.");
        av_buf_puts(&nm, keycopy);
        if (judge) av_buf_printf(&nm, "[%s]", judge);
        f->f = is_tag ? QF_TAG : QF_RATING;
        f->type = is_tag ? QT_ANY : QT_NUM;
        f->key = keycopy;
        f->judge = judge;
        f->name = av_buf_detach(&nm);
        return lex(p);
    }
    if (!strcmp(id, "tag")) return fail(p, at, "tag needs a key: tag.<key>");
    if (!strcmp(id, "rating")) return fail(p, at, "rating needs an aspect: rating.<aspect> or rating.<aspect>[<judge>]");
    if (!strcmp(id, "preference")) return fail(p, at, "unknown field 'preference'; nearest known: preference.p");
    av_buf m = AV_BUF_INIT;
    unknown_field_msg(&m, id);
    fail(p, at, "%s", m.ptr);
    av_buf_free(&m);
    return AV_EINVAL;
}

/* ---- literals and predicates ---------------------------------------- */

static int parse_literal(parser *p, qlit *out)
{
    out->pos = p->tpos;
    memset(&out->v, 0, sizeof out->v);
    switch (p->t) {
    case T_STR:
        out->v.t = QV_STR;
        out->v.s = p->str;
        out->v.len = p->slen;
        p->str = NULL;
        break;
    case T_NUM: out->v.t = QV_NUM; out->v.num = p->num; break;
    case T_TRUE: out->v.t = QV_BOOL; out->v.num = 1; break;
    case T_FALSE: out->v.t = QV_BOOL; out->v.num = 0; break;
    case T_NULL: out->v.t = QV_NULL; break;
    default: {
        char tt[64];
        tok_text(p, tt, sizeof tt);
        if (p->t == T_IDENT)
            return fail(p, p->tpos, "expected a value (a \"string\", a number, true, false or null), found %s; strings need quotes", tt);
        return fail(p, p->tpos, "expected a value (a \"string\", a number, true, false or null), found %s", tt);
    }
    }
    return lex(p);
}

static const char *op_name(enum q_op op)
{
    static const char *const names[] = {"=", "!=", "<", "<=", ">", ">="};
    return names[op];
}

/* Compile-time checks of a literal against the field's static type. */
static int check_lit(parser *p, const qfield *f, const qlit *l, enum qn_kind k, enum q_op op)
{
    if (l->v.t == QV_NULL) {
        if (k == QN_CMP && op != QOP_EQ && op != QOP_NE) return fail(p, l->pos, "'%s' cannot order null (use = null or exists)", op_name(op));
        return 0;
    }
    if (l->v.t == QV_BOOL && k == QN_CMP && op != QOP_EQ && op != QOP_NE)
        return fail(p, l->pos, "'%s' cannot order true and false", op_name(op));
    if (f->type == QT_STR && l->v.t != QV_STR)
        return fail(p, l->pos, "%s is a string and cannot be compared with %s; quote the value", f->name, q_type_name(l->v.t));
    if (f->type == QT_NUM && l->v.t != QV_NUM)
        return fail(p, l->pos, "%s is a number and cannot be compared with %s", f->name, q_type_name(l->v.t));
    if (f->f == QF_KIND && av_kind_parse(l->v.s) == AV_KIND_NONE)
        return fail(p, l->pos,
                    "unknown kind \"%s\"; kinds are prompt, response, rating, preference, tag, source, model, run", l->v.s);
    if (f->f == QF_ID && (op == QOP_EQ || op == QOP_NE || k == QN_IN)) {
        size_t n = l->v.len, i;
        for (i = 0; i < n && hexval((unsigned char)l->v.s[i]) >= 0; i++) {}
        if (i != n || n < 8 || n > 32)
            return fail(p, l->pos, "an id is 8 to 32 hex digits (a prefix of the content id)");
    }
    return 0;
}

static int parse_expr(parser *p, qnode **out);

static qnode *node_new(enum qn_kind k, size_t pos)
{
    qnode *n = av_xcalloc(1, sizeof *n);
    n->k = k;
    n->pos = pos;
    return n;
}

/* field followed by an operator and its operand(s). */
static int parse_predicate(parser *p, qnode **out)
{
    size_t at = p->tpos;
    qnode *n = node_new(QN_CMP, at);
    *out = n;
    if (++p->conditions > Q_MAX_CONDITIONS) return fail(p, at, "too many conditions (more than %d)", Q_MAX_CONDITIONS);
    int rc = parse_field(p, &n->field);
    if (rc < 0) return rc;
    int negate = 0;
    size_t opat = p->tpos;
    if (p->t == T_NOT) {
        if ((rc = lex(p)) < 0) return rc;
        if (p->t != T_IN && p->t != T_CONTAINS && p->t != T_MATCHES)
            return fail(p, p->tpos, "expected 'in', 'contains' or 'matches' after 'not'");
        negate = 1;
    }
    n->pos = p->tpos;
    switch (p->t) {
    case T_OP:
        n->k = QN_CMP;
        n->op = p->op;
        if ((rc = lex(p)) < 0) return rc;
        n->lits = av_xcalloc(1, sizeof *n->lits);
        n->nlit = 1;
        if ((rc = parse_literal(p, &n->lits[0])) < 0) return rc;
        if ((rc = check_lit(p, &n->field, &n->lits[0], QN_CMP, n->op)) < 0) return rc;
        break;
    case T_IN: {
        n->k = QN_IN;
        size_t inat = p->tpos;
        if ((rc = lex(p)) < 0) return rc;
        if (p->t != T_LP) return fail(p, p->tpos, "expected '(' after 'in': in (\"a\", \"b\")");
        size_t cap = 4;
        n->lits = av_xcalloc(cap, sizeof *n->lits);
        if ((rc = lex(p)) < 0) return rc;
        for (;;) {
            if (n->nlit == cap) {
                cap *= 2;
                n->lits = av_xrealloc(n->lits, cap * sizeof *n->lits);
            }
            memset(&n->lits[n->nlit], 0, sizeof n->lits[0]);
            rc = parse_literal(p, &n->lits[n->nlit]);
            n->nlit++; /* counted even on failure: the literal may own its string already */
            if (rc < 0) return rc;
            if ((rc = check_lit(p, &n->field, &n->lits[n->nlit - 1], QN_IN, QOP_EQ)) < 0) return rc;
            if (p->t == T_COMMA) {
                if ((rc = lex(p)) < 0) return rc;
                continue;
            }
            if (p->t == T_RP) break;
            char tt[64];
            tok_text(p, tt, sizeof tt);
            return fail(p, p->tpos, "expected ',' or ')' in the list of the 'in' at column %zu, found %s", inat + 1, tt);
        }
        if ((rc = lex(p)) < 0) return rc;
        break;
    }
    case T_CONTAINS:
    case T_MATCHES: {
        int is_re = p->t == T_MATCHES;
        n->k = is_re ? QN_MATCHES : QN_CONTAINS;
        if ((rc = lex(p)) < 0) return rc;
        if (p->t != T_STR)
            return fail(p, p->tpos, "expected a \"string\" after '%s'", is_re ? "matches" : "contains");
        if (n->field.type == QT_NUM) return fail(p, at, "%s is a number; '%s' needs text", n->field.name, is_re ? "matches" : "contains");
        n->lits = av_xcalloc(1, sizeof *n->lits);
        n->nlit = 1;
        size_t spos = p->tpos;
        if ((rc = parse_literal(p, &n->lits[0])) < 0) return rc;
        if (is_re) {
            int e = regcomp(&n->re, n->lits[0].v.s, REG_EXTENDED | REG_NOSUB);
            if (e) {
                char m[200];
                regerror(e, &n->re, m, sizeof m);
                return fail(p, spos, "bad regular expression: %s", m);
            }
            n->has_re = 1;
        }
        break;
    }
    default: {
        char tt[64];
        tok_text(p, tt, sizeof tt);
        return fail(p, p->tpos, "expected an operator (= != < <= > >= in contains matches) after %s, found %s",
                    n->field.name, tt);
    }
    }
    (void)opat;
    if (negate) {
        qnode *x = node_new(QN_NOT, opat);
        x->a = n;
        *out = x;
    }
    return 0;
}

static int parse_unary(parser *p, qnode **out)
{
    int rc;
    *out = NULL;
    if (++p->depth > Q_MAX_DEPTH) return fail(p, p->tpos, "expression nested too deeply (more than %d levels)", Q_MAX_DEPTH);
    if (p->t == T_NOT) {
        qnode *n = node_new(QN_NOT, p->tpos);
        *out = n;
        if ((rc = lex(p)) < 0) return rc;
        rc = parse_unary(p, &n->a);
        p->depth--;
        return rc;
    }
    if (p->t == T_LP) {
        size_t open = p->tpos;
        if ((rc = lex(p)) < 0) return rc;
        if ((rc = parse_expr(p, out)) < 0) return rc;
        if (p->t != T_RP) {
            char tt[64];
            tok_text(p, tt, sizeof tt);
            return fail(p, p->tpos, "expected ')' to close the '(' at column %zu, found %s", open + 1, tt);
        }
        if ((rc = lex(p)) < 0) return rc;
        p->depth--;
        return 0;
    }
    if (p->t == T_EXISTS) {
        qnode *n = node_new(QN_EXISTS, p->tpos);
        *out = n;
        if ((rc = lex(p)) < 0) return rc;
        if ((rc = parse_field(p, &n->field)) < 0) return rc;
        p->depth--;
        return 0;
    }
    rc = parse_predicate(p, out);
    p->depth--;
    return rc;
}

static int parse_and(parser *p, qnode **out)
{
    int rc = parse_unary(p, out);
    while (rc == 0 && p->t == T_AND) {
        qnode *n = node_new(QN_AND, p->tpos);
        n->a = *out;
        *out = n;
        if ((rc = lex(p)) < 0) return rc;
        rc = parse_unary(p, &n->b);
    }
    return rc;
}

static int parse_expr(parser *p, qnode **out)
{
    int rc = parse_and(p, out);
    while (rc == 0 && p->t == T_OR) {
        qnode *n = node_new(QN_OR, p->tpos);
        n->a = *out;
        *out = n;
        if ((rc = lex(p)) < 0) return rc;
        rc = parse_and(p, &n->b);
    }
    return rc;
}

void q_node_free(qnode *n)
{
    /* iterative on the left spine of and/or chains, so long chains cannot
     * exhaust the stack */
    while (n) {
        qnode *next = NULL;
        if (n->k == QN_AND || n->k == QN_OR) {
            q_node_free(n->b);
            next = n->a;
        } else if (n->k == QN_NOT) {
            next = n->a;
        }
        q_field_release(&n->field);
        for (size_t i = 0; i < n->nlit; i++) free((char *)n->lits[i].v.s);
        free(n->lits);
        if (n->has_re) regfree(&n->re);
        free(n);
        n = next;
    }
}

static int blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s)) return 0;
    return 1;
}

int q_parse(qnode **out, const char *expr, char **errmsg)
{
    *out = NULL;
    if (errmsg) *errmsg = NULL;
    if (!expr || blank(expr)) return 0;
    parser p = {.src = expr, .n = strlen(expr)};
    qnode *root = NULL;
    int rc = lex(&p);
    if (rc == 0) rc = parse_expr(&p, &root);
    if (rc == 0 && p.t != T_EOF) {
        char tt[64];
        tok_text(&p, tt, sizeof tt);
        if (p.t == T_RP) rc = fail(&p, p.tpos, "unexpected ')' with no '(' to close");
        else rc = fail(&p, p.tpos, "unexpected %s after a complete condition; join conditions with 'and' or 'or'", tt);
    }
    free(p.str);
    if (rc < 0) {
        q_node_free(root);
        if (errmsg) *errmsg = p.err ? p.err : av_xstrdup("invalid expression");
        else free(p.err);
        return AV_EINVAL;
    }
    *out = root;
    return 0;
}

int q_field_parse(qfield *out, const char *text, char **errmsg)
{
    memset(out, 0, sizeof *out);
    if (errmsg) *errmsg = NULL;
    parser p = {.src = text ? text : "", .n = text ? strlen(text) : 0};
    int rc = lex(&p);
    if (rc == 0) rc = parse_field(&p, out);
    if (rc == 0 && p.t != T_EOF) rc = fail(&p, p.tpos, "unexpected text after the field name");
    free(p.str);
    if (rc < 0) {
        q_field_release(out);
        if (errmsg) *errmsg = p.err ? p.err : av_xstrdup("invalid field");
        else free(p.err);
        return AV_EINVAL;
    }
    return 0;
}
