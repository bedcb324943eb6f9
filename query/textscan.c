/* textscan.c: `response contains "..."` and `instruction contains "..."`
 * over many units at once.
 *
 * Checked unit by unit, such a test looks each unit's text up by its hash
 * and decompresses its block: a hash lookup per unit, and the other class's
 * texts decompressed along with it. Here the texts of the field's class
 * (av_text_scan: responses' messages, or the rest) are read block by block
 * on several threads instead, and each text's hash goes into a set with
 * whether it contains the literal. The evaluator then answers from the set
 * by the unit's text hash (q_textset_lookup); a text the scan did not see
 * (stored first by a record of the other class: texts are stored once) is
 * checked the ordinary way. When the store says no text crossed classes
 * (av_texts_apart), only matching texts are hashed and noted, and a text
 * not noted does not match. */
#include "query/qint.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* One thread's texts: open addressing on the hash's first 8 bytes. */
typedef struct tset {
    av_id *key;
    uint8_t *state; /* 0 empty, 1 seen, 2 seen and contains */
    size_t cap, n;
} tset;

struct q_textset {
    tset *parts;
    int nparts;
    int apart; /* only matches were noted, and a text not noted does not match */
};

static uint64_t slot_of(const av_id *h)
{
    uint64_t v;
    memcpy(&v, h->b, 8);
    return v;
}

static void tset_put(tset *t, const av_id *h, uint8_t state);

static void tset_grow(tset *t)
{
    tset old = *t;
    t->cap = old.cap ? old.cap * 2 : 4096;
    t->key = av_xmalloc(t->cap * sizeof *t->key);
    t->state = av_xcalloc(t->cap, 1);
    t->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.state[i]) tset_put(t, &old.key[i], old.state[i]);
    free(old.key);
    free(old.state);
}

static void tset_put(tset *t, const av_id *h, uint8_t state)
{
    if ((t->n + 1) * 2 > t->cap) tset_grow(t);
    size_t i = slot_of(h) & (t->cap - 1);
    while (t->state[i]) {
        if (!memcmp(t->key[i].b, h->b, 16)) {
            if (state > t->state[i]) t->state[i] = state;
            return;
        }
        i = (i + 1) & (t->cap - 1);
    }
    t->key[i] = *h;
    t->state[i] = state;
    t->n++;
}

static int tset_get(const tset *t, const av_id *h)
{
    if (!t->cap) return 0;
    size_t i = slot_of(h) & (t->cap - 1);
    while (t->state[i]) {
        if (!memcmp(t->key[i].b, h->b, 16)) return t->state[i];
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
    int apart; /* every text of the class is in its blocks: note matches only */
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

static int on_text(void *ctx, const char *text, size_t len)
{
    slice *sl = ctx;
    int hit = contains(text, len, sl->lit, sl->len, sl->rare);
    if (!hit && sl->apart) return 0; /* not noted: absent means no match */
    av_id h;
    av_hash(&h, text, len);
    tset_put(&sl->set, &h, hit ? 2 : 1);
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
    int apart = av_texts_apart(r);
    slice *sl = av_xcalloc((size_t)threads, sizeof *sl);
    pthread_t *tid = av_xcalloc((size_t)threads, sizeof *tid);
    int started = 0, rc = 0;
    for (int i = 0; i < threads; i++) {
        sl[i] = (slice){.s = av_reader_store(r), .version = av_reader_version(r), .cls = cls, .lit = lit, .len = len,
                        .apart = apart, .rare = rare_at(lit, len)};
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
        for (int i = 0; i < threads; i++) free(sl[i].set.key), free(sl[i].set.state);
        free(sl);
        return rc;
    }
    q_textset *t = av_xcalloc(1, sizeof *t);
    t->nparts = threads;
    t->apart = apart;
    t->parts = av_xcalloc((size_t)threads, sizeof *t->parts);
    for (int i = 0; i < threads; i++) t->parts[i] = sl[i].set;
    free(sl);
    *out = t;
    return 0;
}

int q_textset_lookup(const q_textset *t, const av_id *h)
{
    for (int i = 0; i < t->nparts; i++) {
        int st = tset_get(&t->parts[i], h);
        if (st) return st == 2;
    }
    return t->apart ? 0 : -1;
}

void q_textset_free(q_textset *t)
{
    if (!t) return;
    for (int i = 0; i < t->nparts; i++) free(t->parts[i].key), free(t->parts[i].state);
    free(t->parts);
    free(t);
}
