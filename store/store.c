/* store.c: opening and creating stores, the on-disk format check, map
 * growth, version names (labels) and version resolution, and users.lock:
 * every process with the store open holds it shared, so gc (which puts a
 * new file in place, then reopens) can ask for the store to itself.
 *
 * The LMDB map starts small and grows: a writer that meets MDB_MAP_FULL
 * doubles it and redoes its batch (writer.c); a reader whose map is older than
 * another process's growth adopts the new size (MDB_MAP_RESIZED). The
 * format is a magic string and version in meta["format"]; a directory without
 * it is not a store, a newer version is refused.
 */
#include "store/internal.h"

#include <sys/mman.h>
#include <sys/sysmacros.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "aviary-store"

/* Virtual address space only: the file grows with what is written. Room
 * to spare matters because a process holding readers cannot grow the map. */
static size_t initial_map = 256u << 20;

void av_tune_initial_map(size_t bytes) { initial_map = bytes < 65536 ? 65536 : bytes; }

static const char *const dbi_names[DBI_COUNT] = {"meta", "rec", "cid", "txt", "blk", "dict", "idx",
                                                 "prov", "tgl", "evt", "commit", "label", "aux", "undo", "sym", "col", "pch", "rch"};

static int path_join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? av_error_set(AV_EINVAL, "path too long: '%s'", dir) : 0;
}

static int file_exists(const char *dir, const char *name)
{
    char p[4096];
    struct stat st;
    return path_join(p, sizeof p, dir, name) == 0 && stat(p, &st) == 0;
}

/* Every process with the store open holds users.lock shared: a process that
 * needs the store to itself (gc, which puts a new file in place) takes it
 * exclusive, and openers wait for it. -1 when the file cannot be opened
 * (a read-only directory without it). */
static int users_lock(const char *dir)
{
    char p[4096];
    if (path_join(p, sizeof p, dir, "users.lock")) return -1;
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    if (flock(fd, LOCK_SH)) {
        close(fd);
        return -1;
    }
    return fd;
}

