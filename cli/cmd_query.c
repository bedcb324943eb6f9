/* cmd_query.c: `aviary query`: select units (responses with their prompts
 * by default) with a filter expression (docs/query.md) and print them as a
 * table, JSON Lines, content ids or a count. Output fields are query fields
 * (--fields), plus "tags" (every tag the unit sees, as one object). Rows
 * come in row order, or sorted by --order-by (missing values last); --limit
 * stops early when no sort is asked for. */
#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "query/query.h"

static const char usage[] =
    "usage: aviary query [<expr>] [--kind <kind>] [--at <version>|<tag>]\n"
    "                    [--format table|jsonl|ids|count] [--fields <field>,...]\n"
    "                    [--order-by <field> [--desc]] [--limit <n>] [--explain] [--no-index]\n"
    "\n"
    "  <expr>        a filter (see docs/query.md), e.g. 'tag.task_category = \"Math\"'\n"
    "  --kind        the unit: response (default), prompt, rating, preference, tag,\n"
    "                source, model, run, or all\n"
    "  --fields      output fields, e.g. id,model,tag.input_quality,len(response),tags\n"
    "  --explain     print how the query would be answered, and nothing else\n"
    "  --no-index    answer by scanning (same results; for checking the indexes)\n";

enum fmt { F_TABLE, F_JSONL, F_IDS, F_COUNT };

typedef struct out_field {
    int idx;      /* query field index, or -1 for "tags" */
    const char *name;
    int multi;    /* always an array in JSON (source, licence) */
} out_field;

typedef struct qcmd {
    av_query *q;
    av_reader *r;
    enum fmt fmt;
    out_field *f;
    size_t nf;
    long long limit;
    uint64_t count;
    uint64_t emitted; /* rows given out, for --limit */
    int sort_field; /* -1: none */
    int desc;
    /* rows kept for sorting or for the table (or JSON Lines waiting to be
     * written by several threads: see flush_jsonl) */
    uint64_t *rows;
    size_t nrows, cap;
    av_buf line;
    av_kind unit;
    struct jsonl_par *par; /* NULL: not set up yet */
    size_t batch;          /* rows per flush_jsonl */
} qcmd;

/* ---- values ---------------------------------------------------------- */

typedef struct vals {
    av_buf *b;
    int n;
    int text; /* table: plain text, not JSON */
} vals;

static void put_text(av_buf *b, const char *s, size_t n)
{
    /* one line per row: control characters become spaces; 60 code points at most */
    size_t cps = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xc0) != 0x80) {
            if (++cps > 60) {
                av_buf_puts(b, "…");
                return;
            }
        }
        av_buf_putc(b, c < 0x20 || c == 0x7f ? ' ' : (char)c);
    }
}

static void value_out(av_buf *b, const av_qvalue *v, int text)
{
    switch (v->type) {
    case AV_QV_NULL: av_buf_puts(b, text ? "-" : "null"); break;
    case AV_QV_BOOL: av_buf_puts(b, v->num != 0 ? "true" : "false"); break;
    case AV_QV_NUM:
        if (v->num == floor(v->num) && fabs(v->num) < 1e15) av_buf_printf(b, "%.0f", v->num);
        else av_buf_json_num(b, v->num);
        break;
    case AV_QV_STR:
        if (text) put_text(b, v->str, v->len);
        else av_buf_json_str(b, v->str, v->len);
        break;
    case AV_QV_ARRAY:
    case AV_QV_OBJECT:
        if (text) put_text(b, v->str, v->len);
        else av_buf_put(b, v->str, v->len);
        break;
    }
}

static int collect_value(void *ctx, const av_qvalue *v)
{
    vals *c = ctx;
    if (c->n++) av_buf_puts(c->b, c->text ? ", " : ",");
    value_out(c->b, v, c->text);
    return 0;
}

typedef struct tags_ctx {
    av_buf *b;
    int n;
    /* keys already written (the unit's own tags come first and win) */
    char **keys;
    size_t nkeys, cap;
} tags_ctx;

