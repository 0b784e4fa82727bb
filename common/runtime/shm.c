/*  fanfold shared memory: POSIX segments under /dev/shm, created with
    O_EXCL and 0600, checked with fstat before mapping, cleaned once the
    process their name gives as owner is gone;
    and files on disk mapped read-only in place, checked by identity
    (device, inode, size, mtime) before and after mapping. */

#include "fanfold/runtime/shm.h"

#include <assert.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct ff_shm {
    char name [FF_SHM_NAME_MAX];    /* segment name, without '/' ("" for a file) */
    char *handle;                   /* a file: its handle text (ff_shm_file_handle) */
    uint8_t *data;                  /* mapping, or NULL for size 0 */
    size_t size;                    /* bytes mapped */
    int writable;                   /* created here and not sealed */
};

void
ff_shm_job_prefix (const char *job, char *out, size_t size)
{
    snprintf (out, size, "ff_%u_%s_", (unsigned) getuid (), job);
}

/* A name is ours to use when it is short, has no '/' and plain characters. */
static int
s_name_ok (const char *name)
{
    size_t len = strlen (name), index;
    if (len == 0 || len >= FF_SHM_NAME_MAX - 1)
        return 0;
    for (index = 0; index < len; index++) {
        char c = name [index];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return name [0] != '.';
}

ff_shm_t *
ff_shm_create (const char *name, size_t size)
{
    char path [FF_SHM_NAME_MAX + 1];
    if (!s_name_ok (name)) {
        errno = EINVAL;
        return NULL;
    }
    snprintf (path, sizeof (path), "/%s", name);
    int fd = shm_open (path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        return NULL;
    ff_shm_t *self = (ff_shm_t *) calloc (1, sizeof (ff_shm_t));
    if (!self || (size > 0 && ftruncate (fd, (off_t) size) != 0))
        goto fail;
    snprintf (self->name, sizeof (self->name), "%s", name);
    self->size = size;
    self->writable = 1;
    if (size > 0) {
        self->data = (uint8_t *) mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (self->data == MAP_FAILED) {
            self->data = NULL;
            goto fail;
        }
    }
    close (fd);
    return self;
fail:;
    int saved = errno;
    close (fd);
    shm_unlink (path);
    free (self);
    errno = saved;
    return NULL;
}

ff_shm_t *
ff_shm_open (const char *name, const char *prefix, size_t min_size,
             char *error, size_t error_size)
{
    char path [FF_SHM_NAME_MAX + 1];
    struct stat info;
    if (!s_name_ok (name) || strncmp (name, prefix, strlen (prefix)) != 0) {
        snprintf (error, error_size, "segment name \"%.64s\" is not one of this job's", name);
        return NULL;
    }
    snprintf (path, sizeof (path), "/%s", name);
    int fd = shm_open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
    if (fd < 0) {
        snprintf (error, error_size, "segment %s: %s", name, strerror (errno));
        return NULL;
    }
    if (fstat (fd, &info) != 0 || !S_ISREG (info.st_mode) || info.st_uid != getuid ()
    ||  (info.st_mode & 077) || (uint64_t) info.st_size < min_size) {
        snprintf (error, error_size,
                  "segment %s: refused (owner %u, mode %o, %lld bytes, %zu needed)",
                  name, (unsigned) info.st_uid, (unsigned) (info.st_mode & 0777),
                  (long long) info.st_size, min_size);
        close (fd);
        return NULL;
    }
    ff_shm_t *self = (ff_shm_t *) calloc (1, sizeof (ff_shm_t));
    if (!self) {
        close (fd);
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    snprintf (self->name, sizeof (self->name), "%s", name);
    self->size = (size_t) info.st_size;
    if (self->size > 0) {
        self->data = (uint8_t *) mmap (NULL, self->size, PROT_READ, MAP_SHARED, fd, 0);
        if (self->data == MAP_FAILED) {
            snprintf (error, error_size, "segment %s: cannot map: %s", name, strerror (errno));
            close (fd);
            free (self);
            return NULL;
        }
    }
    close (fd);
    return self;
}

void
ff_shm_destroy (ff_shm_t **self_p, int unlink)
{
    if (self_p && *self_p) {
        ff_shm_t *self = *self_p;
        if (self->data)
            munmap (self->data, self->size);
        if (unlink && !self->handle) {
            char path [FF_SHM_NAME_MAX + 1];
            snprintf (path, sizeof (path), "/%s", self->name);
            shm_unlink (path);
        }
        free (self->handle);
        free (self);
        *self_p = NULL;
    }
}

uint8_t *
ff_shm_data (ff_shm_t *self)
{
    return self->data;
}

size_t
ff_shm_size (ff_shm_t *self)
{
    return self->size;
}

const char *
ff_shm_name (ff_shm_t *self)
{
    return self->handle? self->handle: self->name;
}

int
ff_shm_seal (ff_shm_t *self)
{
    if (self->data && mprotect (self->data, self->size, PROT_READ) != 0)
        return -1;
    self->writable = 0;
    return 0;
}

/* ------------------------------------------------- files mapped in place */

static void
s_file_id (const struct stat *info, ff_shm_file_id_t *id)
{
    id->dev = (uint64_t) info->st_dev;
    id->ino = (uint64_t) info->st_ino;
    id->size = (uint64_t) info->st_size;
    id->mtime_ns = (int64_t) info->st_mtim.tv_sec * 1000000000 + info->st_mtim.tv_nsec;
}

static int
s_file_id_eq (const ff_shm_file_id_t *a, const ff_shm_file_id_t *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size
        && a->mtime_ns == b->mtime_ns;
}

int
ff_shm_file_handle (const char *path, const ff_shm_file_id_t *id, char *out, size_t size)
{
    assert (path && id && out);
    if (path [0] != '/')
        return -1;
    int len = snprintf (out, size, "%s%" PRIu64 ":%" PRIu64 ":%" PRIu64 ":%" PRId64 ":%s",
                        FF_SHM_FILE_PREFIX, id->dev, id->ino, id->size, id->mtime_ns, path);
    return len > 0 && (size_t) len < size && (size_t) len < FF_SHM_HANDLE_MAX? 0: -1;
}

/* Reads a decimal field ending in ':' at *at; moves past it. */
static int
s_decimal (const char **at, const char *end, uint64_t *value)
{
    const char *start = *at;
    *value = 0;
    while (*at < end && **at >= '0' && **at <= '9') {
        unsigned digit = (unsigned) (**at - '0');
        if (*value > (UINT64_MAX - digit) / 10)
            return -1;
        *value = *value * 10 + digit;
        (*at)++;
    }
    if (*at == start || *at >= end || **at != ':' || *at - start > 20)
        return -1;
    (*at)++;
    return 0;
}

int
ff_shm_file_handle_parse (const char *text, size_t len, ff_shm_file_id_t *id,
                          char *path, size_t path_size)
{
    assert (text && id && path);
    size_t prefix = strlen (FF_SHM_FILE_PREFIX);
    const char *at = text + prefix, *end = text + len;
    uint64_t mtime;
    if (len <= prefix || len >= FF_SHM_HANDLE_MAX
    ||  memcmp (text, FF_SHM_FILE_PREFIX, prefix) != 0 || memchr (text, 0, len))
        return -1;
    if (s_decimal (&at, end, &id->dev) || s_decimal (&at, end, &id->ino)
    ||  s_decimal (&at, end, &id->size) || s_decimal (&at, end, &mtime)
    ||  mtime > INT64_MAX || at >= end || *at != '/' || (size_t) (end - at) >= path_size)
        return -1;
    id->mtime_ns = (int64_t) mtime;
    memcpy (path, at, (size_t) (end - at));
    path [end - at] = 0;
    return 0;
}

ff_shm_t *
ff_shm_map_file (const char *path, const ff_shm_file_id_t *expect, ff_shm_file_id_t *id,
                 char *error, size_t error_size)
{
    assert (path && id);
    struct stat info;
    ff_shm_file_id_t before, after;
    ff_shm_t *self = NULL;
    /* O_NONBLOCK: a FIFO put in the file's place must not hang the open */
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf (error, error_size, "%s: cannot open: %s", path, strerror (errno));
        return NULL;
    }
    if (fstat (fd, &info) != 0 || !S_ISREG (info.st_mode)) {
        snprintf (error, error_size, "%s: not a regular file", path);
        goto fail;
    }
    s_file_id (&info, &before);
    if (expect && !s_file_id_eq (&before, expect)) {
        snprintf (error, error_size, "%s: not the file the job named (it changed or was "
                  "replaced: inode %" PRIu64 ", %" PRIu64 " bytes)", path, before.ino, before.size);
        goto fail;
    }
    if (before.size > SIZE_MAX) {
        snprintf (error, error_size, "%s: too large to map", path);
        goto fail;
    }
    self = (ff_shm_t *) calloc (1, sizeof (ff_shm_t));
    if (!self || !(self->handle = (char *) malloc (FF_SHM_HANDLE_MAX))) {
        snprintf (error, error_size, "%s: out of memory", path);
        goto fail;
    }
    if (ff_shm_file_handle (path, &before, self->handle, FF_SHM_HANDLE_MAX)) {
        snprintf (error, error_size, "%s: path too long for a handle", path);
        goto fail;
    }
    self->size = (size_t) before.size;
    if (self->size > 0) {
        self->data = (uint8_t *) mmap (NULL, self->size, PROT_READ, MAP_SHARED, fd, 0);
        if (self->data == MAP_FAILED) {
            self->data = NULL;
            snprintf (error, error_size, "%s: cannot map: %s", path, strerror (errno));
            goto fail;
        }
    }
    /* the same file after mapping, and still the one the path names */
    if (fstat (fd, &info) != 0) {
        snprintf (error, error_size, "%s: cannot stat: %s", path, strerror (errno));
        goto fail;
    }
    s_file_id (&info, &after);
    if (s_file_id_eq (&after, &before) && stat (path, &info) == 0)
        s_file_id (&info, &after);
    if (!s_file_id_eq (&after, &before)) {
        snprintf (error, error_size, "%s: changed while it was being mapped", path);
        goto fail;
    }
    close (fd);
    *id = before;
    return self;
fail:
    close (fd);
    ff_shm_destroy (&self, 0);
    return NULL;
}

/* The seconds since the epoch at which the kernel booted, from the
   difference of the two clocks now (precise to a microsecond, unlike
   /proc/stat's btime). */
static double
s_boot_epoch (void)
{
    struct timespec real, boot;
    if (clock_gettime (CLOCK_REALTIME, &real) != 0 || clock_gettime (CLOCK_BOOTTIME, &boot) != 0)
        return 0;
    return (double) (real.tv_sec - boot.tv_sec) + (real.tv_nsec - boot.tv_nsec) / 1e9;
}

int
ff_shm_owner_live (pid_t pid, const struct timespec *made)
{
    char path [64], stat_line [1024];
    assert (made);
    if (pid <= 0)
        return 0;
    snprintf (path, sizeof (path), "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "re");
    if (!file)                      /* gone, or /proc hidden: ask the kernel */
        return kill (pid, 0) == 0 || errno == EPERM;
    size_t got = fread (stat_line, 1, sizeof (stat_line) - 1, file);
    fclose (file);
    stat_line [got] = 0;
    /* pid (comm) state ppid ... starttime (field 22, clock ticks since boot) */
    const char *close = strrchr (stat_line, ')');
    if (!close || close [1] != ' ')
        return 1;                   /* unreadable: keep rather than guess */
    if (close [2] == 'Z' || close [2] == 'X')
        return 0;
    const char *field = close + 2;
    int index;
    for (index = 3; index < 22 && field; index++) {
        field = strchr (field, ' ');
        if (field)
            field++;
    }
    long ticks = sysconf (_SC_CLK_TCK);
    if (!field || ticks <= 0)
        return 1;
    unsigned long long start = strtoull (field, NULL, 10);
    double started = s_boot_epoch () + (double) start / (double) ticks;
    double stamped = (double) made->tv_sec + made->tv_nsec / 1e9;
    /* started was cut to a tick, which errs towards live; the slack covers
       a wall clock stepped forward since the segment was stamped */
    return started <= stamped + FF_SHM_OWNER_SLACK_S;
}

int
ff_shm_clean (const char *job)
{
    char mine [64];
    int removed = 0;
    snprintf (mine, sizeof (mine), "ff_%u_", (unsigned) getuid ());
    DIR *dir = opendir ("/dev/shm");
    if (!dir)
        return 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        const char *name = entry->d_name;
        if (strncmp (name, mine, strlen (mine)) != 0)
            continue;
        /* ff_<uid>_<job>_<pid>_<hash>_<kind> */
        const char *job_at = name + strlen (mine);
        const char *pid_at = strchr (job_at, '_');
        if (!pid_at)
            continue;
        int dead;
        if (job)
            dead = (size_t) (pid_at - job_at) == strlen (job)
                && strncmp (job_at, job, strlen (job)) == 0;
        else {
            /* the owner is <pid>, the process that made the segment (or,
               for a Python worker's results, the client that reads them):
               live when it runs and started before the segment's last
               change, so that a reused pid keeps nothing */
            char *end;
            long pid = strtol (pid_at + 1, &end, 10);
            struct stat info;
            dead = pid > 0 && pid <= INT_MAX && *end == '_'
                && fstatat (dirfd (dir), name, &info, AT_SYMLINK_NOFOLLOW) == 0
                && !ff_shm_owner_live ((pid_t) pid, &info.st_ctim);
        }
        if (dead) {
            char path [FF_SHM_NAME_MAX + 2];
            snprintf (path, sizeof (path), "/%.*s", FF_SHM_NAME_MAX - 1, name);
            if (shm_unlink (path) == 0)
                removed++;
        }
    }
    closedir (dir);
    return removed;
}
