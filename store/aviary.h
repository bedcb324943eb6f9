/* aviary.h: the store library's one public header.
 *
 * A store is one directory holding an LMDB environment. Everything in it is a
 * record of a kind (prompt, response, rating, preference, tag, source, model,
 * run); records are immutable once committed. Each has a 64-bit row id
 * (assigned in increasing order, never reused) and a 128-bit content id (a
 * hash of its canonical content, the same in every store). Texts are stored
 * once, content-addressed, zstd-compressed in blocks with a dictionary trained
 * on the store's own texts; record metadata lives apart, so reading metadata
 * decompresses nothing.
 *
 * Versions: every writing command is one commit (av_writer_commit). A record
 * is visible at version V when it was added at or before V and not retracted
 * at or before V. Readers see a consistent snapshot of one version.
 *
 * Conventions: functions return 0 (or a documented positive value) on success
 * and a negative AV_E* code on failure, with a message in av_errmsg(). Output
 * parameters come first and are named out. Every *_free/_close accepts NULL.
 * This library knows nothing of the CLI, JSON parsers or HTTP.
 */
#ifndef AVIARY_H
#define AVIARY_H

#include <stddef.h>
#include <stdint.h>

#define AV_FORMAT_VERSION 5 /* on-disk format; a store with a newer one is refused */

/* ---- errors ---------------------------------------------------------- */

enum av_error {
    AV_OK = 0,
    AV_ERROR = -1,      /* unspecified failure; see av_errmsg() */
    AV_ENOTFOUND = -2,  /* no such record, version, name or text */
    AV_EEXISTS = -3,    /* already there (e.g. av_store_init on a store) */
    AV_EAMBIGUOUS = -4, /* an id prefix matches more than one record */
    AV_EINVAL = -5,     /* a bad argument or malformed input */
    AV_ECORRUPT = -6,   /* stored data failed a check */
    AV_EVERSION = -7,   /* newer on-disk format, or not an aviary store */
    AV_EIO = -8,        /* the file system said no (full disk, permissions) */
    AV_ENOMEM = -9,
    AV_EBUSY = -10,     /* another writer holds the store (only with AV_OPEN_NOWAIT) */
};

/* The last error message of this thread ("" if none). Valid until the next
 * failing call on this thread. */
const char *av_errmsg(void);
/* A fixed text for a code ("not found", ...). */
const char *av_strerror(int code);
/* Sets this thread's message (printf-style) and returns code; for modules
 * built on the store that report through the same channel. */
int av_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- ids ------------------------------------------------------------- */

/* A content id or a text hash: XXH3-128, stored and printed big-endian. */
typedef struct av_id {
    uint8_t b[16];
} av_id;

/* 32 lowercase hex digits and a NUL. */
void av_id_hex(char out[33], const av_id *id);
/* Parses exactly 32 hex digits; AV_EINVAL otherwise. */
int av_id_parse(av_id *out, const char *hex);
/* The hash of a byte string (the text store's address). */
void av_hash(av_id *out, const void *data, size_t len);

/* ---- records --------------------------------------------------------- */

typedef enum av_kind {
    AV_KIND_NONE = 0,
    AV_PROMPT = 1,     /* msg: the conversation prefix: [system] user (assistant user)* */
    AV_RESPONSE = 2,   /* ref[0] = prompt; model = writer; msg[0] "assistant"; ref[1] = the response it revises, if any */
    AV_RATING = 3,     /* ref[0] = response; model = judge; name = aspect; num = score (NAN for N/A); msg "rationale"... */
    AV_PREFERENCE = 4, /* ref[0] = prompt, ref[1] = response A, ref[2] = response B; model = judge;
                          num = P(A better than B); name = method ("human", "text", "logprob", ...) */
    AV_TAG = 5,        /* ref[0] = the record tagged; model = tagger (0 if none); attr = the key/value pairs
                          one origin (a source row, a tagger call, a dedup run) attached */
    AV_SOURCE = 6,     /* name = dataset name; attr: file, sha256, url, licence, format, ... */
    AV_MODEL = 7,      /* name = model name (a model's licence is a tag on it, so it can change by version) */
    AV_RUN = 8,        /* name = what ran ("generate magpie"); attr: endpoint, model, template, params, usage */
} av_kind;
#define AV_KIND_MAX 8

