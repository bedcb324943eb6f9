/* cmd_stats.c: `aviary stats`: what a store holds at a version: records by
 * kind, by model and by source; the store's size on disk; its texts before
 * and after compression. With --group-by FIELD: the selected units (--where,
 * --kind) counted by the values of a query field (a unit with several
 * values, like several sources or licences, counts under each; one with none
 * under null), with min/mean/max of a numeric field (--agg) over the values
 * found. Groups are listed by count, largest first. Reads metadata only
 * unless a field or the filter is a text. */
#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "query/query.h"

static const char usage[] =
    "usage: aviary stats [--at <version>|<tag>] [--format text|json]\n"
    "       aviary stats --group-by <field> [--where <expr>] [--kind <kind>] [--agg <field>]\n"
    "                    [--at <version>|<tag>] [--format table|jsonl]\n"
    "\n"
    "  --group-by  count units by a query field, e.g. tag.task_category, model, licence\n"
    "  --where     only units matching this filter (docs/query.md)\n"
    "  --kind      the unit: response (default), prompt, rating, preference, tag, ..., all\n"
    "  --agg       a numeric field to summarise per group: n (values), min, mean, max\n";

/* ---- plain stats ----------------------------------------------------- */

static void human(char *out, size_t cap, uint64_t n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0) snprintf(out, cap, "%llu B", (unsigned long long)n);
    else snprintf(out, cap, "%.1f %s", v, units[u]);
}

static int count_iter(av_iter *it, uint64_t *out)
{
    uint64_t row, n = 0;
    int rc;
    while ((rc = av_iter_next(it, &row)) == 1) n++;
    av_iter_free(it);
    *out = n;
    return rc < 0 ? rc : 0;
}

typedef struct named {
    char *name;
    char *detail;
    uint64_t count;
} named;

static int cmp_named(const void *a, const void *b)
{
    const named *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Models (by records they wrote, judged or tagged) or sources (by records
 * linked to them). */
static int by_owner(av_reader *r, av_kind kind, named **out, size_t *n)
{
    av_iter *it;
    *out = NULL;
    *n = 0;
    int rc = av_iter_kind(&it, r, kind);
    if (rc < 0) return rc;
    av_record rec;
    av_record_init(&rec);
    uint64_t row;
    size_t cap = 0;
    while ((rc = av_iter_next(it, &row)) == 1) {
        if ((rc = av_get(r, row, AV_GET_TEXT, &rec)) < 0) break;
        av_iter *c;
        if ((rc = kind == AV_MODEL ? av_iter_model(&c, r, row) : av_iter_source(&c, r, row)) < 0) break;
        uint64_t cnt;
        if ((rc = count_iter(c, &cnt)) < 0) break;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = av_xrealloc(*out, cap * sizeof **out);
        }
        named *e = &(*out)[(*n)++];
        e->name = av_xstrdup(rec.name ? rec.name : "");
        e->count = cnt;
        e->detail = NULL;
        if (kind == AV_SOURCE) {
            const av_attr *f = av_record_attr(&rec, "file"), *l = av_record_attr(&rec, "licence");
            av_buf d = AV_BUF_INIT;
            if (f && f->json.ptr) av_buf_printf(&d, "file %.*s", (int)f->json.len, f->json.ptr);
            if (l && l->json.ptr) av_buf_printf(&d, "%slicence %.*s", d.len ? ", " : "", (int)l->json.len, l->json.ptr);
            e->detail = av_buf_detach(&d);
        }
    }
    av_iter_free(it);
    av_record_free(&rec);
    if (rc < 0) return rc;
    qsort(*out, *n, sizeof **out, cmp_named);
    return 0;
}

static void free_named(named *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].detail);
    }
    free(v);
}

