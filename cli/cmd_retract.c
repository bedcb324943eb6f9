/* cmd_retract.c: `aviary retract <id>...`: hides records from a new version
 * on, in one commit (nothing is deleted; `--at` earlier versions still sees
 * them, and adding the same content again restores them). Ids are content ids
 * or unique prefixes of 8+ hex digits. Any bad id: nothing is committed. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] = "usage: aviary retract [-m <message>] <id>...\n";

int cmd_retract(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    const char *message = NULL;
    int dashdash = 0, nids = 0;
    const char **ids = av_xcalloc((size_t)argc, sizeof *ids);
    for (int i = 1; i < argc; i++) {
        if (!dashdash && !strcmp(argv[i], "-m")) {
            if (i + 1 >= argc) {
                free(ids);
                return cli_usage_error(usage, "-m needs a message");
            }
            message = argv[++i];
        } else if (!dashdash && !strcmp(argv[i], "--")) {
            dashdash = 1;
        } else if (!dashdash && argv[i][0] == '-') {
            free(ids);
            return cli_usage_error(usage, "unknown option '%s'", argv[i]);
        } else {
            ids[nids++] = argv[i];
        }
    }
    if (!nids) {
        free(ids);
        return cli_usage_error(usage, "which records? give their ids");
    }
    av_writer *w = NULL;
    int rc = av_writer_open(&w, ctx->store);
    if (rc < 0) {
        free(ids);
        return cli_store_error(rc);
    }
    /* every id is found before any is hidden, so an id given twice (or two
     * prefixes of one record) is retracted once, not "not found" */
    uint64_t hidden = 0, *rows = av_xcalloc((size_t)nids, sizeof *rows);
    av_reader *r = av_writer_reader(w);
    for (int i = 0; i < nids && rc >= 0; i++) {
        rc = r ? av_find_hex(r, ids[i], &rows[i]) : AV_ERROR;
        if (rc == AV_ENOTFOUND) rc = -cli_error("no visible record '%s'", ids[i]);
        else if (rc < 0) rc = -cli_store_error(rc);
    }
    for (int i = 0; i < nids && rc >= 0; i++) {
        if ((rc = av_writer_retract(w, rows[i])) < 0) rc = -cli_store_error(rc);
        else hidden += (uint64_t)rc;
    }
    free(rows);
    if (rc < 0) {
        av_writer_abort(w);
        free(ids);
        return -rc;
    }
    free(ids);
    av_buf msg = AV_BUF_INIT;
    if (message) av_buf_puts(&msg, message);
    else av_buf_printf(&msg, "retract %llu record%s", (unsigned long long)hidden, hidden == 1 ? "" : "s");
    uint32_t v = 0;
    rc = cli_commit(ctx, w, msg.ptr, &v);
    av_buf_free(&msg);
    if (rc) return rc;
    fprintf(stderr, "retracted %llu record%s in version %u\n", (unsigned long long)hidden, hidden == 1 ? "" : "s", v);
    return 0;
}
