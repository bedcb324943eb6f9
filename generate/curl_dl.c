/* curl_dl.c: libcurl, loaded the first time generation needs it.
 *
 * Linked normally, libcurl brings some thirty shared libraries (TLS, HTTP/2,
 * Kerberos, LDAP, ...) that the loader maps at every start of every
 * command: about 5 ms, more than a whole indexed query. Only the generation
 * client uses libcurl, so this file defines the libcurl functions it calls
 * and forwards them to libcurl.so.4 opened with dlopen on first use. If it
 * cannot be loaded, curl_global_init fails and the client says so; every
 * other command works without it. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "generate/client.h"

static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    CURLHcode (*easy_header)(CURL *, const char *, size_t, unsigned int, int, struct curl_header **);
    const char *(*easy_strerror)(CURLcode);
    time_t (*getdate)(const char *, const time_t *);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_cleanup)(CURLM *);
    CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMcode (*multi_perform)(CURLM *, int *);
    CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd[], unsigned int, int, int *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} f;
static int loaded; /* 1 loaded, -1 failed */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256];

static void load(void)
{
    void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) lib = dlopen("libcurl.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *e = dlerror();
        snprintf(load_error, sizeof load_error, "cannot load libcurl (install libcurl4): %s", e ? e : "not found");
        loaded = -1;
        return;
    }
#define SYM(field, name)                                                                      \
    if (!(*(void **)&f.field = dlsym(lib, name))) {                                           \
        snprintf(load_error, sizeof load_error, "libcurl.so.4 has no %s: too old a libcurl", name); \
        loaded = -1;                                                                          \
        return;                                                                               \
    }
    SYM(global_init, "curl_global_init")
    SYM(easy_init, "curl_easy_init")
    SYM(easy_cleanup, "curl_easy_cleanup")
    SYM(easy_setopt, "curl_easy_setopt")
    SYM(easy_getinfo, "curl_easy_getinfo")
    SYM(easy_header, "curl_easy_header")
    SYM(easy_strerror, "curl_easy_strerror")
    SYM(getdate, "curl_getdate")
    SYM(multi_init, "curl_multi_init")
    SYM(multi_cleanup, "curl_multi_cleanup")
    SYM(multi_setopt, "curl_multi_setopt")
    SYM(multi_add_handle, "curl_multi_add_handle")
    SYM(multi_remove_handle, "curl_multi_remove_handle")
    SYM(multi_perform, "curl_multi_perform")
    SYM(multi_poll, "curl_multi_poll")
    SYM(multi_info_read, "curl_multi_info_read")
    SYM(slist_append, "curl_slist_append")
    SYM(slist_free_all, "curl_slist_free_all")
#undef SYM
    loaded = 1;
}

const char *gen_curl_load_error(void)
{
    pthread_once(&once, load);
    return loaded == 1 ? NULL : load_error;
}

static int ready(void) { return gen_curl_load_error() == NULL; }

CURLcode curl_global_init(long flags) { return ready() ? f.global_init(flags) : CURLE_FAILED_INIT; }
CURL *curl_easy_init(void) { return ready() ? f.easy_init() : NULL; }
void curl_easy_cleanup(CURL *h)
{
    if (ready()) f.easy_cleanup(h);
}
const char *curl_easy_strerror(CURLcode c) { return ready() ? f.easy_strerror(c) : load_error; }
time_t curl_getdate(const char *s, const time_t *unused) { return ready() ? f.getdate(s, unused) : (time_t)-1; }
CURLHcode curl_easy_header(CURL *h, const char *name, size_t index, unsigned int origin, int request,
                           struct curl_header **hout)
{
    return ready() ? f.easy_header(h, name, index, origin, request, hout) : CURLHE_NOT_BUILT_IN;
}
CURLM *curl_multi_init(void) { return ready() ? f.multi_init() : NULL; }
CURLMcode curl_multi_cleanup(CURLM *m) { return ready() ? f.multi_cleanup(m) : CURLM_INTERNAL_ERROR; }
CURLMcode curl_multi_add_handle(CURLM *m, CURL *h) { return ready() ? f.multi_add_handle(m, h) : CURLM_INTERNAL_ERROR; }
CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h)
{
    return ready() ? f.multi_remove_handle(m, h) : CURLM_INTERNAL_ERROR;
}
CURLMcode curl_multi_perform(CURLM *m, int *running) { return ready() ? f.multi_perform(m, running) : CURLM_INTERNAL_ERROR; }
CURLMcode curl_multi_poll(CURLM *m, struct curl_waitfd extra[], unsigned int n, int ms, int *ret)
{
    return ready() ? f.multi_poll(m, extra, n, ms, ret) : CURLM_INTERNAL_ERROR;
}
CURLMsg *curl_multi_info_read(CURLM *m, int *left) { return ready() ? f.multi_info_read(m, left) : NULL; }
struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s) { return ready() ? f.slist_append(l, s) : NULL; }
void curl_slist_free_all(struct curl_slist *l)
{
    if (ready()) f.slist_free_all(l);
}

/* The variadic ones take one argument after the option: a long, a pointer
 * or a curl_off_t, all passed alike on the LP64 ABIs Debian builds for. */
CURLcode curl_easy_setopt(CURL *h, CURLoption o, ...)
{
    va_list ap;
    va_start(ap, o);
    void *v = va_arg(ap, void *);
    va_end(ap);
    return ready() ? f.easy_setopt(h, o, v) : CURLE_FAILED_INIT;
}

CURLcode curl_easy_getinfo(CURL *h, CURLINFO i, ...)
{
    va_list ap;
    va_start(ap, i);
    void *v = va_arg(ap, void *);
    va_end(ap);
    return ready() ? f.easy_getinfo(h, i, v) : CURLE_FAILED_INIT;
}

CURLMcode curl_multi_setopt(CURLM *m, CURLMoption o, ...)
{
    va_list ap;
    va_start(ap, o);
    void *v = va_arg(ap, void *);
    va_end(ap);
    return ready() ? f.multi_setopt(m, o, v) : CURLM_INTERNAL_ERROR;
}
