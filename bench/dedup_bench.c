/* dedup_bench.c: helper for bench/dedup.sh.
 *
 *   dedup_bench load <store> <prompts.txt>
 *       adds one prompt per line (backslash-n = newline, double backslash =
 *       backslash) to the store in one commit; creates the store if needed.
 *   dedup_bench dedup <store> <threads>
 *       runs the library's dedup (what `aviary dedup` runs) with default
 *       options and commits; prints the phases' times.
 *   dedup_bench check <store> <sample> <seed>
 *       recall and precision of the store's dedup tags against brute force:
 *       `sample` random prompts are compared by exact 5-gram Jaccard with
 *       EVERY prompt in the store; recall = share of pairs with J >= 0.8
 *       (and >= 0.7) that dedup put in one cluster; precision = share of the
 *       sampled prompts' same-cluster pairs whose J is >= 0.7.
 *       With sample 0, ALL pairs with J >= 0.7 are found exactly instead
 *       (an all-pairs similarity join with prefix filtering: sets sorted
 *       rarest shingle first share a shingle within their first
 *       |x| - ceil(0.7 |x|) + 1 whenever J >= 0.7, so no pair is missed), and
 *       precision is over every same-cluster pair.
 * Output: tab-separated "key value" lines on stdout. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curate/curate.h"
#include "curate/minhash.h"
#include "curate/normalize.h"
#include "store/aviary.h"
#include "util/util.h"

static int die(const char *what)
{
    fprintf(stderr, "dedup_bench: %s: %s\n", what, *av_errmsg() ? av_errmsg() : "failed");
    return 1;
}

static int load(const char *dir, const char *path)
{
    av_store *s = NULL;
    av_writer *w = NULL;
    if (av_store_open(&s, dir, AV_OPEN_RDWR) == AV_ENOTFOUND) {
        if (av_store_init(dir) < 0) return die("init");
    }
    if (!s && av_store_open(&s, dir, AV_OPEN_RDWR) < 0) return die("open");
    if (av_writer_open(&w, s) < 0) return die("writer");
    FILE *f = fopen(path, "r");
    if (!f) return die(path);
    char *line = NULL;
    size_t cap = 0, n = 0;
    ssize_t len;
    av_buf b = AV_BUF_INIT;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n') len--;
        av_buf_reset(&b);
        for (ssize_t i = 0; i < len; i++) {
            if (line[i] == '\\' && i + 1 < len) { i++; av_buf_putc(&b, line[i] == 'n' ? '\n' : line[i]); }
            else av_buf_putc(&b, line[i]);
        }
        av_msg m = {"user", {b.ptr ? b.ptr : "", b.len, {{0}}, 0}};
        av_record rec;
        av_record_init(&rec);
        rec.kind = AV_PROMPT;
        rec.nmsg = 1;
        rec.msg = &m;
        if (av_writer_put(w, &rec) < 0) return die("put");
        n++;
    }
    fclose(f);
    free(line);
    av_buf_free(&b);
    av_commit_opts o = {.message = "bench prompts", .command = "dedup_bench load"};
    uint32_t v;
    if (av_writer_commit(w, &o, &v) < 0) return die("commit");
    printf("loaded\t%zu\n", n);
    av_store_close(s);
    return 0;
}

static int dedup(const char *dir, int threads)
{
    av_store *s = NULL;
    av_writer *w = NULL;
    if (av_store_open(&s, dir, AV_OPEN_RDWR) < 0 || av_writer_open(&w, s) < 0) return die("open");
    av_curate_dedup_opts o = {.dd = AV_DEDUP_OPTS_INIT, .threads = threads};
    av_curate_dedup_report rep;
    double t0 = av_now();
    if (av_curate_dedup(w, &o, &rep) < 0) return die("dedup");
    av_commit_opts co = {.message = "bench dedup", .command = "dedup_bench dedup"};
    uint32_t v;
    if (av_writer_commit(w, &co, &v) < 0) return die("commit");
    double t1 = av_now();
    printf("prompts\t%zu\ncomputed\t%zu\nreused\t%zu\ncandidates\t%zu\njoined\t%zu\nclusters\t%zu\n"
           "duplicates\t%zu\nexact_dups\t%zu\ntags\t%zu\nretracted\t%zu\n",
           rep.st.items, rep.computed, rep.reused, rep.st.candidates, rep.st.joined, rep.st.clusters,
           rep.st.duplicates, rep.st.exact_dups, rep.tagged, rep.retracted);
    printf("t_signatures\t%.2f\nt_cluster\t%.2f\nt_tags\t%.2f\nt_commit\t%.2f\nt_total\t%.2f\n", rep.t_sign,
           rep.t_cluster, rep.t_write, t1 - t0 - rep.t_sign - rep.t_cluster - rep.t_write, t1 - t0);
    av_store_close(s);
    return 0;
}

/* ---- exact all-pairs join (prefix filtering) ---- */

