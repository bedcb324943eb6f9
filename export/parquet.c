/* parquet.c: the Parquet writer of parquet.h.
 *
 * Layout written: "PAR1", then per row group and column one column chunk
 * (an optional dictionary page, then data pages v1), then the FileMetaData
 * in the Thrift compact protocol, its 4-byte little-endian length, "PAR1".
 *
 * Values: strings start dictionary-encoded (RLE_DICTIONARY, the dictionary
 * a PLAIN page at the head of the chunk) and fall back to PLAIN for the rest
 * of the chunk when the first page shows many distinct values or the
 * dictionary passes dict_max_bytes; numbers and booleans are PLAIN. Levels
 * use the RLE/bit-packed hybrid. Pages are cut only at row boundaries and
 * compressed with ZSTD. Costs: one pass over each value; memory is one page
 * per column plus one row group's compressed chunks. */
#include "export/parquet.h"

#include <assert.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "store/aviary.h"

/* ---- schema ------------------------------------------------------------ */

pq_node *pq_schema_new(void)
{
    pq_node *n = av_xcalloc(1, sizeof *n);
    n->kind = PQ_STRUCT;
    n->name = av_xstrdup("schema");
    return n;
}

void pq_schema_free(pq_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nchild; i++)
        pq_schema_free(n->child[i]);
    free(n->child);
    free(n->name);
    free(n);
}

static pq_node *node_add(pq_node *parent, const char *name, size_t nlen, pq_kind kind)
{
    pq_node *c = av_xcalloc(1, sizeof *c);
    c->kind = kind;
    c->nullable = 1;
    c->name = av_xstrndup(name, nlen);
    if (parent->nchild == parent->cap) {
        parent->cap = parent->cap ? parent->cap * 2 : 8;
        parent->child = av_xrealloc(parent->child, parent->cap * sizeof *parent->child);
    }
    parent->child[parent->nchild++] = c;
    return c;
}

pq_node *pq_schema_add(pq_node *parent, const char *name, pq_kind kind)
{
    if (parent->kind == PQ_LIST) {
        if (parent->nchild) {
            pq_schema_free(parent->child[0]);
            parent->nchild = 0;
        }
        pq_node *e = node_add(parent, "element", 7, kind);
        e->nullable = 0;
        return e;
    }
    return node_add(parent, name, strlen(name), kind);
}

static const char *kind_word(pq_kind k)
{
    switch (k) {
    case PQ_BOOL: return "boolean";
    case PQ_INT64: case PQ_DOUBLE: return "number";
    case PQ_STRING: return "string";
    case PQ_STRUCT: return "object";
    case PQ_LIST: return "list";
    default: return "null";
    }
}

static pq_kind value_kind(const jv *v)
{
    switch (v->type) {
    case JV_FALSE: case JV_TRUE: return PQ_BOOL;
    case JV_INT: return PQ_INT64;
    case JV_DOUBLE: return PQ_DOUBLE;
    case JV_STRING: return PQ_STRING;
    case JV_ARRAY: return PQ_LIST;
    case JV_OBJECT: return PQ_STRUCT;
    default: return PQ_UNKNOWN;
    }
}

/* path: the column path so far, for messages. */
static int infer(pq_node *n, const jv *v, av_buf *path)
{
    if (!v || v->type == JV_NULL) {
        n->nullable = 1;
        return 0;
    }
    pq_kind k = value_kind(v);
    if (n->kind == PQ_UNKNOWN) {
        n->kind = k;
    } else if (n->kind != k) {
        if ((n->kind == PQ_INT64 && k == PQ_DOUBLE) || (n->kind == PQ_DOUBLE && k == PQ_INT64)) {
            n->kind = PQ_DOUBLE;
        } else {
            return av_error_set(AV_EINVAL, "column '%s' holds both %s and %s values, which Parquet cannot store in one column",
                                path->len ? path->ptr : n->name, kind_word(n->kind), kind_word(k));
        }
    }
    size_t mark = path->len;
    int rc = 0;
    if (k == PQ_STRUCT) {
        for (uint32_t i = 0; i < v->n && rc == 0; i++) {
            const jv *m = &v->u.items[i];
            pq_node *c = NULL;
            /* Rows usually repeat the key order: try the expected field first. */
            uint32_t h = n->hint;
            if (h < n->nchild && strlen(n->child[h]->name) == m->klen && memcmp(n->child[h]->name, m->key, m->klen) == 0) {
                c = n->child[h];
            } else {
                for (size_t j = 0; j < n->nchild; j++) {
                    if (strlen(n->child[j]->name) == m->klen && memcmp(n->child[j]->name, m->key, m->klen) == 0) {
                        c = n->child[j];
                        h = (uint32_t)j;
                        break;
                    }
                }
            }
            if (!c) {
                if (memchr(m->key, 0, m->klen))
                    return av_error_set(AV_EINVAL, "a key holds a NUL character, which Parquet cannot name a column with");
                c = node_add(n, m->key, m->klen, PQ_UNKNOWN);
                h = (uint32_t)(n->nchild - 1);
            }
            n->hint = h + 1;
            if (path->len)
                av_buf_putc(path, '.');
            av_buf_put(path, m->key, m->klen);
            rc = infer(c, m, path);
            path->len = mark;
            path->ptr[mark] = 0;
        }
        n->hint = 0;
    } else if (k == PQ_LIST) {
        if (!n->nchild) {
            pq_node *e = node_add(n, "element", 7, PQ_UNKNOWN);
            e->nullable = 0;
        }
        if (!path->len)
            av_buf_puts(path, n->name);
        av_buf_puts(path, "[]");
        for (uint32_t i = 0; i < v->n && rc == 0; i++)
            rc = infer(n->child[0], &v->u.items[i], path);
        path->len = mark;
        if (path->ptr)
            path->ptr[mark] = 0;
    }
    return rc;
}

int pq_schema_infer(pq_node *root, const jv *row)
{
    if (!row || row->type != JV_OBJECT)
        return av_error_set(AV_EINVAL, "a row is not a JSON object");
    av_buf path = AV_BUF_INIT;
    int rc = infer(root, row, &path);
    av_buf_free(&path);
    return rc;
}

