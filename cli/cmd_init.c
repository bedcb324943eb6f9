/* cmd_init.c: `aviary init [<dir>]`: creates an empty store in dir (default:
 * -C, $AVIARY_DIR, or the current directory). */
#include "cli/cli.h"

#include <string.h>

static const char usage[] = "usage: aviary init [<dir>]\n";

int cmd_init(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    const char *dir = ctx->dir;
    int i = 1;
    if (i < argc && !strcmp(argv[i], "--")) i++;
    else if (i < argc && argv[i][0] == '-' && argv[i][1])
        return cli_usage_error(usage, "unknown option '%s'", argv[i]);
    if (i < argc) dir = argv[i++];
    if (i < argc) return cli_usage_error(usage, "too many arguments");
    int rc = av_store_init(dir);
    if (rc == AV_EEXISTS) return cli_error("'%s' already holds an aviary store", dir);
    if (rc < 0) return cli_store_error(rc);
    printf("initialized an empty aviary store in '%s'\n", dir);
    return 0;
}
