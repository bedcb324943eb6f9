/* fuzz_ingest_rows.c: fuzz target for the row mappers. The first byte picks
 * a format (or detection), the rest is one row's JSON. Whatever the input,
 * parsing and mapping must not crash, and a row that maps must come back
 * from its template and records exactly (the invariant export relies on). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"

static const char *const names[] = {"magpie", "ultrafeedback", "binarized", "argilla", "skywork", "nectar",
                                    "helpsteer2", "helpsteer2-preference", "sharegpt", "sharegpt-dpo",
                                    "openai", "alpaca", "prm800k"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    jdoc d, t;
    json_doc_init(&d);
    json_doc_init(&t);
    av_plan p;
    av_plan_init(&p);
    if (json_parse(&d, (const char *)data + 1, size - 1, 0) == 0) {
        const jnode *row = json_root(&d);
        size_t pick = data[0] % (sizeof names / sizeof names[0] + 1);
        const av_format *f = pick < sizeof names / sizeof names[0] ? av_format_find(names[pick]) : av_format_detect(row);
        if (f && av_format_map(f, &p, row) == 0) {
            av_buf want = AV_BUF_INIT, got = AV_BUF_INIT;
            json_write(&want, row);
            pl_source src;
            pl_plan_source(&p, &src);
            char err[200];
            if (pl_render(&got, p.tpl.ptr, p.tpl.len, &src, &t, err, sizeof err) != 0 || got.len != want.len ||
                memcmp(got.ptr, want.ptr, want.len) != 0) {
                fprintf(stderr, "row does not come back (%s):\n want %s\n got  %s\n", err, want.ptr, got.ptr ? got.ptr : "");
                abort();
            }
            /* every record the mapper made is well-formed for the store */
            for (size_t i = 0; i < p.nrec; i++) {
                const pl_rec *r = &p.rec[i];
                if (r->kind == AV_RESPONSE && r->ref[0] < 0) abort();
                if (r->kind == AV_RATING && r->ref[0] < 0) abort();
                if (r->kind == AV_PREFERENCE && (r->ref[0] < 0 || r->ref[1] < 0 || r->ref[2] < 0)) abort();
                for (int j = 0; j < 3; j++)
                    if (r->ref[j] >= (int)i) abort(); /* refs point back, so puts can go in order */
            }
            av_buf_free(&want);
            av_buf_free(&got);
        }
    }
    av_plan_free(&p);
    json_doc_free(&t);
    json_doc_free(&d);
    return 0;
}
