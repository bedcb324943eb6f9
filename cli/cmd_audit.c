/* cmd_audit.c: `aviary audit`: the licences and provenance of a selection
 * (by licence combination, licence, source and model; rows with unknown
 * lineage; obligations for a dataset card), and with --policy the rows that
 * violate a policy (exit 1). The work is query/audit.h. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "query/audit.h"
#include "query/policy.h"
#include "query/query.h"

static const char usage[] =
    "usage: aviary audit [--where <expr>] [--kind <kind>] [--at <version>]\n"
    "                    [--format table|json] [--policy <file>] [--rows]\n"
    "\n"
    "Derives each selected row's licences from its lineage (its sources and\n"
    "every model that wrote, judged or tagged it) and reports them by\n"
    "combination, licence, source and model, the rows with an unknown licence\n"
    "or model, and the obligations the selection carries as markdown for a\n"
    "dataset card.\n"
    "\n"
    "    --where <expr>    only rows matching the filter (see docs/query.md)\n"
    "    --kind <kind>     the rows audited: response (default), prompt, rating, ...\n"
    "    --at <version>    as of a version or tag\n"
    "    --format <f>      table (default) or json\n"
    "    --policy <file>   check a policy (docs/licences.md): list every violating\n"
    "                      row with its reasons and exit 1 if there is one\n"
    "    --rows            instead of the report, one line per row: its content id,\n"
    "                      its licences joined by \" + \", and why it is unknown if it is\n";

static int collect(void *ctx, uint64_t row)
{
    struct {
        uint64_t *rows;
        size_t n, cap;
    } *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 1024;
        c->rows = av_xrealloc(c->rows, c->cap * sizeof *c->rows);
    }
    c->rows[c->n++] = row;
    return 0;
}

/* --rows: "<content id>\t<licences>[\t<why unknown>]" per selected row. */
static int print_rows(av_reader *r, const av_licreg *reg, const uint64_t *rows, size_t n)
{
    av_auditor *a = NULL;
    av_audit_lineage lin = AV_AUDIT_LINEAGE_INIT;
    av_record rec;
    av_buf out = AV_BUF_INIT;
    int e = av_auditor_new(&a, r, reg);
    av_record_init(&rec);
    for (size_t i = 0; e >= 0 && i < n; i++) {
        char hex[33];
        if ((e = av_auditor_lineage(a, rows[i], &lin)) < 0 || (e = av_get(r, rows[i], 0, &rec)) < 0) break;
        av_id_hex(hex, &rec.cid);
        av_buf_printf(&out, "%s\t", hex);
        for (size_t k = 0; k < lin.nlic; k++) av_buf_printf(&out, "%s%s", k ? " + " : "", lin.lic[k]);
        if (lin.unknown && lin.why.len) av_buf_printf(&out, "\t%s", lin.why.ptr);
        av_buf_putc(&out, '\n');
        if (out.len > (1 << 16)) {
            fwrite(out.ptr, 1, out.len, stdout);
            av_buf_reset(&out);
        }
    }
    if (out.len) fwrite(out.ptr, 1, out.len, stdout);
    av_buf_free(&out);
    av_record_free(&rec);
    av_audit_lineage_free(&lin);
    av_auditor_free(a);
    return e < 0 ? cli_store_error(e) : 0;
}

int cmd_audit(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    const char *where = NULL, *at = NULL, *policy_path = NULL, *kind_name = "response";
    int json = 0, per_row = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--rows")) {
            per_row = 1;
            continue;
        }
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = !strcmp(a, "--where") || !strcmp(a, "--at") || !strcmp(a, "--format") ||
                    !strcmp(a, "--policy") || !strcmp(a, "--kind");
        if (!takes) return cli_usage_error(usage, "unexpected argument '%s'", a);
        if (!val) return cli_usage_error(usage, "'%s' needs a value", a);
        i++;
        if (!strcmp(a, "--where")) where = val;
        else if (!strcmp(a, "--at")) at = val;
        else if (!strcmp(a, "--policy")) policy_path = val;
        else if (!strcmp(a, "--kind")) kind_name = val;
        else if (!strcmp(val, "json")) json = 1;
        else if (!strcmp(val, "table")) json = 0;
        else return cli_usage_error(usage, "--format must be table or json, not '%s'", val);
    }
    av_kind kind = av_kind_parse(kind_name);
    if (kind == AV_KIND_NONE || kind == AV_SOURCE || kind == AV_MODEL || kind == AV_RUN)
        return cli_usage_error(usage, "--kind must be prompt, response, rating, preference or tag, not '%s'",
                               kind_name);

    av_reader *r = NULL;
    av_licreg *reg = NULL;
    av_policy *policy = NULL;
    av_query *q = NULL;
    av_audit *au = NULL;
    char *err = NULL;
    struct {
        uint64_t *rows;
        size_t n, cap;
    } sel = {0};
    int rc = 1;
    if (cli_reader_open(ctx, at, &r)) return 1;
    int e = av_licreg_load(&reg, r);
    if (e < 0) {
        cli_store_error(e);
        goto done;
    }
    if (policy_path && av_policy_load(&policy, policy_path, reg, &err) < 0) {
        cli_error("%s", err);
        goto done;
    }
    if (av_query_compile(&q, where, kind, &err) < 0) {
        if (err) fprintf(stderr, "aviary: %s\n", err);
        else cli_store_error(AV_EINVAL);
        goto done;
    }
    if ((e = av_query_run(q, r, collect, &sel)) < 0) {
        cli_store_error(e);
        goto done;
    }
    if (per_row) {
        rc = print_rows(r, reg, sel.rows, sel.n);
        goto done;
    }
    if ((e = av_audit_run(&au, r, reg, sel.rows, sel.n, policy)) < 0) {
        cli_store_error(e);
        goto done;
    }
    av_buf out = AV_BUF_INIT;
    if (json) av_audit_json(au, &out);
    else av_audit_table(au, &out);
    fwrite(out.ptr ? out.ptr : "", 1, out.len, stdout);
    av_buf_free(&out);
    rc = 0;
    if (policy && av_audit_violating_rows(au)) {
        fflush(stdout);
        cli_error("%llu of %llu rows violate policy '%s'", (unsigned long long)av_audit_violating_rows(au),
                  (unsigned long long)av_audit_rows(au), av_policy_name(policy));
        rc = 1;
    }
done:
    free(err);
    free(sel.rows);
    av_audit_free(au);
    av_query_free(q);
    av_policy_free(policy);
    av_licreg_free(reg);
    av_reader_close(r);
    return rc;
}