static int plain_stats(av_cli *ctx, av_reader *r, int json)
{
    av_store_info info;
    int rc = av_store_info_get(ctx->store, &info);
    if (rc < 0) return cli_store_error(rc);
    uint64_t kinds[AV_KIND_MAX + 1] = {0}, total = 0;
    for (int k = 1; k <= AV_KIND_MAX; k++) {
        av_iter *it;
        if ((rc = av_iter_kind(&it, r, (av_kind)k)) < 0 || (rc = count_iter(it, &kinds[k])) < 0)
            return cli_store_error(rc);
        total += kinds[k];
    }
    named *models = NULL, *sources = NULL;
    size_t nm = 0, ns = 0;
    if ((rc = by_owner(r, AV_MODEL, &models, &nm)) < 0 || (rc = by_owner(r, AV_SOURCE, &sources, &ns)) < 0) {
        free_named(models, nm);
        return cli_store_error(rc);
    }
    uint32_t v = av_reader_version(r);
    av_buf b = AV_BUF_INIT;
    if (json) {
        av_buf_printf(&b, "{\"version\":%u,\"head\":%u,\"file_bytes\":%llu,\"texts\":{\"count\":%llu,\"raw_bytes\":%llu,"
                          "\"stored_bytes\":%llu,\"dictionaries\":%u},\"records\":%llu,\"by_kind\":{",
                      v, info.head, (unsigned long long)info.file_bytes, (unsigned long long)info.text_count,
                      (unsigned long long)info.text_raw_bytes, (unsigned long long)info.text_stored_bytes,
                      info.dict_count, (unsigned long long)total);
        for (int k = 1; k <= AV_KIND_MAX; k++)
            av_buf_printf(&b, "%s\"%s\":%llu", k > 1 ? "," : "", av_kind_name((av_kind)k), (unsigned long long)kinds[k]);
        av_buf_puts(&b, "},\"by_model\":{");
        for (size_t i = 0; i < nm; i++) {
            if (i) av_buf_putc(&b, ',');
            av_buf_json_str(&b, models[i].name, strlen(models[i].name));
            av_buf_printf(&b, ":%llu", (unsigned long long)models[i].count);
        }
        av_buf_puts(&b, "},\"by_source\":{");
        for (size_t i = 0; i < ns; i++) {
            if (i) av_buf_putc(&b, ',');
            av_buf_json_str(&b, sources[i].name, strlen(sources[i].name));
            av_buf_printf(&b, ":%llu", (unsigned long long)sources[i].count);
        }
        av_buf_puts(&b, "}}\n");
    } else {
        char disk[32], raw[32], stored[32];
        human(disk, sizeof disk, info.file_bytes);
        human(raw, sizeof raw, info.text_raw_bytes);
        human(stored, sizeof stored, info.text_stored_bytes);
        av_buf_printf(&b, "version     %u (head %u)\n", v, info.head);
        av_buf_printf(&b, "on disk     %s\n", disk);
        av_buf_printf(&b, "texts       %llu distinct, %s before compression, %s after", (unsigned long long)info.text_count,
                      raw, stored);
        if (info.text_stored_bytes)
            av_buf_printf(&b, " (%.2fx)", (double)info.text_raw_bytes / (double)info.text_stored_bytes);
        av_buf_printf(&b, ", %u dictionar%s\n", info.dict_count, info.dict_count == 1 ? "y" : "ies");
        av_buf_printf(&b, "records     %llu visible\n", (unsigned long long)total);
        av_buf_puts(&b, "\nby kind\n");
        for (int k = 1; k <= AV_KIND_MAX; k++)
            if (kinds[k]) av_buf_printf(&b, "  %-12s %10llu\n", av_kind_name((av_kind)k), (unsigned long long)kinds[k]);
        size_t w = 0;
        for (size_t i = 0; i < nm; i++)
            if (strlen(models[i].name) > w) w = strlen(models[i].name);
        for (size_t i = 0; i < ns; i++)
            if (strlen(sources[i].name) > w) w = strlen(sources[i].name);
        if (nm) av_buf_puts(&b, "\nby model (records it wrote, judged or tagged)\n");
        for (size_t i = 0; i < nm; i++)
            av_buf_printf(&b, "  %-*s %10llu\n", (int)w, models[i].name, (unsigned long long)models[i].count);
        if (ns) av_buf_puts(&b, "\nby source (records linked to it)\n");
        for (size_t i = 0; i < ns; i++)
            av_buf_printf(&b, "  %-*s %10llu  %s\n", (int)w, sources[i].name, (unsigned long long)sources[i].count,
                          sources[i].detail ? sources[i].detail : "");
    }
    fwrite(b.ptr, 1, b.len, stdout);
    av_buf_free(&b);
    free_named(models, nm);
    free_named(sources, ns);
    return 0;
}

