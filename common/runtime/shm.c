/*  fanfold shared memory: POSIX segments under /dev/shm, created with
    O_EXCL and 0600, checked with fstat before mapping, cleaned by pid. */

#include "fanfold/runtime/shm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct ff_shm {
    char name [FF_SHM_NAME_MAX];    /* segment name, without '/' */
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
        if (unlink) {
            char path [FF_SHM_NAME_MAX + 1];
            snprintf (path, sizeof (path), "/%s", self->name);
            shm_unlink (path);
        }
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
    return self->name;
}

int
ff_shm_seal (ff_shm_t *self)
{
    if (self->data && mprotect (self->data, self->size, PROT_READ) != 0)
        return -1;
    self->writable = 0;
    return 0;
}

/* Returns 1 when pid is a running (not zombie) fanfold ventilator or
   submitting client (the process that made the segments): a pid reused by
   another program does not keep a dead job's segments. */
static int
s_ventilator_alive (pid_t pid)
{
    char path [64], stat_line [512];
    snprintf (path, sizeof (path), "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "re");
    if (!file)
        return kill (pid, 0) == 0 || errno == EPERM;
    size_t got = fread (stat_line, 1, sizeof (stat_line) - 1, file);
    fclose (file);
    stat_line [got] = 0;
    /* pid (comm) state ...: comm is cut to 15 characters */
    const char *open = strchr (stat_line, '(');
    const char *close = strrchr (stat_line, ')');
    if (!open || !close || close [1] != ' ')
        return 1;
    char state = close [2];
    /* a ventilator, or `fanfold submit` (a pool job's segments) */
    return state != 'Z' && state != 'X'
        && (strncmp (open + 1, "fanfold-ventila", 15) == 0
            || strncmp (open + 1, "fanfold) ", 9) == 0);
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
            long pid = strtol (pid_at + 1, NULL, 10);
            dead = pid > 0 && !s_ventilator_alive ((pid_t) pid);
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
