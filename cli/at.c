/* at.c: --at resolution that refuses version 0 (see at.h). */
#include "cli/at.h"

int cli_at_zero_error(const char *spec)
{
    return cli_error("'%s' is version 0, the empty store before the first commit (versions start at 1)", spec);
}

int cli_reader_open_at(av_cli *ctx, const char *at, av_reader **out)
{
    if (at) {
        uint32_t v = 0;
        int rc = av_version_resolve(ctx->store, at, &v);
        if (rc < 0) return cli_store_error(rc);
        if (v == 0) return cli_at_zero_error(at);
    }
    return cli_reader_open(ctx, at, out);
}
