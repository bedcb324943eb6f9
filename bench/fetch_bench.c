/* fetch_bench.c: for bench/store.sh: the median time to fetch one record by
 * content id inside one process (av_find + av_get with its texts), over a
 * random sample of the store's visible records, and the store's sizes
 * (text bytes before/after compression, files on disk) as key=value lines.
 * usage: fetch_bench <store-dir> [<samples>] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/aviary.h"
#include "util/util.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: fetch_bench <store-dir> [<samples>]\n");
        return 2;
    }
    size_t samples = argc == 3 ? (size_t)atol(argv[2]) : 10000;
    av_store *s = NULL;
    av_reader *r = NULL;
    av_iter *it = NULL;
    av_record rec;
    av_record_init(&rec);
    int rc = av_store_open(&s, argv[1], AV_OPEN_RDONLY);
    if (rc < 0 || (rc = av_reader_open(&r, s, 0)) < 0 || (rc = av_iter_all(&it, r)) < 0) {
        fprintf(stderr, "fetch_bench: %s\n", av_errmsg());
        return 1;
    }
    /* every visible record's content id */
    size_t n = 0, cap = 1024;
    av_id *ids = av_xmalloc(cap * sizeof *ids);
    uint64_t row;
    while ((rc = av_iter_next(it, &row)) == 1) {
        if (av_get(r, row, 0, &rec) < 0) continue;
        if (n == cap) ids = av_xrealloc(ids, (cap *= 2) * sizeof *ids);
        ids[n++] = rec.cid;
    }
    av_iter_free(it);
    if (!n) {
        fprintf(stderr, "fetch_bench: the store is empty\n");
        return 1;
    }
    if (samples > n) samples = n;
    /* a random sample, fetched in random order */
    srand(12345);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)rand() % (i + 1);
        av_id t = ids[i];
        ids[i] = ids[j];
        ids[j] = t;
    }
    double *ns = av_xmalloc(samples * sizeof *ns);
    size_t bytes = 0;
    for (size_t i = 0; i < samples; i++) {
        double t0 = now_ns();
        if ((rc = av_find(r, &ids[i], &row)) < 0 || (rc = av_get(r, row, AV_GET_TEXT, &rec)) < 0) {
            fprintf(stderr, "fetch_bench: %s\n", av_errmsg());
            return 1;
        }
        for (uint32_t k = 0; k < rec.nmsg; k++) bytes += rec.msg[k].text.len;
        ns[i] = now_ns() - t0;
    }
    qsort(ns, samples, sizeof *ns, cmp_double);
    av_store_info info;
    av_store_info_get(s, &info);
    printf("records=%zu\nsamples=%zu\nfetch_median_us=%.1f\nfetch_p99_us=%.1f\nfetched_text_bytes=%zu\n", n,
           samples, ns[samples / 2] / 1e3, ns[samples * 99 / 100] / 1e3, bytes);
    printf("text_count=%llu\ntext_raw_bytes=%llu\ntext_stored_bytes=%llu\ndict_count=%u\nfile_bytes=%llu\n",
           (unsigned long long)info.text_count, (unsigned long long)info.text_raw_bytes,
           (unsigned long long)info.text_stored_bytes, info.dict_count, (unsigned long long)info.file_bytes);
    free(ns);
    free(ids);
    av_record_free(&rec);
    av_reader_close(r);
    av_store_close(s);
    return 0;
}