static int merge(pq_node *d, const pq_node *s, av_buf *path)
{
    if (s->nullable)
        d->nullable = 1;
    if (s->kind == PQ_UNKNOWN)
        return 0;
    if (d->kind == PQ_UNKNOWN) {
        d->kind = s->kind;
    } else if (d->kind != s->kind) {
        if ((d->kind == PQ_INT64 || d->kind == PQ_DOUBLE) && (s->kind == PQ_INT64 || s->kind == PQ_DOUBLE))
            d->kind = PQ_DOUBLE;
        else
            return av_error_set(AV_EINVAL, "column '%s' holds both %s and %s values, which Parquet cannot store in one column",
                                path->len ? path->ptr : d->name, kind_word(d->kind), kind_word(s->kind));
    }
    size_t mark = path->len;
    int rc = 0;
    if (s->kind == PQ_STRUCT) {
        for (size_t i = 0; i < s->nchild && rc == 0; i++) {
            const pq_node *sc = s->child[i];
            pq_node *dc = NULL;
            for (size_t j = 0; j < d->nchild && !dc; j++)
                if (strcmp(d->child[j]->name, sc->name) == 0)
                    dc = d->child[j];
            if (!dc)
                dc = node_add(d, sc->name, strlen(sc->name), PQ_UNKNOWN);
            if (path->len)
                av_buf_putc(path, '.');
            av_buf_puts(path, sc->name);
            rc = merge(dc, sc, path);
            path->len = mark;
            path->ptr[mark] = 0;
        }
    } else if (s->kind == PQ_LIST && s->nchild) {
        if (!d->nchild) {
            pq_node *e = node_add(d, "element", 7, PQ_UNKNOWN);
            e->nullable = 0;
        }
        if (!path->len)
            av_buf_puts(path, d->name);
        av_buf_puts(path, "[]");
        rc = merge(d->child[0], s->child[0], path);
        path->len = mark;
        path->ptr[mark] = 0;
    }
    return rc;
}

int pq_schema_merge(pq_node *dst, const pq_node *src)
{
    av_buf path = AV_BUF_INIT;
    int rc = merge(dst, src, &path);
    av_buf_free(&path);
    return rc;
}

static int fits(const pq_node *n, const jv *v)
{
    if (!v || v->type == JV_NULL)
        return n->nullable;
    pq_kind k = value_kind(v);
    if (n->kind != k && !(n->kind == PQ_DOUBLE && k == PQ_INT64))
        return 0;
    if (k == PQ_STRUCT) {
        for (uint32_t i = 0; i < v->n; i++) {
            const jv *m = &v->u.items[i];
            const pq_node *c = NULL;
            if (i < n->nchild && strlen(n->child[i]->name) == m->klen && memcmp(n->child[i]->name, m->key, m->klen) == 0)
                c = n->child[i];
            for (size_t j = 0; j < n->nchild && !c; j++)
                if (strlen(n->child[j]->name) == m->klen && memcmp(n->child[j]->name, m->key, m->klen) == 0)
                    c = n->child[j];
            if (!c || !fits(c, m))
                return 0;
        }
    } else if (k == PQ_LIST) {
        if (!n->nchild)
            return v->n == 0;
        for (uint32_t i = 0; i < v->n; i++)
            if (!fits(n->child[0], &v->u.items[i]))
                return 0;
    }
    return 1;
}

int pq_schema_fits(const pq_node *root, const jv *row)
{
    return row && row->type == JV_OBJECT && fits(root, row);
}

static const char *hf_dtype(pq_kind k)
{
    switch (k) {
    case PQ_BOOL: return "bool";
    case PQ_INT64: return "int64";
    case PQ_DOUBLE: return "float64";
    default: return "string";
    }
}

static void features_json(const pq_node *n, av_buf *out)
{
    if (n->kind == PQ_STRUCT) {
        av_buf_putc(out, '{');
        for (size_t i = 0; i < n->nchild; i++) {
            if (i)
                av_buf_puts(out, ", ");
            av_buf_json_str(out, n->child[i]->name, strlen(n->child[i]->name));
            av_buf_puts(out, ": ");
            features_json(n->child[i], out);
        }
        av_buf_putc(out, '}');
    } else if (n->kind == PQ_LIST) {
        av_buf_putc(out, '[');
        features_json(n->child[0], out);
        av_buf_putc(out, ']');
    } else {
        av_buf_printf(out, "{\"dtype\": \"%s\", \"_type\": \"Value\"}", hf_dtype(n->kind));
    }
}

void pq_schema_features_json(const pq_node *root, av_buf *out)
{
    features_json(root, out);
}

static void yaml_name(av_buf *out, const char *s)
{
    /* Plain YAML scalars for ordinary names; quoted otherwise. */
    int plain = *s != 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            plain = 0;
    if (plain)
        av_buf_puts(out, s);
    else
        av_buf_json_str(out, s, strlen(s));
}

static void yaml_type(const pq_node *n, av_buf *out, int indent);

static void yaml_fields(const pq_node *n, av_buf *out, int indent)
{
    for (size_t i = 0; i < n->nchild; i++) {
        av_buf_printf(out, "%*s- name: ", indent, "");
        yaml_name(out, n->child[i]->name);
        av_buf_putc(out, '\n');
        yaml_type(n->child[i], out, indent + 2);
    }
}

static void yaml_type(const pq_node *n, av_buf *out, int indent)
{
    if (n->kind == PQ_STRUCT) {
        av_buf_printf(out, "%*sstruct:\n", indent, "");
        yaml_fields(n, out, indent);
    } else if (n->kind == PQ_LIST) {
        const pq_node *e = n->child[0];
        if (e->kind == PQ_STRUCT) {
            av_buf_printf(out, "%*slist:\n", indent, "");
            yaml_fields(e, out, indent);
        } else if (e->kind == PQ_LIST) {
            av_buf_printf(out, "%*slist:\n", indent, "");
            yaml_type(e, out, indent + 2);
        } else {
            av_buf_printf(out, "%*slist: %s\n", indent, "", hf_dtype(e->kind));
        }
    } else {
        av_buf_printf(out, "%*sdtype: %s\n", indent, "", hf_dtype(n->kind));
    }
}

void pq_schema_features_yaml(const pq_node *root, av_buf *out, int indent)
{
    yaml_fields(root, out, indent);
}

/* ---- Thrift compact protocol ------------------------------------------- */

enum { TT_TRUE = 1, TT_FALSE = 2, TT_I16 = 4, TT_I32 = 5, TT_I64 = 6, TT_BINARY = 8, TT_LIST = 9, TT_STRUCT = 12 };

typedef struct tw {
    av_buf *b;
    int16_t last[32];
    int depth;
} tw;

