/* normalize.h: the text normalisation dedup compares: lowercase, digits to
 * 0, punctuation removed, whitespace collapsed to single spaces, accents
 * stripped (Latin-1 Supplement and Latin Extended-A folded to ASCII,
 * combining marks dropped). docs/dedup.md has the full table. Pure code. */
#ifndef AV_CURATE_NORMALIZE_H
#define AV_CURATE_NORMALIZE_H

#include <stddef.h>

#include "util/util.h"

/* Appends the normal form of s[0..n) to out (out is reset first). The result
 * is words of non-space bytes separated by exactly one space, with no space
 * at either end; it is "" when s has no letters or digits. Bytes that are not
 * valid UTF-8 are dropped. */
void av_text_normalize(av_buf *out, const char *s, size_t n);

#endif