/* "prompt", "response", ...; NULL for an invalid kind. */
const char *av_kind_name(av_kind kind);
/* The kind named s, or AV_KIND_NONE. */
av_kind av_kind_parse(const char *s);

/* A stored byte string: a text, or a JSON value of an attribute. Short values
 * live inside the record; long ones in the text store, and the record says
 * where (loc). When a record is read without AV_GET_TEXT, ptr is NULL for
 * long values (len and loc are known; av_load fetches the bytes). */
typedef struct av_val {
    const char *ptr;
    size_t len;
    av_id hash;   /* av_hash() of the bytes: set for values written, values kept in the
                     record, and long values once loaded (unless AV_GET_NOHASH) */
    uint64_t loc; /* where a long value's bytes are stored (the store's own business; 0: not known) */
} av_val;

/* One turn or text of a record. role: "system", "user", "assistant",
 * "rationale", "critique", or another short name. */
typedef struct av_msg {
    const char *role;
    av_val text;
} av_msg;

/* A key and its value as JSON text: "\"Math\"", "3.25", "[\"a\"]", "null". */
typedef struct av_attr {
    const char *key;
    av_val json;
} av_attr;

/* A record. For writing, fill the fields the kind uses (see av_kind) and leave
 * the rest zero (num: NAN when unused; av_record_init does that). For
 * reading, av_get fills it; all pointers then point into memory owned by the
 * record, valid until the next av_get into it or av_record_free. */
typedef struct av_record {
    uint64_t row;      /* row id; 0 until stored */
    av_id cid;         /* content id; set by av_writer_put and av_get */
    av_kind kind;
    uint32_t version;  /* version that added it (read only) */
    uint64_t ref[3];   /* rows referred to, by kind; 0 = none */
    uint64_t model;    /* row of an AV_MODEL record, or 0 */
    uint64_t run;      /* row of the AV_RUN that made it, or 0 (not part of the content id) */
    const char *name;  /* aspect, method or name, by kind; NULL if none */
    double num;        /* score or probability, by kind; NAN if none */
    uint32_t nmsg;
    av_msg *msg;
    uint32_t nattr;
    av_attr *attr;
    void *priv_;       /* owned memory; do not touch */
    size_t priv_cap_;
} av_record;

/* Zeroes a record and sets num to NAN. */
void av_record_init(av_record *rec);
/* Frees what av_get put in rec (not what a writer's caller pointed it at). */
void av_record_free(av_record *rec);
/* The attribute with that key, or NULL. */
const av_attr *av_record_attr(const av_record *rec, const char *key);
/* Role of kind-specific text: the first msg with that role, or NULL. */
const av_msg *av_record_msg(const av_record *rec, const char *role);

/* ---- the store ------------------------------------------------------- */

typedef struct av_store av_store;
typedef struct av_reader av_reader;
typedef struct av_writer av_writer;

enum av_open_flags {
    AV_OPEN_RDONLY = 0,
    AV_OPEN_RDWR = 1 << 0,
    AV_OPEN_NOWAIT = 1 << 1, /* av_writer_open fails with AV_EBUSY instead of waiting */
};

/* Creates a store in dir (made if missing). AV_EEXISTS if dir holds a store,
 * AV_EINVAL if dir is a non-empty directory that is not a store. */
int av_store_init(const char *dir);
/* Opens a store. AV_ENOTFOUND if dir holds no store; AV_EVERSION if its
 * format is newer than AV_FORMAT_VERSION or it is not an aviary store.
 * Opened AV_OPEN_RDWR while no writer runs, it first removes whatever a
 * killed writer left uncommitted. */
int av_store_open(av_store **out, const char *dir, unsigned flags);
void av_store_close(av_store *s);
const char *av_store_dir(const av_store *s);
/* Repacks the store (aviary gc): texts compressed again at a higher zstd
 * level with dictionaries trained on the whole store, the random-key
 * tables written again in order, the file copied compacted in place of the
 * old one. What readers see does not change. Needs the store to itself:
 * AV_EBUSY while another process has it open or writes to it. */
