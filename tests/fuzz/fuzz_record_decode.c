/* fuzz_record_decode.c: the record decoder on arbitrary bytes. A small store
 * with a few symbols is made once, so symbol references resolve (or fail)
 * as they would in a real store; decoding must never crash, read out of
 * bounds or leak, whatever the bytes. */
#include "store/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static av_store *store;
static MDB_txn *txn;
static av_symtab syms;

static void setup(void)
{
    char dir[] = "/tmp/avfuzzXXXXXX";
    if (!mkdtemp(dir)) abort();
    char path[64];
    snprintf(path, sizeof path, "%s/s", dir);
    if (av_store_init(path) || av_store_open(&store, path, AV_OPEN_RDWR)) abort();
    av_writer *w;
    if (av_writer_open(&w, store)) abort();
    av_record r;
    av_record_init(&r);
    av_msg m = {"user", {"hello", 5, {{0}}, 0}};
    r.kind = AV_PROMPT;
    r.nmsg = 1;
    r.msg = &m;
    av_writer_put(w, &r);
    av_record t;
    av_record_init(&t);
    av_attr a[2] = {{"task_category", {"\"Math\"", 6, {{0}}, 0}}, {"language", {"\"EN\"", 4, {{0}}, 0}}};
    t.kind = AV_TAG;
    t.ref[0] = r.row;
    t.nattr = 2;
    t.attr = a;
    av_writer_put(w, &t);
    av_commit_opts o = {.message = "fuzz"};
    uint32_t v;
    if (av_writer_commit(w, &o, &v) < 0) abort();
    if (av_txn_begin_read(store, &txn)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!store) setup();
    av_record rec;
    av_record_init(&rec);
    if (av_record_decode(&rec, 1, data, size, store, txn, &syms, size & 1) == 0) {
        /* a decoded record is usable: touch every field */
        size_t total = 0;
        for (uint32_t i = 0; i < rec.nmsg; i++) total += strlen(rec.msg[i].role) + rec.msg[i].text.len;
        for (uint32_t i = 0; i < rec.nattr; i++) total += strlen(rec.attr[i].key) + rec.attr[i].json.len;
        if (rec.name) total += strlen(rec.name);
        (void)total;
    }
    av_record_free(&rec);
    return 0;
}
