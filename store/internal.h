/* internal.h: what the store's own files share and nothing outside store/
 * may include: the LMDB keyspace, the record codec, the text store and the
 * reader/writer structures.
 *
 * Keyspace (one LMDB environment, named databases; store format 5):
 *   meta    "format" -> magic + format version; "head" -> u32;
 *           "next_row"/"next_block"/"next_sym" -> u64 (never reused);
 *           "texts" -> stats; "dict_cur"/"dict_at" -> the writers'
 *           dictionary; "gc" -> what the last gc packed with (gc.c)
 *   rec     row (u64 BE) -> encoded record (codec.c); a long value is
 *           named by its place (block, class, offset), so reading a record's
 *           texts needs no lookup by hash
 *   cid     content id's first 8 bytes (all 16 for a second id with those
 *           8) -> row (varint) (shortkey.c)
 *   txt     text hash's first 8 bytes (or 16, likewise) -> block and class,
 *           offset, length (varints): what writers store each text once by
 *   blk     block (u64 BE) -> block header, lengths, zstd frames (text.c)
 *   dict    dictionary id (u32 BE) -> zstd dictionary
 *   idx     term + first row (u64 BE) -> a chunk of ascending row ids, gaps
 *           as varints and runs (index.c)
 *   pch     first row (u64 BE) -> a writer's provenance links of its own
 *           rows, in a chunk (prov.c)
 *   rch     first target row (u64 BE) -> the references to a writer's new
 *           rows, in a chunk (refs.c)
 *   prov    row + source row + line (3 x u64 BE) -> version (u32 BE)
 *   tgl     row + version (u64 BE, u32 BE) -> "" : retract/restore toggles
 *   evt     version + seq (u32 BE x2) -> event (links, toggles) for diff/dump
 *   commit  version (u32 BE) -> encoded commit
 *   label   name -> version (u32 BE)
 *   aux     namespace NUL key -> value (modules' own data)
 *   undo    seq (u64 BE) -> keys written by the uncommitted writer
 *   sym     's' + bytes -> id (u32 BE); 'i' + id -> bytes: interned attribute
 *           keys, repeated short values and key sets (records store the id)
 *   col     chunk (u64 BE) -> each row's kind and ref[0] (column.c)
 */
#ifndef AV_STORE_INTERNAL_H
#define AV_STORE_INTERNAL_H

#include "store/aviary.h"
#include "util/util.h"

#include <lmdb.h>
#include <stdatomic.h>

enum av_dbi {
    DBI_META, DBI_REC, DBI_CID, DBI_TXT, DBI_BLK, DBI_DICT, DBI_IDX, DBI_PROV,
    DBI_TGL, DBI_EVT, DBI_COMMIT, DBI_LABEL, DBI_AUX, DBI_UNDO, DBI_SYM, DBI_COL, DBI_PCH, DBI_RCH, DBI_COUNT
};

#define AV_INLINE_MAX 48      /* values up to this many bytes live in the record */
#ifndef AV_BLOCK_RAW
#define AV_BLOCK_RAW (256 * 1024) /* texts are stored in blocks of about this size (one LMDB value) */
#endif
#ifndef AV_FRAME_RAW
#define AV_FRAME_RAW 4096     /* ... in frames of about this size, each decompressible alone */
#endif
#ifndef AV_FRAME_RAW_RESPONSE
#define AV_FRAME_RAW_RESPONSE 8192 /* (responses' texts: larger, being mostly scanned whole) */
#endif
#ifndef AV_ZSTD_LEVEL
#define AV_ZSTD_LEVEL 3
#endif
#ifndef AV_DICT_SIZE
#define AV_DICT_SIZE (256 * 1024)
#endif
#define AV_DICT_FIRST (4u << 20) /* train the first dictionary after this many text bytes */

