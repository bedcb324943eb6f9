/* main.c: aviary's entry point and its one command table. Global options
 * (-C DIR, --version, --help) come before the command; each command is a
 * main-like cmd_<name>() in its own file, and its table flags say what main
 * opens for it, so no command repeats setup. Commands not in this build are
 * weak symbols and say so. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD(name) extern int cmd_##name(int, char **, av_cli *) __attribute__((weak));
CMD(init) CMD(log) CMD(tag) CMD(diff) CMD(retract) CMD(dump) CMD(add) CMD(show) CMD(stats)
CMD(ingest) CMD(model) CMD(query) CMD(export) CMD(generate) CMD(judge) CMD(revise)
CMD(runs) CMD(resume) CMD(audit) CMD(trace) CMD(licence) CMD(dedup) CMD(curate) CMD(gc)
#undef CMD

struct command {
    const char *name;
    cli_fn fn;
    unsigned flags;
    const char *summary;
};

static const struct command commands[] = {
    {"init", cmd_init, CLI_NO_STORE, "create a store"},
    {"ingest", cmd_ingest, CLI_STORE_RW, "add records from dataset files (Magpie, UltraFeedback, ...)"},
    {"add", cmd_add, CLI_STORE_RW, "add records from aviary's native JSON Lines (a dump)"},
    {"query", cmd_query, CLI_STORE_RO, "select records with a filter expression"},
    {"show", cmd_show, CLI_STORE_RO, "show one record with its texts, tags, verdicts and provenance"},
    {"stats", cmd_stats, CLI_STORE_RO, "counts by kind, model and source; sizes; group-by statistics"},
    {"export", cmd_export, CLI_STORE_RO, "write a Hugging Face dataset (JSONL or Parquet)"},
    {"dump", cmd_dump, CLI_STORE_RO, "write the records and their history as native JSON Lines"},
    {"log", cmd_log, CLI_STORE_RO, "list versions"},
    {"diff", cmd_diff, CLI_STORE_RO, "what was added and retracted between two versions"},
    {"tag", cmd_tag, CLI_STORE_RW, "name a version, or list the names"},
    {"retract", cmd_retract, CLI_STORE_RW, "hide records from a new version on"},
    {"gc", cmd_gc, CLI_STORE_RW, "repack the store: texts compressed harder, tables in order, file compacted"},
    {"model", cmd_model, CLI_STORE_RW, "list models or set a model's licence"},
    {"generate", cmd_generate, CLI_STORE_RW, "generate prompts (Magpie) or responses via an endpoint"},
    {"judge", cmd_judge, CLI_STORE_RW, "rate, compare, score or tag with an AI judge"},
    {"revise", cmd_revise, CLI_STORE_RW, "critique and revise responses by a constitution"},
    {"runs", cmd_runs, CLI_STORE_RO, "list generation and judging runs with their costs"},
    {"resume", cmd_resume, CLI_STORE_RW, "finish an interrupted run"},
    {"audit", cmd_audit, CLI_STORE_RO, "licences and provenance of a selection; policy checks"},
    {"trace", cmd_trace, CLI_STORE_RO, "the full provenance chain of one record"},
    {"licence", cmd_licence, CLI_STORE_RW, "list licences or add your own"},
    {"dedup", cmd_dedup, CLI_STORE_RW, "tag exact and near-duplicate prompts"},
    {"curate", cmd_curate, CLI_STORE_RW, "select a training set by a recipe (Magpie's 300K)"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char usage[] =
    "usage: aviary [-C <dir>] <command> [<args>]\n"
    "       aviary <command> --help\n";

static void print_help(FILE *f)
{
    fputs(usage, f);
    fputs("\nThe store is the directory given by -C, else $AVIARY_DIR, else the current one.\n\ncommands:\n", f);
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (commands[i].fn) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

/* The command line as one string, each argument shell-quoted when needed. */
static char *join_command(int argc, char **argv)
{
    av_buf b = AV_BUF_INIT;
    av_buf_puts(&b, "aviary");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        av_buf_putc(&b, ' ');
        if (*a && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == strlen(a)) {
            av_buf_puts(&b, a);
        } else {
            av_buf_putc(&b, '\'');
            for (; *a; a++) {
                if (*a == '\'') av_buf_puts(&b, "'\\''");
                else av_buf_putc(&b, *a);
            }
            av_buf_putc(&b, '\'');
        }
    }
    return av_buf_detach(&b);
}

int main(int argc, char **argv)
{
    av_cli ctx = {0};
    int i = 1;
    ctx.dir = getenv("AVIARY_DIR");
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-C")) {
            if (i + 1 >= argc) return cli_usage_error(usage, "-C needs a directory");
            ctx.dir = argv[++i];
        } else if (!strncmp(argv[i], "-C", 2)) {
            ctx.dir = argv[i] + 2;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            print_help(stdout);
            return cli_finish(0);
        } else if (!strcmp(argv[i], "--version")) {
            printf("aviary 0.1 (store format %d)\n", AV_FORMAT_VERSION);
            return cli_finish(0);
        } else {
            return cli_usage_error(usage, "unknown option '%s'", argv[i]);
        }
    }
    if (i >= argc) {
        print_help(stderr);
        return 2;
    }
    if (!ctx.dir || !*ctx.dir) ctx.dir = ".";
    const struct command *cmd = NULL;
    for (size_t k = 0; k < NCOMMANDS; k++)
        if (!strcmp(commands[k].name, argv[i])) cmd = &commands[k];
    if (!cmd) return cli_usage_error(usage, "'%s' is not an aviary command; see 'aviary --help'", argv[i]);
    if (!cmd->fn) return cli_error("'%s' is not available in this build", cmd->name);

    ctx.stdout_tty = isatty(1);
    ctx.stderr_tty = isatty(2);
    char *command = join_command(argc, argv);
    ctx.command = command;
    int rc;
    int wants_help = 0;
    for (int k = i + 1; k < argc; k++)
        if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) wants_help = 1;
    if ((cmd->flags & (CLI_STORE_RO | CLI_STORE_RW)) && !wants_help) {
        rc = av_store_open(&ctx.store, ctx.dir, (cmd->flags & CLI_STORE_RW) ? AV_OPEN_RDWR : AV_OPEN_RDONLY);
        if (rc < 0) {
            if (rc == AV_ENOTFOUND)
                cli_error("no aviary store in '%s' (create one with 'aviary init %s', or use -C <dir>)",
                          ctx.dir, ctx.dir);
            else
                cli_store_error(rc);
            free(command);
            return 1;
        }
    }
    rc = cmd->fn(argc - i, argv + i, &ctx);
    av_store_close(ctx.store);
    free(command);
    return cli_finish(rc);
}
