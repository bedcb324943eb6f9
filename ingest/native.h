/* native.h: the reader of aviary's own format (a dump, see export/native.h
 * and docs/native-format.md). Parsing one line needs no store (and is what
 * the fuzz target drives); av_native_add streams a whole dump into a store:
 * into an empty store (or one whose history is a prefix of the dump's) it
 * replays the dump's commits one by one; into any other store it makes one
 * new commit of the records not already there (records retracted in the dump
 * are left out, with whatever refers to them). A replay also sets the
 * version names (`aviary tag`) a dump's commit lines carry; a merge, whose
 * versions are not the dump's, does not. */
#ifndef AV_INGEST_NATIVE_H
#define AV_INGEST_NATIVE_H

#include <stdio.h>

#include "store/aviary.h"

typedef enum av_native_type {
    AV_NATIVE_BLANK = 0,
    AV_NATIVE_HEADER,
    AV_NATIVE_COMMIT,
    AV_NATIVE_RECORD,
} av_native_type;

typedef struct av_native_prov {
    av_id source;
    uint64_t line;
    uint32_t version;
} av_native_prov;

typedef struct av_native_event {
    uint32_t version;
    int restore; /* 0 = retract, 1 = restore */
} av_native_event;

/* One parsed line. Strings point into memory owned by the line (or, for attr
 * values, into the parsed text itself, which must outlive the line). */
typedef struct av_native_line {
    av_native_type type;
    /* header */
    int format;
    /* header: the dump's version; commit: its version; record: version that added it */
    uint32_t version;
    /* commit */
    int64_t time;
    const char *message, *command;
    uint64_t added[AV_KIND_MAX + 1], retracted, restored, linked;
    const char **tags; /* commit: names (`aviary tag`) of this version, or NULL */
    size_t ntags;
    /* record */
    av_kind kind;
    int has_id, has_version; /* both optional in hand-written input; a replay needs version */
    av_id id;
    int nref;          /* slots given, 0..3 */
    int ref_set[3];    /* 0 for a null slot */
    av_id ref[3];
    const char *model; /* NULL if none */
    int has_run;
    av_id run;
    const char *name; /* NULL if none */
    double num;       /* NAN if none */
    uint32_t nmsg;
    av_msg *msg;      /* text.ptr/len set; hash not */
    uint32_t nattr;
    av_attr *attr;    /* json.ptr/len: the value's exact bytes in the line */
    size_t nprov;
    av_native_prov *prov;
    size_t nhist;
    av_native_event *hist;
    void *priv_;
} av_native_line;

/* Parses text[0..len) (one line without its newline; need not be
 * NUL-terminated) into out. Returns 0, or AV_EINVAL with a reason in
 * av_errmsg() ("truncated line", "unknown record kind 'x'", ...). Blank lines
 * give type AV_NATIVE_BLANK. Call av_native_line_free after either. */
int av_native_parse(av_native_line *out, const char *text, size_t len);
void av_native_line_free(av_native_line *l);

typedef struct av_native_add_opts {
    const char *name;    /* the input's name in messages ("-" is shown as "<stdin>") */
    const char *command; /* command line recorded by a merge commit */
    const char *message; /* message of a merge commit (NULL: "add <name>") */
    int progress;        /* draw a progress line on stderr */
} av_native_add_opts;

typedef struct av_native_add_result {
    int replayed;            /* 1: history replayed; 0: one merge commit */
    uint64_t tags_set;       /* replay: version names (`aviary tag`) set from the dump */
    char tag_conflict[160];  /* replay: the first name the store already gives
                                another version (kept as it is), or "" */
    uint32_t first, last;    /* versions made (0, 0 when none) */
    uint64_t lines, records; /* lines and record lines read */
    uint64_t added;          /* records new to the store */
    uint64_t skipped;        /* merge: records retracted in the dump (or
                                referring to one) that the store lacks */
} av_native_add_result;

/* Reads a dump from in (any size, streamed) into s (opened AV_OPEN_RDWR).
 * Nothing is committed when any line is bad: AV_EINVAL with
 * "<name>:<line>: <reason>" in av_errmsg(). When more than one commit is
 * replayed, the input is read twice (a checking pass that commits nothing,
 * then the real one); a pipe is first copied to a temporary file. */
int av_native_add(av_store *s, FILE *in, const av_native_add_opts *opts, av_native_add_result *out);

#endif