static void put_varint(av_buf *b, uint64_t v)
{
    unsigned char tmp[10];
    int n = 0;
    do {
        unsigned char c = v & 0x7F;
        v >>= 7;
        tmp[n++] = v ? (unsigned char)(c | 0x80) : c;
    } while (v);
    av_buf_put(b, tmp, (size_t)n);
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static void tw_field(tw *t, int16_t id, int type)
{
    int delta = id - t->last[t->depth];
    if (delta > 0 && delta <= 15) {
        av_buf_putc(t->b, (char)((delta << 4) | type));
    } else {
        av_buf_putc(t->b, (char)type);
        put_varint(t->b, zigzag(id));
    }
    t->last[t->depth] = id;
}

static void tw_i32(tw *t, int16_t id, int32_t v)
{
    tw_field(t, id, TT_I32);
    put_varint(t->b, zigzag(v));
}

static void tw_i16(tw *t, int16_t id, int16_t v)
{
    tw_field(t, id, TT_I16);
    put_varint(t->b, zigzag(v));
}

static void tw_i64(tw *t, int16_t id, int64_t v)
{
    tw_field(t, id, TT_I64);
    put_varint(t->b, zigzag(v));
}

static void tw_bin(tw *t, int16_t id, const char *s, size_t n)
{
    tw_field(t, id, TT_BINARY);
    put_varint(t->b, n);
    av_buf_put(t->b, s, n);
}

static void tw_list(tw *t, int16_t id, int elem_type, size_t n)
{
    tw_field(t, id, TT_LIST);
    if (n < 15) {
        av_buf_putc(t->b, (char)((n << 4) | (size_t)elem_type));
    } else {
        av_buf_putc(t->b, (char)(0xF0 | elem_type));
        put_varint(t->b, n);
    }
}

/* A struct as a field (id > 0) or as a list element (id 0). */
static void tw_begin(tw *t, int16_t id)
{
    if (id)
        tw_field(t, id, TT_STRUCT);
    t->depth++;
    assert(t->depth < 32); /* our own structures never nest this deep */
    t->last[t->depth] = 0;
}

static void tw_end(tw *t)
{
    av_buf_putc(t->b, 0);
    t->depth--;
}

/* ---- RLE / bit-packed hybrid ------------------------------------------- */

static inline uint32_t get_val(const void *v, int w, size_t i)
{
    return w == 1 ? ((const uint8_t *)v)[i] : ((const uint32_t *)v)[i];
}

static int bit_width(uint32_t max)
{
    int w = 0;
    while (max) {
        w++;
        max >>= 1;
    }
    return w;
}

static void bitpack(av_buf *out, const void *v, int w, size_t from, size_t n, int bw)
{
    /* n is a multiple of 8, padded with zeros past the end by the caller. */
    put_varint(out, ((uint64_t)(n / 8) << 1) | 1);
    uint64_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= (uint64_t)get_val(v, w, from + i) << bits;
        bits += bw;
        while (bits >= 8) {
            av_buf_putc(out, (char)(acc & 0xFF));
            acc >>= 8;
            bits -= 8;
        }
    }
    if (bits)
        av_buf_putc(out, (char)(acc & 0xFF));
}

/* Encodes v[0..n) (elements of w bytes) with bit width bw. The scratch copy
 * pads the last bit-packed group with zeros. */
static void hybrid_encode(av_buf *out, const void *v, int w, size_t n, int bw)
{
    size_t i = 0, pend = 0; /* pending bit-packed values start at pend */
    int vbytes = (bw + 7) / 8;
    while (i < n) {
        uint32_t x = get_val(v, w, i);
        size_t run = 1;
        while (i + run < n && get_val(v, w, i + run) == x)
            run++;
        if (run >= 16 || (run >= 8 && i == pend)) {
            /* Complete a pending group of 8 from the run, then RLE the rest. */
            size_t npend = i - pend;
            size_t borrow = (8 - npend % 8) % 8;
            if (npend) {
                bitpack(out, v, w, pend, npend + borrow, bw);
                i += borrow;
                run -= borrow;
            }
            put_varint(out, (uint64_t)run << 1);
            for (int b = 0; b < vbytes; b++)
                av_buf_putc(out, (char)((x >> (8 * b)) & 0xFF));
            i += run;
            pend = i;
        } else {
            i += run;
        }
    }
    if (pend < n) {
        size_t npend = n - pend;
        size_t full = npend & ~(size_t)7;
        if (full)
            bitpack(out, v, w, pend, full, bw);
        if (npend > full) {
            uint32_t tail[8] = {0};
            for (size_t k = 0; k < npend - full; k++)
                tail[k] = get_val(v, w, pend + full + k);
            bitpack(out, tail, 4, 0, 8, bw);
        }
    }
}

/* Appends levels with a 4-byte length prefix (data page v1). */
static void put_levels(av_buf *out, const av_buf *lv, int max)
{
    size_t at = out->len;
    av_buf_put(out, "\0\0\0\0", 4);
    hybrid_encode(out, lv->ptr, 1, lv->len, bit_width((uint32_t)max));
    uint32_t n = (uint32_t)(out->len - at - 4);
    memcpy(out->ptr + at, &n, 4);
}

/* ---- columns ------------------------------------------------------------ */

enum { PT_BOOLEAN = 0, PT_INT64 = 2, PT_DOUBLE = 5, PT_BYTE_ARRAY = 6 };
enum { ENC_PLAIN = 0, ENC_RLE = 3, ENC_RLE_DICTIONARY = 8 };

typedef struct chunk_meta {
    int64_t dict_off;      /* -1 if none */
    int64_t data_off;
    int64_t uncompressed, compressed;
    int64_t nvals;
    unsigned enc;          /* bit mask of encodings used */
} chunk_meta;

typedef struct pq_col {
    const pq_node *leaf;
    const char **path;
    int depth;
    int max_def, max_rep;
    int ptype;
    /* current page */
    av_buf rep, def, vals; /* levels one byte each; vals PLAIN, or uint32 dict indices */
    uint32_t page_n, page_nonnull;
    uint64_t page_bytes;   /* plain-encoded size of the page's values and levels */
    /* dictionary (strings) */
    int dict_on;           /* values of the current page are dictionary indices */
    int dict_dead;         /* this chunk gave up on the dictionary */
    int pages_in_chunk;
    av_buf dict;           /* PLAIN entries */
    uint32_t *dict_off;    /* offset of each entry in dict */
    uint32_t ndict, dict_offcap;
    uint32_t *ht;          /* open addressing: entry index + 1 */
    size_t ht_cap;
    /* current chunk: its data pages, compressed by the worker */
    struct pq_job **jobs;
    size_t njobs, jobcap;
    int64_t chunk_uncompressed, chunk_nvals;
    unsigned chunk_enc;
    uint64_t rg_bytes;     /* plain bytes added to this row group */
} pq_col;

/* One data page on its way to the file: built by the writer's thread,
 * compressed by the worker (or inline when there is none). */
typedef struct pq_job {
    av_buf raw, comp;
    uint32_t nvals;
    size_t raw_len;
    int enc;
    int done;
    int err;
    struct pq_job *next; /* queue link */
} pq_job;

typedef struct rg_meta {
    int64_t nrows, total_bytes, total_compressed, file_offset;
    chunk_meta *cols;
} rg_meta;

struct pq_writer {
    FILE *f;
    char *path;
    const pq_node *root;
    pq_opts o;
    pq_col *cols;
    size_t ncols;
    ZSTD_CCtx *cctx;
    av_buf page, comp, hdr;
    int64_t pos;
    uint64_t rows, rg_rows;
    rg_meta *rgs;
    size_t nrg, rgcap;
    int failed;
    /* the compression worker */
    int threaded;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    pq_job *qhead, *qtail;
    size_t pending;  /* queued or being compressed */
    int stop;
    ZSTD_CCtx *wcctx; /* the worker's own context */
    pq_job *pool[8];  /* written jobs kept for reuse: their buffers are warm */
    size_t npool;
    av_buf rawpool[4]; /* page buffers back from compression (under mu) */
    size_t nraw;
};

