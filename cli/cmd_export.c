/* cmd_export.c: `aviary export`: write what the store holds as a Hugging
 * Face dataset (a folder with data files, README.md card and
 * provenance.json) or as one file, in JSON Lines or Parquet. Option parsing
 * only; the work is export/export.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "export/export.h"
#include "query/policy.h"

static const char usage[] =
    "usage: aviary export --format <format> --out <dir> | <file> | - [--where <expr>] [--at <version>]\n"
    "                     [--container jsonl | parquet] [--split <name>=<fraction>,...] [--seed <n>]\n"
    "                     [--shard-size <size>] [--row-group-size <size>] [--force] [-q | --quiet]\n"
    "                     [--pairs best-worst | best-random | all-pairs] [--score mean-aspects | overall | <aspect>]\n"
    "                     [--min-margin <m>] [--keep-ties] [--min-p <p>] [--policy <file> [--drop-violations]]\n"
    "\n"
    "formats: magpie, ultrafeedback, binarized, sharegpt, alpaca, ... (rebuilt as ingested),\n"
    "         preference, sft, sharegpt, kto, stepwise (derived from the records)\n"
    "--out DIR writes a dataset folder (data/<split>-00000-of-0000N.<ext>, README.md,\n"
    "provenance.json; Parquet unless --container jsonl); --out FILE.jsonl|.parquet one file;\n"
    "--out - JSON Lines to stdout. Sizes take K, M, G suffixes (powers of 1024).\n"
    "--policy FILE refuses to export when a selected row violates the licence policy\n"
    "(docs/licences.md); with --drop-violations those rows are left out instead.\n";

/* "512M", "1G", "100000": bytes, or 0 on a bad size. */
static uint64_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v > 0))
        return 0;
    uint64_t mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1ull << 10; end++; break;
    case 'm': case 'M': mul = 1ull << 20; end++; break;
    case 'g': case 'G': mul = 1ull << 30; end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end)
        return 0;
    return (uint64_t)(v * (double)mul);
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return !errno && end != s && !*end && isfinite(*out);
}

/* --policy: refuses (nothing written) when a selected unit violates the
 * policy, listing the first ones on stderr; with --drop-violations sets the
 * export's unit filter to leave them out. Returns 0 to go on, 1 after an
 * error was printed. */
static int policy_gate(av_reader *r, av_export_opts *o, const char *path, int drop, av_policy **policy,
                       av_policy_checker **checker)
{
    av_licreg *reg = NULL;
    char *err = NULL;
    int rc = av_licreg_load(&reg, r);
    if (rc < 0)
        return cli_store_error(rc);
    rc = av_policy_load(policy, path, reg, &err);
    av_licreg_free(reg);
    if (rc < 0) {
        cli_error("%s", err);
        free(err);
        return 1;
    }
    if (drop) {
        if ((rc = av_policy_checker_new(checker, *policy, r)) < 0)
            return cli_store_error(rc);
        o->filter = av_policy_filter;
        o->filter_ctx = *checker;
        return 0;
    }
    av_buf report = AV_BUF_INIT;
    uint64_t units = 0;
    rc = av_policy_check_selection(*policy, r, o->where, AV_RESPONSE, &report, &units);
    if (rc < 0) {
        av_buf_free(&report);
        return cli_store_error(rc);
    }
    if (rc > 0) {
        size_t shown = 0, i = 0;
        for (; i < report.len && shown < 20; shown++) {
            const char *nl = memchr(report.ptr + i, '\n', report.len - i);
            size_t end = nl ? (size_t)(nl - report.ptr) : report.len;
            const char *tab = memchr(report.ptr + i, '\t', end - i);
            size_t id_len = tab ? (size_t)(tab - (report.ptr + i)) : 0;
            fprintf(stderr, "  %.*s  %.*s\n", (int)id_len, report.ptr + i, (int)(end - i - id_len - (tab ? 1 : 0)),
                    report.ptr + i + id_len + (tab ? 1 : 0));
            i = end + 1;
        }
        if ((uint64_t)rc > shown)
            fprintf(stderr, "  ... and %llu more ('aviary audit --policy %s' lists them all)\n",
                    (unsigned long long)rc - shown, path);
        cli_error("export refused: %d of %llu rows violate policy '%s'; nothing was written "
                  "(--drop-violations leaves them out)",
                  rc, (unsigned long long)units, av_policy_name(*policy));
        av_buf_free(&report);
        return 1;
    }
    av_buf_free(&report);
    return 0;
}