#define AV_GC_LEVEL 12
typedef struct av_gc_opts {
    int level; /* zstd level for texts (0: AV_GC_LEVEL) */
    void (*progress)(void *ctx, const char *step, uint64_t done, uint64_t total);
    void *ctx;
} av_gc_opts;
typedef struct av_gc_result {
    uint64_t file_before, file_after; /* data.mdb's bytes */
    uint64_t text_before, text_after; /* text blocks' bytes */
    unsigned dicts_added;
    unsigned tables_kept; /* tables too large (128 MB) to write again in one transaction */
} av_gc_result;
int av_store_gc(av_store *s, const av_gc_opts *opts, av_gc_result *res);

/* The newest committed version (0 for a new store). */
int av_store_head(av_store *s, uint32_t *out);

/* Sizes and counts for `aviary stats`. */
typedef struct av_store_info {
    uint32_t head;
    uint64_t file_bytes;        /* size of the store's files on disk */
    uint64_t text_count;        /* distinct texts stored */
    uint64_t text_raw_bytes;    /* their bytes before compression */
    uint64_t text_stored_bytes; /* their bytes after compression */
    uint32_t dict_count;        /* zstd dictionaries kept */
    uint64_t rows;              /* row ids used (including retracted records) */
} av_store_info;
int av_store_info_get(av_store *s, av_store_info *out);

/* ---- versions -------------------------------------------------------- */

typedef struct av_commit {
    uint32_t version;
    int64_t time;            /* seconds since the epoch, UTC */
    const char *message;     /* owned by the struct; see av_commit_free */
    const char *command;     /* the command line, without secrets */
    uint64_t row_lo, row_hi; /* rows added by this commit: [row_lo, row_hi) */
    uint64_t added[AV_KIND_MAX + 1]; /* records added, by kind */
    uint64_t retracted;      /* records hidden by this commit */
    uint64_t restored;       /* retracted records made visible again */
    uint64_t linked;         /* provenance links to records that already existed */
    void *priv_;
} av_commit;

/* The commit that made version v; AV_ENOTFOUND if there is none. */
int av_commit_get(av_reader *r, uint32_t v, av_commit *out);
void av_commit_free(av_commit *c);

/* Names a version (`aviary tag NAME VERSION`); AV_EEXISTS if the name is
 * taken and force is 0. Names are not versions themselves: no commit. */
int av_label_set(av_store *s, const char *name, uint32_t version, int force);
int av_label_get(av_store *s, const char *name, uint32_t *out);
/* Calls fn for each name in name order; stops early when fn returns non-zero
 * and returns that value. */
int av_label_each(av_store *s, int (*fn)(void *ctx, const char *name, uint32_t version), void *ctx);
/* Resolves "12", "HEAD", "HEAD~2", or a label to a version <= head.
 * AV_ENOTFOUND with a message naming spec otherwise. */
int av_version_resolve(av_store *s, const char *spec, uint32_t *out);

/* ---- reading --------------------------------------------------------- */

/* A snapshot of version `version` (0 = head). A reader never sees part of a
 * commit. Not thread-safe: one reader per thread. */
int av_reader_open(av_reader **out, av_store *s, uint32_t version);
void av_reader_close(av_reader *r);
uint32_t av_reader_version(const av_reader *r);
av_store *av_reader_store(const av_reader *r);
/* One past the highest row id that may be visible to this reader. */
uint64_t av_reader_row_end(const av_reader *r);
/* 1 if row exists and is visible at the reader's version, 0 otherwise. */
int av_visible(av_reader *r, uint64_t row);

enum av_get_flags {
    AV_GET_TEXT = 1 << 0,   /* load every long value too (decompresses) */
    AV_GET_ANY = 1 << 1,    /* also records not visible at the reader's version */
    AV_GET_NOHASH = 1 << 2, /* leave values' hashes zero (faster when only the bytes matter) */
};
/* Reads record `row` into out (reusing its memory). AV_ENOTFOUND if no such
 * row, or it is not visible and AV_GET_ANY is not given. */
int av_get(av_reader *r, uint64_t row, unsigned flags, av_record *out);
/* The kind, refs and model of row from its header alone: no allocation, no
 * decoding of texts or attributes (the fast way to follow references).
 * ref and model may be NULL. Visibility and errors as av_get. */
