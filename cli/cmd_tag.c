/* cmd_tag.c: `aviary tag`: names a version (like a git tag), moves a name
 * with --force, or lists the names with their versions. Names are not
 * commits: tagging changes no version. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: aviary tag [-f | --force] <name> [<version>]\n"
    "       aviary tag\n";

/* A name must not read as a version: letters, digits, . _ - / and at least
 * one that is not a digit; not HEAD. */
static int name_ok(const char *s)
{
    int nondigit = 0;
    if (!*s || *s == '-' || *s == '.' || !strcmp(s, "HEAD")) return 0;
    for (const char *p = s; *p; p++) {
        if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._-/", *p)) nondigit = 1;
        else if (*p < '0' || *p > '9') return 0;
    }
    return nondigit && strlen(s) <= 200;
}

int cmd_tag(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    int force = 0, rc;
    const char *args[2];
    int nargs = 0, dashdash = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!dashdash && (!strcmp(a, "-f") || !strcmp(a, "--force"))) force = 1;
        else if (!dashdash && !strcmp(a, "--")) dashdash = 1;
        else if (!dashdash && a[0] == '-' && a[1]) return cli_usage_error(usage, "unknown option '%s'", a);
        else if (nargs == 2) return cli_usage_error(usage, "too many arguments");
        else args[nargs++] = a;
    }
    if (nargs == 0) {
        if (force) return cli_usage_error(usage, "--force needs a name");
        cli_labels l;
        if (cli_labels_get(ctx, &l)) return 1;
        size_t w = 0;
        for (size_t i = 0; i < l.n; i++)
            if (strlen(l.v[i].name) > w) w = strlen(l.v[i].name);
        for (size_t i = 0; i < l.n; i++) printf("%-*s  %u\n", (int)w, l.v[i].name, l.v[i].version);
        cli_labels_free(&l);
        return 0;
    }
    if (!name_ok(args[0]))
        return cli_usage_error(usage, "'%s' is not a valid tag name (letters, digits, '.', '_', '-', '/'; "
                                      "not only digits; not HEAD)", args[0]);
    uint32_t v = 0;
    const char *spec = nargs == 2 ? args[1] : "HEAD";
    if ((rc = av_version_resolve(ctx->store, spec, &v)) < 0) return cli_store_error(rc);
    uint32_t head = 0;
    if (v == 0 && av_store_head(ctx->store, &head) == 0 && head > 0) return cli_at_zero_error(spec);
    if (v == 0) return cli_error("the store has no versions yet; nothing to tag");
    rc = av_label_set(ctx->store, args[0], v, force);
    if (rc == AV_EEXISTS) {
        uint32_t old = 0;
        av_label_get(ctx->store, args[0], &old);
        return cli_error("tag '%s' already names version %u (use --force to move it)", args[0], old);
    }
    if (rc < 0) return cli_store_error(rc);
    return 0;
}