typedef struct tokpos {
    uint32_t tok;
    uint32_t item;
} tokpos;

static int cmp_tokpos(const void *a, const void *b)
{
    const tokpos *x = a, *y = b;
    if (x->tok != y->tok) return x->tok < y->tok ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static const uint32_t *g_rank;
static int cmp_by_rank(const void *a, const void *b)
{
    uint32_t x = g_rank[*(const uint32_t *)a], y = g_rank[*(const uint32_t *)b];
    return x < y ? -1 : x > y;
}

/* Every pair (i < j) with Jaccard >= t, as i << 32 | j in a malloc'd array. */
static uint64_t *join_all(uint32_t **sh, const uint32_t *nsh, size_t n, double t, size_t *out_n)
{
    /* token ids by value, then frequency ranks */
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += nsh[i];
    tokpos *all = av_xmalloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (uint32_t x = 0; x < nsh[i]; x++) all[k++] = (tokpos){sh[i][x], (uint32_t)i};
    qsort(all, total, sizeof *all, cmp_tokpos);
    /* per item, its tokens as dense ids */
    uint32_t **ids = av_xcalloc(n, sizeof *ids);
    uint32_t *fill = av_xcalloc(n, sizeof *fill);
    for (size_t i = 0; i < n; i++) ids[i] = av_xmalloc((nsh[i] ? nsh[i] : 1) * sizeof **ids);
    size_t ntok = 0;
    uint32_t *freq = av_xmalloc((total ? total : 1) * sizeof *freq);
    for (size_t a = 0; a < total;) {
        size_t b = a;
        while (b < total && all[b].tok == all[a].tok) b++;
        freq[ntok] = (uint32_t)(b - a);
        for (size_t c = a; c < b; c++) ids[all[c].item][fill[all[c].item]++] = (uint32_t)ntok;
        ntok++;
        a = b;
    }
    /* rank: rarest first */
    uint32_t *order = av_xmalloc((ntok ? ntok : 1) * sizeof *order), *rank = av_xmalloc((ntok ? ntok : 1) * sizeof *rank);
    for (size_t i = 0; i < ntok; i++) order[i] = (uint32_t)i;
    g_rank = freq;
    qsort(order, ntok, sizeof *order, cmp_by_rank);
    for (size_t i = 0; i < ntok; i++) rank[order[i]] = (uint32_t)i;
    g_rank = rank;
    for (size_t i = 0; i < n; i++) qsort(ids[i], nsh[i], sizeof **ids, cmp_by_rank);
    /* index the prefixes */
    k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t m = nsh[i];
        uint32_t p = m ? m - (uint32_t)ceil(t * m - 1e-9) + 1 : 0;
        if (p > m) p = m;
        for (uint32_t x = 0; x < p; x++) all[k++] = (tokpos){rank[ids[i][x]], (uint32_t)i};
    }
    qsort(all, k, sizeof *all, cmp_tokpos);
    size_t np = 0, cap = 1024;
    uint64_t *pairs = av_xmalloc(cap * sizeof *pairs);
    for (size_t a = 0; a < k;) {
        size_t b = a;
        while (b < k && all[b].tok == all[a].tok) b++;
        for (size_t x = a; x < b; x++)
            for (size_t y = x + 1; y < b; y++) {
                uint32_t i = all[x].item, j = all[y].item;
                uint32_t lo = nsh[i] < nsh[j] ? nsh[i] : nsh[j], hi = nsh[i] < nsh[j] ? nsh[j] : nsh[i];
                if ((double)lo < t * hi) continue;
                if (np == cap) pairs = av_xrealloc(pairs, (cap *= 2) * sizeof *pairs);
                pairs[np++] = ((uint64_t)i << 32) | j;
            }
        a = b;
    }
    qsort(pairs, np, sizeof *pairs, cmp_u64);
    size_t u = 0;
    for (size_t x = 0; x < np; x++) {
        if (u && pairs[u - 1] == pairs[x]) continue;
        uint32_t i = (uint32_t)(pairs[x] >> 32), j = (uint32_t)pairs[x];
        if (av_mh_jaccard(sh[i], nsh[i], sh[j], nsh[j]) >= t) pairs[u++] = pairs[x];
    }
    for (size_t i = 0; i < n; i++) free(ids[i]);
    free(ids);
    free(fill);
    free(freq);
    free(order);
    free(rank);
    free(all);
    *out_n = u;
    return pairs;
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int check(const char *dir, size_t sample, uint64_t seed)
{
    av_store *s = NULL;
    av_reader *r = NULL;
    av_iter *it = NULL;
    if (av_store_open(&s, dir, AV_OPEN_RDONLY) < 0 || av_reader_open(&r, s, 0) < 0) return die("open");
    if (av_iter_kind(&it, r, AV_PROMPT) < 0) return die("iter");
    size_t n = 0, cap = 1024;
    uint64_t row, *rows = av_xmalloc(cap * sizeof *rows), *cluster;
    uint32_t **sh, *nsh;
    while (av_iter_next(it, &row) > 0) {
        if (n == cap) rows = av_xrealloc(rows, (cap *= 2) * sizeof *rows);
        rows[n++] = row;
    }
    av_iter_free(it);
    sh = av_xcalloc(n, sizeof *sh);
    nsh = av_xcalloc(n, sizeof *nsh);
    cluster = av_xcalloc(n, sizeof *cluster);
    av_record rec, t;
    av_record_init(&rec);
    av_record_init(&t);
    av_buf text = AV_BUF_INIT, norm = AV_BUF_INIT;
    size_t untagged = 0;
    for (size_t i = 0; i < n; i++) {
        if (av_get(r, rows[i], AV_GET_TEXT, &rec) < 0) return die("get");
        av_buf_reset(&text);
        for (uint32_t k = 0; k < rec.nmsg; k++)
            if (rec.msg[k].role && !strcmp(rec.msg[k].role, "user")) {
                if (text.len) av_buf_putc(&text, '\n');
                av_buf_put(&text, rec.msg[k].text.ptr, rec.msg[k].text.len);
            }
        av_text_normalize(&norm, text.ptr ? text.ptr : "", text.len);
        av_mh_shingles(&sh[i], &nsh[i], norm.ptr, norm.len, AV_MH_NGRAM);
        /* the visible dedup tag */
        if (av_iter_refs(&it, r, rows[i]) < 0) return die("refs");
        uint64_t trow;
        while (av_iter_next(it, &trow) > 0) {
            if (av_get(r, trow, AV_GET_TEXT, &t) < 0) return die("get tag");
            const av_attr *a = t.kind == AV_TAG ? av_record_attr(&t, "dedup_cluster") : NULL;
            if (a) cluster[i] = strtoull(a->json.ptr, NULL, 10);
        }
        av_iter_free(it);
        if (!cluster[i]) untagged++;
    }
    rng_state = seed;
    size_t hi = 0, hi_found = 0, th = 0, th_found = 0, same = 0, same_ok = 0;
    double t0 = av_now();
    int all_pairs = !sample;
    if (all_pairs) {
        size_t np = 0;
        uint64_t *pairs = join_all(sh, nsh, n, 0.7, &np);
        for (size_t x = 0; x < np; x++) {
            uint32_t i = (uint32_t)(pairs[x] >> 32), j = (uint32_t)pairs[x];
            int together = cluster[i] && cluster[i] == cluster[j];
            double jac = av_mh_jaccard(sh[i], nsh[i], sh[j], nsh[j]);
            th++;
            th_found += together;
            if (jac >= 0.8) { hi++; hi_found += together; }
        }
        free(pairs);
        /* every same-cluster pair: group by cluster id */
        uint64_t *byc = av_xmalloc((n ? n : 1) * sizeof *byc);
        for (size_t i = 0; i < n; i++) byc[i] = (cluster[i] << 24) | i; /* rows < 2^40, n < 2^24 */
        qsort(byc, n, sizeof *byc, cmp_u64);
        for (size_t a = 0; a < n;) {
            size_t b = a;
            while (b < n && (byc[b] >> 24) == (byc[a] >> 24)) b++;
            for (size_t x = a; x < b; x++)
                for (size_t y = x + 1; y < b; y++) {
                    size_t i = byc[x] & 0xFFFFFF, j = byc[y] & 0xFFFFFF;
                    same++;
                    same_ok += av_mh_jaccard(sh[i], nsh[i], sh[j], nsh[j]) >= 0.7;
                }
            a = b;
        }
        free(byc);
    }
    for (size_t k = 0; !all_pairs && k < sample && n > 1; k++) {
        size_t i = (size_t)(rnd() % n);
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            /* sizes alone rule out J >= 0.7 when one set is much smaller */
            uint32_t a = nsh[i], b = nsh[j], lo = a < b ? a : b, hib = a < b ? b : a;
            int together = cluster[i] && cluster[i] == cluster[j];
            double jac = (double)lo < 0.7 * hib ? 0 : av_mh_jaccard(sh[i], nsh[i], sh[j], nsh[j]);
            if (jac >= 0.8) { hi++; hi_found += together; }
            if (jac >= 0.7) { th++; th_found += together; }
            if (together) {
                same++;
                if (!jac) jac = av_mh_jaccard(sh[i], nsh[i], sh[j], nsh[j]);
                same_ok += jac >= 0.7;
            }
        }
    }
    printf("prompts\t%zu\nuntagged\t%zu\n", n, untagged);
    if (all_pairs) printf("sample\tall pairs\n");
    else printf("sample\t%zu\n", sample);
    printf("pairs_j08\t%zu\nrecall_j08\t%.4f\n", hi, hi ? (double)hi_found / hi : 1.0);
    printf("pairs_j07\t%zu\nrecall_j07\t%.4f\n", th, th ? (double)th_found / th : 1.0);
    printf("pairs_clustered\t%zu\nprecision\t%.4f\n", same, same ? (double)same_ok / same : 1.0);
    printf("brute_force_seconds\t%.2f\n", av_now() - t0);
    for (size_t i = 0; i < n; i++) free(sh[i]);
    free(sh);
    free(nsh);
    free(cluster);
    free(rows);
    av_buf_free(&text);
    av_buf_free(&norm);
    av_record_free(&rec);
    av_record_free(&t);
    av_reader_close(r);
    av_store_close(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "load")) return load(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "dedup")) return dedup(argv[2], atoi(argv[3]));
    if (argc == 5 && !strcmp(argv[1], "check")) return check(argv[2], strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
    fprintf(stderr, "usage: dedup_bench load <store> <prompts.txt>\n       dedup_bench dedup <store> <threads>\n       dedup_bench check <store> <sample> <seed>\n");
    return 2;
}
