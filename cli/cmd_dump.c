/* cmd_dump.c: `aviary dump`: writes the store (or its state at --at) as
 * aviary's native JSON Lines (export/native.h). With -o the dump goes to a
 * temporary file renamed into place when complete, so a failed dump never
 * leaves a partial file under the name asked for. */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/native.h"

static const char usage[] = "usage: aviary dump [--at <version>] [-o <file>]\n";

int cmd_dump(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    const char *at = NULL, *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--at") || !strcmp(a, "-o")) {
            if (i + 1 >= argc) return cli_usage_error(usage, "%s needs a value", a);
            if (a[1] == 'o') path = argv[++i];
            else at = argv[++i];
        } else if (!strncmp(a, "--at=", 5)) {
            at = a + 5;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error(usage, "unknown option '%s'", a);
        } else {
            return cli_usage_error(usage, "unexpected argument '%s'", a);
        }
    }
    uint32_t v = 0;
    int rc;
    if (at && (rc = av_version_resolve(ctx->store, at, &v)) < 0) return cli_store_error(rc);
    if (at && v == 0) return cli_at_zero_error(at);
    if (!path || !strcmp(path, "-")) {
        rc = av_native_dump(ctx->store, v, stdout);
        if (rc == AV_EIO) return 1; /* cli_finish reports stdout's error */
        return rc < 0 ? cli_store_error(rc) : 0;
    }
    av_buf tmp = AV_BUF_INIT;
    av_buf_printf(&tmp, "%s.tmp-%ld", path, (long)getpid());
    FILE *f = fopen(tmp.ptr, "w");
    if (!f) {
        rc = cli_error("cannot write '%s': %s", path, strerror(errno));
        av_buf_free(&tmp);
        return rc;
    }
    rc = av_native_dump(ctx->store, v, f);
    if (fclose(f) != 0 && rc >= 0) rc = av_error_set(AV_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (rc >= 0 && rename(tmp.ptr, path) != 0)
        rc = av_error_set(AV_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (rc < 0) {
        remove(tmp.ptr);
        rc = cli_store_error(rc);
    }
    av_buf_free(&tmp);
    return rc;
}
