/* ingest_bench.c: times ingest's own stages on a file without a store:
 * read (+ decompress + SHA-256), parse, and parse + map (templates), so a
 * slow `aviary ingest` can be split into "ingest's CPU" and "the store's".
 * usage: ingest_bench FILE [FORMAT] */
#include <stdio.h>
#include <string.h>

#include "ingest/ingest.h"
#include "ingest/reader.h"

static int run(const char *path, int stage, const char *fmt_name, double *secs, unsigned long long *rows,
               unsigned long long *bytes)
{
    av_input *in;
    char *err = NULL;
    if (av_input_open(&in, path, &err) < 0) {
        fprintf(stderr, "ingest_bench: %s\n", err);
        return 1;
    }
    jdoc d;
    json_doc_init(&d);
    av_plan p;
    av_plan_init(&p);
    const av_format *f = fmt_name ? av_format_find(fmt_name) : NULL;
    double t0 = av_now();
    av_inrec r;
    int rc;
    *rows = *bytes = 0;
    while ((rc = av_input_next(in, &r)) == 1) {
        (*rows)++;
        *bytes += r.n;
        if (stage < 1 || json_parse(&d, r.p, r.n, 0)) continue;
        if (stage < 2) continue;
        if (!f) f = av_format_detect(json_root(&d));
        if (f) av_format_map(f, &p, json_root(&d));
    }
    char sha[65];
    av_input_sha256(in, sha);
    *secs = av_now() - t0;
    av_plan_free(&p);
    json_doc_free(&d);
    av_input_close(in);
    return rc < 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ingest_bench FILE [FORMAT]\n");
        return 2;
    }
    static const char *names[] = {"read+sha256", "read+parse", "read+parse+map"};
    for (int stage = 0; stage < 3; stage++) {
        double s;
        unsigned long long rows, bytes;
        if (run(argv[1], stage, argc > 2 ? argv[2] : NULL, &s, &rows, &bytes)) return 1;
        printf("%-16s %8.3f s  %8.1f MB/s  %llu rows\n", names[stage], s, bytes / 1e6 / s, rows);
    }
    return 0;
}
