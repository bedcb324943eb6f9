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

static const char usage[] =
    "usage: aviary export --format <format> --out <dir> | <file> | - [--where <expr>] [--at <version>]\n"
    "                     [--container jsonl | parquet] [--split <name>=<fraction>,...] [--seed <n>]\n"
    "                     [--shard-size <size>] [--row-group-size <size>] [--force] [-q | --quiet]\n"
    "                     [--pairs best-worst | best-random | all-pairs] [--score mean-aspects | overall | <aspect>]\n"
    "                     [--min-margin <m>] [--keep-ties] [--min-p <p>]\n"
    "\n"
    "formats: magpie, ultrafeedback, binarized, sharegpt, alpaca, ... (rebuilt as ingested),\n"
    "         preference, sft, sharegpt, kto, stepwise (derived from the records)\n"
    "--out DIR writes a dataset folder (data/<split>-00000-of-0000N.<ext>, README.md,\n"
    "provenance.json; Parquet unless --container jsonl); --out FILE.jsonl|.parquet one file;\n"
    "--out - JSON Lines to stdout. Sizes take K, M, G suffixes (powers of 1024).\n";

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

int cmd_export(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage))
        return 0;
    av_export_opts o;
    memset(&o, 0, sizeof o);
    av_derive_opts d = AV_DERIVE_OPTS_INIT;
    o.seed = 42;
    o.command = ctx->command;
    const char *at = NULL;
    int quiet = 0;
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
        /* --policy FILE [--drop-violations] (query/policy.h) plugs in here:
         * it sets o.filter / o.filter_ctx to drop or refuse violating units. */
        else {
            return cli_usage_error(usage, "unknown option '%s'", argv[i]);
        }
#undef VALUE
    }
    if (!o.format)
        return cli_usage_error(usage, "--format is required");
    if (!o.out)
        return cli_usage_error(usage, "--out is required");
    o.derive = d;
    o.progress = !quiet && ctx->stderr_tty;

    av_reader *r = NULL;
    if (cli_reader_open(ctx, at, &r))
        return 1;
    av_export_stats st;
    int rc = av_export_run(r, &o, &st);
    av_reader_close(r);
    if (rc == AV_EINVAL || rc == AV_ENOTFOUND || rc < 0) {
        cli_error("%s", av_errmsg());
        return 1;
    }
    if (!quiet && strcmp(o.out, "-") != 0)
        fprintf(stderr, "exported %llu rows from %llu units to '%s' (%u file%s, %llu bytes)\n",
                (unsigned long long)st.rows, (unsigned long long)st.units, o.out, st.files, st.files == 1 ? "" : "s",
                (unsigned long long)st.bytes);
    return cli_finish(0);
}