int av_peek(av_reader *r, uint64_t row, unsigned flags, av_kind *kind, uint64_t ref[3], uint64_t *model);
/* The kind and first reference (0 if none) of row from the row column: an
 * array read, no record lookup (what planners ask of many rows). 1 if the
 * row exists and is visible (or AV_GET_ANY), 0 if not, <0 on error. kind
 * and ref0 may be NULL. */
int av_row_info(av_reader *r, uint64_t row, unsigned flags, av_kind *kind, uint64_t *ref0);
/* The same for n rows at once: kinds[i] is AV_KIND_NONE for a row that is
 * not there or not visible; ref0s may be NULL. */
int av_rows_info(av_reader *r, const uint64_t *rows, size_t n, unsigned flags, av_kind *kinds, uint64_t *ref0s);
/* Scanning stored texts block by block, for searches that would otherwise
 * load every unit's text one by one. Texts live in blocks of one of
 * two classes: AV_TEXTS_RESPONSE, the messages of response records, and
 * AV_TEXTS_OTHER, the rest (prompts, long tag values, ...). av_text_scan
 * calls fn for each text (long ones only: values of up to 48 bytes stay in
 * their records) with its loc, as records' av_val.loc name it, in the blocks of class cls whose ids are in [lo, hi),
 * skipping the other class's blocks without decompressing them; a non-zero
 * return from fn stops the scan and is returned. Block ids run from 1 to
 * av_text_block_end(): split that range to scan on several threads, each
 * with a reader of its own. Blocks written after the reader's version may
 * be seen too: the scan finds texts, records decide visibility. */
enum { AV_TEXTS_OTHER = 0, AV_TEXTS_RESPONSE = 1 };
typedef int (*av_text_fn)(void *ctx, const char *text, size_t len, uint64_t loc);
/* The class of the blocks a stored text (av_val.loc) lives in. */
int av_loc_class(uint64_t loc);
uint64_t av_text_block_end(av_reader *r);
/* 1 when every text lives in the blocks of its own class (no response's
 * text was first stored by another kind of record, nor the other way
 * round): a scan of one class's blocks then sees all of that class's
 * texts. */
int av_texts_apart(av_reader *r);
int av_text_scan(av_reader *r, int cls, uint64_t lo, uint64_t hi, av_text_fn fn, void *ctx);
/* Loads one value of a record read without AV_GET_TEXT (sets val->ptr into
 * the record's memory; earlier pointers into rec stay valid). */
int av_load(av_reader *r, av_record *rec, av_val *val);
/* Copies the text with that hash into a malloc'd buffer *out (NUL-terminated,
 * caller frees). AV_ENOTFOUND if the store has no such text. */
int av_text_get(av_reader *r, const av_id *hash, char **out, size_t *out_len);

/* Row of the record with that content id, visible or not; AV_ENOTFOUND. */
int av_find(av_reader *r, const av_id *cid, uint64_t *out);
/* Row of the visible record whose content id starts with hex (8 to 32 hex
 * digits). AV_EINVAL for a bad or short prefix, AV_EAMBIGUOUS (message lists
 * candidates), AV_ENOTFOUND. */
int av_find_hex(av_reader *r, const char *hex, uint64_t *out);
/* Row of the model or source record with that name; AV_ENOTFOUND. (For a
 * source with several files, the first.) */
int av_find_model(av_reader *r, const char *name, uint64_t *out);

/* Provenance: where a record came from (a source and its row number). */
typedef struct av_prov {
    uint64_t source;  /* row of the AV_SOURCE record */
    uint64_t line;    /* 1-based row number in the source file */
    uint32_t version; /* version that made the link */
} av_prov;
/* Fills out with up to cap links of row visible at the reader's version; *n
 * gets the total (may exceed cap). */
int av_prov_get(av_reader *r, uint64_t row, av_prov *out, size_t cap, size_t *n);

/* Retract/restore history of row up to the reader's version: versions in
 * ascending order; the first hid the row, the next restored it, and so on
 * (an odd count means hidden). *n gets the total. */
