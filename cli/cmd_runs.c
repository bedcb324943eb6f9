/* cmd_runs.c: `aviary runs`: the generation and judging runs of a store, with
 * their model, counters (tasks, records, requests, cache hits, tokens,
 * errors) and cost, and the cost per record that makes RLAIF worth doing.
 * The counters live in the aux space "runstat" (generate/run.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "generate/run.h"

static const char usage[] =
    "usage: aviary runs [--json] [--at <version>]\n"
    "\n"
    "Lists generation and judging runs: id, what ran, model, tasks done, records added,\n"
    "requests paid, answers from the request cache, tokens in/out, errors, cost and cost\n"
    "per record (when the run was given --price-in/--price-out).\n";

static void attr_text(char *out, size_t cap, const av_record *rec, const char *key)
{
    const av_attr *a = av_record_attr(rec, key);
    if (!a || !a->json.ptr) {
        snprintf(out, cap, "-");
        return;
    }
    const char *s = a->json.ptr;
    size_t n = a->json.len;
    if (n >= 2 && s[0] == '"') s++, n -= 2; /* a plain string, shown without quotes */
    snprintf(out, cap, "%.*s", (int)n, s);
}

int cmd_runs(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    int json = 0, bad = 0;
    const char *at = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--at") && i + 1 < argc) at = argv[++i];
        else if (!strncmp(argv[i], "--at=", 5)) at = argv[i] + 5;
        else bad = 1;
        if (bad) return cli_usage_error(usage, "unknown option '%s'", argv[i]);
    }
    av_reader *rd = NULL;
    if (cli_reader_open(ctx, at, &rd)) return 1;
    av_iter *it = NULL;
    int rc = av_iter_kind(&it, rd, AV_RUN);
    if (rc < 0) {
        av_reader_close(rd);
        return cli_store_error(rc);
    }
    av_record rec;
    av_record_init(&rec);
    uint64_t row;
    if (!json)
        printf("%-12s  %-18s  %-20s  %7s  %7s  %8s  %7s  %10s  %9s  %6s  %10s  %12s\n", "run", "what", "model", "tasks",
               "records", "requests", "cached", "tokens in", "out", "errors", "cost", "cost/record");
    while ((rc = av_iter_next(it, &row)) == 1) {
        if ((rc = av_get(rd, row, AV_GET_TEXT, &rec)) < 0) break;
        char hex[33], model[128], endpoint[512];
        av_id_hex(hex, &rec.cid);
        attr_text(model, sizeof model, &rec, "model");
        attr_text(endpoint, sizeof endpoint, &rec, "endpoint");
        gen_run_stats s;
        gen_run_stats_get(rd, &rec.cid, &s);
        double per = s.records && s.cost > 0 ? s.cost / (double)s.records : NAN;
        if (json) {
            av_buf b = AV_BUF_INIT;
            av_buf_printf(&b, "{\"run\":\"%s\",\"what\":", hex);
            av_buf_json_str(&b, rec.name ? rec.name : "", rec.name ? strlen(rec.name) : 0);
            av_buf_puts(&b, ",\"model\":");
            av_buf_json_str(&b, model, strlen(model));
            av_buf_puts(&b, ",\"endpoint\":");
            av_buf_json_str(&b, endpoint, strlen(endpoint));
            av_buf_printf(&b,
                          ",\"tasks\":%llu,\"records\":%llu,\"requests\":%llu,\"cached\":%llu,\"prompt_tokens\":%llu,"
                          "\"completion_tokens\":%llu,\"errors\":%llu,\"cost\":",
                          (unsigned long long)s.tasks, (unsigned long long)s.records, (unsigned long long)s.requests,
                          (unsigned long long)s.cached, (unsigned long long)s.prompt_tokens,
                          (unsigned long long)s.completion_tokens, (unsigned long long)s.errors);
            av_buf_json_num(&b, s.cost > 0 ? s.cost : NAN);
            av_buf_puts(&b, ",\"cost_per_record\":");
            av_buf_json_num(&b, per);
            av_buf_puts(&b, "}\n");
            fputs(b.ptr, stdout);
            av_buf_free(&b);
        } else {
            char cost[32], cpr[32];
            if (s.cost > 0) snprintf(cost, sizeof cost, "%.4f", s.cost);
            else snprintf(cost, sizeof cost, "-");
            if (!isnan(per)) snprintf(cpr, sizeof cpr, "%.6f", per);
            else snprintf(cpr, sizeof cpr, "-");
            printf("%-12.12s  %-18s  %-20s  %7llu  %7llu  %8llu  %7llu  %10llu  %9llu  %6llu  %10s  %12s\n", hex,
                   rec.name ? rec.name : "-", model, (unsigned long long)s.tasks, (unsigned long long)s.records,
                   (unsigned long long)s.requests, (unsigned long long)s.cached, (unsigned long long)s.prompt_tokens,
                   (unsigned long long)s.completion_tokens, (unsigned long long)s.errors, cost, cpr);
        }
    }
    av_record_free(&rec);
    av_iter_free(it);
    av_reader_close(rd);
    return rc < 0 ? cli_store_error(rc) : 0;
}