static int collect_tag(void *ctx, const char *key, const char *json, size_t len)
{
    tags_ctx *t = ctx;
    if (key[0] == '_') return 0; /* bookkeeping of the ingest mappers (_fmt, _tpl), not data */
    for (size_t i = 0; i < t->nkeys; i++)
        if (!strcmp(t->keys[i], key)) return 0;
    if (t->nkeys == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->keys = av_xrealloc(t->keys, t->cap * sizeof *t->keys);
    }
    t->keys[t->nkeys++] = av_xstrdup(key);
    av_buf_puts(t->b, t->n++ ? "," : "{");
    av_buf_json_str(t->b, key, strlen(key));
    av_buf_putc(t->b, ':');
    av_buf_put(t->b, json, len);
    return 0;
}

/* Appends field f of row: JSON (null, a value, or an array) or table text. */
static int field_out(qcmd *c, uint64_t row, const out_field *f, av_buf *b, int text)
{
    int rc;
    if (f->idx < 0) {
        tags_ctx t = {.b = b};
        size_t start = b->len;
        rc = av_query_tags_each(c->q, c->r, row, collect_tag, &t);
        for (size_t i = 0; i < t.nkeys; i++) free(t.keys[i]);
        free(t.keys);
        if (rc < 0) return rc;
        av_buf_puts(b, t.n ? "}" : "{}");
        if (text) {
            /* the table shows tags compactly */
            av_buf tmp = AV_BUF_INIT;
            put_text(&tmp, b->ptr + start, b->len - start);
            b->len = start;
            av_buf_put(b, tmp.ptr, tmp.len);
            av_buf_free(&tmp);
        }
        return 0;
    }
    size_t start = b->len;
    if (!text) av_buf_putc(b, '[');
    vals v = {b, 0, text};
    if ((rc = av_query_field_each(c->q, c->r, row, f->idx, collect_value, &v)) < 0) return rc;
    if (text) {
        if (!v.n) av_buf_putc(b, '-');
        if (!strcmp(f->name, "id") && b->len - start > 12) b->len = start + 12; /* short ids, like git */
        return 0;
    }
    if (v.n == 1 && !f->multi) {
        /* drop the brackets around a single value */
        memmove(b->ptr + start, b->ptr + start + 1, b->len - start - 1);
        b->len--;
    } else if (v.n == 0 && !f->multi) {
        b->len = start;
        av_buf_puts(b, "null");
    } else {
        av_buf_putc(b, ']');
    }
    b->ptr[b->len] = 0;
    return 0;
}

/* Appends row as one JSON line to b. */
static int format_jsonl(qcmd *c, uint64_t row, av_buf *b)
{
    av_buf_putc(b, '{');
    for (size_t i = 0; i < c->nf; i++) {
        if (i) av_buf_putc(b, ',');
        av_buf_json_str(b, c->f[i].name, strlen(c->f[i].name));
        av_buf_putc(b, ':');
        int rc = field_out(c, row, &c->f[i], b, 0);
        if (rc < 0) return rc;
    }
    av_buf_puts(b, "}\n");
    return 0;
}

static int print_jsonl(qcmd *c, uint64_t row)
{
    av_buf *b = &c->line;
    av_buf_reset(b);
    int rc = format_jsonl(c, row, b);
    if (rc < 0) return rc;
    fwrite(b->ptr, 1, b->len, stdout);
    return ferror(stdout) ? av_error_set(AV_EIO, "cannot write to standard output: %s", strerror(errno)) : 0;
}

static int print_id(qcmd *c, uint64_t row)
{
    out_field idf = {0, "id", 0};
    av_buf *b = &c->line;
    av_buf_reset(b);
    vals v = {b, 0, 1};
    int rc = av_query_field_each(c->q, c->r, row, idf.idx, collect_value, &v);
    if (rc < 0) return rc;
    av_buf_putc(b, '\n');
    fwrite(b->ptr, 1, b->len, stdout);
    return ferror(stdout) ? av_error_set(AV_EIO, "cannot write to standard output: %s", strerror(errno)) : 0;
}

static void keep(qcmd *c, uint64_t row)
{
    if (c->nrows == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->rows = av_xrealloc(c->rows, c->cap * sizeof *c->rows);
    }
    c->rows[c->nrows++] = row;
}

/* ---- JSON Lines on several threads -----------------------------------
 *
 * Writing a selection out reads every row's texts (a text block
 * decompressed per row, mostly), so rows are formatted in batches, cut into
 * slices formatted on threads of their own (each with its own reader of the
 * same version and its own copy of the query's fields) and written in row
 * order. An error stops the output at the row where one thread would have.
 * AVIARY_QUERY_THREADS=1 keeps it to one thread. */