int av_toggles_get(av_reader *r, uint64_t row, uint32_t *out, size_t cap, size_t *n);

/* What a version did besides adding rows: links made to records that
 * existed before it (links of its own new records come with av_prov_get),
 * retractions and restorations. */
typedef enum av_event_type { AV_EVENT_LINK = 1, AV_EVENT_RETRACT = 2, AV_EVENT_RESTORE = 3 } av_event_type;
typedef struct av_event {
    av_event_type type;
    uint64_t row;    /* the record */
    uint64_t source; /* AV_EVENT_LINK: the source row */
    uint64_t line;   /* AV_EVENT_LINK: 1-based row number in the source */
} av_event;
/* Calls fn for each event of version v (v <= the reader's version) in the
 * order they happened; stops when fn returns non-zero and returns that. */
int av_events_each(av_reader *r, uint32_t v, int (*fn)(void *ctx, const av_event *e), void *ctx);

/* Iterators: visible rows of an index, ascending by row id. */
typedef struct av_iter av_iter;
int av_iter_all(av_iter **out, av_reader *r);
int av_iter_kind(av_iter **out, av_reader *r, av_kind kind);
/* Records that refer to target in any ref slot (a prompt's responses, tags
 * and preferences; a response's ratings, tags and revisions). */
int av_iter_refs(av_iter **out, av_reader *r, uint64_t target);
int av_iter_model(av_iter **out, av_reader *r, uint64_t model_row);
/* Records with a provenance link to source_row. */
int av_iter_source(av_iter **out, av_reader *r, uint64_t source_row);
/* Tag records with attribute key whose JSON value is exactly json. Only
 * values for which av_attr_indexed() is 1 are indexed (strings, true, false
 * and null up to AV_INDEX_VALUE_MAX bytes); for others this finds nothing,
 * and a query must scan instead. */
#define AV_INDEX_VALUE_MAX 64
int av_iter_attr(av_iter **out, av_reader *r, const char *key, const char *json, size_t json_len);
int av_attr_indexed(const char *json, size_t json_len);
/* Candidates for tag records with attribute key holding a JSON number in
 * lo..hi (use -INFINITY / INFINITY for an open end; *_incl say whether the
 * ends belong). Numbers are indexed in order by bucket (16 per power of
 * two), so this reads only the buckets the range touches; records in the
 * two end buckets may lie outside the range: check their values. */
int av_iter_num(av_iter **out, av_reader *r, const char *key, double lo, int lo_incl, double hi, int hi_incl);
/* Tag records having attribute key at all. */
int av_iter_attr_key(av_iter **out, av_reader *r, const char *key);
/* How many tag records ever written (any version, retracted or not) have
 * attribute key (*all), with a number (*num), with null (*nul): read from
 * the index chunks' headers. num + nul == all says every value of the key
 * is a number or null, so the numeric index answers comparisons exactly. */
int av_attr_counts(av_reader *r, const char *key, uint64_t *all, uint64_t *num, uint64_t *nul);
/* Next row: returns 1 and sets *out, 0 at the end, negative on error. */
int av_iter_next(av_iter *it, uint64_t *out);
/* Skips to the first row >= row (for intersecting iterators). */
int av_iter_seek(av_iter *it, uint64_t row);
void av_iter_free(av_iter *it);

/* Auxiliary key/value space for modules (dedup signatures, request cache,
 * run state). ns is a short namespace. Not versioned: a reader may see the
 * values of a writer that has not committed yet (it writes them in batches,
 * like records); a writer that dies has them undone. Copies into a malloc'd
 * *out (caller frees). */
int av_aux_get(av_reader *r, const char *ns, const void *key, size_t klen, void **out, size_t *out_len);
/* Calls fn for every key of ns in key order; stops when fn returns non-zero. */
int av_aux_each(av_reader *r, const char *ns,
                int (*fn)(void *ctx, const void *key, size_t klen, const void *val, size_t vlen), void *ctx);

/* ---- writing --------------------------------------------------------- */

/* Starts the next commit. Takes the store's writer lock (waiting for another
 * writer unless AV_OPEN_NOWAIT) and first discards anything a writer that was
 * killed left uncommitted. The store must be opened AV_OPEN_RDWR.
 * Records are written to disk in batches as they come; none is visible to
 * readers until av_writer_commit. */