struct av_store {
    MDB_env *env;
    MDB_dbi dbi[DBI_COUNT];
    char *dir;
    unsigned flags;
    int lock_fd;        /* the writer lock file, open while a writer lives */
    int users_fd;       /* users.lock, held shared while the store is open (-1: none) */
    atomic_int nreaders; /* open readers of this process (map growth waits for 0) */
    atomic_uint lookups; /* record and text reads, for av_store_touch */
    _Atomic(uintptr_t) map_lo; /* where LMDB's map is, once found (av_store_release_map) */
    _Atomic(size_t) map_len;   /* 0: not known (or moved) */
    size_t mapsize;
};

/* ---- little helpers (codec.c) ---- */
static inline void av_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}
static inline uint64_t av_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}
static inline void av_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}
static inline uint32_t av_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
void av_put_varint(av_buf *b, uint64_t v);
/* Reads a varint at *p (< end); returns 0 on success, -1 on truncation. */
int av_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out);

/* An LMDB error as an av error with context. */
int av_mdb_error(int rc, const char *what);

/* ---- record codec (codec.c) ---- */

/* Symbols: attribute keys and repeated short values are stored as ids. */
typedef struct av_symtab {
    /* id -> bytes, loaded lazily from the sym table */
    char **str;
    uint32_t *len;
    size_t cap;
} av_symtab;
/* The bytes of symbol id (from the table or LMDB); NULL if unknown. */
const char *av_sym_get(av_store *s, MDB_txn *txn, av_symtab *t, uint32_t id, size_t *len);
void av_symtab_free(av_symtab *t);

/* Asks the writer for a symbol id for a key (always) or a short value
 * (0 = keep it inline). */
typedef uint32_t (*av_sym_fn)(void *ctx, const char *s, size_t n, int is_key);

/* Encodes rec (whose values' hashes are set, long values flagged by
 * ptr/len > AV_INLINE_MAX) into b. */
void av_record_encode(av_buf *b, const av_record *rec, av_sym_fn sym, void *ctx);
/* Decodes data into rec (rec's memory reused). AV_ECORRUPT on bad data. */
int av_record_decode(av_record *rec, uint64_t row, const void *data, size_t len, av_store *s, MDB_txn *txn,
                     av_symtab *syms, int hash);
/* The content id of rec given the content ids of its refs and model. */
void av_record_cid(av_id *out, const av_record *rec, const av_id ref_cids[3], const av_id *model_cid);
/* Copies a string into the record's own memory (for av_load results). */
const char *av_record_keep(av_record *rec, const char *s, size_t n);

/* A quoted lowercase UUID ("8-4-4-4-12" hex digits, 38 bytes of JSON) as 16
 * bytes and back (records and index terms keep such values so). */
#define AV_UUID_JSON 38
int av_uuid_pack(const char *s, size_t n, uint8_t out[16]);
void av_uuid_unpack(char out[AV_UUID_JSON], const uint8_t in[16]);

/* ---- text store (text.c) ---- */
/* A `cid` entry's value (store format 4): the record's row as a varint, 1-9
 * bytes where format 3 took 8. av_cid_row: 0, or AV_ECORRUPT. */
size_t av_cid_pack(uint8_t out[10], uint64_t row);
int av_cid_row(const void *p, size_t n, uint64_t *row);

/* A text's place (av_val.loc): block << 33 | class << 32 | raw offset in
 * the block. Block ids start at 1, so 0 is no place. */
static inline uint64_t av_loc_make(uint64_t block, int cls, uint32_t off)
{
    return block << 33 | (uint64_t)(cls != 0) << 32 | off;
}
static inline uint64_t av_loc_block(uint64_t loc) { return loc >> 33; }
static inline uint32_t av_loc_off(uint64_t loc) { return (uint32_t)loc; }
/* A txt entry (text hash -> where the text is) on disk, store format 4:
 * varint (block << 1 | class), varint offset, varint length; 3 to 15 bytes
 * (format 3 gave every entry 16). */
