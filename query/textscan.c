/* textscan.c: `response contains "..."` and `instruction contains "..."`
 * over many units at once.
 *
 * Checked unit by unit, such a test loads each unit's text from its place
 * and decompresses its frame, the other class's texts decompressed along
 * with it when they share frames. Here the texts of the field's class
 * (av_text_scan: responses' messages, or the rest) are read block by block
 * on several threads instead, and the places of those that contain the
 * literal go into a set. The evaluator then answers from the set by the
 * unit's text place (q_textset_lookup): a text in a block of the scanned
 * class was seen, so it matches exactly when it is in the set; a text in
 * the other class's blocks (stored first by a record of the other kind:
 * texts are stored once) is checked the ordinary way. */
#include "query/qint.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* One thread's matching places: open addressing. */
typedef struct tset {
    uint64_t *key; /* 0: empty (no text is at place 0) */
    size_t cap, n;
} tset;

struct q_textset {
    tset *parts;
    int nparts;
    int cls; /* the class scanned */
};

static size_t slot_of(uint64_t loc, size_t cap)
{
    return (size_t)((loc * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

static void tset_put(tset *t, uint64_t loc);

static void tset_grow(tset *t)
{
    tset old = *t;
    t->cap = old.cap ? old.cap * 2 : 4096;
    t->key = av_xcalloc(t->cap, sizeof *t->key);
    t->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.key[i]) tset_put(t, old.key[i]);
    free(old.key);
}

static void tset_put(tset *t, uint64_t loc)
{
    if ((t->n + 1) * 2 > t->cap) tset_grow(t);
    size_t i = slot_of(loc, t->cap);
    while (t->key[i]) {
        if (t->key[i] == loc) return;
        i = (i + 1) & (t->cap - 1);
    }
    t->key[i] = loc;
    t->n++;
}

static int tset_has(const tset *t, uint64_t loc)
{
    if (!t->cap) return 0;
    size_t i = slot_of(loc, t->cap);
    while (t->key[i]) {
        if (t->key[i] == loc) return 1;
        i = (i + 1) & (t->cap - 1);
    }
    return 0;
}

typedef struct slice {
    av_store *s;
    uint32_t version;
    int cls;
    uint64_t lo, hi;
    const char *lit;
    size_t len;
    size_t rare; /* where in lit its rarest byte is */
    tset set;
    int rc;
    char err[256];
} slice;

/* The position in lit of its rarest byte, by English letter frequency
 * (spaces and common letters are poor anchors for memchr, digits and
 * punctuation good ones). */
static size_t rare_at(const char *lit, size_t n)
{
    static const char common[] = " etaoinshrdlcumwfgypbvkjxqz";
    size_t best = 0;
    int best_score = -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)lit[i];
        const char *f = c ? strchr(common, c >= 'A' && c <= 'Z' ? c + 32 : c) : NULL;
        int score = f ? (int)(f - common) + (c >= 'A' && c <= 'Z' ? 27 : 0) : 60;
        if (c == '\n' || c == '\t') score = 0;
        if (score > best_score) best_score = score, best = i;
    }
    return best;
}

/* Whether lit occurs in hay: memchr for its rarest byte, then a compare
 * (glibc's memchr scans many bytes a cycle; memmem's general algorithm
 * does not). */
static int contains(const char *hay, size_t n, const char *lit, size_t m, size_t k)
{
    if (m > n) return 0;
    const char *p = hay + k, *end = hay + (n - m) + k + 1;
    unsigned char c = (unsigned char)lit[k];
    while (p < end && (p = memchr(p, c, (size_t)(end - p)))) {
        if (!memcmp(p - k, lit, m)) return 1;
        p++;
    }
    return 0;
}

static int on_text(void *ctx, const char *text, size_t len, uint64_t loc)
{
    slice *sl = ctx;
    if (contains(text, len, sl->lit, sl->len, sl->rare)) tset_put(&sl->set, loc);
    return 0;
}

static void *slice_main(void *arg)
{
    slice *sl = arg;
    av_reader *r;
    sl->rc = av_reader_open(&r, sl->s, sl->version);
    if (sl->rc == 0) {
        sl->rc = av_text_scan(r, sl->cls, sl->lo, sl->hi, on_text, sl);
        av_reader_close(r);
    }
    if (sl->rc < 0) snprintf(sl->err, sizeof sl->err, "%s", av_errmsg());
    return NULL;
}

int q_textset_build(q_textset **out, av_reader *r, int cls, const char *lit, size_t len, int threads)
{
    *out = NULL;
    if (threads < 1) threads = 1;
    if (threads > 8) threads = 8;
    uint64_t end = av_text_block_end(r), per = (end - 1 + (uint64_t)threads - 1) / (uint64_t)threads;
    slice *sl = av_xcalloc((size_t)threads, sizeof *sl);
    pthread_t *tid = av_xcalloc((size_t)threads, sizeof *tid);
    int started = 0, rc = 0;
    for (int i = 0; i < threads; i++) {
        sl[i] = (slice){.s = av_reader_store(r), .version = av_reader_version(r), .cls = cls, .lit = lit, .len = len,
                        .rare = rare_at(lit, len)};
        sl[i].lo = 1 + per * (uint64_t)i;
        sl[i].hi = sl[i].lo + per < end ? sl[i].lo + per : end;
        /* every slice on a thread of its own: the caller's thread may hold
         * a transaction (a writer's reader), and LMDB allows one a thread */
        if (pthread_create(&tid[i], NULL, slice_main, &sl[i]) != 0) {
            rc = av_error_set(AV_ERROR, "cannot start a text scan thread");
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
    for (int i = 0; i < started && rc == 0; i++)
        if (sl[i].rc < 0) rc = av_error_set(sl[i].rc, "%s", sl[i].err);
    free(tid);
    if (rc < 0) {
        for (int i = 0; i < threads; i++) free(sl[i].set.key);
        free(sl);
        return rc;
    }
    q_textset *t = av_xcalloc(1, sizeof *t);
    t->nparts = threads;
    t->cls = cls;
    t->parts = av_xcalloc((size_t)threads, sizeof *t->parts);
    for (int i = 0; i < threads; i++) t->parts[i] = sl[i].set;
    free(sl);
    *out = t;
    return 0;
}

int q_textset_lookup(const q_textset *t, uint64_t loc)
{
    if (!loc || av_loc_class(loc) != t->cls) return -1;
    for (int i = 0; i < t->nparts; i++)
        if (tset_has(&t->parts[i], loc)) return 1;
    return 0;
}

void q_textset_free(q_textset *t)
{
    if (!t) return;
    for (int i = 0; i < t->nparts; i++) free(t->parts[i].key);
    free(t->parts);
    free(t);
}