static int env_open(av_store *s, int create)
{
    int rc = mdb_env_create(&s->env);
    if (rc) return av_mdb_error(rc, "creating the LMDB environment");
    mdb_env_set_maxdbs(s->env, DBI_COUNT + 2);
    mdb_env_set_maxreaders(s->env, 512);
    /* Start from the larger of the initial size and what the file holds. */
    char p[4096];
    struct stat st;
    size_t map = initial_map;
    if (path_join(p, sizeof p, s->dir, "data.mdb") == 0 && stat(p, &st) == 0 && (size_t)st.st_size * 2 > map)
        map = (size_t)st.st_size * 2 > (size_t)st.st_size + initial_map ? (size_t)st.st_size * 2
                                                                        : (size_t)st.st_size + initial_map;
    map = (map + 65535) & ~(size_t)65535;
    mdb_env_set_mapsize(s->env, map);
    av_store_map_moved(s);
    s->mapsize = map;
    rc = mdb_env_open(s->env, s->dir, MDB_NOTLS | MDB_NORDAHEAD, 0644);
    if (rc) {
        int e = rc;
        mdb_env_close(s->env);
        s->env = NULL;
        if (e == EACCES) return av_error_set(AV_EIO, "cannot open the store in '%s': permission denied", s->dir);
        return av_mdb_error(e, "opening the store");
    }
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    s->mapsize = info.me_mapsize;
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(s->env, NULL, create ? 0 : MDB_RDONLY, &txn))) {
        if (rc == MDB_MAP_RESIZED) {
            mdb_env_set_mapsize(s->env, 0);
            av_store_map_moved(s);
            rc = mdb_txn_begin(s->env, NULL, create ? 0 : MDB_RDONLY, &txn);
        }
        if (rc) return av_mdb_error(rc, "opening the store");
    }
    if (!create) {
        /* the format first: an older or newer store lacks or has other tables */
        MDB_dbi meta;
        MDB_val k = {6, "format"}, v;
        rc = mdb_dbi_open(txn, dbi_names[DBI_META], 0, &meta);
        if (rc == 0) rc = mdb_get(txn, meta, &k, &v);
        if (rc == 0 && (v.mv_size != sizeof MAGIC + 4 || memcmp(v.mv_data, MAGIC, sizeof MAGIC))) rc = MDB_NOTFOUND;
        if (rc) {
            mdb_txn_abort(txn);
            if (rc == MDB_NOTFOUND) return av_error_set(AV_EVERSION, "'%s' is not an aviary store", s->dir);
            return av_mdb_error(rc, "opening the store");
        }
        uint32_t ver = av_get_be32((const uint8_t *)v.mv_data + sizeof MAGIC);
        if (ver != AV_FORMAT_VERSION) {
            mdb_txn_abort(txn);
            if (ver > AV_FORMAT_VERSION)
                return av_error_set(AV_EVERSION,
                                    "the store in '%s' has format %u, newer than this aviary's %d; upgrade aviary",
                                    s->dir, ver, AV_FORMAT_VERSION);
            return av_error_set(AV_EVERSION,
                                "the store in '%s' has format %u, older than this aviary's %d; `aviary dump` it "
                                "with the aviary that wrote it and `aviary add` the dump into a new store",
                                s->dir, ver, AV_FORMAT_VERSION);
        }
    }
    for (int i = 0; i < DBI_COUNT; i++) {
        if ((rc = mdb_dbi_open(txn, dbi_names[i], create ? MDB_CREATE : 0, &s->dbi[i]))) {
            mdb_txn_abort(txn);
            if (rc == MDB_NOTFOUND)
                return av_error_set(AV_EVERSION, "'%s' is not an aviary store (no '%s' table)", s->dir, dbi_names[i]);
            return av_mdb_error(rc, "opening the store's tables");
        }
    }
    if (create) {
        uint8_t fmt[sizeof MAGIC + 4];
        memcpy(fmt, MAGIC, sizeof MAGIC);
        av_be32(fmt + sizeof MAGIC, AV_FORMAT_VERSION);
        MDB_val k = {6, "format"}, v = {sizeof fmt, fmt};
        rc = mdb_put(txn, s->dbi[DBI_META], &k, &v, 0);
        if (!rc) rc = mdb_txn_commit(txn);
        else mdb_txn_abort(txn);
        return rc ? av_mdb_error(rc, "creating the store") : 0;
    }
    /* Committing (not aborting) keeps the table handles opened in txn. */
    if ((rc = mdb_txn_commit(txn))) return av_mdb_error(rc, "opening the store's tables");
    return 0;
}

static void store_free(av_store *s)
{
    if (!s) return;
    if (s->env) mdb_env_close(s->env);
    if (s->lock_fd > 0) close(s->lock_fd);
    if (s->users_fd > 0) close(s->users_fd);
    free(s->dir);
    free(s);
}

int av_store_init(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return av_error_set(AV_EINVAL, "'%s' exists and is not a directory", dir);
        if (file_exists(dir, "data.mdb")) return av_error_set(AV_EEXISTS, "'%s' already holds a store", dir);
        DIR *d = opendir(dir);
        if (!d) return av_error_set(AV_EIO, "cannot read '%s': %s", dir, strerror(errno));
        struct dirent *e;
        int empty = 1;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = 0;
        closedir(d);
        if (!empty) return av_error_set(AV_EINVAL, "'%s' is not empty and holds no store; use an empty directory", dir);
    } else if (mkdir(dir, 0755) != 0) {
        return av_error_set(AV_EIO, "cannot create '%s': %s", dir, strerror(errno));
    }
    av_store *s = av_xcalloc(1, sizeof *s);
    s->dir = av_xstrdup(dir);
    int rc = env_open(s, 1);
    store_free(s);
    return rc;
}