#define JPAR_MAX 4

typedef struct jsonl_par {
    int n;                  /* extra threads */
    qcmd c[JPAR_MAX];       /* their copies of the command (own query and reader) */
} jsonl_par;

typedef struct jslice {
    qcmd *c;
    const uint64_t *rows;
    size_t n;
    av_buf out;
    int rc;
    char *err;
} jslice;

static void jslice_run(jslice *j)
{
    for (size_t i = 0; i < j->n; i++) {
        int rc = format_jsonl(j->c, j->rows[i], &j->out);
        if (rc < 0) {
            j->rc = rc;
            j->err = av_xstrdup(av_errmsg());
            return;
        }
    }
}

static void *jslice_thread(void *arg)
{
    jslice_run(arg);
    return NULL;
}

static void jsonl_par_free(jsonl_par *jp)
{
    if (!jp) return;
    for (int i = 0; i < jp->n; i++) {
        av_query_free(jp->c[i].q);
        av_reader_close(jp->c[i].r);
    }
    free(jp);
}

/* The extra threads' copies: a query of the same unit with the same fields
 * (in the same order, so the same indexes), a reader of the same version. */
static jsonl_par *jsonl_par_new(qcmd *c)
{
    jsonl_par *jp = av_xcalloc(1, sizeof *jp);
    const char *env = getenv("AVIARY_QUERY_THREADS");
    long want = (env && *env ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN)) - 1;
    if (want > JPAR_MAX) want = JPAR_MAX;
    for (int i = 0; i < want; i++) {
        qcmd *w = &jp->c[jp->n];
        *w = *c;
        w->rows = NULL;
        w->nrows = w->cap = 0;
        w->line = (av_buf)AV_BUF_INIT;
        w->par = NULL;
        w->q = NULL;
        w->r = NULL;
        char *err = NULL;
        if (av_query_compile(&w->q, NULL, c->unit, &err) < 0) {
            free(err);
            break;
        }
        int ok = 1;
        for (int k = 0; ok; k++) {
            const char *name = av_query_field_name(c->q, k);
            if (!name) break;
            ok = av_query_field_add(w->q, name, &err) == k;
            free(err);
            err = NULL;
        }
        if (!ok || av_reader_open(&w->r, av_reader_store(c->r), av_reader_version(c->r)) < 0) {
            av_query_free(w->q);
            break;
        }
        if (av_reader_row_end(w->r) != av_reader_row_end(c->r)) {
            av_query_free(w->q);
            av_reader_close(w->r);
            break;
        }
        jp->n++;
    }
    return jp;
}

/* Formats and writes the kept rows (c->rows), then forgets them. */
static int flush_jsonl(qcmd *c)
{
    if (!c->nrows) return 0;
    if (!c->par) c->par = jsonl_par_new(c);
    int k = c->nrows >= 32 ? 1 + c->par->n : 1;
    jslice sl[JPAR_MAX + 1];
    pthread_t th[JPAR_MAX + 1];
    int started[JPAR_MAX + 1] = {0};
    size_t per = (c->nrows + (size_t)k - 1) / (size_t)k;
    for (int i = 0; i < k; i++) {
        size_t lo = per * (size_t)i < c->nrows ? per * (size_t)i : c->nrows;
        size_t hi = lo + per < c->nrows ? lo + per : c->nrows;
        sl[i] = (jslice){.c = i ? &c->par->c[i - 1] : c, .rows = c->rows + lo, .n = hi - lo, .out = AV_BUF_INIT};
    }
    for (int i = 1; i < k; i++) started[i] = pthread_create(&th[i], NULL, jslice_thread, &sl[i]) == 0;
    jslice_run(&sl[0]);
    for (int i = 1; i < k; i++) {
        if (started[i]) pthread_join(th[i], NULL);
        else jslice_run(&sl[i]);
    }
    int rc = 0;
    for (int i = 0; i < k; i++) {
        if (!rc && sl[i].out.len) fwrite(sl[i].out.ptr, 1, sl[i].out.len, stdout);
        if (!rc && ferror(stdout)) rc = av_error_set(AV_EIO, "cannot write to standard output: %s", strerror(errno));
        if (!rc && sl[i].rc < 0) rc = av_error_set(sl[i].rc, "%s", sl[i].err);
        av_buf_free(&sl[i].out);
        free(sl[i].err);
    }
    c->nrows = 0;
    return rc;
}