int av_writer_open(av_writer **out, av_store *s);
/* The version av_writer_commit will create. */
uint32_t av_writer_version(const av_writer *w);
/* A reader of the writer's own view: head plus everything put so far
 * (records put since the last flush are flushed first). Owned by the writer;
 * valid until the next put. */
av_reader *av_writer_reader(av_writer *w);

/* Row of the record with that content id, committed or put by this writer
 * (visible or not); AV_ENOTFOUND. Cheaper than av_find on av_writer_reader,
 * which writes everything pending first. */
int av_writer_find(av_writer *w, const av_id *cid, uint64_t *out);

/* 1 if a tag record on row (committed or put by this writer) has attribute
 * key, 0 if not (e.g. does a model have a "licence" tag yet). Writes only
 * the current small batch first, not the deferred index entries, so it is
 * cheap to ask while writing. */
int av_writer_tagged(av_writer *w, uint64_t row, const char *key);
/* Tags row with {key: json} unless a tag on it has key already (a model's
 * first "licence"). 1 if tagged now, 0 if it had one, negative on error. */
int av_writer_tag_once(av_writer *w, uint64_t row, const char *key, const char *json);

/* Adds rec unless a record with the same content id exists. Computes and sets
 * rec->cid and rec->row. Returns 1 if added, 0 if it was already there
 * (a retracted one is made visible again, and counts as restored), negative on
 * error (AV_EINVAL: a ref to a missing row, a kind without its refs, NUL in
 * a name or key). The record's pointers are only read during the call. */
int av_writer_put(av_writer *w, av_record *rec);
/* Row of the model named name, creating it if needed. */
int av_writer_model(av_writer *w, const char *name, uint64_t *out);
/* Links row to source_row at 1-based line; 1 if new, 0 if the link existed. */
int av_writer_link(av_writer *w, uint64_t row, uint64_t source_row, uint64_t line);
/* Hides row from this version on. 1 if hidden now, 0 if already hidden. */
int av_writer_retract(av_writer *w, uint64_t row);
/* Makes a retracted row visible again. 1 if restored, 0 if it was visible. */
int av_writer_restore(av_writer *w, uint64_t row);
/* Sets an auxiliary value (see av_aux_get); vlen 0 with val NULL deletes. */
int av_writer_aux_put(av_writer *w, const char *ns, const void *key, size_t klen, const void *val, size_t vlen);

/* Options for a commit. time 0 means now. */
typedef struct av_commit_opts {
    const char *message;
    const char *command;
    int64_t time;
    int allow_empty; /* commit even when nothing changed */
} av_commit_opts;
/* Makes everything written one new version and frees w. When nothing changed
 * (and not allow_empty) no version is made: *out_version gets the head and
 * the return value is 0; otherwise 1. On error everything is discarded. */
int av_writer_commit(av_writer *w, const av_commit_opts *opts, uint32_t *out_version);
/* Discards everything this writer wrote and frees it. */
void av_writer_abort(av_writer *w);

/* Test hooks: the number of records per on-disk batch, each also writing
 * the deferred index entries (default 0: batches of ~32 MB), and the initial map size in bytes (default 256 MiB of address
 * space, not disk; grows by itself, but not while this process holds a
 * reader). Set before av_writer_open / av_store_open. */
void av_tune_batch(size_t records);
/* Test hook: once this many batches of writers making version `version`
 * are on disk in this process (0: never), the process stops itself
 * (SIGSTOP), so a test can kill a writer at a known point of a commit,
 * however fast the machine. */
void av_tune_stop_after(uint32_t version, size_t batches);
/* Test hook: how many text bytes a dictionary's first blocks (its baseline)
 * and each later window take before a window's ratio is compared with the
 * baseline (0: the defaults, 8 MB and 16 MB). */
void av_tune_retrain(size_t base, size_t window);
/* Hands back the store's map pages this process has read (they stay in the
 * page cache): writers do it after each batch, long scans now and then, so
 * resident memory does not grow with the store. */
void av_store_release_map(av_store *s);
void av_tune_initial_map(size_t bytes);

#endif
