/* fuzz_policy.c: fuzz target for the licence-policy parser and the
 * licence-entry parser (query/policy.h, query/licence.h): any bytes must give
 * a policy or a "name:line: reason" error, never a crash; a parsed policy is
 * then checked against a fixed licence set. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query/licence.h"
#include "query/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    av_policy *p = NULL;
    char *err = NULL;
    if (av_policy_parse(&p, (const char *)data, size, "fuzz.json", NULL, &err) == 0) {
        const char *lic[] = {"apache-2.0", "llama3", "mit", "openai-terms", "unknown", "not-registered"};
        av_buf why = AV_BUF_INIT;
        av_policy_check(p, NULL, lic, sizeof lic / sizeof lic[0], &why);
        av_buf_free(&why);
        av_policy_free(p);
    } else if (!err || strncmp(err, "fuzz.json:", 10)) {
        abort(); /* every failure names the file and line */
    }
    free(err);
    av_licence *l = NULL;
    err = NULL;
    if (av_licence_parse(&l, (const char *)data, size, &err) == 0) {
        av_buf b = AV_BUF_INIT;
        av_licence_json(l, &b);
        av_licence_validate(l);
        av_licence_props(l);
        av_buf_free(&b);
        free(l);
    }
    free(err);
    char norm[64];
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    av_licence_norm(norm, sizeof norm, s);
    av_licence_builtin(s);
    free(s);
    return 0;
}