/* Emits one row in a streaming format. */
static int emit(qcmd *c, uint64_t row)
{
    switch (c->fmt) {
    case F_JSONL:
        if (c->batch) {
            keep(c, row);
            if (c->nrows < c->batch) return 0;
            if (c->batch < 4096) c->batch *= 2;
            return flush_jsonl(c);
        }
        return print_jsonl(c, row);
    case F_IDS: return print_id(c, row);
    case F_COUNT: c->count++; return 0;
    case F_TABLE: keep(c, row); return 0;
    }
    return 0;
}

static int on_row(void *ctx, uint64_t row)
{
    qcmd *c = ctx;
    if (c->sort_field >= 0) {
        keep(c, row);
        return 0;
    }
    if (c->limit >= 0 && c->emitted >= (uint64_t)c->limit) return 1;
    int rc = emit(c, row);
    if (rc < 0) return rc;
    if (c->limit >= 0 && ++c->emitted >= (uint64_t)c->limit) return 1;
    return 0;
}

/* ---- sorting --------------------------------------------------------- */

typedef struct sort_key {
    uint64_t row;
    int has;    /* 0: missing (sorts last) */
    int is_num;
    double num;
    char *str;
} sort_key;

static int first_value(void *ctx, const av_qvalue *v)
{
    sort_key *k = ctx;
    if (v->type == AV_QV_NULL) return 0;
    k->has = 1;
    if (v->type == AV_QV_NUM || v->type == AV_QV_BOOL) {
        k->is_num = 1;
        k->num = v->num;
    } else {
        k->str = av_xstrndup(v->str, v->len);
    }
    return 1;
}

static int sort_desc;
static int cmp_keys(const void *a, const void *b)
{
    const sort_key *x = a, *y = b;
    if (x->has != y->has) return x->has ? -1 : 1;
    int c = 0;
    if (x->has) {
        if (x->is_num != y->is_num) c = x->is_num ? -1 : 1; /* numbers before strings */
        else if (x->is_num) c = x->num < y->num ? -1 : x->num > y->num;
        else c = strcmp(x->str, y->str);
        if (sort_desc) c = -c;
    }
    if (!c) c = x->row < y->row ? -1 : x->row > y->row;
    return c;
}

static int sort_rows(qcmd *c)
{
    sort_key *k = av_xcalloc(c->nrows ? c->nrows : 1, sizeof *k);
    int rc = 0;
    for (size_t i = 0; i < c->nrows && rc >= 0; i++) {
        k[i].row = c->rows[i];
        rc = av_query_field_each(c->q, c->r, c->rows[i], c->sort_field, first_value, &k[i]);
    }
    if (rc >= 0) {
        sort_desc = c->desc;
        qsort(k, c->nrows, sizeof *k, cmp_keys);
        for (size_t i = 0; i < c->nrows; i++) c->rows[i] = k[i].row;
        rc = 0;
    }
    for (size_t i = 0; i < c->nrows; i++) free(k[i].str);
    free(k);
    return rc;
}

/* ---- the table ------------------------------------------------------- */

static size_t text_width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80) w++;
    return w;
}

static int print_table(qcmd *c, const uint64_t *rows, size_t n)
{
    size_t nf = c->nf;
    av_buf *cells = av_xcalloc(n * nf + nf, sizeof *cells);
    size_t *width = av_xcalloc(nf, sizeof *width);
    int rc = 0;
    for (size_t j = 0; j < nf; j++) {
        av_buf_puts(&cells[j], c->f[j].name);
        width[j] = text_width(cells[j].ptr, cells[j].len);
    }
    for (size_t i = 0; i < n && rc >= 0; i++) {
        for (size_t j = 0; j < nf && rc >= 0; j++) {
            av_buf *cell = &cells[(i + 1) * nf + j];
            av_buf_puts(cell, "");
            rc = field_out(c, rows[i], &c->f[j], cell, 1);
            size_t w = text_width(cell->ptr, cell->len);
            if (w > width[j]) width[j] = w;
        }
    }
    if (rc >= 0) {
        for (size_t i = 0; i <= n; i++) {
            av_buf *b = &c->line;
            av_buf_reset(b);
            for (size_t j = 0; j < nf; j++) {
                av_buf *cell = &cells[i * nf + j];
                av_buf_put(b, cell->ptr, cell->len);
                if (j + 1 < nf)
                    for (size_t k = text_width(cell->ptr, cell->len); k < width[j] + 2; k++) av_buf_putc(b, ' ');
            }
            av_buf_putc(b, '\n');
            fwrite(b->ptr, 1, b->len, stdout);
        }
    }
    for (size_t i = 0; i < n * nf + nf; i++) av_buf_free(&cells[i]);
    free(cells);
    free(width);
    return rc < 0 ? rc : 0;
}

