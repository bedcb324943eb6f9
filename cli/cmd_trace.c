/* cmd_trace.c: `aviary trace ID`: the full provenance chain of one record:
 * where it and everything it derives from came from (source file and row, or
 * the run with its endpoint, model, template and parameters), the model of
 * each and where that model's licence was set, the verdicts and tags
 * attached to it, each with its own provenance, and the licences the record
 * carries as a result. Reads metadata only. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "query/audit.h"

static const char usage[] =
    "usage: aviary trace <id> [--at <version>]\n"
    "\n"
    "Prints the provenance chain of one record (a content id or a unique prefix\n"
    "of 8 or more hex digits): sources and rows, runs and their parameters,\n"
    "models and their licences, the verdicts and tags attached, and the\n"
    "licences the record carries.\n";

typedef struct trace {
    av_reader *r;
    av_auditor *a;
    av_buf out;
    int depth;
    uint64_t parent; /* the record whose attached verdicts and tags are being printed */
    uint64_t *shown; /* sources whose attributes were printed already */
    size_t nshown;
} trace;

#define VALUE_MAX 160 /* longer attribute values are cut, with their size */

static void indent(trace *t)
{
    for (int i = 0; i < t->depth; i++) av_buf_puts(&t->out, "  ");
}

/* The raw JSON of an attribute value (loading long values), cut at
 * VALUE_MAX bytes on a UTF-8 boundary. */
static void attr_json(trace *t, av_record *rec, const av_attr *at, av_buf *out)
{
    av_val v = at->json;
    if (!v.ptr && v.len && av_load(t->r, rec, &v) < 0) {
        av_buf_puts(out, "(unreadable)");
        return;
    }
    if (!v.ptr) return;
    if (v.len <= VALUE_MAX) {
        av_buf_put(out, v.ptr, v.len);
        return;
    }
    size_t cut = VALUE_MAX;
    while (cut && ((unsigned char)v.ptr[cut] & 0xC0) == 0x80) cut--;
    av_buf_put(out, v.ptr, cut);
    av_buf_printf(out, "... (%zu bytes)", v.len);
}

static void cid_of(trace *t, uint64_t row, char hex[33])
{
    av_record rec;
    av_record_init(&rec);
    if (av_get(t->r, row, AV_GET_ANY, &rec) == 0) av_id_hex(hex, &rec.cid);
    else snprintf(hex, 33, "row %llu", (unsigned long long)row);
    av_record_free(&rec);
}

static int print_sources(trace *t, uint64_t row)
{
    av_prov prov[64];
    size_t n = 0;
    int rc = av_prov_get(t->r, row, prov, 64, &n);
    if (rc < 0) return rc;
    for (size_t i = 0; i < n && i < 64; i++) {
        av_record src;
        av_record_init(&src);
        indent(t);
        av_buf_printf(&t->out, "source %s, line %llu (linked in version %u)\n",
                      av_auditor_name(t->a, prov[i].source), (unsigned long long)prov[i].line, prov[i].version);
        int seen = 0;
        for (size_t k = 0; k < t->nshown && !seen; k++) seen = t->shown[k] == prov[i].source;
        if (seen) continue;
        t->shown = av_xrealloc(t->shown, (t->nshown + 1) * sizeof *t->shown);
        t->shown[t->nshown++] = prov[i].source;
        if ((rc = av_get(t->r, prov[i].source, AV_GET_ANY, &src)) < 0) return rc;
        t->depth++;
        for (uint32_t k = 0; k < src.nattr; k++) {
            indent(t);
            av_buf_printf(&t->out, "%s: ", src.attr[k].key);
            attr_json(t, &src, &src.attr[k], &t->out);
            av_buf_putc(&t->out, '\n');
        }
        t->depth--;
        av_record_free(&src);
    }
    if (n > 64) {
        indent(t);
        av_buf_printf(&t->out, "... and %zu more source links\n", n - 64);
    }
    return 0;
}

static const char *role_of(av_kind k)
{
    switch (k) {
    case AV_PROMPT: return "generator";
    case AV_RESPONSE: return "writer";
    case AV_RATING:
    case AV_PREFERENCE: return "judge";
    case AV_TAG: return "tagger";
    default: return "model";
    }
}

