/* query_bench.c: times `aviary query` in-process, the way the peers (sqlite3's
 * .timer, DuckDB in node) are timed: the store is opened once, then the same
 * command runs N times and the best and median wall times are printed.
 * It runs the CLI's own code (cli/cmd_query.c), so what is timed is exactly
 * what `aviary query` does after startup, output included (to a file).
 *
 *   query_bench <store> <runs> <out-file> <aviary query args...>
 *   prints: best_ms median_ms
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.c"
#include "cli/cmd_query.c"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: query_bench <store> <runs> <out-file> query [<args>...]\n");
        return 2;
    }
    av_cli ctx = {0};
    ctx.dir = argv[1];
    int runs = atoi(argv[2]);
    if (runs < 1) runs = 1;
    if (av_store_open(&ctx.store, ctx.dir, AV_OPEN_RDONLY) < 0) {
        fprintf(stderr, "query_bench: %s\n", av_errmsg());
        return 1;
    }
    double *t = calloc((size_t)runs, sizeof *t);
    int saved = dup(1);
    for (int i = 0; i < runs; i++) {
        if (!freopen(argv[3], "w", stdout)) {
            perror(argv[3]);
            return 1;
        }
        double t0 = av_now();
        int rc = cmd_query(argc - 4, argv + 4, &ctx);
        fflush(stdout);
        t[i] = (av_now() - t0) * 1000;
        if (rc) {
            fprintf(stderr, "query_bench: aviary query failed (%d)\n", rc);
            return 1;
        }
    }
    dup2(saved, 1);
    FILE *o = fdopen(saved, "w");
    qsort(t, (size_t)runs, sizeof *t, cmp_d);
    fprintf(o, "%.2f %.2f\n", t[0], t[runs / 2]);
    fclose(o);
    free(t);
    av_store_close(ctx.store);
    return 0;
}
