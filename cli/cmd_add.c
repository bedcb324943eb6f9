/* cmd_add.c: `aviary add [<file> | -]`: reads a dump (aviary's native JSON
 * Lines) back. Into an empty store it replays the dump's history; into one
 * with data it makes one commit of the records not already there. Any bad
 * line: "<file>:<line>: <reason>" and nothing is committed. */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/native.h"

static const char usage[] = "usage: aviary add [-q | --quiet] [-m <message>] [<file> | -]\n";

int cmd_add(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    const char *path = NULL, *message = NULL;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (!strcmp(a, "-m")) {
            if (i + 1 >= argc) return cli_usage_error(usage, "-m needs a message");
            message = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error(usage, "unknown option '%s'", a);
        } else if (path) {
            return cli_usage_error(usage, "one file at a time");
        } else {
            path = a;
        }
    }
    if (!path) path = "-";
    FILE *in = stdin;
    if (strcmp(path, "-") && !(in = fopen(path, "r"))) return cli_error("cannot open '%s': %s", path, strerror(errno));
    /* test hook: small on-disk batches, so a test can kill a writer after
       some batches are on disk without a huge input */
    const char *batch = getenv("AVIARY_TEST_BATCH");
    if (batch && atol(batch) > 0) av_tune_batch((size_t)atol(batch));
    /* test hook: "V:N", stop the process once N batches of version V are written */
    const char *stop = getenv("AVIARY_TEST_STOP_AFTER");
    unsigned sv = 0;
    unsigned long sn = 0;
    if (stop && sscanf(stop, "%u:%lu", &sv, &sn) == 2) av_tune_stop_after(sv, sn);
    av_native_add_opts o = {.name = path, .command = ctx->command, .message = message,
                            .progress = !quiet && ctx->stderr_tty};
    av_native_add_result res;
    int rc = av_native_add(ctx->store, in, &o, &res);
    if (in != stdin) fclose(in);
    if (rc < 0) return cli_store_error(rc);
    if (res.tag_conflict[0]) fprintf(stderr, "aviary: %s\n", res.tag_conflict);
    if (quiet) return 0;
    const char *name = strcmp(path, "-") ? path : "<stdin>";
    if (!res.last)
        fprintf(stderr, "the store already holds everything in '%s'\n", name);
    else if (res.replayed)
        fprintf(stderr, "replayed versions %u to %u from '%s' (%llu records)\n", res.first, res.last, name,
                (unsigned long long)res.added);
    else
        fprintf(stderr, "added %llu new records of %llu in version %u\n", (unsigned long long)res.added,
                (unsigned long long)res.records, res.last);
    return 0;
}