static int print_model(trace *t, uint64_t model, const char *role)
{
    uint64_t tag = 0;
    const char *lic = av_auditor_model_licence(t->a, model, &tag);
    indent(t);
    av_buf_printf(&t->out, "model %s (%s), licence %s", av_auditor_name(t->a, model), role, lic);
    if (!tag) {
        av_buf_puts(&t->out, " (no licence tag)\n");
        return 0;
    }
    av_record rec;
    av_record_init(&rec);
    int rc = av_get(t->r, tag, AV_GET_ANY, &rec);
    if (rc == 0) {
        char hex[33];
        av_id_hex(hex, &rec.cid);
        av_buf_printf(&t->out, " set by tag %s in version %u\n", hex, rec.version);
        t->depth++;
        rc = print_sources(t, tag);
        t->depth--;
    }
    av_record_free(&rec);
    return rc;
}

static int print_model(trace *t, uint64_t model, const char *role);

/* The run's attributes; with_model: also the licence of the model it names. */
static int print_run(trace *t, uint64_t run, int with_model)
{
    av_record rec;
    av_record_init(&rec);
    int rc = av_get(t->r, run, AV_GET_ANY, &rec);
    if (rc < 0) return rc;
    char hex[33];
    av_id_hex(hex, &rec.cid);
    indent(t);
    av_buf_printf(&t->out, "run %s \"%s\" (version %u)\n", hex, rec.name ? rec.name : "", rec.version);
    t->depth++;
    for (uint32_t k = 0; k < rec.nattr; k++) {
        indent(t);
        av_buf_printf(&t->out, "%s: ", rec.attr[k].key);
        attr_json(t, &rec, &rec.attr[k], &t->out);
        av_buf_putc(&t->out, '\n');
    }
    rc = 0;
    const av_attr *m = with_model ? av_record_attr(&rec, "model") : NULL;
    if (m) {
        av_buf name = AV_BUF_INIT;
        attr_json(t, &rec, m, &name);
        uint64_t mrow = 0;
        /* The attribute is a JSON string; a plain one needs no unescaping. */
        if (name.len >= 2 && name.ptr[0] == '"' && name.ptr[name.len - 1] == '"' && !memchr(name.ptr, '\\', name.len)) {
            name.ptr[name.len - 1] = 0;
            if (av_find_model(t->r, name.ptr + 1, &mrow) == 0) rc = print_model(t, mrow, "run model");
            else {
                indent(t);
                av_buf_printf(&t->out, "model %s has no model record: licence unknown\n", name.ptr + 1);
            }
        }
        av_buf_free(&name);
    }
    t->depth--;
    av_record_free(&rec);
    return rc;
}

/* One record: header, its model, run and sources, then (attach = 2) its
 * ratings, preferences and tags or (attach = 1) its tags, then what it
 * refers to. */
