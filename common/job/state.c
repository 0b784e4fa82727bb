/*  fanfold resume state: a small text file (fixed lines, the optional
    failed and input lines, then one line per fold under way), replaced
    atomically. */

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
    /* the fixed lines, the optional failed line, then fold lines */
    char text [FF_STATE_MAX_FOLDS + 512];
    FILE *file = fopen (path, "re");
    if (!file)
        return -1;
    size_t size = fread (text, 1, sizeof (text) - 1, file);
    int overlong = !feof (file);
    fclose (file);
    text [size] = 0;
    char magic [32];
    int used = -1, more = -1;
    memset (state, 0, sizeof (*state));
    int fields = sscanf (text, "%31s 1\nsignature %79s\nwritten %" SCNu64
                         "\nbytes %" SCNu64 "\nerrors %" SCNu64 "\n%n",
                         magic, state->signature, &state->written, &state->bytes,
                         &state->errors, &used);
    if (overlong || fields != 5 || used < 0 || strcmp (magic, "fanfold-state") != 0) {
        errno = EINVAL;
        return -1;
    }
    const char *rest = text + used;
    if (sscanf (rest, "failed %" SCNu64 "\n%n", &state->failed, &more) == 1 && more > 0)
        rest += more;
    more = -1;
    if (sscanf (rest, "input %" SCNu64 " %" SCNx64 "\n%n", &state->input_seq,
                &state->input_hash, &more) == 2 && more > 0) {
        state->marked = 1;
        rest += more;
    }
    if (*rest && strncmp (rest, "fold ", 5) != 0) {
        errno = EINVAL;
        return -1;
    }
    if (strlen (rest) >= sizeof (state->folds)) {
        errno = EINVAL;
        return -1;
    }
    memcpy (state->folds, rest, strlen (rest) + 1);
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
    char text [320];
    int len = snprintf (text, sizeof (text),
                        "fanfold-state 1\nsignature %s\nwritten %" PRIu64
                        "\nbytes %" PRIu64 "\nerrors %" PRIu64 "\nfailed %" PRIu64 "\n",
                        state->signature [0]? state->signature: "-",
                        state->written, state->bytes, state->errors, state->failed);
    if (state->marked)
        len += snprintf (text + len, sizeof (text) - (size_t) len,
                         "input %" PRIu64 " %016" PRIx64 "\n", state->input_seq,
                         state->input_hash);
    size_t folds = strnlen (state->folds, sizeof (state->folds));
    if (write (fd, text, (size_t) len) != len
    ||  (folds && write (fd, state->folds, folds) != (ssize_t) folds) || fsync (fd) != 0) {
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
