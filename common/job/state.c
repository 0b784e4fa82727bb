/*  fanfold resume state: a four-line text file, replaced atomically. */

#include "fanfold/job/state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
ff_state_path (const char *output, char *path, size_t size)
{
    int len = snprintf (path, size, "%s%s", output, FF_STATE_SUFFIX);
    return len > 0 && (size_t) len < size? 0: -1;
}

int
ff_state_load (const char *path, ff_state_t *state)
{
    FILE *file = fopen (path, "re");
    if (!file)
        return -1;
    char magic [32];
    memset (state, 0, sizeof (*state));
    int fields = fscanf (file, "%31s 1\nsignature %79s\nwritten %" SCNu64
                         "\nbytes %" SCNu64 "\nerrors %" SCNu64 "\n",
                         magic, state->signature, &state->written, &state->bytes,
                         &state->errors);
    fclose (file);
    if (fields != 5 || strcmp (magic, "fanfold-state") != 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int
ff_state_save (const char *path, const ff_state_t *state)
{
    char temporary [PATH_MAX], dir [PATH_MAX];
    if (snprintf (temporary, sizeof (temporary), "%s.tmp", path) >= (int) sizeof (temporary)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open (temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    char text [256];
    int len = snprintf (text, sizeof (text),
                        "fanfold-state 1\nsignature %s\nwritten %" PRIu64
                        "\nbytes %" PRIu64 "\nerrors %" PRIu64 "\n",
                        state->signature [0]? state->signature: "-",
                        state->written, state->bytes, state->errors);
    if (write (fd, text, (size_t) len) != len || fsync (fd) != 0) {
        int saved = errno;
        close (fd);
        unlink (temporary);
        errno = saved;
        return -1;
    }
    close (fd);
    if (rename (temporary, path) != 0) {
        int saved = errno;
        unlink (temporary);
        errno = saved;
        return -1;
    }
    snprintf (dir, sizeof (dir), "%s", path);
    int dir_fd = open (dirname (dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
        fsync (dir_fd);
        close (dir_fd);
    }
    return 0;
}
