/* cmd_ingest.c: `aviary ingest`: adds the rows of dataset files (Magpie,
 * UltraFeedback, preference and chat formats) to the store in one commit.
 * The work is ingest/ingest.h's av_ingest_file(); this file parses options,
 * opens the writer and the rejects file, and reports counts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ingest/ingest.h"
#include "query/licence.h"

static const char usage[] =
    "usage: aviary ingest <file>... [--format auto|<name>] [--source <name>] [--licence <id>] [--url <url>]\n"
    "                     [--judge <model>] [--skip-bad [--rejects <file>]] [--progress | --no-progress] [-q | --quiet]\n"
    "\n"
    "  <file>            JSON Lines or a JSON array, optionally .gz or .zst; '-' reads stdin\n"
    "  --format <name>   auto (default: decided from the first row's keys), magpie, ultrafeedback,\n"
    "                    binarized, argilla, skywork, nectar, helpsteer2, helpsteer2-preference,\n"
    "                    sharegpt, sharegpt-dpo, openai, alpaca, prm800k\n"
    "  --source <name>   the dataset's name (default: the file name without extensions)\n"
    "  --licence <id>    the dataset's licence (e.g. cc-by-4.0); --url <url> where it came from\n"
    "  --judge <model>   the model that made the file's ratings and preferences, when the format does\n"
    "                    not say (UltraFeedback's own are GPT-4's); its licence enters their lineage\n"
    "  --skip-bad        commit the good rows when some are bad (default: commit nothing)\n"
    "  --rejects <file>  with --skip-bad, write the bad rows there verbatim\n"
    "  --progress        draw the progress line even when stderr is not a terminal (--no-progress: never)\n"
    "  -q, --quiet       no summary and no progress line\n";

static char *default_source(const char *path)
{
    if (!strcmp(path, "-")) return av_xstrdup("stdin");
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    char *s = av_xstrdup(b);
    static const char *const ext[] = {".gz", ".zst", ".jsonl", ".json", ".ndjson"};
    for (int again = 1; again;) {
        again = 0;
        for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
            size_t l = strlen(s), e = strlen(ext[i]);
            if (l > e && !strcmp(s + l - e, ext[i])) {
                s[l - e] = 0;
                again = 1;
            }
        }
    }
    return s;
}

int cmd_ingest(int argc, char **argv, av_cli *ctx)
{
    if (cli_wants_help(argc, argv, usage)) return 0;
    const char *format = NULL, *source = NULL, *licence = NULL, *url = NULL, *rejects = NULL, *judge = NULL;
    int skip_bad = 0, progress = ctx->stderr_tty, quiet = 0, nfiles = 0;
    const char **files = av_xcalloc((size_t)argc, sizeof *files);
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **val = NULL;
        if (!strcmp(a, "--format")) val = &format;
        else if (!strcmp(a, "--source")) val = &source;
        else if (!strcmp(a, "--licence") || !strcmp(a, "--license")) val = &licence;
        else if (!strcmp(a, "--url")) val = &url;
        else if (!strcmp(a, "--judge")) val = &judge;
        else if (!strcmp(a, "--rejects")) val = &rejects;
        else if (!strcmp(a, "--skip-bad")) skip_bad = 1;
        else if (!strcmp(a, "--progress")) progress = 1;
        else if (!strcmp(a, "--no-progress")) progress = 0;
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) quiet = 1;
        else if (a[0] == '-' && a[1] == '-' && strchr(a, '=')) {
            rc = cli_usage_error(usage, "write '%.*s <value>' with a space, not '='", (int)(strchr(a, '=') - a), a);
            goto done;
        } else if (a[0] == '-' && a[1]) {
            rc = cli_usage_error(usage, "unknown option '%s'", a);
            goto done;
        } else {
            files[nfiles++] = a;
        }
        if (val) {
            if (i + 1 >= argc) {
                rc = cli_usage_error(usage, "'%s' needs a value", a);
                goto done;
            }
            *val = argv[++i];
        }
    }
    if (!nfiles) {
        rc = cli_usage_error(usage, "no input files");
        goto done;
    }
    if (rejects && !skip_bad) {
        rc = cli_usage_error(usage, "--rejects needs --skip-bad");
        goto done;
    }
    if (judge && !*judge) {
        rc = cli_usage_error(usage, "--judge needs a model name");
        goto done;
    }
    if (format && strcmp(format, "auto") && !av_format_find(format)) {
        rc = cli_usage_error(usage, "unknown format '%s' (known: %s)", format, av_format_names());
        goto done;
    }
    /* the licence id as the registry spells it ("Apache 2.0" -> apache-2.0) */
    char licence_id[128];
    if (licence) {
        av_licence_norm(licence_id, sizeof licence_id, licence);
        licence = licence_id;
    }
    FILE *rej = NULL;
    if (rejects) {
        rej = fopen(rejects, "wb");
        if (!rej) {
            rc = cli_error("cannot write '%s': %s", rejects, strerror(errno));
            goto done;
        }
    }
    uint32_t head0 = 0;
    av_store_head(ctx->store, &head0);
    av_writer *w = NULL;
    int sr = av_writer_open(&w, ctx->store);
    if (sr < 0) {
        if (rej) fclose(rej);
        rc = cli_store_error(sr);
        goto done;
    }
    av_ingest_stats total = {0};
    av_buf msg = AV_BUF_INIT, names = AV_BUF_INIT;
    for (int f = 0; f < nfiles; f++) {
        char *src = source ? av_xstrdup(source) : default_source(files[f]);
        av_ingest_opts o = {.path = files[f], .format = format, .source = src, .licence = licence, .url = url, .judge = judge,
                            .rejects = rejects, .rejects_fp = rej, .skip_bad = skip_bad, .progress = progress && !quiet};
        av_ingest_stats st;
        int ir = av_ingest_file(w, &o, &st);
        free(src);
        if (ir < 0) {
            const char *m = av_errmsg();
            cli_error("%s", m && *m ? m : av_strerror(ir));
            if (ir == AV_EINVAL && st.rows_bad && !skip_bad)
                fprintf(stderr, "aviary: nothing was committed (use --skip-bad to commit the good rows)\n");
            av_writer_abort(w);
            if (rej) fclose(rej);
            av_buf_free(&msg);
            av_buf_free(&names);
            rc = 1;
            goto done;
        }
        if (!quiet)
            fprintf(stderr, "%s: %llu rows as %s: %llu new, %llu already present%s", files[f], (unsigned long long)st.rows,
                   st.format, (unsigned long long)st.rows_new, (unsigned long long)st.rows_present,
                   st.rows_bad ? "" : "\n");
        if (!quiet && st.rows_bad) fprintf(stderr, ", %llu bad (skipped)\n", (unsigned long long)st.rows_bad);
        av_buf_printf(&names, "%s%s", f ? ", " : "", files[f]);
        total.rows += st.rows;
        total.rows_new += st.rows_new;
        total.rows_present += st.rows_present;
        total.rows_bad += st.rows_bad;
        snprintf(total.format, sizeof total.format, "%s", st.format);
    }
    av_buf_printf(&msg, "ingest %s: %llu new, %llu already present", names.ptr, (unsigned long long)total.rows_new,
                  (unsigned long long)total.rows_present);
    if (total.rows_bad) av_buf_printf(&msg, ", %llu bad", (unsigned long long)total.rows_bad);
    if (rej && fclose(rej) != 0) {
        av_writer_abort(w);
        rc = cli_error("cannot write '%s'", rejects);
    } else {
        uint32_t v = 0;
        rc = cli_commit(ctx, w, msg.ptr, &v);
        if (rc == 0 && !quiet) {
            if (v > head0) fprintf(stderr, "committed version %u\n", v);
            else fprintf(stderr, "nothing new to commit\n");
        }
    }
    av_buf_free(&msg);
    av_buf_free(&names);
done:
    free(files);
    return rc;
}