int av_store_open(av_store **out, const char *dir, unsigned flags)
{
    *out = NULL;
    struct stat st;
    if (stat(dir, &st) != 0) return av_error_set(AV_ENOTFOUND, "no aviary store in '%s' (%s)", dir, strerror(errno));
    if (!file_exists(dir, "data.mdb")) return av_error_set(AV_ENOTFOUND, "no aviary store in '%s'", dir);
    av_store *s = av_xcalloc(1, sizeof *s);
    s->dir = av_xstrdup(dir);
    s->flags = flags;
    s->lock_fd = -1;
    s->users_fd = users_lock(dir);
    int rc = env_open(s, 0);
    if (rc == 0 && (flags & AV_OPEN_RDWR)) rc = av_store_recover(s);
    if (rc < 0) {
        store_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void av_store_close(av_store *s) { store_free(s); }

int av_store_exclusive(av_store *s, int on)
{
    if (s->users_fd < 0) return on ? av_error_set(AV_EIO, "cannot lock '%s/users.lock'", s->dir) : 0;
    if (!on) return flock(s->users_fd, LOCK_SH) ? av_error_set(AV_EIO, "cannot lock '%s/users.lock'", s->dir) : 0;
    if (flock(s->users_fd, LOCK_EX | LOCK_NB) == 0) return 0;
    if (errno == EWOULDBLOCK)
        return av_error_set(AV_EBUSY, "another process has the store in '%s' open; this needs it to itself", s->dir);
    return av_error_set(AV_EIO, "cannot lock '%s/users.lock': %s", s->dir, strerror(errno));
}

int av_store_reopen(av_store *s)
{
    if (s->nreaders > 0) return av_error_set(AV_EBUSY, "this process holds %d readers of the store", s->nreaders);
    mdb_env_close(s->env);
    s->env = NULL;
    return env_open(s, 0);
}

const char *av_store_dir(const av_store *s) { return s->dir; }

int av_txn_begin_read(av_store *s, MDB_txn **out)
{
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, out);
    if (rc == MDB_MAP_RESIZED) {
        mdb_env_set_mapsize(s->env, 0);
        av_store_map_moved(s);
        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, out);
    }
    if (rc == 0) s->nreaders++;
    return rc ? av_mdb_error(rc, "starting a read") : 0;
}

int av_store_grow(av_store *s, size_t need)
{
    if (s->nreaders > 0)
        return av_error_set(AV_ERROR, "the store's map is full and cannot grow while this process holds %d readers",
                            s->nreaders);
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    size_t size = info.me_mapsize * 2;
    while (size < info.me_mapsize + need) size *= 2;
    int rc = mdb_env_set_mapsize(s->env, size);
    av_store_map_moved(s);
    if (rc) return av_mdb_error(rc, "growing the store's map");
    s->mapsize = size;
    return 0;
}

int av_meta_u64(av_store *s, MDB_txn *txn, const char *key, uint64_t *out)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    int rc = mdb_get(txn, s->dbi[DBI_META], &k, &v);
    if (rc == MDB_NOTFOUND) {
        *out = 0;
        return 0;
    }
    if (rc) return av_mdb_error(rc, "reading the store's metadata");
    if (v.mv_size != 8) return av_error_set(AV_ECORRUPT, "store metadata '%s' is corrupt", key);
    *out = av_get_be64(v.mv_data);
    return 0;
}

int av_meta_put_u64(MDB_txn *txn, av_store *s, const char *key, uint64_t v)
{
    uint8_t b[8];
    av_be64(b, v);
    MDB_val k = {strlen(key), (void *)key}, val = {8, b};
    return mdb_put(txn, s->dbi[DBI_META], &k, &val, 0);
}

int av_meta_head(av_store *s, MDB_txn *txn, uint32_t *out)
{
    uint64_t v = 0;
    int rc = av_meta_u64(s, txn, "head", &v);
    *out = (uint32_t)v;
    return rc;
}

int av_store_head(av_store *s, uint32_t *out)
{
    MDB_txn *txn;
    int rc = av_txn_begin_read(s, &txn);
    if (rc < 0) return rc;
    rc = av_meta_head(s, txn, out);
    mdb_txn_abort(txn);
    s->nreaders--;
    return rc;
}