/* ---- group-by -------------------------------------------------------- */

typedef struct group {
    char *key;   /* the value as JSON ("null" for none) */
    uint64_t count;
    uint64_t n;  /* agg values */
    double min, max, sum;
} group;

typedef struct grouping {
    av_query *q;
    av_reader *r;
    int gfield, afield;
    group *g;
    size_t ng, cap;
    size_t *slot; /* open addressing: index + 1, 0 empty */
    size_t nslot;
    av_buf key;
    /* the current unit's agg values */
    double *av;
    size_t nav, avcap;
    uint64_t row;
    const char *agg_name;
} grouping;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static group *group_get(grouping *g, const char *key)
{
    if ((g->ng + 1) * 2 > g->nslot) {
        size_t ns = g->nslot ? g->nslot * 2 : 64;
        free(g->slot);
        g->slot = av_xcalloc(ns, sizeof *g->slot);
        g->nslot = ns;
        for (size_t i = 0; i < g->ng; i++) {
            size_t j = hash_str(g->g[i].key) & (ns - 1);
            while (g->slot[j]) j = (j + 1) & (ns - 1);
            g->slot[j] = i + 1;
        }
    }
    size_t j = hash_str(key) & (g->nslot - 1);
    while (g->slot[j]) {
        group *x = &g->g[g->slot[j] - 1];
        if (!strcmp(x->key, key)) return x;
        j = (j + 1) & (g->nslot - 1);
    }
    if (g->ng == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 64;
        g->g = av_xrealloc(g->g, g->cap * sizeof *g->g);
    }
    group *x = &g->g[g->ng];
    memset(x, 0, sizeof *x);
    x->key = av_xstrdup(key);
    x->min = INFINITY;
    x->max = -INFINITY;
    g->slot[j] = ++g->ng;
    return x;
}

static void key_json(av_buf *b, const av_qvalue *v)
{
    av_buf_reset(b);
    switch (v->type) {
    case AV_QV_NULL: av_buf_puts(b, "null"); break;
    case AV_QV_BOOL: av_buf_puts(b, v->num != 0 ? "true" : "false"); break;
    case AV_QV_NUM:
        if (v->num == floor(v->num) && fabs(v->num) < 1e15) av_buf_printf(b, "%.0f", v->num);
        else av_buf_json_num(b, v->num);
        break;
    case AV_QV_STR: av_buf_json_str(b, v->str, v->len); break;
    default: av_buf_put(b, v->str, v->len); break;
    }
}

static void add_to(grouping *g, group *x)
{
    x->count++;
    for (size_t i = 0; i < g->nav; i++) {
        double d = g->av[i];
        x->n++;
        x->sum += d;
        if (d < x->min) x->min = d;
        if (d > x->max) x->max = d;
    }
}

typedef struct gvals {
    grouping *g;
    int n;
} gvals;

static int on_group_value(void *ctx, const av_qvalue *v)
{
    gvals *c = ctx;
    c->n++;
    key_json(&c->g->key, v);
    add_to(c->g, group_get(c->g, c->g->key.ptr));
    return 0;
}

static int on_agg_value(void *ctx, const av_qvalue *v)
{
    grouping *g = ctx;
    if (v->type == AV_QV_NULL) return 0;
    if (v->type != AV_QV_NUM) {
        char hex[33] = "?";
        av_record rec;
        av_record_init(&rec);
        if (av_get(g->r, g->row, 0, &rec) == 0) av_id_hex(hex, &rec.cid);
        av_record_free(&rec);
        av_buf j = AV_BUF_INIT;
        key_json(&j, v);
        int rc = av_error_set(AV_EINVAL, "--agg needs a numeric field, but %s is %s (%.40s) in record %.12s",
                              g->agg_name,
                              v->type == AV_QV_STR ? "a string" : v->type == AV_QV_BOOL ? "a boolean" : "not a number",
                              j.ptr, hex);
        av_buf_free(&j);
        return rc;
    }
    if (g->nav == g->avcap) {
        g->avcap = g->avcap ? g->avcap * 2 : 8;
        g->av = av_xrealloc(g->av, g->avcap * sizeof *g->av);
    }
    g->av[g->nav++] = v->num;
    return 0;
}