#define AV_TXT_MAX 20
size_t av_txt_pack(uint8_t out[AV_TXT_MAX], uint64_t loc, uint32_t len);
/* The place and length a txt entry gives; AV_ECORRUPT if it is not one. */
int av_txt_unpack(const void *p, size_t n, uint64_t *loc, uint32_t *len);
typedef struct av_blockcache av_blockcache;
av_blockcache *av_blockcache_new(void);
void av_blockcache_free(av_blockcache *c);
/* The len bytes stored at loc (a record's av_val.loc), without copying:
 * *out points into the cache, valid until the cache's next load (not
 * NUL-terminated). How records' texts are read. */
int av_text_at(av_store *s, MDB_txn *txn, av_blockcache *cache, uint64_t loc, size_t len, const char **out);
/* The text with that hash (found through the txt table), copied into a
 * malloc'd NUL-terminated buffer (av_text_get). */
int av_text_fetch(av_store *s, MDB_txn *txn, av_blockcache *cache, const av_id *hash, char **out, size_t *out_len);
/* A block under construction. */
typedef struct av_block_builder {
    av_buf raw;      /* concatenated texts */
    av_buf hdr;      /* per text: length (u32 BE) */
    uint32_t ntexts;
    int cls;         /* AV_TEXTS_RESPONSE or 0 */
} av_block_builder;
/* Calls fn for each text in the blocks of class cls with ids in [lo, hi). */
int av_text_scan_blocks(av_store *s, MDB_txn *txn, av_blockcache *c, int cls, uint64_t lo, uint64_t hi,
                        av_text_fn fn, void *ctx);
/* A zstd compression context with its prepared dictionary. */
typedef struct av_compressor av_compressor;
av_compressor *av_compressor_new(void);
void av_compressor_free(av_compressor *z);
/* Compresses the builder into a block value (with dictionary dict, may be
 * NULL) into out. */
int av_block_seal(av_compressor *z, av_buf *out, av_block_builder *bb, uint32_t dict_id, const void *dict,
                  size_t dict_len);
/* Trains a dictionary from samples; returns its size or 0 when training
 * fails (too few samples: the caller goes on without one). */
size_t av_dict_train(void *dict, size_t cap, const void *samples, const size_t *sizes, unsigned n);

/* Repacking (gc.c): a block's frames compressed again at a level, with a
 * new dictionary (dict_len > 0) or each block's own. */
typedef struct av_repacker av_repacker;
av_repacker *av_repacker_new(int level, uint32_t dict_id, const void *dict, size_t dict_len);
void av_repacker_free(av_repacker *z);
/* Block id's value old, its texts and frames the same, compressed again
 * into out. */
int av_block_repack(av_store *s, MDB_txn *txn, av_blockcache *c, av_repacker *z, uint64_t id, const MDB_val *old,
                    av_buf *out);
/* The raw bytes of class cls's texts, from the block headers. */
int av_text_class_bytes(av_store *s, MDB_txn *txn, int cls, uint64_t *out);
/* Up to want bytes of class cls's texts (class_bytes of them in all) as
 * training samples, from every k-th block, so from the whole store. */
int av_text_sample(av_store *s, MDB_txn *txn, av_blockcache *c, int cls, uint64_t class_bytes, size_t want,
                   av_buf *samples, size_t **sizes, unsigned *n);

/* ---- index postings (index.c) ---- */
/* Appends the term bytes of each kind of index to b. */
void av_term_kind(av_buf *b, av_kind k);
void av_term_row(av_buf *b, char type, uint64_t row); /* 'm' model, 's' source, 'r' ref */
void av_term_attr(av_buf *b, const char *key, const char *json, size_t n);
void av_term_attr_key(av_buf *b, const char *key);
/* 'n' key NUL + 8 bytes that sort as the number does. */
void av_term_num(av_buf *b, const char *key, double v);
/* 1 and *out if json is a JSON number. */
int av_json_number(const char *json, size_t n, double *out);
/* Encodes ascending rows as a chunk value. */
void av_chunk_encode(av_buf *b, const uint64_t *rows, size_t n);
/* Appends a chunk's rows (its first row: first) to *rows; AV_ECORRUPT when
 * the bytes are not a chunk (rows not ascending, counts or span wrong). */