int av_store_info_get(av_store *s, av_store_info *out)
{
    memset(out, 0, sizeof *out);
    char p[4096];
    struct stat st;
    if (path_join(p, sizeof p, s->dir, "data.mdb") == 0 && stat(p, &st) == 0) out->file_bytes = (uint64_t)st.st_blocks * 512;
    if (path_join(p, sizeof p, s->dir, "lock.mdb") == 0 && stat(p, &st) == 0) out->file_bytes += (uint64_t)st.st_blocks * 512;
    MDB_txn *txn;
    int rc = av_txn_begin_read(s, &txn);
    if (rc < 0) return rc;
    av_meta_head(s, txn, &out->head);
    MDB_val k = {5, "texts"}, v;
    if (mdb_get(txn, s->dbi[DBI_META], &k, &v) == 0 && v.mv_size == 24) {
        out->text_count = av_get_be64(v.mv_data);
        out->text_raw_bytes = av_get_be64((const uint8_t *)v.mv_data + 8);
        out->text_stored_bytes = av_get_be64((const uint8_t *)v.mv_data + 16);
    }
    MDB_stat ds;
    if (mdb_stat(txn, s->dbi[DBI_DICT], &ds) == 0) out->dict_count = (uint32_t)ds.ms_entries;
    uint64_t next;
    av_meta_u64(s, txn, "next_row", &next);
    out->rows = next ? next - 1 : 0;
    mdb_txn_abort(txn);
    s->nreaders--;
    return 0;
}

/* ---- labels ---- */

static int valid_label(const char *name)
{
    if (!name || !*name || strlen(name) > 200) return 0;
    if (!strcmp(name, "HEAD") || !strncmp(name, "HEAD~", 5)) return 0;
    int digits = 1;
    for (const char *p = name; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == '~' || *p == '^' || *p == ':') return 0;
        if (*p < '0' || *p > '9') digits = 0;
    }
    return !digits;
}

int av_label_set(av_store *s, const char *name, uint32_t version, int force)
{
    if (!valid_label(name))
        return av_error_set(AV_EINVAL, "'%s' is not a valid version name (no spaces, '~', '^', ':', not all digits, not HEAD)",
                            name ? name : "");
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc) return av_mdb_error(rc, "naming a version");
    uint32_t head;
    av_meta_head(s, txn, &head);
    if (version > head) {
        mdb_txn_abort(txn);
        return av_error_set(AV_ENOTFOUND, "no version %u (the newest is %u)", version, head);
    }
    uint8_t vb[4];
    av_be32(vb, version);
    MDB_val k = {strlen(name), (void *)name}, v = {4, vb};
    rc = mdb_put(txn, s->dbi[DBI_LABEL], &k, &v, force ? 0 : MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
        mdb_txn_abort(txn);
        return av_error_set(AV_EEXISTS, "the name '%s' is taken (version %u); use --force to move it", name,
                            av_get_be32(v.mv_data));
    }
    if (!rc) rc = mdb_txn_commit(txn);
    else mdb_txn_abort(txn);
    return rc ? av_mdb_error(rc, "naming a version") : 0;
}

int av_label_get(av_store *s, const char *name, uint32_t *out)
{
    MDB_txn *txn;
    int rc = av_txn_begin_read(s, &txn);
    if (rc < 0) return rc;
    MDB_val k = {strlen(name), (void *)name}, v;
    rc = mdb_get(txn, s->dbi[DBI_LABEL], &k, &v);
    if (rc == 0) *out = av_get_be32(v.mv_data);
    mdb_txn_abort(txn);
    s->nreaders--;
    if (rc == MDB_NOTFOUND) return av_error_set(AV_ENOTFOUND, "no version named '%s'", name);
    return rc ? av_mdb_error(rc, "reading version names") : 0;
}