static void collect(pq_writer *w, const pq_node *n, const char **stack, int depth, int def, int rep)
{
    if (depth > 0) {
        stack[depth - 1] = n->name;
        if (n->nullable)
            def++;
    }
    if (n->kind == PQ_STRUCT) {
        for (size_t i = 0; i < n->nchild; i++)
            collect(w, n->child[i], stack, depth + 1, def, rep);
        return;
    }
    if (n->kind == PQ_LIST) {
        stack[depth] = "list";
        collect(w, n->child[0], stack, depth + 2, def + 1, rep + 1);
        return;
    }
    w->cols = av_xrealloc(w->cols, (w->ncols + 1) * sizeof *w->cols);
    pq_col *c = &w->cols[w->ncols++];
    memset(c, 0, sizeof *c);
    c->leaf = n;
    c->depth = depth;
    c->path = av_xmalloc((size_t)depth * sizeof *c->path);
    memcpy(c->path, stack, (size_t)depth * sizeof *c->path);
    c->max_def = def;
    c->max_rep = rep;
    c->ptype = n->kind == PQ_BOOL ? PT_BOOLEAN : n->kind == PQ_INT64 ? PT_INT64 : n->kind == PQ_DOUBLE ? PT_DOUBLE : PT_BYTE_ARRAY;
    c->dict_on = c->ptype == PT_BYTE_ARRAY;
}

static int tree_depth(const pq_node *n)
{
    int d = 0;
    for (size_t i = 0; i < n->nchild; i++) {
        int x = tree_depth(n->child[i]);
        if (x > d)
            d = x;
    }
    return d + (n->kind == PQ_LIST ? 2 : 1);
}

static void *worker_main(void *arg);

/* Large pages get a window as large as the page (up to 16 MiB), so rows
 * can reuse each other's phrases, and at level 3 larger match tables than
 * the level's own (hash 2^18, chain 2^16, matches of 6 bytes and more).
 * Measured on the 50K Magpie export's pages (252.9 MB), compressed one at a
 * time: level 3 as it comes, 92.5 MB; with long distance matching, 91.5 MB
 * for 12% more time; these tables, 90.6 MB in the plain level's time. */
static size_t zparams(ZSTD_CCtx *cctx, const pq_opts *o)
{
    int wlog = bit_width((uint32_t)(o->page_bytes - 1));
    if (wlog < 20)
        return 0;
    size_t zr = ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, wlog > 24 ? 24 : wlog);
    if (o->zstd_level == 3) {
        if (!ZSTD_isError(zr))
            zr = ZSTD_CCtx_setParameter(cctx, ZSTD_c_hashLog, 18);
        if (!ZSTD_isError(zr))
            zr = ZSTD_CCtx_setParameter(cctx, ZSTD_c_chainLog, 16);
        if (!ZSTD_isError(zr))
            zr = ZSTD_CCtx_setParameter(cctx, ZSTD_c_minMatch, 6);
    }
    return zr;
}

static int io_fail(pq_writer *w)
{
    w->failed = 1;
    return av_error_set(AV_EIO, "cannot write '%s': %s", w->path, strerror(errno ? errno : EIO));
}

static int out_write(pq_writer *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->f) != n)
        return io_fail(w);
    w->pos += (int64_t)n;
    return 0;
}

int pq_writer_open(pq_writer **out, const char *path, const pq_node *root, const pq_opts *opts)
{
    *out = NULL;
    if (!root || root->kind != PQ_STRUCT || root->nchild == 0)
        return av_error_set(AV_EINVAL, "a Parquet file needs at least one column");
    pq_writer *w = av_xcalloc(1, sizeof *w);
    if (opts)
        w->o = *opts;
    if (!w->o.row_group_bytes)
        w->o.row_group_bytes = 128u << 20;
    if (!w->o.page_bytes)
        w->o.page_bytes = 8u << 20;
    if (!w->o.dict_max_bytes)
        w->o.dict_max_bytes = 1u << 20;
    if (!w->o.zstd_level)
        w->o.zstd_level = 3;
    if (!w->o.created_by)
        w->o.created_by = "aviary";
    w->root = root;
    w->path = av_xstrdup(path);
    int depth = tree_depth(root) + 1;
    const char **stack = av_xcalloc((size_t)depth, sizeof *stack);
    collect(w, root, stack, 0, 0, 0);
    free(stack);
    w->cctx = ZSTD_createCCtx();
    if (!w->cctx) {
        pq_writer_abort(w);
        return av_error_set(AV_ENOMEM, "cannot create a zstd context");
    }
    size_t zr = ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, w->o.zstd_level);
    if (!ZSTD_isError(zr))
        zr = zparams(w->cctx, &w->o);

    if (ZSTD_isError(zr)) {
        pq_writer_abort(w);
        return av_error_set(AV_ERROR, "zstd: %s", ZSTD_getErrorName(zr));
    }
    /* A second core compresses pages while this thread shreds rows. */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (w->o.threads >= 0 && (w->o.threads > 0 || ncpu > 1)) {
        w->wcctx = ZSTD_createCCtx();
        zr = w->wcctx ? ZSTD_CCtx_setParameter(w->wcctx, ZSTD_c_compressionLevel, w->o.zstd_level) : 1;
        if (w->wcctx && !ZSTD_isError(zr))
            zr = zparams(w->wcctx, &w->o);
        if (w->wcctx && !ZSTD_isError(zr)) {
            pthread_mutex_init(&w->mu, NULL);
            pthread_cond_init(&w->cv_work, NULL);
            pthread_cond_init(&w->cv_done, NULL);
            if (pthread_create(&w->thread, NULL, worker_main, w) == 0) {
                w->threaded = 1;
            } else {
                pthread_mutex_destroy(&w->mu);
                pthread_cond_destroy(&w->cv_work);
                pthread_cond_destroy(&w->cv_done);
            }
        }
        if (!w->threaded) {
            ZSTD_freeCCtx(w->wcctx);
            w->wcctx = NULL;
        }
    }
    w->f = fopen(path, "wb");
    if (!w->f) {
        int rc = av_error_set(AV_EIO, "cannot create '%s': %s", path, strerror(errno));
        pq_writer_abort(w);
        return rc;
    }
    setvbuf(w->f, NULL, _IOFBF, 1u << 20);
    if (out_write(w, "PAR1", 4) < 0) {
        pq_writer_abort(w);
        return AV_EIO;
    }
    *out = w;
    return 0;
}

uint64_t pq_writer_rows(const pq_writer *w)
{
    return w->rows;
}

/* ---- dictionary --------------------------------------------------------- */

static void dict_clear(pq_col *c)
{
    av_buf_reset(&c->dict);
    c->ndict = 0;
    if (c->ht)
        memset(c->ht, 0, c->ht_cap * sizeof *c->ht);
}

static const char *dict_entry(const pq_col *c, uint32_t i, uint32_t *len)
{
    const char *p = c->dict.ptr + c->dict_off[i];
    memcpy(len, p, 4);
    return p + 4;
}

static void ht_grow(pq_col *c)
{
    size_t cap = c->ht_cap ? c->ht_cap * 2 : 1024;
    uint32_t *ht = av_xcalloc(cap, sizeof *ht);
    for (uint32_t i = 0; i < c->ndict; i++) {
        uint32_t len;
        const char *s = dict_entry(c, i, &len);
        size_t h = (size_t)XXH3_64bits(s, len) & (cap - 1);
        while (ht[h])
            h = (h + 1) & (cap - 1);
        ht[h] = i + 1;
    }
    free(c->ht);
    c->ht = ht;
    c->ht_cap = cap;
}