static int on_unit(void *ctx, uint64_t row)
{
    grouping *g = ctx;
    g->nav = 0;
    g->row = row;
    int rc;
    if (g->afield >= 0 && (rc = av_query_field_each(g->q, g->r, row, g->afield, on_agg_value, g)) < 0) return rc;
    gvals c = {g, 0};
    if ((rc = av_query_field_each(g->q, g->r, row, g->gfield, on_group_value, &c)) < 0) return rc;
    if (!c.n) add_to(g, group_get(g, "null"));
    return 0;
}

static int cmp_group(const void *a, const void *b)
{
    const group *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* A group key for the table: strings without quotes, the rest as JSON. */
static void key_text(av_buf *b, const char *key)
{
    if (key[0] != '"') {
        av_buf_puts(b, key);
        return;
    }
    for (const char *p = key + 1; *p && !(*p == '"' && !p[1]); p++) {
        if (*p == '\\' && p[1]) {
            p++;
            char c = *p == 'n' ? ' ' : *p == 't' ? ' ' : *p;
            av_buf_putc(b, c);
        } else {
            av_buf_putc(b, *p);
        }
    }
}

static void num_out(av_buf *b, double v)
{
    if (v == floor(v) && fabs(v) < 1e15) av_buf_printf(b, "%.0f", v);
    else av_buf_printf(b, "%.4g", v);
}

static size_t width_of(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80) w++;
    return w;
}

static int group_stats(av_cli *ctx, av_reader *r, const char *by, const char *where, av_kind unit, const char *agg,
                       int jsonl)
{
    grouping g = {.r = r, .gfield = -1, .afield = -1, .agg_name = agg};
    char *err = NULL;
    int ret = 0, rc;
    (void)ctx;
    if (av_query_compile(&g.q, where, unit, &err) < 0) {
        fprintf(stderr, "aviary: --where: %s\n", err ? err : "invalid expression");
        free(err);
        return 2;
    }
    if ((g.gfield = av_query_field_add(g.q, by, &err)) < 0) {
        fprintf(stderr, "aviary: --group-by: %s\n", err ? err : "invalid field");
        free(err);
        ret = 2;
        goto done;
    }
    if (agg && (g.afield = av_query_field_add(g.q, agg, &err)) < 0) {
        fprintf(stderr, "aviary: --agg: %s\n", err ? err : "invalid field");
        free(err);
        ret = 2;
        goto done;
    }
    if ((rc = av_query_run(g.q, r, on_unit, &g)) < 0) {
        ret = cli_store_error(rc);
        goto done;
    }
    qsort(g.g, g.ng, sizeof *g.g, cmp_group);
    av_buf b = AV_BUF_INIT;
    const char *gname = av_query_field_name(g.q, g.gfield);
    if (jsonl) {
        for (size_t i = 0; i < g.ng; i++) {
            group *x = &g.g[i];
            av_buf_putc(&b, '{');
            av_buf_json_str(&b, gname, strlen(gname));
            av_buf_printf(&b, ":%s,\"count\":%llu", x->key, (unsigned long long)x->count);
            if (agg) {
                av_buf_printf(&b, ",\"n\":%llu,\"min\":", (unsigned long long)x->n);
                if (x->n) {
                    av_buf_json_num(&b, x->min);
                    av_buf_puts(&b, ",\"mean\":");
                    av_buf_json_num(&b, x->sum / (double)x->n);
                    av_buf_puts(&b, ",\"max\":");
                    av_buf_json_num(&b, x->max);
                } else {
                    av_buf_puts(&b, "null,\"mean\":null,\"max\":null");
                }
            }
            av_buf_puts(&b, "}\n");
        }
    } else {
        /* columns: key, count[, n, min, mean, max] */
        size_t ncol = agg ? 6 : 2;
        size_t nrow = g.ng + 1;
        av_buf *cells = av_xcalloc(nrow * ncol, sizeof *cells);
        size_t w[6] = {0};
        av_buf_puts(&cells[0], gname);
        av_buf_puts(&cells[1], "count");
        if (agg) {
            av_buf_puts(&cells[2], "n");
            av_buf_puts(&cells[3], "min");
            av_buf_puts(&cells[4], "mean");
            av_buf_puts(&cells[5], "max");
        }
        for (size_t i = 0; i < g.ng; i++) {
            group *x = &g.g[i];
            av_buf *row = &cells[(i + 1) * ncol];
            if (!strcmp(x->key, "null")) av_buf_puts(&row[0], "(none)");
            else key_text(&row[0], x->key);
            if (!row[0].len) av_buf_puts(&row[0], "");
            av_buf_printf(&row[1], "%llu", (unsigned long long)x->count);
            if (agg) {
                av_buf_printf(&row[2], "%llu", (unsigned long long)x->n);
                if (x->n) {
                    num_out(&row[3], x->min);
                    num_out(&row[4], x->sum / (double)x->n);
                    num_out(&row[5], x->max);
                } else {
                    av_buf_puts(&row[3], "-");
                    av_buf_puts(&row[4], "-");
                    av_buf_puts(&row[5], "-");
                }
            }
        }
        for (size_t i = 0; i < nrow * ncol; i++) {
            if (!cells[i].ptr) av_buf_puts(&cells[i], "");
            size_t cw = width_of(cells[i].ptr);
            if (cw > w[i % ncol]) w[i % ncol] = cw;
        }
        for (size_t i = 0; i < nrow; i++) {
            for (size_t j = 0; j < ncol; j++) {
                const char *s = cells[i * ncol + j].ptr;
                size_t cw = width_of(s);
                if (j == 0) {
                    av_buf_puts(&b, s);
                    for (size_t k = cw; k < w[0]; k++) av_buf_putc(&b, ' ');
                } else {
                    /* numbers right-aligned */
                    av_buf_puts(&b, "  ");
                    for (size_t k = cw; k < w[j]; k++) av_buf_putc(&b, ' ');
                    av_buf_puts(&b, s);
                }
            }
            av_buf_putc(&b, '\n');
        }
        for (size_t i = 0; i < nrow * ncol; i++) av_buf_free(&cells[i]);
        free(cells);
    }
    fwrite(b.ptr, 1, b.len, stdout);
    av_buf_free(&b);
done:
    for (size_t i = 0; i < g.ng; i++) free(g.g[i].key);
    free(g.g);
    free(g.slot);
    free(g.av);
    av_buf_free(&g.key);
    av_query_free(g.q);
    return ret;
}

