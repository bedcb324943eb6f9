/* fuzz_query_parse.c: the filter language's parser on arbitrary bytes. Any
 * input must either compile or give an error message with the expression
 * and a caret, never crash, leak or read out of bounds; field names for
 * --fields and --order-by go through the same path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query/query.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = av_xstrndup((const char *)data, size);
    av_query *q = NULL;
    char *err = NULL;
    int rc = av_query_compile(&q, s, AV_RESPONSE, &err);
    if (rc == 0) {
        if (!q || err) abort();
        char *ferr = NULL;
        int f = av_query_field_add(q, s, &ferr);
        if (f < 0 && (!ferr || !strchr(ferr, '^'))) abort();
        if (f >= 0 && !av_query_field_name(q, f)) abort();
        free(ferr);
        av_query_free(q);
    } else {
        if (rc != AV_EINVAL || q || !err || !strchr(err, '^')) abort();
        free(err);
    }
    free(s);
    return 0;
}
