/* cmd_resume.c: `aviary resume RUN`: finishes an interrupted run by running
 * its command again from the run record (what ran, its identity arguments,
 * endpoint and server kind). Answers already committed come from the request
 * cache, records already stored are not added again, so only what is missing
 * is asked. Operational flags (concurrency, timeouts, prices) may be given
 * after RUN; the API key comes from the environment as always. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cmd_generate(int argc, char **argv, av_cli *ctx);
int cmd_judge(int argc, char **argv, av_cli *ctx);
int cmd_revise(int argc, char **argv, av_cli *ctx);

static const char usage[] =
    "usage: aviary resume <run> [--concurrency <n>] [--timeout <s>] [--retries <n>] [--backoff <ms>]\n"
    "                           [--batch <n>] [--api-key-env <var>] [--price-in <x>] [--price-out <x>]\n"
    "                           [--endpoint <url>] [-q | --quiet] [--progress | --no-progress]\n"
    "\n"
    "<run> is a run id or a prefix of at least 8 hex digits (see 'aviary runs').\n"
    "The run's own arguments (model, template, counts, ...) come from its record;\n"
    "only the options above, which do not change what is asked, may be given.\n";

/* Options that change how a run is carried out but not what it asks (the
 * run's identity); anything else after <run> is refused, since it would
 * start a different run instead of finishing this one. */
static const char *const valued[] = {"--concurrency", "--timeout", "--retries", "--backoff", "--batch",
                                     "--api-key-env", "--price-in", "--price-out", "--endpoint"};
static const char *const plain[] = {"-q", "--quiet", "--progress", "--no-progress"};

/* 0 if argv[2..] are only those options, else the usage error's exit code. */
static int check_flags(int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int ok = 0;
        for (size_t k = 0; !ok && k < sizeof plain / sizeof plain[0]; k++) ok = !strcmp(a, plain[k]);
        for (size_t k = 0; !ok && k < sizeof valued / sizeof valued[0]; k++) {
            size_t n = strlen(valued[k]);
            if (strncmp(a, valued[k], n)) continue;
            if (a[n] == '=') ok = 1;
            else if (!a[n]) {
                if (i + 1 >= argc) return cli_usage_error(usage, "'%s' needs a value", a);
                ok = 1;
                i++;
            }
        }
        if (!ok) {
            if (a[0] == '-') return cli_usage_error(usage, "'%s' cannot be changed on resume (the run's own arguments are kept)", a);
            return cli_usage_error(usage, "unexpected argument '%s'", a);
        }
    }
    return 0;
}

static char *attr_string(const av_record *rec, const char *key)
{
    const av_attr *a = av_record_attr(rec, key);
    if (!a || !a->json.ptr) return NULL;
    cJSON *j = cJSON_ParseWithLength(a->json.ptr, a->json.len);
    char *s = cJSON_IsString(j) ? av_xstrdup(j->valuestring) : NULL;
    cJSON_Delete(j);
    return s;
}

int cmd_resume(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    if (argc < 2 || argv[1][0] == '-') return cli_usage_error(usage, "resume needs a run id");
    int urc = check_flags(argc, argv);
    if (urc) return urc;
    av_reader *rd = NULL;
    if (cli_reader_open(ctx, NULL, &rd)) return 1;
    uint64_t row;
    int rc = av_find_hex(rd, argv[1], &row);
    av_record rec;
    av_record_init(&rec);
    if (rc < 0 || (rc = av_get(rd, row, AV_GET_TEXT, &rec)) < 0) {
        av_record_free(&rec);
        av_reader_close(rd);
        return rc == AV_ENOTFOUND ? cli_error("no run '%s' in the store (see 'aviary runs')", argv[1]) : cli_store_error(rc);
    }
    if (rec.kind != AV_RUN) {
        av_record_free(&rec);
        av_reader_close(rd);
        return cli_error("'%s' is a %s record, not a run", argv[1], av_kind_name(rec.kind));
    }
    char *what = av_xstrdup(rec.name ? rec.name : "");
    char *endpoint = attr_string(&rec, "endpoint");
    char *server = attr_string(&rec, "server");
    const av_attr *a = av_record_attr(&rec, "args");
    cJSON *args = a && a->json.ptr ? cJSON_ParseWithLength(a->json.ptr, a->json.len) : NULL;
    int nargs = cJSON_GetArraySize(args);
    char **av = av_xcalloc((size_t)nargs + (size_t)argc + 8, sizeof *av);
    int n = 0;
    char *sp = strchr(what, ' ');
    if (sp) *sp = 0;
    av[n++] = what;
    if (sp) av[n++] = sp + 1;
    const cJSON *e;
    cJSON_ArrayForEach(e, args)
    {
        if (cJSON_IsString(e)) av[n++] = e->valuestring;
    }
    int has_endpoint = 0;
    for (int i = 2; i < argc; i++) has_endpoint |= !strncmp(argv[i], "--endpoint", 10);
    if (endpoint && !has_endpoint) {
        av[n++] = "--endpoint";
        av[n++] = endpoint;
    }
    if (server) {
        av[n++] = "--server";
        av[n++] = server;
    }
    for (int i = 2; i < argc; i++) av[n++] = argv[i];
    av[n] = NULL;
    av_record_free(&rec);
    av_reader_close(rd);
    if (!args || !cJSON_IsArray(args)) {
        rc = cli_error("run '%s' has no recorded arguments to resume from", argv[1]);
    } else if (!strcmp(what, "generate")) {
        rc = cmd_generate(n, av, ctx);
    } else if (!strcmp(what, "judge")) {
        rc = cmd_judge(n, av, ctx);
    } else if (!strcmp(what, "revise")) {
        rc = cmd_revise(n, av, ctx);
    } else {
        rc = cli_error("run '%s' was made by '%s', which resume does not know", argv[1], what);
    }
    cJSON_Delete(args);
    free(av);
    free(what);
    free(endpoint);
    free(server);
    return rc;
}