int cmd_stats(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    const char *at = NULL, *format = NULL, *by = NULL, *where = NULL, *kind = NULL, *agg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **opt = NULL;
        if (!strcmp(a, "--at")) opt = &at;
        else if (!strcmp(a, "--format")) opt = &format;
        else if (!strcmp(a, "--group-by")) opt = &by;
        else if (!strcmp(a, "--where")) opt = &where;
        else if (!strcmp(a, "--kind")) opt = &kind;
        else if (!strcmp(a, "--agg")) opt = &agg;
        else return cli_usage_error(usage, a[0] == '-' ? "unknown option '%s'" : "unexpected argument '%s'", a);
        if (i + 1 >= argc) return cli_usage_error(usage, "%s needs a value", a);
        *opt = argv[++i];
    }
    if (!by && (where || kind || agg))
        return cli_usage_error(usage, "%s needs --group-by", where ? "--where" : kind ? "--kind" : "--agg");
    int json = 0;
    if (format) {
        if (by ? !strcmp(format, "jsonl") : !strcmp(format, "json")) json = 1;
        else if (strcmp(format, by ? "table" : "text"))
            return cli_usage_error(usage, "unknown format '%s' (%s)", format, by ? "table, jsonl" : "text, json");
    }
    av_kind unit = AV_RESPONSE;
    if (kind) {
        if (!strcmp(kind, "all") || !strcmp(kind, "any")) unit = AV_KIND_NONE;
        else if ((unit = av_kind_parse(kind)) == AV_KIND_NONE)
            return cli_usage_error(usage, "unknown kind '%s' (prompt, response, rating, preference, tag, source, model, run, all)", kind);
    }
    av_reader *r;
    int rc = cli_reader_open(ctx, at, &r);
    if (rc) return rc;
    rc = by ? group_stats(ctx, r, by, where, unit, agg, json) : plain_stats(ctx, r, json);
    av_reader_close(r);
    return rc;
}