static int print_record(trace *t, const char *label, uint64_t row, int attach)
{
    av_record rec;
    av_record_init(&rec);
    int rc = av_get(t->r, row, AV_GET_ANY, &rec);
    if (rc < 0) return rc;
    char hex[33];
    av_id_hex(hex, &rec.cid);
    indent(t);
    if (label) av_buf_printf(&t->out, "%s: ", label);
    av_buf_printf(&t->out, "%s %s", av_kind_name(rec.kind), hex);
    if (rec.kind == AV_RATING) {
        av_buf_printf(&t->out, " %s = ", rec.name ? rec.name : "score");
        av_buf_json_num(&t->out, rec.num);
    } else if (rec.kind == AV_PREFERENCE) {
        av_buf_puts(&t->out, " p(A better) = ");
        av_buf_json_num(&t->out, rec.num);
        if (rec.name) av_buf_printf(&t->out, " (%s)", rec.name);
    }
    av_buf_printf(&t->out, " (version %u%s)\n", rec.version, av_visible(t->r, row) ? "" : ", not visible");
    t->depth++;
    if (rec.kind == AV_TAG) {
        int internal = 0;
        for (uint32_t k = 0; k < rec.nattr; k++) {
            if (rec.attr[k].key[0] != '_') continue;
            if (!internal++) {
                indent(t);
                av_buf_puts(&t->out, "internal:");
            }
            av_buf_printf(&t->out, " %s", rec.attr[k].key);
        }
        if (internal) av_buf_putc(&t->out, '\n');
    }
    if (rec.kind == AV_TAG)
        for (uint32_t k = 0; k < rec.nattr; k++) {
            if (rec.attr[k].key[0] == '_') continue;
            indent(t);
            av_buf_printf(&t->out, "%s = ", rec.attr[k].key);
            attr_json(t, &rec, &rec.attr[k], &t->out);
            av_buf_putc(&t->out, '\n');
        }
    if (rec.model && (rc = print_model(t, rec.model, role_of(rec.kind))) < 0) goto done;
    if (rec.run && (rc = print_run(t, rec.run, !rec.model)) < 0) goto done;
    if ((rc = print_sources(t, row)) < 0) goto done;
    if (!rec.model && !rec.run) {
        av_prov p;
        size_t n = 0;
        if (av_prov_get(t->r, row, &p, 1, &n) == 0 && n == 0) {
            indent(t);
            av_buf_puts(&t->out, "no source, run or model\n");
        }
    }
    if (attach) {
        av_iter *it = NULL;
        uint64_t x;
        if ((rc = av_iter_refs(&it, t->r, row)) < 0) goto done;
        av_record att;
        av_record_init(&att);
        while ((rc = av_iter_next(it, &x)) == 1) {
            if ((rc = av_get(t->r, x, 0, &att)) < 0) break;
            int want = att.kind == AV_TAG || (attach == 2 && (att.kind == AV_RATING || att.kind == AV_PREFERENCE));
            if (!want) continue;
            uint64_t saved = t->parent;
            t->parent = row;
            rc = print_record(t, NULL, x, 0);
            t->parent = saved;
            if (rc < 0) break;
        }
        av_record_free(&att);
        av_iter_free(it);
        if (rc < 0) goto done;
    }
    static const char *const labels[AV_KIND_MAX + 1][3] = {
        [AV_RESPONSE] = {"prompt", "revises", NULL},
        [AV_RATING] = {"rates", NULL, NULL},
        [AV_PREFERENCE] = {"prompt", "response A", "response B"},
        [AV_TAG] = {"tags", NULL, NULL},
    };
    for (int i = 0; i < 3; i++) {
        if (!rec.ref[i]) continue;
        const char *lab = (rec.kind <= AV_KIND_MAX && labels[rec.kind][i]) ? labels[rec.kind][i] : "refers to";
        /* Attached verdicts and tags show only what they judge, not its chain again. */
        if (!attach && (rec.kind == AV_RATING || rec.kind == AV_PREFERENCE || rec.kind == AV_TAG)) {
            char rh[33];
            if (rec.ref[i] == t->parent && rec.kind != AV_PREFERENCE) continue;
            cid_of(t, rec.ref[i], rh);
            av_buf_printf(&t->out, "%*s%s: %s\n", 2 * t->depth, "", lab, rh);
            continue;
        }
        if ((rc = print_record(t, lab, rec.ref[i], 1)) < 0) goto done;
    }
    rc = 0;
done:
    t->depth--;
    av_record_free(&rec);
    return rc;
}

int cmd_trace(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    const char *at = NULL, *id = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--at")) {
            if (i + 1 >= argc) return cli_usage_error(usage, "'--at' needs a value");
            at = argv[++i];
        } else if (argv[i][0] == '-' || id) {
            return cli_usage_error(usage, "unexpected argument '%s'", argv[i]);
        } else {
            id = argv[i];
        }
    }
    if (!id) return cli_usage_error(usage, "'trace' needs a record id");
    av_reader *r = NULL;
    av_licreg *reg = NULL;
    trace t = {0};
    uint64_t row = 0;
    int rc = 1, e;
    if (cli_reader_open(ctx, at, &r)) return 1;
    if ((e = av_find_hex(r, id, &row)) < 0) {
        if (e == AV_ENOTFOUND) cli_error("no record '%s'", id);
        else cli_store_error(e);
        goto done;
    }
    if ((e = av_licreg_load(&reg, r)) < 0 || (e = av_auditor_new(&t.a, r, reg)) < 0) {
        cli_store_error(e);
        goto done;
    }
    t.r = r;
    if ((e = print_record(&t, NULL, row, 2)) < 0) {
        cli_store_error(e);
        goto done;
    }
    av_audit_lineage lin = AV_AUDIT_LINEAGE_INIT;
    if ((e = av_auditor_lineage(t.a, row, &lin)) < 0) {
        cli_store_error(e);
        goto done;
    }
    av_buf_puts(&t.out, "licences: ");
    for (size_t i = 0; i < lin.nlic; i++) av_buf_printf(&t.out, "%s%s", i ? " + " : "", lin.lic[i]);
    if (!lin.nlic) av_buf_puts(&t.out, "(none)");
    if (lin.unknown && lin.why.len) av_buf_printf(&t.out, " (%s)", lin.why.ptr);
    av_buf_putc(&t.out, '\n');
    av_audit_lineage_free(&lin);
    fwrite(t.out.ptr, 1, t.out.len, stdout);
    rc = 0;
done:
    free(t.shown);
    av_buf_free(&t.out);
    av_auditor_free(t.a);
    av_licreg_free(reg);
    av_reader_close(r);
    return rc;
}