/* ---- main ------------------------------------------------------------ */

/* Default output fields per unit kind and format. */
static const char *default_fields(av_kind k, enum fmt fmt)
{
    if (fmt == F_TABLE) {
        switch (k) {
        case AV_RESPONSE:
        case AV_PROMPT: return "id,model,source,instruction";
        case AV_RATING:
        case AV_PREFERENCE: return "id,model,name,score";
        case AV_TAG: return "id,model,tags";
        case AV_KIND_NONE: return "id,kind,name";
        default: return "id,name";
        }
    }
    switch (k) {
    case AV_RESPONSE: return "id,kind,version,model,source,instruction,response,tags";
    case AV_PROMPT: return "id,kind,version,model,source,instruction,turns,tags";
    case AV_RATING: return "id,kind,version,model,name,score,response,tags";
    case AV_PREFERENCE: return "id,kind,version,model,name,score,instruction";
    case AV_TAG: return "id,kind,version,model,source,tags";
    default: return "id,kind,version,name,model,source";
    }
}

static int add_fields(qcmd *c, const char *list)
{
    char *copy = av_xstrdup(list);
    int rc = 0;
    /* split on commas outside brackets and parentheses */
    char *p = copy;
    while (*p && rc == 0) {
        char *start = p;
        int depth = 0;
        for (; *p && (depth || *p != ','); p++) {
            if (*p == '(' || *p == '[') depth++;
            if ((*p == ')' || *p == ']') && depth) depth--;
        }
        if (*p) *p++ = 0;
        while (*start == ' ') start++;
        size_t n = strlen(start);
        while (n && start[n - 1] == ' ') start[--n] = 0;
        if (!*start) continue;
        c->f = av_xrealloc(c->f, (c->nf + 1) * sizeof *c->f);
        out_field *f = &c->f[c->nf];
        if (!strcmp(start, "tags")) {
            f->idx = -1;
            f->name = "tags";
            f->multi = 0;
            c->nf++;
            continue;
        }
        char *err = NULL;
        int idx = av_query_field_add(c->q, start, &err);
        if (idx < 0) {
            fprintf(stderr, "aviary: --fields: %s\n", err ? err : "invalid field");
            free(err);
            rc = 2;
            break;
        }
        f->idx = idx;
        f->name = av_query_field_name(c->q, idx);
        f->multi = !strcmp(f->name, "source") || !strcmp(f->name, "licence");
        c->nf++;
    }
    free(copy);
    return rc;
}