int av_chunk_decode(const void *val, size_t len, uint64_t first, uint64_t **rows, size_t *n, size_t *cap);

/* ---- the row column (column.c) ---- */
#define AV_COL_ROWS 1022 /* rows per chunk: 8176 bytes, two LMDB pages */
#define AV_COL_REF_MASK ((1ull << 56) - 1)
/* The column entry of an encoded record: kind << 56 | ref[0] (0 if corrupt). */
uint64_t av_col_entry(const void *rec, size_t len);
/* The writer's chunk being filled. */
typedef struct av_colw {
    uint64_t chunk;
    int loaded, dirty;
    uint8_t buf[AV_COL_ROWS * 8];
} av_colw;
/* Sets row's entry (loading its chunk, writing back the previous one);
 * av_colw_flush writes the last. Both return MDB codes. */
int av_colw_set(av_colw *w, MDB_txn *txn, av_store *s, uint64_t row, uint64_t entry);
int av_colw_flush(av_colw *w, MDB_txn *txn, av_store *s);

/* Counts one random read of the map; every 2048 of them, hands the pages
 * read back (av_store_release_map), so a scan's resident memory does not
 * grow with the store. */
static inline void av_store_touch(av_store *s)
{
    if ((atomic_fetch_add_explicit(&s->lookups, 1, memory_order_relaxed) & 2047) == 2047) av_store_release_map(s);
}

/* Forgets where the map is: call after anything that may remap it. */
void av_store_map_moved(av_store *s);

/* The index term type of references ("records that refer to row X"): '~'
 * sorts after every other term type, so the chunks of new rows' references
 * (most of them) go at the end of the idx table and fill their pages (as
 * 'r', among the 's' terms, they split pages in the middle: 3,024 pages for
 * a 50K Magpie store, 2,706 as '~'). */
#define AV_TERM_REF '~'

/* The writer lock (writer.lock, flock), after undoing what a killed writer
 * left: *fd holds it until closed. */
int av_writer_lock(av_store *s, int *fd);
/* Takes users.lock exclusive (AV_EBUSY while another process has the store
 * open), or back to shared. */
int av_store_exclusive(av_store *s, int on);
/* Test hook: the raw text bytes a class needs for gc to train its own
 * dictionary (0: the default, 8 MB). */
void av_tune_gc_min_class(uint64_t bytes);
/* Closes and opens the LMDB environment again (its file was replaced). */
int av_store_reopen(av_store *s);

/* ---- the cid and txt tables, keyed by half a hash (shortkey.c) ---- */
#define AV_SHORT_KEY 8
/* The row of content id cid / the place and length of the text of hash:
 * 0, MDB_NOTFOUND, or an AV_E* code with its message. */
int av_cid_get(MDB_txn *txn, av_store *s, const av_id *cid, uint64_t *row);
int av_txt_get(MDB_txn *txn, av_store *s, av_blockcache *cache, const av_id *hash, uint64_t *loc, uint32_t *len);
/* Puts an entry of hash (16 bytes) into the cid or txt table: under its
 * first 8 bytes, or all 16 when another hash has those. An MDB code. */
int av_shortkey_put(MDB_txn *txn, MDB_dbi dbi, const uint8_t hash[16], const void *val, size_t vlen, unsigned flags);
/* Deletes content id cid's entry if it names row. An MDB code. */
int av_cid_del(MDB_txn *txn, av_store *s, const av_id *cid, uint64_t row);

/* Tables of chunks keyed by their first row (pch, rch): the chunk that can
 * hold x is the last key <= x. 1 with its first row and value (valid for
 * the transaction) and the next key (UINT64_MAX: none), 0 when no chunk
 * starts at or before x (next set), or an AV_E* code; what names the read
 * in messages. */
int av_chunk_find(MDB_txn *txn, MDB_dbi dbi, uint64_t x, uint64_t *first, MDB_val *val, uint64_t *next,
                  const char *what);