static uint32_t dict_index(pq_col *c, const char *s, uint32_t len)
{
    if ((c->ndict + 1) * 2 > c->ht_cap)
        ht_grow(c);
    size_t mask = c->ht_cap - 1, h = (size_t)XXH3_64bits(s, len) & mask;
    while (c->ht[h]) {
        uint32_t elen, i = c->ht[h] - 1;
        const char *e = dict_entry(c, i, &elen);
        if (elen == len && memcmp(e, s, len) == 0)
            return i;
        h = (h + 1) & mask;
    }
    if (c->ndict == c->dict_offcap) {
        c->dict_offcap = c->dict_offcap ? c->dict_offcap * 2 : 1024;
        c->dict_off = av_xrealloc(c->dict_off, c->dict_offcap * sizeof *c->dict_off);
    }
    c->dict_off[c->ndict] = (uint32_t)c->dict.len;
    av_buf_put(&c->dict, &len, 4);
    av_buf_put(&c->dict, s, len);
    c->ht[h] = c->ndict + 1;
    return c->ndict++;
}

/* ---- pages -------------------------------------------------------------- */

/* A job with empty buffers, reused when one is at hand (fresh 8 MiB
 * buffers cost a page fault per 4 KiB). Writer's thread only. */
/* Keeps a compressed page's raw buffer for the next page (caller holds mu
 * when threaded); frees it when enough are kept. */
