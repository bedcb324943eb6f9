/* cli.c: the helpers cli.h declares. */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("aviary: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("aviary: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fputs(usage, stderr);
    return 2;
}

int cli_store_error(int rc)
{
    const char *m = av_errmsg();
    return cli_error("%s", m && *m ? m : av_strerror(rc));
}

int cli_wants_help(int argc, char **argv, const char *usage)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 1;
        }
    }
    return 0;
}

int cli_at_zero_error(const char *spec)
{
    return cli_error("'%s' is version 0, the empty store before the first commit (versions start at 1)", spec);
}

int cli_reader_open(av_cli *ctx, const char *at, av_reader **out)
{
    uint32_t v = 0;
    int rc;
    if (at && (rc = av_version_resolve(ctx->store, at, &v)) < 0) return cli_store_error(rc);
    /* av_reader_open's 0 means the head: a spec naming version 0 is refused
     * rather than answered for the wrong version */
    if (at && v == 0) return cli_at_zero_error(at);
    if ((rc = av_reader_open(out, ctx->store, v)) < 0) return cli_store_error(rc);
    return 0;
}

int cli_commit(av_cli *ctx, av_writer *w, const char *message, uint32_t *out_version)
{
    av_commit_opts o = {.message = message, .command = ctx->command};
    uint32_t v = 0;
    int rc = av_writer_commit(w, &o, &v);
    if (rc < 0) return cli_store_error(rc);
    if (out_version) *out_version = v;
    return 0;
}

static int label_add(void *ctx, const char *name, uint32_t version)
{
    cli_labels *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = av_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n].name = av_xstrdup(name);
    l->v[l->n++].version = version;
    return 0;
}

int cli_labels_get(av_cli *ctx, cli_labels *out)
{
    memset(out, 0, sizeof *out);
    int rc = av_label_each(ctx->store, label_add, out);
    if (rc < 0) {
        cli_labels_free(out);
        return cli_store_error(rc);
    }
    return 0;
}

void cli_labels_free(cli_labels *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i].name);
    free(l->v);
    memset(l, 0, sizeof *l);
}

int cli_finish(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (errno != EPIPE) fprintf(stderr, "aviary: cannot write to standard output: %s\n", strerror(errno));
        return rc ? rc : 1;
    }
    return rc;
}
