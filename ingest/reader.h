/* reader.h: an input file as a stream of JSON records. Opens a path or "-"
 * (stdin), sees through gzip and zstd by their magic bytes, and splits either
 * JSON Lines (one record per non-blank line) or one top-level JSON array
 * (one record per element; the array is never held whole). Hashes the raw
 * file bytes (SHA-256) as they go by. Memory: one buffer as large as the
 * longest record plus 1 MiB of read-ahead. */
#ifndef AV_INGEST_READER_H
#define AV_INGEST_READER_H

#include <stddef.h>
#include <stdint.h>

#define AV_INPUT_MAX_RECORD (256u << 20) /* longer records are bad input */

typedef struct av_input av_input;

typedef struct av_inrec {
    const char *p;  /* the record's bytes; valid until the next call */
    size_t n;
    uint64_t index; /* 1-based record number (JSON Lines: the line number) */
    uint64_t line;  /* 1-based line of the file where the record starts */
} av_inrec;

/* Opens path ("-" is stdin). Returns 0, or -1 with a message in *err
 * (malloc'd) such as "cannot open 'x': No such file or directory". */
int av_input_open(av_input **out, const char *path, char **err);
void av_input_close(av_input *in);
/* The next record: 1 and *out filled, 0 at the end, -1 on an error that ends
 * the file (truncated compressed data, an unterminated array, an I/O error,
 * a record over AV_INPUT_MAX_RECORD); then av_input_error() says why and
 * av_input_error_line() where. */
int av_input_next(av_input *in, av_inrec *out);
const char *av_input_error(const av_input *in);
uint64_t av_input_error_line(const av_input *in);
/* 1 if the input is a JSON array (records are its elements). Known after the
 * first av_input_next. */
int av_input_is_array(const av_input *in);
/* "gzip", "zstd" or "none". */
const char *av_input_compression(const av_input *in);
/* Raw bytes read so far, and the file's size (0 if unknown: a pipe). */
uint64_t av_input_raw_bytes(const av_input *in);
uint64_t av_input_size(const av_input *in);
/* SHA-256 of the raw bytes, valid once av_input_next returned 0. */
void av_input_sha256(av_input *in, char out[65]);
/* Test hook: the longest row the reader takes (0 = AV_INPUT_MAX_RECORD). */
void av_input_tune_max_record(size_t n);

#endif
