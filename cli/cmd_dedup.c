/* cmd_dedup.c: `aviary dedup`: tag exact and near-duplicate prompts (one
 * commit of tag records; nothing deleted). The work is curate/'s
 * av_curate_dedup; this file parses options and prints the summary. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "curate/curate.h"

static const char usage[] =
    "usage: aviary dedup [--where <expr>] [--exact] [--near [--threshold <j>] [--ngram <n>]\n"
    "                    [--perm <p> --bands <b>]] [--threads <n>] [-q | --quiet]\n"
    "\n"
    "Tags every prompt in scope with its duplicate cluster (tag.dedup_cluster,\n"
    "tag.dedup_representative, tag.dedup_keep, tag.dedup_similarity,\n"
    "tag.dedup_cluster_size). Without --exact or --near, does both.\n"
    "\n"
    "    --where <expr>     only prompts matching the filter (see docs/query.md)\n"
    "    --exact            identical text after normalisation\n"
    "    --near             MinHash + LSH over word n-grams, verified by exact Jaccard\n"
    "    --threshold <j>    Jaccard at or above which prompts are joined (0.7)\n"
    "    --ngram <n>        words per shingle (5)\n"
    "    --perm <p>         MinHash permutations (112)\n"
    "    --bands <b>        LSH bands; must divide --perm (14)\n"
    "    --threads <n>      signature threads (one per CPU)\n"
    "    -q, --quiet        no progress or summary on stderr\n";

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

int cmd_dedup(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    av_curate_dedup_opts o = {.dd = AV_DEDUP_OPTS_INIT};
    const char *where = NULL;
    int exact = 0, near = 0, quiet = 0, near_opts = 0, perm_set = 0, bands_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = !strcmp(a, "--where") || !strcmp(a, "--threshold") || !strcmp(a, "--ngram") ||
                    !strcmp(a, "--perm") || !strcmp(a, "--bands") || !strcmp(a, "--threads");
        if (takes && !val) return cli_usage_error(usage, "'%s' needs a value", a);
        if (!strcmp(a, "--where")) {
            where = val;
        } else if (!strcmp(a, "--exact")) {
            exact = 1;
        } else if (!strcmp(a, "--near")) {
            near = 1;
        } else if (!strcmp(a, "--threshold")) {
            char *end;
            errno = 0;
            double t = strtod(val, &end);
            if (errno || end == val || *end || !(t > 0 && t <= 1))
                return cli_usage_error(usage, "--threshold must be a number in (0, 1], not '%s'", val);
            o.dd.threshold = t;
            near_opts = 1;
        } else if (!strcmp(a, "--ngram")) {
            if (parse_int(val, 1, AV_MH_NGRAM_MAX, &o.dd.ngram) < 0)
                return cli_usage_error(usage, "--ngram must be 1 to %d, not '%s'", AV_MH_NGRAM_MAX, val);
            near_opts = 1;
        } else if (!strcmp(a, "--perm")) {
            if (parse_int(val, 1, AV_MH_PERM_MAX, &o.dd.perm) < 0)
                return cli_usage_error(usage, "--perm must be 1 to %d, not '%s'", AV_MH_PERM_MAX, val);
            near_opts = perm_set = 1;
        } else if (!strcmp(a, "--bands")) {
            if (parse_int(val, 1, AV_MH_PERM_MAX, &o.dd.bands) < 0)
                return cli_usage_error(usage, "--bands must be 1 to %d, not '%s'", AV_MH_PERM_MAX, val);
            near_opts = bands_set = 1;
        } else if (!strcmp(a, "--threads")) {
            if (parse_int(val, 1, 64, &o.threads) < 0)
                return cli_usage_error(usage, "--threads must be 1 to 64, not '%s'", val);
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
        } else {
            return cli_usage_error(usage, "unknown option '%s'", a);
        }
        if (takes) i++;
    }
    if (exact && !near && near_opts) return cli_usage_error(usage, "--threshold, --ngram, --perm and --bands need --near");
    if (perm_set != bands_set) return cli_usage_error(usage, "--perm and --bands go together");
    if (o.dd.perm % o.dd.bands)
        return cli_usage_error(usage, "--bands (%d) must divide --perm (%d)", o.dd.bands, o.dd.perm);
    o.dd.exact = exact || !near;
    o.dd.near = near || !exact;
    o.progress = !quiet && ctx->stderr_tty;

    char *err = NULL;
    if (where && av_query_compile(&o.where, where, AV_PROMPT, &err) < 0) {
        int rc = err ? cli_usage_error(usage, "%s", err) : cli_store_error(AV_EINVAL);
        free(err);
        return rc;
    }

    av_writer *w = NULL;
    av_curate_dedup_report rep;
    int rc = av_writer_open(&w, ctx->store);
    if (rc < 0) {
        av_query_free(o.where);
        return cli_store_error(rc);
    }
    rc = av_curate_dedup(w, &o, &rep);
    av_query_free(o.where);
    if (rc < 0) {
        av_writer_abort(w);
        return cli_store_error(rc);
    }
    av_buf msg = AV_BUF_INIT;
    av_buf_printf(&msg, "dedup: %zu prompts, %zu clusters, %zu duplicates", rep.st.items, rep.st.clusters,
                  rep.st.duplicates);
    uint32_t v = 0;
    rc = cli_commit(ctx, w, msg.ptr, &v);
    av_buf_free(&msg);
    if (rc) return rc;

    printf("prompts\t%zu\n", rep.st.items);
    printf("signatures\t%zu computed, %zu reused\n", rep.computed, rep.reused);
    if (o.dd.near)
        printf("candidates\t%zu pairs, %zu at or above %g\n", rep.st.candidates, rep.st.joined, o.dd.threshold);
    printf("clusters\t%zu\n", rep.st.clusters);
    printf("duplicates\t%zu (%zu exact)\n", rep.st.duplicates, rep.st.exact_dups);
    printf("tags\t%zu added, %zu retracted\n", rep.tagged, rep.retracted);
    printf("version\t%u\n", v);
    if (!quiet)
        fprintf(stderr, "aviary: dedup took %.2f s (signatures %.2f, clustering %.2f, tagging %.2f)\n",
                rep.t_sign + rep.t_cluster + rep.t_write, rep.t_sign, rep.t_cluster, rep.t_write);
    return 0;
}
