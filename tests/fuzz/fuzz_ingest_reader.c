/* fuzz_ingest_reader.c: fuzz target for the record reader: any bytes (plain,
 * gzip or zstd by their magic, JSON Lines or an array) must be split into
 * records or refused with a reason, never crash, hang or read past a
 * record; every record handed out is then parsed and, if it is an object,
 * detected and mapped. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "ingest/reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(path, sizeof path, "%.40s/aviary-fuzz-reader-%d", t && *t ? t : "/tmp", (int)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    av_input *in;
    char *err = NULL;
    if (av_input_open(&in, path, &err) < 0) {
        free(err);
        unlink(path);
        return 0;
    }
    jdoc d;
    json_doc_init(&d);
    av_plan p;
    av_plan_init(&p);
    av_inrec r;
    int rc, n = 0;
    while ((rc = av_input_next(in, &r)) == 1 && n++ < 1000) {
        if (r.n == 0 || r.p == NULL) abort(); /* records are never empty */
        if (json_parse(&d, r.p, r.n, 0) == 0) {
            const av_format *fm = av_format_detect(json_root(&d));
            if (fm) av_format_map(fm, &p, json_root(&d));
        }
    }
    if (rc < 0 && !av_input_error(in)[0]) abort(); /* an error always says why */
    av_plan_free(&p);
    json_doc_free(&d);
    av_input_close(in);
    unlink(path);
    return 0;
}
