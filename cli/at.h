/* at.h: --at resolution for the read commands of the store, generate, audit
 * and dedup parts. cli_reader_open() treats a spec that resolves to version
 * 0 ("0", or "HEAD~N" back to the start) as the head, since av_reader_open's
 * 0 means head; these commands refuse it instead of answering for the wrong
 * version. */
#ifndef AV_CLI_AT_H
#define AV_CLI_AT_H

#include "cli/cli.h"

/* Like cli_reader_open, but a spec naming version 0 (the empty store before
 * the first commit) is an error: "aviary: '<spec>' is version 0, ...".
 * Returns 0 or 1 (error printed). */
int cli_reader_open_at(av_cli *ctx, const char *at, av_reader **out);

/* The message for that case, printed; returns 1. */
int cli_at_zero_error(const char *spec);

#endif