/* ---- the reference index of new rows, in chunks (refs.c) ---- */
typedef struct av_rchenc {
    av_buf val;
    uint64_t first, last; /* targets */
    size_t n;
} av_rchenc;
/* Adds target's sources (rows: ascending, unique, n >= 1); targets ascend. */
void av_rch_add(av_rchenc *e, uint64_t target, const uint64_t *rows, size_t n);
void av_rch_reset(av_rchenc *e);
void av_rch_free(av_rchenc *e);
typedef struct av_rchcache av_rchcache;
void av_rchcache_free(av_rchcache *c);
void av_rchcache_forget(av_rchcache *c);
/* The sources the rch table holds for target, ascending (*out points into
 * the cache *cp, made on first use; valid until its next call). */
int av_rch_sources(MDB_txn *txn, av_store *s, av_rchcache **cp, uint64_t target, const uint64_t **out, size_t *n);

/* ---- provenance (prov.c) ---- */
typedef struct av_prov_link {
    uint64_t row, source, line;
} av_prov_link;
/* A chunk of a writer's links of its own rows, being built (rows ascending). */
typedef struct av_pchenc {
    av_buf val;
    uint64_t first, last, source, line;
    size_t n;
} av_pchenc;
#define AV_PCH_BYTES 1290 /* a chunk is closed past this size: three fit one LMDB page */
void av_pch_start(av_pchenc *e, uint32_t version);
void av_pch_add(av_pchenc *e, uint64_t row, uint64_t source, uint64_t line);
void av_pch_free(av_pchenc *e);
typedef struct av_pchcache av_pchcache;
void av_pchcache_free(av_pchcache *c);
void av_pchcache_forget(av_pchcache *c);
/* The links of row held in the pch table (*out points into the cache *cp,
 * made on first use; valid until its next call), with their version. */
int av_pch_links(MDB_txn *txn, av_store *s, av_pchcache **cp, uint64_t row, const av_prov_link **out, size_t *n,
                 uint32_t *version);

/* ---- readers (reader.c) ---- */
struct av_reader {
    av_store *s;
    MDB_txn *txn;
    uint32_t version;
    uint64_t row_end;
    uint64_t *hidden;   /* sorted rows retracted at version */
    size_t nhidden;
    av_blockcache *cache;
    av_symtab syms;
    av_record scratch;
    int writer_owned;
    const uint8_t *col_ptr; /* the row column chunk last read (in txn's map) */
    uint64_t col_chunk;
    av_pchcache *pch;       /* the provenance chunk last read */
    av_rchcache *rch;       /* the reference chunk last read */
};
/* Fills a reader's view (version, row_end, hidden set) for txn. */
int av_reader_load_view(av_reader *r, uint32_t version, uint32_t head, uint64_t writer_row_end);
int av_is_hidden(const av_reader *r, uint64_t row);
/* Encoded record bytes of row in txn (pointer into the map). */
int av_rec_raw(av_store *s, MDB_txn *txn, uint64_t row, MDB_val *out);
/* The head version and its row_end as stored in meta / commits. */
int av_meta_head(av_store *s, MDB_txn *txn, uint32_t *out);
int av_meta_u64(av_store *s, MDB_txn *txn, const char *key, uint64_t *out);
/* Puts meta[key] = v (u64 BE); an MDB code. */
int av_meta_put_u64(MDB_txn *txn, av_store *s, const char *key, uint64_t v);
int av_commit_row_hi(av_store *s, MDB_txn *txn, uint32_t version, uint64_t *out);
/* Begins a read txn, following another process's map growth. */
int av_txn_begin_read(av_store *s, MDB_txn **out);
/* Removes what a killed writer left, if no writer is running now. */
int av_store_recover(av_store *s);
/* Grows the map when no transaction of this process is active. */
int av_store_grow(av_store *s, size_t need);

/* ---- commits (reader.c) ---- */
void av_commit_encode(av_buf *b, const av_commit *c);
int av_commit_decode(av_commit *out, const void *data, size_t len);


#endif