int cmd_export(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    av_export_opts o;
    memset(&o, 0, sizeof o);
    av_derive_opts d = AV_DERIVE_OPTS_INIT;
    o.seed = 42;
    o.command = ctx->command;
    const char *at = NULL, *policy_path = NULL;
    int quiet = 0, drop_violations = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        char name[64];
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        if (eq && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = 0;
            val = eq + 1;
            a = name;
        }
#define VALUE()                                                                   \
    do {                                                                          \
        if (!val) {                                                               \
            if (i + 1 >= argc)                                                    \
                return cli_usage_error(usage, "'%s' needs a value", a);           \
            val = argv[++i];                                                      \
        }                                                                         \
    } while (0)
        if (strcmp(a, "--format") == 0) {
            VALUE();
            o.format = val;
        } else if (strcmp(a, "--out") == 0 || strcmp(a, "-o") == 0) {
            VALUE();
            o.out = val;
        } else if (strcmp(a, "--where") == 0) {
            VALUE();
            o.where = val;
        } else if (strcmp(a, "--at") == 0) {
            VALUE();
            at = val;
        } else if (strcmp(a, "--container") == 0) {
            VALUE();
            if (strcmp(val, "jsonl") && strcmp(val, "parquet"))
                return cli_usage_error(usage, "unknown container '%s' (jsonl, parquet)", val);
            o.container = val;
        } else if (strcmp(a, "--split") == 0) {
            VALUE();
            o.split = val;
        } else if (strcmp(a, "--seed") == 0) {
            VALUE();
            char *end;
            errno = 0;
            o.seed = strtoull(val, &end, 10);
            d.seed = o.seed;
            if (errno || *end || end == val)
                return cli_usage_error(usage, "bad seed '%s'", val);
        } else if (strcmp(a, "--shard-size") == 0 || strcmp(a, "--row-group-size") == 0) {
            VALUE();
            uint64_t s = parse_size(val);
            if (!s)
                return cli_usage_error(usage, "bad size '%s' for %s", val, a);
            if (strcmp(a, "--shard-size") == 0)
                o.shard_bytes = s;
            else
                o.row_group_bytes = s;
        } else if (strcmp(a, "--force") == 0 || strcmp(a, "-f") == 0) {
            o.force = 1;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--pairs") == 0) {
            VALUE();
            if (strcmp(val, "best-worst") && strcmp(val, "best-random") && strcmp(val, "all-pairs"))
                return cli_usage_error(usage, "unknown pairing '%s' (best-worst, best-random, all-pairs)", val);
            d.pairs = val;
        } else if (strcmp(a, "--score") == 0) {
            VALUE();
            d.score = val;
        } else if (strcmp(a, "--min-margin") == 0) {
            VALUE();
            if (!parse_double(val, &d.min_margin) || d.min_margin < 0)
                return cli_usage_error(usage, "bad margin '%s' (a number >= 0)", val);
        } else if (strcmp(a, "--keep-ties") == 0) {
            d.keep_ties = 1;
        } else if (strcmp(a, "--min-p") == 0) {
            VALUE();
            if (!parse_double(val, &d.min_p) || d.min_p < 0 || d.min_p > 1)
                return cli_usage_error(usage, "bad probability '%s' (between 0 and 1)", val);
        }
        else if (strcmp(a, "--policy") == 0) {
            VALUE();
            policy_path = val;
        } else if (strcmp(a, "--drop-violations") == 0) {
            drop_violations = 1;
        } else {
            return cli_usage_error(usage, "unknown option '%s'", argv[i]);
        }
#undef VALUE
    }
    if (!o.format)
        return cli_usage_error(usage, "--format is required");
    if (!o.out)
        return cli_usage_error(usage, "--out is required");
    if (drop_violations && !policy_path)
        return cli_usage_error(usage, "--drop-violations needs --policy <file>");
    o.derive = d;
    o.progress = !quiet && ctx->stderr_tty;
    if (av_export_check(&o) < 0)
        return cli_usage_error(usage, "%s", av_errmsg());

    av_reader *r = NULL;
    if (cli_reader_open(ctx, at, &r))
        return 1;
    av_policy *policy = NULL;
    av_policy_checker *checker = NULL;
    if (policy_path && policy_gate(r, &o, policy_path, drop_violations, &policy, &checker)) {
        av_policy_free(policy);
        av_reader_close(r);
        return 1;
    }
    av_export_stats st;
    int rc = av_export_run(r, &o, &st);
    uint64_t dropped = checker ? av_policy_checker_violations(checker) : 0;
    uint64_t checked = checker ? av_policy_checker_checked(checker) : 0;
    av_policy_checker_free(checker);
    av_reader_close(r);
    if (rc < 0)
        return cli_error("%s", av_errmsg());
    if (policy)
        fprintf(stderr, "left out %llu of %llu rows that violate policy '%s'\n", (unsigned long long)dropped,
                (unsigned long long)checked, av_policy_name(policy));
    av_policy_free(policy);
    if (!quiet && strcmp(o.out, "-") != 0)
        fprintf(stderr, "exported %llu rows from %llu units to '%s' (%u file%s, %llu bytes)\n",
                (unsigned long long)st.rows, (unsigned long long)st.units, o.out, st.files, st.files == 1 ? "" : "s",
                (unsigned long long)st.bytes);
    return cli_finish(0);
}