int av_label_each(av_store *s, int (*fn)(void *ctx, const char *name, uint32_t version), void *ctx)
{
    MDB_txn *txn;
    int rc = av_txn_begin_read(s, &txn);
    if (rc < 0) return rc;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(txn, s->dbi[DBI_LABEL], &c))) {
        mdb_txn_abort(txn);
        s->nreaders--;
        return av_mdb_error(rc, "reading version names");
    }
    MDB_val k, v;
    int ret = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && !ret; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        char *name = av_xstrndup(k.mv_data, k.mv_size);
        ret = fn(ctx, name, av_get_be32(v.mv_data));
        free(name);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    s->nreaders--;
    return ret;
}

int av_version_resolve(av_store *s, const char *spec, uint32_t *out)
{
    uint32_t head;
    int rc = av_store_head(s, &head);
    if (rc < 0) return rc;
    if (!spec || !*spec) return av_error_set(AV_EINVAL, "empty version");
    if (!strcmp(spec, "HEAD") || !strcmp(spec, "head")) {
        *out = head;
        return 0;
    }
    if (!strncmp(spec, "HEAD~", 5) || !strncmp(spec, "head~", 5)) {
        char *end;
        unsigned long back = strtoul(spec + 5, &end, 10);
        if (*end || end == spec + 5) return av_error_set(AV_EINVAL, "'%s' is not a version", spec);
        if (back > head) return av_error_set(AV_ENOTFOUND, "'%s' goes back past version 0 (the newest is %u)", spec, head);
        *out = head - (uint32_t)back;
        return 0;
    }
    if (strspn(spec, "0123456789") == strlen(spec)) {
        unsigned long v = strtoul(spec, NULL, 10);
        if (v > head) return av_error_set(AV_ENOTFOUND, "no version %s (the newest is %u)", spec, head);
        *out = (uint32_t)v;
        return 0;
    }
    rc = av_label_get(s, spec, out);
    if (rc == AV_ENOTFOUND)
        return av_error_set(AV_ENOTFOUND, "'%s' is neither a version number nor a version name (see 'aviary tag')", spec);
    return rc;
}

/* The pages this process has read through LMDB's map count as its memory
 * while they stay mapped. Handing them back (they stay in the page cache
 * and come back on the next read) keeps a long write's or scan's footprint
 * from growing with the store. LMDB does not say where its map is (its
 * me_mapaddr is only set for fixed maps), so it is found in /proc/self/maps
 * by the file's device and inode (Linux; elsewhere this does nothing). The
 * map is read-only (no MDB_WRITEMAP), so this is safe at any time, open
 * transactions included. */
void av_store_release_map(av_store *s)
{
#ifdef __linux__
    /* the map's place, found once per mapping (av_store_map_moved forgets it) */
    uintptr_t lo = atomic_load_explicit(&s->map_lo, memory_order_acquire);
    size_t len = atomic_load_explicit(&s->map_len, memory_order_acquire);
    if (len) {
        madvise((void *)lo, len, MADV_DONTNEED);
        return;
    }
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/data.mdb", s->dir);
    if (stat(path, &st) != 0) return;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return;
    char line[4600];
    unsigned found = 0;
    unsigned long flo = 0, fhi = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long a, b, ino, dmaj, dmin;
        if (sscanf(line, "%lx-%lx %*s %*s %lx:%lx %lu", &a, &b, &dmaj, &dmin, &ino) == 5 && ino == st.st_ino &&
            makedev(dmaj, dmin) == st.st_dev) {
            madvise((void *)a, b - a, MADV_DONTNEED);
            flo = a, fhi = b;
            found++;
        }
    }
    fclose(f);
    if (found == 1) {
        atomic_store_explicit(&s->map_lo, (uintptr_t)flo, memory_order_release);
        atomic_store_explicit(&s->map_len, (size_t)(fhi - flo), memory_order_release);
    }
#else
    (void)s;
#endif
}

void av_store_map_moved(av_store *s)
{
    atomic_store_explicit(&s->map_len, 0, memory_order_release);
}
