/* cmd_log.c: `aviary log`: the versions, newest first, like git log: each
 * with its time (UTC), the tags naming it, the command line that made it, its
 * counts and its message. --format json writes one JSON object per line. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] = "usage: aviary log [--at <version>] [-n <count>] [--format text|json]\n";

static void print_text(const av_commit *c, const cli_labels *labels, int first)
{
    char t[32];
    av_time_iso(t, c->time);
    if (!first) putchar('\n');
    printf("version %u", c->version);
    int nl = 0;
    for (size_t i = 0; i < labels->n; i++)
        if (labels->v[i].version == c->version) printf("%s%s", nl++ ? ", " : " (tag: ", labels->v[i].name);
    printf("%s\ntime     %s\ncommand  %s\nchanges ", nl ? ")" : "", t, c->command ? c->command : "");
    int any = 0;
    for (int k = 1; k <= AV_KIND_MAX; k++)
        if (c->added[k])
            printf("%s +%llu %s", any++ ? "," : "", (unsigned long long)c->added[k], av_kind_name((av_kind)k));
    if (c->retracted) printf("%s %llu retracted", any++ ? "," : "", (unsigned long long)c->retracted);
    if (c->restored) printf("%s %llu restored", any++ ? "," : "", (unsigned long long)c->restored);
    if (c->linked) printf("%s %llu linked", any++ ? "," : "", (unsigned long long)c->linked);
    if (!any) printf(" none");
    printf("\n\n");
    const char *m = c->message && *c->message ? c->message : "(no message)";
    /* the message indented by four, line by line, like git */
    while (*m) {
        const char *e = strchr(m, '\n');
        size_t n = e ? (size_t)(e - m) : strlen(m);
        printf("    %.*s\n", (int)n, m);
        m += n + (e ? 1 : 0);
    }
}

static void print_json(const av_commit *c, const cli_labels *labels)
{
    av_buf b = AV_BUF_INIT;
    char t[32];
    av_time_iso(t, c->time);
    av_buf_printf(&b, "{\"version\":%u,\"time\":\"%s\",\"message\":", c->version, t);
    av_buf_json_str(&b, c->message ? c->message : "", c->message ? strlen(c->message) : 0);
    av_buf_puts(&b, ",\"command\":");
    av_buf_json_str(&b, c->command ? c->command : "", c->command ? strlen(c->command) : 0);
    av_buf_puts(&b, ",\"added\":{");
    int any = 0;
    for (int k = 1; k <= AV_KIND_MAX; k++)
        if (c->added[k])
            av_buf_printf(&b, "%s\"%s\":%llu", any++ ? "," : "", av_kind_name((av_kind)k),
                          (unsigned long long)c->added[k]);
    av_buf_printf(&b, "},\"retracted\":%llu,\"restored\":%llu,\"linked\":%llu,\"tags\":[",
                  (unsigned long long)c->retracted, (unsigned long long)c->restored, (unsigned long long)c->linked);
    any = 0;
    for (size_t i = 0; i < labels->n; i++)
        if (labels->v[i].version == c->version) {
            if (any++) av_buf_putc(&b, ',');
            av_buf_json_str(&b, labels->v[i].name, strlen(labels->v[i].name));
        }
    av_buf_puts(&b, "]}\n");
    fwrite(b.ptr, 1, b.len, stdout);
    av_buf_free(&b);
}

int cmd_log(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    const char *at = NULL;
    long limit = -1;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (!strcmp(a, "--at") || !strcmp(a, "-n") || !strcmp(a, "--format")) {
            if (i + 1 >= argc) return cli_usage_error(usage, "%s needs a value", a);
            val = argv[++i];
        } else if (!strncmp(a, "--at=", 5) || !strncmp(a, "--format=", 9)) {
            val = strchr(a, '=') + 1;
        } else if (!strncmp(a, "-n", 2)) {
            val = a + 2;
            a = "-n";
        } else {
            return cli_usage_error(usage, a[0] == '-' ? "unknown option '%s'" : "unexpected argument '%s'", a);
        }
        if (!strncmp(a, "--at", 4)) {
            at = val;
        } else if (!strcmp(a, "-n")) {
            char *end;
            limit = strtol(val, &end, 10);
            if (*end || !*val || limit < 0) return cli_usage_error(usage, "-n needs a count, not '%s'", val);
        } else if (!strcmp(val, "json")) {
            json = 1;
        } else if (!strcmp(val, "text")) {
            json = 0;
        } else {
            return cli_usage_error(usage, "unknown format '%s' (text or json)", val);
        }
    }
    av_reader *r = NULL;
    if (cli_reader_open(ctx, at, &r)) return 1;
    cli_labels labels;
    if (cli_labels_get(ctx, &labels)) {
        av_reader_close(r);
        return 1;
    }
    int rc = 0;
    uint32_t top = av_reader_version(r);
    for (uint32_t v = top; rc >= 0 && v >= 1 && limit != 0; v--, limit--) {
        av_commit c;
        memset(&c, 0, sizeof c);
        if ((rc = av_commit_get(r, v, &c)) < 0) break;
        if (json) print_json(&c, &labels);
        else print_text(&c, &labels, v == top);
        av_commit_free(&c);
    }
    cli_labels_free(&labels);
    av_reader_close(r);
    return rc < 0 ? cli_store_error(rc) : 0;
}
