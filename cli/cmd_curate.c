/* cmd_curate.c: `aviary curate magpie`: Magpie's 300K recipe on the store's
 * fields, recorded as tag records on a new version and a name for that
 * version (docs/dedup.md says how export sees the selection). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "curate/curate.h"

static const char usage[] =
    "usage: aviary curate magpie [--top <n>] [--seed <s>] [--tag <name>] [-q | --quiet]\n"
    "\n"
    "Keeps responses whose prompt has input_quality good or excellent,\n"
    "instruct_reward > -10, an instruction not ending in ':', and is its\n"
    "duplicate cluster's representative; takes the <n> longest responses and\n"
    "shuffles them. The choice is tag records {curate: <name>, curate_rank: i}\n"
    "on a new version named <name>; export it with\n"
    "    aviary export --at <name> --where 'tag.curate = \"<name>\"' ...\n"
    "\n"
    "    --top <n>       how many to keep (300000)\n"
    "    --seed <s>      shuffle seed (42)\n"
    "    --tag <name>    the selection's name (magpie-300k, or magpie-top<n>)\n"
    "    -q, --quiet     no summary on stderr\n";

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-' || *s == '+') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

int cmd_curate(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    if (argc < 2) return cli_usage_error(usage, "which recipe? (magpie)");
    if (strcmp(argv[1], "magpie")) return cli_usage_error(usage, "unknown recipe '%s' (known: magpie)", argv[1]);
    av_curate_magpie_opts o = {.top = 300000, .seed = 42, .name = NULL};
    int quiet = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t u;
        if (!strcmp(a, "--top") || !strcmp(a, "--seed") || !strcmp(a, "--tag")) {
            if (!val) return cli_usage_error(usage, "'%s' needs a value", a);
            i++;
            if (!strcmp(a, "--tag")) {
                if (!*val) return cli_usage_error(usage, "--tag needs a non-empty name");
                o.name = val;
            } else if (parse_u64(val, &u) < 0) {
                return cli_usage_error(usage, "%s must be a non-negative integer, not '%s'", a, val);
            } else if (!strcmp(a, "--top")) {
                if (!u) return cli_usage_error(usage, "--top must be at least 1");
                o.top = (size_t)u;
            } else {
                o.seed = u;
            }
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
        } else {
            return cli_usage_error(usage, "unknown option '%s'", a);
        }
    }
    char defname[64];
    if (!o.name) {
        if (o.top == 300000) snprintf(defname, sizeof defname, "magpie-300k");
        else snprintf(defname, sizeof defname, "magpie-top%zu", o.top);
        o.name = defname;
    }
    uint32_t v;
    if (av_label_get(ctx->store, o.name, &v) == 0)
        return cli_error("'%s' already names version %u; choose another with --tag", o.name, v);
    if (av_version_resolve(ctx->store, o.name, &v) == 0)
        return cli_error("'%s' is a version, not a name; choose another with --tag", o.name);

    av_writer *w = NULL;
    av_curate_magpie_report rep;
    int rc = av_writer_open(&w, ctx->store);
    if (rc < 0) return cli_store_error(rc);
    if ((rc = av_curate_magpie(w, &o, &rep, NULL, NULL)) < 0) {
        av_writer_abort(w);
        return cli_store_error(rc);
    }
    av_buf msg = AV_BUF_INIT;
    av_buf_printf(&msg, "curate magpie: %zu selected as '%s' (top %zu, seed %llu)", rep.selected, o.name, o.top,
                  (unsigned long long)o.seed);
    av_commit_opts co = {.message = msg.ptr, .command = ctx->command, .allow_empty = 1};
    rc = av_writer_commit(w, &co, &v);
    av_buf_free(&msg);
    if (rc < 0) return cli_store_error(rc);
    if ((rc = av_label_set(ctx->store, o.name, v, 0)) < 0) return cli_store_error(rc);

    printf("rows\t%zu\n", rep.units);
    printf("input_quality good or excellent\t%zu\n", rep.quality_ok);
    printf("instruct_reward > -10\t%zu\n", rep.reward_ok);
    printf("instruction not ending in ':'\t%zu\n", rep.colon_ok);
    printf("cluster representative\t%zu\n", rep.rep_ok);
    printf("distinct prompts\t%zu\n", rep.prompts);
    printf("selected\t%zu\n", rep.selected);
    printf("version\t%u\n", v);
    printf("name\t%s\n", o.name);
    if (!quiet) {
        if (rep.no_dedup)
            fprintf(stderr, "aviary: %zu rows had no dedup tags (Magpie's min_similar_uuid was used where present); "
                            "run 'aviary dedup' first to cluster them\n", rep.no_dedup);
        fprintf(stderr, "aviary: export it with: aviary export --at %s --where 'tag.curate = \"%s\"'\n", o.name, o.name);
    }
    return 0;
}