static void raw_put(pq_writer *w, av_buf *b)
{
    if (w->nraw < sizeof w->rawpool / sizeof w->rawpool[0] && b->ptr)
        w->rawpool[w->nraw++] = *b;
    else
        av_buf_free(b);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

static pq_job *job_get(pq_writer *w)
{
    pq_job *j = w->npool ? w->pool[--w->npool] : av_xcalloc(1, sizeof *j);
    av_buf_free(&j->raw);
    if (w->threaded)
        pthread_mutex_lock(&w->mu);
    if (w->nraw)
        j->raw = w->rawpool[--w->nraw];
    if (w->threaded)
        pthread_mutex_unlock(&w->mu);
    av_buf_reset(&j->raw);
    av_buf_reset(&j->comp);
    j->nvals = 0;
    j->raw_len = 0;
    j->enc = j->done = j->err = 0;
    j->next = NULL;
    return j;
}

static void job_put(pq_writer *w, pq_job *j)
{
    if (w->npool < sizeof w->pool / sizeof w->pool[0]) {
        w->pool[w->npool++] = j;
        return;
    }
    av_buf_free(&j->raw);
    av_buf_free(&j->comp);
    free(j);
}

/* Compresses src into dst with cctx. */
static int zcompress(ZSTD_CCtx *cctx, av_buf *dst, const av_buf *src)
{
    size_t bound = ZSTD_compressBound(src->len);
    av_buf_reset(dst);
    av_buf_grow(dst, bound);
    size_t n = ZSTD_compress2(cctx, dst->ptr, bound, src->ptr, src->len);
    if (ZSTD_isError(n))
        return av_error_set(AV_ERROR, "zstd: %s", ZSTD_getErrorName(n));
    dst->len = n;
    return 0;
}

/* Compresses w->page into w->comp. */
static int compress_page(pq_writer *w)
{
    return zcompress(w->cctx, &w->comp, &w->page);
}

/* With w->mu held: compresses the oldest queued page with cctx (the
 * worker's, or that of a thread that would otherwise wait for it: the same
 * parameters, so the same bytes). 0 if none is queued. */
static int compress_queued(pq_writer *w, ZSTD_CCtx *cctx)
{
    pq_job *j = w->qhead;
    if (!j)
        return 0;
    w->qhead = j->next;
    if (!w->qhead)
        w->qtail = NULL;
    pthread_mutex_unlock(&w->mu);
    j->err = zcompress(cctx, &j->comp, &j->raw) < 0;
    pthread_mutex_lock(&w->mu);
    raw_put(w, &j->raw);
    j->done = 1;
    w->pending--;
    pthread_cond_broadcast(&w->cv_done);
    return 1;
}

static void *worker_main(void *arg)
{
    pq_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->qhead && !w->stop)
            pthread_cond_wait(&w->cv_work, &w->mu);
        if (!compress_queued(w, w->wcctx))
            break; /* stopped, nothing queued */
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Hands a page to the worker (or compresses it now). At most a few pages
 * wait, so memory stays a few pages. */
static int submit(pq_writer *w, pq_job *j)
{
    if (!w->threaded) {
        j->err = zcompress(w->cctx, &j->comp, &j->raw) < 0;
        raw_put(w, &j->raw);
        j->done = 1;
        return j->err ? AV_ERROR : 0;
    }
    pthread_mutex_lock(&w->mu);
    while (w->pending >= 4)
        if (!compress_queued(w, w->cctx))
            pthread_cond_wait(&w->cv_done, &w->mu);
    j->next = NULL;
    if (w->qtail)
        w->qtail->next = j;
    else
        w->qhead = j;
    w->qtail = j;
    w->pending++;
    pthread_cond_signal(&w->cv_work);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

static void wait_all(pq_writer *w)
{
    if (!w->threaded)
        return;
    pthread_mutex_lock(&w->mu);
    while (w->pending)
        if (!compress_queued(w, w->cctx))
            pthread_cond_wait(&w->cv_done, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

static void page_header(pq_writer *w, int type, size_t raw, size_t comp, uint32_t nvals, int enc)
{
    av_buf_reset(&w->hdr);
    tw t = {&w->hdr, {0}, 0};
    tw_i32(&t, 1, type);
    tw_i32(&t, 2, (int32_t)raw);
    tw_i32(&t, 3, (int32_t)comp);
    if (type == 0) {
        tw_begin(&t, 5);
        tw_i32(&t, 1, (int32_t)nvals);
        tw_i32(&t, 2, enc);
        tw_i32(&t, 3, ENC_RLE);
        tw_i32(&t, 4, ENC_RLE);
        tw_end(&t);
    } else {
        tw_begin(&t, 7);
        tw_i32(&t, 1, (int32_t)nvals);
        tw_i32(&t, 2, ENC_PLAIN);
        tw_end(&t);
    }
    av_buf_putc(&w->hdr, 0);
}

/* The page's dictionary indices as PLAIN values (into dst). */
static void dict_to_plain(pq_col *c, av_buf *dst)
{
    const uint32_t *ix = (const uint32_t *)c->vals.ptr;
    size_t n = c->vals.len / 4;
    for (size_t i = 0; i < n; i++) {
        uint32_t len;
        const char *s = dict_entry(c, ix[i], &len);
        av_buf_put(dst, s - 4, (size_t)len + 4);
    }
}

/* The chunk goes on without a dictionary: the page's indices become PLAIN
 * values. */
static void dict_abandon(pq_col *c)
{
    av_buf plain = AV_BUF_INIT;
    dict_to_plain(c, &plain);
    av_buf_free(&c->vals);
    c->vals = plain;
    c->dict_on = 0;
    c->dict_dead = 1;
    dict_clear(c);
}

static int flush_page(pq_writer *w, pq_col *c)
{
    if (!c->page_n)
        return 0;
    /* The first page decides whether a dictionary pays: not when most
     * values are distinct. */
    if (c->dict_on && c->pages_in_chunk == 0 && (uint64_t)c->ndict * 2 > c->page_nonnull)
        dict_abandon(c);
    pq_job *job = job_get(w);
    av_buf *pg = &job->raw;
    av_buf_grow(pg, c->vals.len + c->rep.len / 4 + c->def.len / 4 + 64);
    if (c->max_rep)
        put_levels(pg, &c->rep, c->max_rep);
    if (c->max_def)
        put_levels(pg, &c->def, c->max_def);
    int enc = ENC_PLAIN;
    if (c->dict_on && c->ndict == 0) {
        /* Only nulls so far: nothing to look up, so the page is PLAIN. */
    } else if (c->dict_on) {
        int bw = bit_width(c->ndict ? c->ndict - 1 : 0);
        if (bw == 0)
            bw = 1;
        av_buf_putc(pg, (char)bw);
        hybrid_encode(pg, c->vals.ptr, 4, c->vals.len / 4, bw);
        enc = ENC_RLE_DICTIONARY;
    } else if (c->ptype == PT_BOOLEAN) {
        const uint8_t *b = (const uint8_t *)c->vals.ptr;
        for (size_t i = 0; i < c->vals.len; i += 8) {
            unsigned char byte = 0;
            for (size_t k = 0; k < 8 && i + k < c->vals.len; k++)
                byte |= (unsigned char)(b[i + k] << k);
            av_buf_putc(pg, (char)byte);
        }
    } else {
        av_buf_put(pg, c->vals.ptr, c->vals.len);
    }
    job->nvals = c->page_n;
    job->enc = enc;
    c->chunk_uncompressed += (int64_t)pg->len;
    if (c->njobs == c->jobcap) {
        c->jobcap = c->jobcap ? c->jobcap * 2 : 16;
        c->jobs = av_xrealloc(c->jobs, c->jobcap * sizeof *c->jobs);
    }
    c->jobs[c->njobs++] = job;
    job->raw_len = pg->len;
    c->chunk_nvals += c->page_n;
    c->chunk_enc |= 1u << enc | 1u << ENC_RLE;
    c->pages_in_chunk++;
    if (submit(w, job) < 0)
        return AV_ERROR;
    av_buf_reset(&c->rep);
    av_buf_reset(&c->def);
    av_buf_reset(&c->vals);
    c->page_n = c->page_nonnull = 0;
    c->page_bytes = 0;
    /* A dictionary that outgrew its budget stops here for this chunk. */
    if (c->dict_on && c->dict.len > w->o.dict_max_bytes) {
        c->dict_on = 0;
        c->dict_dead = 1;
    }
    return 0;
}

static int flush_row_group(pq_writer *w)
{
    if (!w->rg_rows)
        return 0;
    if (w->nrg == w->rgcap) {
        w->rgcap = w->rgcap ? w->rgcap * 2 : 8;
        w->rgs = av_xrealloc(w->rgs, w->rgcap * sizeof *w->rgs);
    }
    rg_meta *rg = &w->rgs[w->nrg++];
    memset(rg, 0, sizeof *rg);
    rg->cols = av_xcalloc(w->ncols, sizeof *rg->cols);
    rg->nrows = (int64_t)w->rg_rows;
    rg->file_offset = w->pos;
    for (size_t i = 0; i < w->ncols; i++)
        if (flush_page(w, &w->cols[i]) < 0)
            return AV_ERROR;
    wait_all(w);
    for (size_t i = 0; i < w->ncols; i++) {
        pq_col *c = &w->cols[i];
        chunk_meta *m = &rg->cols[i];
        m->dict_off = -1;
        int64_t start = w->pos;
        if (c->ndict && (c->chunk_enc & (1u << ENC_RLE_DICTIONARY))) {
            av_buf_reset(&w->page);
            av_buf_put(&w->page, c->dict.ptr, c->dict.len);
            if (compress_page(w) < 0)
                return AV_ERROR;
            page_header(w, 2, w->page.len, w->comp.len, c->ndict, ENC_PLAIN);
            m->dict_off = w->pos;
            if (out_write(w, w->hdr.ptr, w->hdr.len) < 0 || out_write(w, w->comp.ptr, w->comp.len) < 0)
                return AV_EIO;
            c->chunk_uncompressed += (int64_t)(w->hdr.len + w->page.len);
            c->chunk_enc |= 1u << ENC_PLAIN;
        }
        m->data_off = w->pos;
        for (size_t k = 0; k < c->njobs; k++) {
            pq_job *j = c->jobs[k];
            if (j->err)
                return AV_ERROR;
            page_header(w, 0, j->raw_len, j->comp.len, j->nvals, j->enc);
            if (out_write(w, w->hdr.ptr, w->hdr.len) < 0 || out_write(w, j->comp.ptr, j->comp.len) < 0)
                return AV_EIO;
            c->chunk_uncompressed += (int64_t)w->hdr.len;
            job_put(w, j);
            c->jobs[k] = NULL;
        }
        c->njobs = 0;
        m->compressed = w->pos - start;
        m->uncompressed = c->chunk_uncompressed;
        m->nvals = c->chunk_nvals;
        m->enc = c->chunk_enc;
        rg->total_bytes += m->uncompressed;
        rg->total_compressed += m->compressed;
        /* The next chunk starts afresh, dictionary included. */
        c->chunk_uncompressed = c->chunk_nvals = 0;
        c->chunk_enc = 0;
        c->pages_in_chunk = 0;
        c->rg_bytes = 0;
        dict_clear(c);
        c->dict_on = c->ptype == PT_BYTE_ARRAY;
        c->dict_dead = 0;
    }
    w->rg_rows = 0;
#ifdef __GLIBC__
    /* the row group's buffers go back to the system, not to a thread's
     * malloc arena where the next row group may not reuse them */
    malloc_trim(0);
#endif
    return 0;
}

/* ---- shredding ------------------------------------------------------------ */

typedef struct shred_ctx {
    pq_writer *w;
    size_t col; /* next leaf column, in schema order */
    int bad;
} shred_ctx;

static void put_level(pq_col *c, int r, int d)
{
    if (c->max_rep)
        av_buf_putc(&c->rep, (char)r);
    if (c->max_def)
        av_buf_putc(&c->def, (char)d);
    c->page_n++;
    c->page_bytes += 2;
}

static size_t count_leaves(const pq_node *n)
{
    if (n->kind == PQ_STRUCT) {
        size_t k = 0;
        for (size_t i = 0; i < n->nchild; i++)
            k += count_leaves(n->child[i]);
        return k;
    }
    if (n->kind == PQ_LIST)
        return count_leaves(n->child[0]);
    return 1;
}

/* Null (or an empty list) at every leaf under n, starting at column col. */
static void put_nulls(shred_ctx *s, size_t col, size_t nleaves, int r, int d)
{
    for (size_t i = 0; i < nleaves; i++)
        put_level(&s->w->cols[col + i], r, d);
}

static void put_value(shred_ctx *s, pq_col *c, const jv *v, int r, int d)
{
    switch (c->ptype) {
    case PT_BOOLEAN:
        if (v->type != JV_TRUE && v->type != JV_FALSE) {
            s->bad = 1;
            return;
        }
        av_buf_putc(&c->vals, v->type == JV_TRUE);
        c->page_bytes += 1;
        break;
    case PT_INT64:
        if (v->type != JV_INT) {
            s->bad = 1;
            return;
        }
        av_buf_put(&c->vals, &v->u.i, 8);
        c->page_bytes += 8;
        break;
    case PT_DOUBLE: {
        double x;
        if (v->type == JV_INT)
            x = (double)v->u.i;
        else if (v->type == JV_DOUBLE)
            x = v->u.d;
        else {
            s->bad = 1;
            return;
        }
        av_buf_put(&c->vals, &x, 8);
        c->page_bytes += 8;
        break;
    }
    default:
        if (v->type != JV_STRING) {
            s->bad = 1;
            return;
        }
        if (c->dict_on) {
            uint32_t ix = dict_index(c, v->u.s, v->n);
            av_buf_put(&c->vals, &ix, 4);
        } else {
            uint32_t len = v->n;
            av_buf_put(&c->vals, &len, 4);
            av_buf_put(&c->vals, v->u.s, v->n);
        }
        c->page_bytes += 4 + (uint64_t)v->n;
        break;
    }
    c->page_nonnull++;
    put_level(c, r, d);
    /* Mostly distinct strings (texts, ids) give up on the dictionary early,
     * before hashing a whole page of them. */
    if (c->dict_on && c->pages_in_chunk == 0 && c->page_nonnull == 1024 && c->ndict > 512)
        dict_abandon(c);
}

/* Shreds v (NULL = missing) for node n whose leaves start at s->col.
 * r: repetition level for the first value; d: definition level of the
 * parent; rn: repetition level of n's nearest repeated ancestor. */
static void shred(shred_ctx *s, const pq_node *n, const jv *v, int r, int d, int rn)
{
    size_t col = s->col;
    size_t nleaves = count_leaves(n);
    if (!v || v->type == JV_NULL) {
        if (!n->nullable)
            s->bad = 1;
        put_nulls(s, col, nleaves, r, d);
        s->col = col + nleaves;
        return;
    }
    int dd = d + (n->nullable ? 1 : 0);
    switch (n->kind) {
    case PQ_STRUCT:
        if (v->type != JV_OBJECT) {
            s->bad = 1;
            put_nulls(s, col, nleaves, r, d);
            s->col = col + nleaves;
            return;
        }
        for (size_t i = 0; i < n->nchild; i++) {
            const pq_node *f = n->child[i];
            const jv *m = NULL;
            /* Members usually come in schema order. */
            if (i < v->n && strlen(f->name) == v->u.items[i].klen && memcmp(f->name, v->u.items[i].key, v->u.items[i].klen) == 0)
                m = &v->u.items[i];
            else
                m = jv_get(v, f->name);
            shred(s, f, m, r, dd, rn);
        }
        return;
    case PQ_LIST:
        if (v->type != JV_ARRAY) {
            s->bad = 1;
            put_nulls(s, col, nleaves, r, d);
            s->col = col + nleaves;
            return;
        }
        if (v->n == 0) {
            put_nulls(s, col, nleaves, r, dd);
            s->col = col + nleaves;
            return;
        }
        for (uint32_t i = 0; i < v->n; i++) {
            s->col = col;
            shred(s, n->child[0], &v->u.items[i], i == 0 ? r : rn + 1, dd + 1, rn + 1);
        }
        s->col = col + nleaves;
        return;
    default:
        put_value(s, &s->w->cols[col], v, r, dd);
        s->col = col + 1;
        return;
    }
}

int pq_writer_add(pq_writer *w, const jv *row)
{
    if (w->failed)
        return av_error_set(AV_ERROR, "the Parquet writer failed earlier");
    if (!row || row->type != JV_OBJECT)
        return av_error_set(AV_EINVAL, "a row is not a JSON object");
    shred_ctx s = {w, 0, 0};
    /* The root is required: its fields start at definition level 0. */
    for (size_t i = 0; i < w->root->nchild; i++) {
        const pq_node *f = w->root->child[i];
        const jv *m = (i < row->n && strlen(f->name) == row->u.items[i].klen &&
                       memcmp(f->name, row->u.items[i].key, row->u.items[i].klen) == 0)
                          ? &row->u.items[i]
                          : jv_get(row, f->name);
        shred(&s, f, m, 0, 0, 0);
    }
    if (s.bad) {
        /* Levels were written for the row; the file would be inconsistent. */
        w->failed = 1;
        return av_error_set(AV_EINVAL, "row %llu does not fit the Parquet schema inferred from the rows",
                            (unsigned long long)w->rows + 1);
    }
    w->rows++;
    w->rg_rows++;
    uint64_t total = 0;
    for (size_t i = 0; i < w->ncols; i++) {
        pq_col *c = &w->cols[i];
        total += c->rg_bytes + c->page_bytes;
        if (c->page_bytes >= w->o.page_bytes) {
            c->rg_bytes += c->page_bytes;
            if (flush_page(w, c) < 0)
                return w->failed = 1, AV_ERROR;
        }
    }
    if (total >= w->o.row_group_bytes && flush_row_group(w) < 0)
        return w->failed = 1, AV_EIO;
    return 0;
}

/* ---- footer --------------------------------------------------------------- */

static void schema_elems(tw *t, const pq_node *n, int is_root, size_t *count)
{
    if (is_root) {
        tw_begin(t, 0);
        tw_bin(t, 4, "schema", 6);
        tw_i32(t, 5, (int32_t)n->nchild);
        tw_end(t);
        (*count)++;
        for (size_t i = 0; i < n->nchild; i++)
            schema_elems(t, n->child[i], 0, count);
        return;
    }
    tw_begin(t, 0);
    if (n->kind == PQ_STRUCT) {
        tw_i32(t, 3, n->nullable ? 1 : 0);
        tw_bin(t, 4, n->name, strlen(n->name));
        tw_i32(t, 5, (int32_t)n->nchild);
        tw_end(t);
        (*count)++;
        for (size_t i = 0; i < n->nchild; i++)
            schema_elems(t, n->child[i], 0, count);
        return;
    }
    if (n->kind == PQ_LIST) {
        tw_i32(t, 3, n->nullable ? 1 : 0);
        tw_bin(t, 4, n->name, strlen(n->name));
        tw_i32(t, 5, 1);
        tw_i32(t, 6, 3); /* ConvertedType LIST */
        tw_begin(t, 10); /* LogicalType */
        tw_begin(t, 3);  /* LIST: ListType {} */
        tw_end(t);
        tw_end(t);
        tw_end(t);
        tw_begin(t, 0);
        tw_i32(t, 3, 2); /* REPEATED */
        tw_bin(t, 4, "list", 4);
        tw_i32(t, 5, 1);
        tw_end(t);
        *count += 2;
        schema_elems(t, n->child[0], 0, count);
        return;
    }
    int pt = n->kind == PQ_BOOL ? PT_BOOLEAN : n->kind == PQ_INT64 ? PT_INT64 : n->kind == PQ_DOUBLE ? PT_DOUBLE : PT_BYTE_ARRAY;
    tw_i32(t, 1, pt);
    tw_i32(t, 3, n->nullable ? 1 : 0);
    tw_bin(t, 4, n->name, strlen(n->name));
    if (pt == PT_BYTE_ARRAY) {
        tw_i32(t, 6, 0); /* ConvertedType UTF8 */
        tw_begin(t, 10);
        tw_begin(t, 1); /* STRING: StringType {} */
        tw_end(t);
        tw_end(t);
    }
    tw_end(t);
    (*count)++;
}

static size_t schema_count(const pq_node *n)
{
    size_t k = 1;
    if (n->kind == PQ_LIST)
        k++;
    for (size_t i = 0; i < n->nchild; i++)
        k += schema_count(n->child[i]);
    return k;
}

static void footer(pq_writer *w, av_buf *b)
{
    tw t = {b, {0}, 0};
    tw_i32(&t, 1, 1);
    tw_list(&t, 2, TT_STRUCT, schema_count(w->root));
    size_t count = 0;
    schema_elems(&t, w->root, 1, &count);
    tw_i64(&t, 3, (int64_t)w->rows);
    tw_list(&t, 4, TT_STRUCT, w->nrg);
    for (size_t g = 0; g < w->nrg; g++) {
        rg_meta *rg = &w->rgs[g];
        tw_begin(&t, 0);
        tw_list(&t, 1, TT_STRUCT, w->ncols);
        for (size_t i = 0; i < w->ncols; i++) {
            pq_col *c = &w->cols[i];
            chunk_meta *m = &rg->cols[i];
            tw_begin(&t, 0);
            tw_i64(&t, 2, m->dict_off >= 0 ? m->dict_off : m->data_off);
            tw_begin(&t, 3);
            tw_i32(&t, 1, c->ptype);
            int nenc = 0;
            for (int e = 0; e < 32; e++)
                nenc += (m->enc >> e) & 1;
            tw_list(&t, 2, TT_I32, (size_t)nenc);
            for (int e = 0; e < 32; e++)
                if ((m->enc >> e) & 1)
                    put_varint(b, zigzag(e));
            tw_list(&t, 3, TT_BINARY, (size_t)c->depth);
            for (int k = 0; k < c->depth; k++) {
                put_varint(b, strlen(c->path[k]));
                av_buf_puts(b, c->path[k]);
            }
            tw_i32(&t, 4, 6); /* ZSTD */
            tw_i64(&t, 5, m->nvals);
            tw_i64(&t, 6, m->uncompressed);
            tw_i64(&t, 7, m->compressed);
            tw_i64(&t, 9, m->data_off);
            if (m->dict_off >= 0)
                tw_i64(&t, 11, m->dict_off);
            tw_end(&t);
            tw_end(&t);
        }
        tw_i64(&t, 2, rg->total_bytes);
        tw_i64(&t, 3, rg->nrows);
        tw_i64(&t, 5, rg->file_offset);
        tw_i64(&t, 6, rg->total_compressed);
        tw_i16(&t, 7, (int16_t)(g < 32767 ? g : 32767));
        tw_end(&t);
    }
    /* key_value_metadata: the `datasets` features. */
    av_buf kv = AV_BUF_INIT;
    av_buf_puts(&kv, "{\"info\": {\"features\": ");
    pq_schema_features_json(w->root, &kv);
    av_buf_puts(&kv, "}}");
    tw_list(&t, 5, TT_STRUCT, 1);
    tw_begin(&t, 0);
    tw_bin(&t, 1, "huggingface", 11);
    tw_bin(&t, 2, kv.ptr, kv.len);
    tw_end(&t);
    av_buf_free(&kv);
    tw_bin(&t, 6, w->o.created_by, strlen(w->o.created_by));
    av_buf_putc(b, 0);
}

int pq_writer_close(pq_writer *w, uint64_t *out_bytes)
{
    int rc = 0;
    if (w->failed) {
        pq_writer_abort(w);
        return av_error_set(AV_ERROR, "the Parquet writer failed earlier");
    }
    if ((rc = flush_row_group(w)) < 0) {
        pq_writer_abort(w);
        return rc;
    }
    av_buf b = AV_BUF_INIT;
    footer(w, &b);
    uint32_t flen = (uint32_t)b.len;
    if (out_write(w, b.ptr, b.len) < 0 || out_write(w, &flen, 4) < 0 || out_write(w, "PAR1", 4) < 0) {
        av_buf_free(&b);
        pq_writer_abort(w);
        return AV_EIO;
    }
    av_buf_free(&b);
    FILE *f = w->f;
    w->f = NULL;
    errno = 0;
    if (fflush(f) != 0 || ferror(f)) {
        rc = av_error_set(AV_EIO, "cannot write '%s': %s", w->path, strerror(errno ? errno : EIO));
        fclose(f);
    } else if (fclose(f) != 0) {
        rc = av_error_set(AV_EIO, "cannot write '%s': %s", w->path, strerror(errno ? errno : EIO));
    }
    if (out_bytes)
        *out_bytes = (uint64_t)w->pos;
    pq_writer_abort(w);
    return rc;
}

void pq_writer_abort(pq_writer *w)
{
    if (!w)
        return;
    if (w->threaded) {
        pthread_mutex_lock(&w->mu);
        w->stop = 1;
        pthread_cond_broadcast(&w->cv_work);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv_work);
        pthread_cond_destroy(&w->cv_done);
        ZSTD_freeCCtx(w->wcctx);
        w->threaded = 0;
    }
    if (w->f)
        fclose(w->f);
    for (size_t i = 0; i < w->ncols; i++) {
        pq_col *c = &w->cols[i];
        free(c->path);
        av_buf_free(&c->rep);
        av_buf_free(&c->def);
        av_buf_free(&c->vals);
        av_buf_free(&c->dict);
        for (size_t k = 0; k < c->njobs; k++) {
            if (c->jobs[k]) {
                av_buf_free(&c->jobs[k]->raw);
                av_buf_free(&c->jobs[k]->comp);
                free(c->jobs[k]);
            }
        }
        free(c->jobs);
        free(c->dict_off);
        free(c->ht);
    }
    free(w->cols);
    for (size_t k = 0; k < w->nraw; k++)
        av_buf_free(&w->rawpool[k]);
    for (size_t k = 0; k < w->npool; k++) {
        av_buf_free(&w->pool[k]->raw);
        av_buf_free(&w->pool[k]->comp);
        free(w->pool[k]);
    }
    for (size_t g = 0; g < w->nrg; g++)
        free(w->rgs[g].cols);
    free(w->rgs);
    ZSTD_freeCCtx(w->cctx);
    av_buf_free(&w->page);
    av_buf_free(&w->comp);
    av_buf_free(&w->hdr);
    free(w->path);
    free(w);
}