int cmd_query(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    const char *expr = NULL, *kind = NULL, *at = NULL, *format = NULL, *fields = NULL, *order = NULL;
    long long limit = -1;
    int desc = 0, explain = 0, noindex = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **opt = NULL;
        if (!strcmp(a, "--kind")) opt = &kind;
        else if (!strcmp(a, "--at")) opt = &at;
        else if (!strcmp(a, "--format")) opt = &format;
        else if (!strcmp(a, "--fields")) opt = &fields;
        else if (!strcmp(a, "--order-by")) opt = &order;
        if (opt) {
            if (i + 1 >= argc) return cli_usage_error(usage, "%s needs a value", a);
            *opt = argv[++i];
            continue;
        }
        if (!strcmp(a, "--desc")) desc = 1;
        else if (!strcmp(a, "--explain")) explain = 1;
        else if (!strcmp(a, "--no-index")) noindex = 1;
        else if (!strcmp(a, "--limit")) {
            if (i + 1 >= argc) return cli_usage_error(usage, "--limit needs a number");
            char *end;
            errno = 0;
            limit = strtoll(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || limit < 0)
                return cli_usage_error(usage, "--limit needs a number >= 0, not '%s'", argv[i]);
        } else if (!strcmp(a, "--")) {
            if (i + 1 < argc && !expr) expr = argv[++i];
            if (i + 1 < argc) return cli_usage_error(usage, "more than one expression");
        } else if (a[0] == '-' && a[1] == '-') {
            return cli_usage_error(usage, "unknown option '%s'", a);
        } else if (!expr) {
            expr = a;
        } else {
            return cli_usage_error(usage, "more than one expression ('%s' and '%s'); quote the whole expression", expr, a);
        }
    }
    if (desc && !order) return cli_usage_error(usage, "--desc needs --order-by");
    av_kind unit = AV_RESPONSE;
    if (kind) {
        if (!strcmp(kind, "all") || !strcmp(kind, "any")) unit = AV_KIND_NONE;
        else if ((unit = av_kind_parse(kind)) == AV_KIND_NONE)
            return cli_usage_error(usage, "unknown kind '%s' (prompt, response, rating, preference, tag, source, model, run, all)", kind);
    }
    qcmd c = {.limit = limit, .sort_field = -1, .desc = desc, .unit = unit};
    if (!format || !strcmp(format, "table")) c.fmt = F_TABLE;
    else if (!strcmp(format, "jsonl")) c.fmt = F_JSONL;
    else if (!strcmp(format, "ids")) c.fmt = F_IDS;
    else if (!strcmp(format, "count")) c.fmt = F_COUNT;
    else return cli_usage_error(usage, "unknown format '%s' (table, jsonl, ids, count)", format);

    char *err = NULL;
    int rc = av_query_compile(&c.q, expr, unit, &err);
    if (rc < 0) {
        fprintf(stderr, "aviary: %s\n", err ? err : "invalid expression");
        free(err);
        return 2;
    }
    av_query_set_flags(c.q, (noindex ? AV_QUERY_NO_INDEX : 0) | (limit >= 0 && !order ? AV_QUERY_FEW : 0));
    int ret = 0;
    /* field 0 is always id (for ids and short ids in tables) */
    char *e2 = NULL;
    if (av_query_field_add(c.q, "id", &e2) != 0) {
        free(e2);
        ret = cli_error("internal error: no id field");
        goto done;
    }
    if ((ret = add_fields(&c, fields ? fields : default_fields(unit, c.fmt))) != 0) goto done;
    if (order) {
        c.sort_field = av_query_field_add(c.q, order, &err);
        if (c.sort_field < 0) {
            fprintf(stderr, "aviary: --order-by: %s\n", err ? err : "invalid field");
            free(err);
            ret = 2;
            goto done;
        }
    }
    if ((ret = cli_reader_open(ctx, at, &c.r)) != 0) goto done;
    if (explain) {
        char *plan;
        if ((rc = av_query_explain(c.q, c.r, &plan)) < 0) {
            ret = cli_store_error(rc);
            goto done;
        }
        printf("%s\n", plan);
        free(plan);
        goto done;
    }
    /* streaming formats print as rows come (and --limit stops the run);
     * sorting and the table need every row first */
    if (c.fmt == F_JSONL && c.sort_field < 0) c.batch = 64;
    rc = av_query_run(c.q, c.r, on_row, &c);
    if (c.batch) {
        /* what was kept before the end (or an error) is written first */
        int frc = flush_jsonl(&c);
        if (rc >= 0) rc = frc;
    }
    if (rc >= 0 && c.sort_field >= 0) {
        rc = sort_rows(&c);
        size_t m = c.nrows;
        if (limit >= 0 && (size_t)limit < m) m = (size_t)limit;
        if (rc >= 0 && c.fmt == F_TABLE) {
            rc = print_table(&c, c.rows, m);
        } else {
            for (size_t i = 0; i < m && rc >= 0; i++) rc = emit(&c, c.rows[i]);
        }
    } else if (rc >= 0 && c.fmt == F_TABLE) {
        rc = print_table(&c, c.rows, c.nrows);
    }
    if (rc < 0) {
        ret = cli_store_error(rc);
        goto done;
    }
    if (c.fmt == F_COUNT) printf("%llu\n", (unsigned long long)c.count);
done:
    av_reader_close(c.r);
    av_query_free(c.q);
    free(c.f);
    free(c.rows);
    av_buf_free(&c.line);
    jsonl_par_free(c.par);
    return ret;
}
