/* native.h: the writer of aviary's own format (a dump): JSON Lines in the
 * store's schema (docs/native-format.md). A dump at version V holds a header,
 * the commits 1..V, then every record added at or before V in row order
 * (retracted ones too, with their history), refs given by content id, so it
 * can be read back into any store (ingest/native.h) and, into an empty store,
 * replays the same history. */
#ifndef AV_EXPORT_NATIVE_H
#define AV_EXPORT_NATIVE_H

#include <stdio.h>

#include "store/aviary.h"

/* The format version written in the header; readers refuse newer ones. */
#define AV_NATIVE_FORMAT 1

/* Writes the dump of s at version (0 = head) to out. Opens its own readers
 * (one at a time). Returns 0, AV_ENOTFOUND for a version past head, AV_EIO
 * when out fails, or a store error; the message is in av_errmsg(). */
int av_native_dump(av_store *s, uint32_t version, FILE *out);

#endif
