/* cli.h: what every cmd_<name>.c shares: the context main() opens for it,
 * error and usage helpers that keep the output discipline (errors to stderr
 * as "aviary: ...", exit 0 ok / 1 error / 2 usage), and --at resolution. */
#ifndef AV_CLI_H
#define AV_CLI_H

#include "store/aviary.h"
#include "util/util.h"

enum cli_flags {
    CLI_NO_STORE = 0,       /* the command finds or makes the store itself */
    CLI_STORE_RO = 1 << 0,  /* main opens the store read-only into ctx->store */
    CLI_STORE_RW = 1 << 1,  /* main opens the store for writing into ctx->store */
};

typedef struct av_cli {
    const char *dir;     /* the store directory: -C, $AVIARY_DIR, or "." */
    av_store *store;     /* opened as the command's flags ask, else NULL */
    const char *command; /* the whole command line, for commit records */
    int stdout_tty, stderr_tty;
} av_cli;

typedef int (*cli_fn)(int argc, char **argv, av_cli *ctx);

/* Prints "aviary: <msg>" to stderr; returns 1. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "aviary: <msg>" and the usage to stderr; returns 2. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "aviary: <av_errmsg() or av_strerror(rc)>"; returns 1. */
int cli_store_error(int rc);
/* 1 if argv has -h or --help (then prints usage to stdout). */
int cli_wants_help(int argc, char **argv, const char *usage);
/* Opens a reader at spec (NULL = head). A spec naming version 0 (the empty
 * store: "0", or HEAD~N back to the start) is an error. Prints the error;
 * returns 0 or 1. */
int cli_reader_open(av_cli *ctx, const char *at, av_reader **out);
/* Prints "'<spec>' is version 0, ..." and returns 1. */
int cli_at_zero_error(const char *spec);
/* Commits w with the context's command line; prints what was made to stderr
 * unless quiet. Returns 0 or 1. */
int cli_commit(av_cli *ctx, av_writer *w, const char *message, uint32_t *out_version);
/* The store's version names, in name order (cli_labels_free releases). */
typedef struct cli_label {
    char *name;
    uint32_t version;
} cli_label;
typedef struct cli_labels {
    cli_label *v;
    size_t n, cap;
} cli_labels;
int cli_labels_get(av_cli *ctx, cli_labels *out);
void cli_labels_free(cli_labels *l);

/* Flushes stdout and reports a write error (a closed pipe, a full disk).
 * Returns rc when stdout is fine, 1 otherwise. */
int cli_finish(int rc);

#endif
