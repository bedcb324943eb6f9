/* fuzz_native.c: libFuzzer target for the dump line parser
 * (ingest/native_parse.c): any bytes, split into lines, must parse or be
 * refused with a message, never crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ingest/native.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        av_native_line l;
        if (av_native_parse(&l, p, len) == 0 && l.type == AV_NATIVE_RECORD) {
            /* touch what the parser handed out */
            size_t sum = 0;
            for (uint32_t i = 0; i < l.nmsg; i++) sum += l.msg[i].text.len + strlen(l.msg[i].role);
            for (uint32_t i = 0; i < l.nattr; i++) sum += l.attr[i].json.len + strlen(l.attr[i].key);
            (void)sum;
        }
        av_native_line_free(&l);
        p += len + 1;
    }
    return 0;
}
