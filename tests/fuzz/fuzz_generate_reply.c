/* fuzz_generate_reply.c: the generate module's parsers on arbitrary bytes:
 * server replies in every API shape (then soft labels and d-RLAIF scores on
 * what was parsed), error bodies, UltraFeedback answers and tagger JSON. The
 * first byte picks the parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "generate/client.h"
#include "generate/judge.h"
#include "generate/llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned sel = data[0];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char *text = malloc(len + 1);
    memcpy(text, body, len);
    text[len] = 0;
    switch (sel % 6) {
    case 0:
    case 1:
    case 2: {
        gen_reply r;
        if (gen_reply_parse(&r, (gen_api)(sel % 3), text, len) == 0) {
            double p, s, m;
            gen_soft_label(&p, &r, "1", "2");
            gen_soft_label(&p, &r, "A", "B");
            gen_score_expect(&s, &m, &r);
            gen_text_label(r.text, "A", "B");
            gen_score_text(&s, &m, r.text);
            gen_reply_free(&r);
        }
        break;
    }
    case 3: {
        gen_uf_rating out[4];
        size_t n = 1 + (sel / 6) % 4;
        if (gen_uf_parse(out, text, n) == 0)
            for (size_t i = 0; i < n; i++) gen_uf_rating_release(&out[i]);
        break;
    }
    case 4: {
        av_buf b = AV_BUF_INIT;
        gen_tag_parse(&b, (int)((sel / 6) % GEN_TAG_NKINDS), text);
        av_buf_free(&b);
        break;
    }
    default: {
        char out[256];
        gen_error_describe(out, sizeof out, text, len);
        break;
    }
    }
    free(text);
    return 0;
}
