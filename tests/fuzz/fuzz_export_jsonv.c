/* fuzz_export_jsonv.c: the export side's JSON row parser (export/jsonv.c)
 * and what follows it for Parquet: schema inference, the fit check, and the
 * writer (shredding, levels, dictionary, pages, footer) into /dev/null. Any
 * input must give a clean error or a file, never a crash. Input: JSON Lines
 * (each line one row). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "export/jsonv.h"
#include "export/parquet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    jv_parser p = JV_PARSER_INIT;
    pq_node *root = pq_schema_new();
    const char *s = (const char *)data, *e = s + size;
    int ok = 1;
    /* Pass 1: infer from every line that parses as an object. */
    for (const char *q = s; q < e && ok;) {
        const char *nl = memchr(q, '\n', (size_t)(e - q));
        size_t n = nl ? (size_t)(nl - q) : (size_t)(e - q);
        const jv *v = jv_parse(&p, q, n);
        if (v && v->type == JV_OBJECT && pq_schema_infer(root, v) < 0)
            ok = 0;
        if (v)
            (void)jv_get(v, "a");
        q += n + 1;
    }
    /* Pass 2: every such row fits and is written. */
    pq_writer *w = NULL;
    pq_opts o = PQ_OPTS_INIT;
    o.page_bytes = 64;
    o.row_group_bytes = 256;
    o.dict_max_bytes = 32;
    o.threads = -1;
    if (ok && root->nchild && pq_writer_open(&w, "/dev/null", root, &o) == 0) {
        for (const char *q = s; q < e && w;) {
            const char *nl = memchr(q, '\n', (size_t)(e - q));
            size_t n = nl ? (size_t)(nl - q) : (size_t)(e - q);
            const jv *v = jv_parse(&p, q, n);
            if (v && v->type == JV_OBJECT) {
                if (!pq_schema_fits(root, v))
                    abort(); /* inference and the fit check disagree */
                if (pq_writer_add(w, v) < 0) {
                    pq_writer_abort(w);
                    w = NULL;
                }
            }
            q += n + 1;
        }
        if (w)
            pq_writer_close(w, NULL);
    }
    pq_schema_free(root);
    jv_parser_release(&p);
    return 0;
}
