/*  mapsum: what this machine allows for row 7b of `make bench`. Maps a
    little-endian float32 .npy read-only (MAP_SHARED, as fanfold's workers
    map it) and sums its elements in P forked processes, each one
    contiguous P-th of the array, then unmaps it and exits: the page faults,
    one read of every byte from memory and the unmapping, with no
    arithmetic worth the name. The wall time of `mapsum 1 F` ÷ that of
    `mapsum 2 F` is the most that two processes can gain over one on
    this machine for a job that streams the file once.

    Usage: mapsum PROCESSES FILE.npy
    Writes the sum (in float, of no use but to keep the loop) to stdout.
    Exit 0, or 2 with a message when the file is no float32 .npy. */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_MAX_PROCESSES 64

typedef float s_f4 __attribute__ ((vector_size (16)));

static void
s_die (const char *what, const char *detail)
{
    fprintf (stderr, "mapsum: %s: %s\n", what, detail);
    exit (2);
}

/* The offset of the data of the .npy at map (size bytes), or 0 when it is
   no little-endian float32 .npy. */
static size_t
s_data_offset (const uint8_t *map, size_t size)
{
    if (size < 12 || memcmp (map, "\x93NUMPY", 6) != 0)
        return 0;
    size_t header = map [6] == 1 ? 10u + (size_t) (map [8] | map [9] << 8)
                  : 12u + (size_t) (map [8] | map [9] << 8 | map [10] << 16
                                    | (uint32_t) map [11] << 24);
    if (header > size || !memmem (map, header, "'<f4'", 5))
        return 0;
    return header;
}

/* Sums count floats at data in four vector accumulators. */
static float
s_sum (const uint8_t *data, size_t count)
{
    s_f4 acc [4] = { { 0 } };
    size_t index = 0;
    for (; count - index >= 16; index += 16)
        for (int k = 0; k < 4; k++) {
            s_f4 v;
            memcpy (&v, data + 4 * (index + 4 * (size_t) k), sizeof (v));
            acc [k] += v;
        }
    float total = 0;
    for (int k = 0; k < 4; k++)
        for (int lane = 0; lane < 4; lane++)
            total += acc [k][lane];
    for (; index < count; index++) {
        float v;
        memcpy (&v, data + 4 * index, sizeof (v));
        total += v;
    }
    return total;
}

int
main (int argc, char *argv [])
{
    char *end;
    long processes = argc == 3 ? strtol (argv [1], &end, 10) : 0;
    if (argc != 3 || *end || processes < 1 || processes > S_MAX_PROCESSES) {
        fprintf (stderr, "usage: mapsum PROCESSES(1-%d) FILE.npy\n", S_MAX_PROCESSES);
        return 2;
    }
    int fd = open (argv [2], O_RDONLY | O_CLOEXEC);
    struct stat info;
    if (fd < 0 || fstat (fd, &info) != 0)
        s_die (argv [2], strerror (errno));
    size_t size = (size_t) info.st_size;
    uint8_t *map = (uint8_t *) mmap (NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        s_die (argv [2], strerror (errno));
    size_t offset = s_data_offset (map, size);
    if (offset == 0)
        s_die (argv [2], "not a little-endian float32 .npy");
    /* each process maps the file itself, as each worker does */
    munmap (map, size);
    size_t count = (size - offset) / 4, share = (count + (size_t) processes - 1) / (size_t) processes;
    pid_t children [S_MAX_PROCESSES];
    for (long p = 0; p < processes; p++) {
        children [p] = fork ();
        if (children [p] < 0)
            s_die ("fork", strerror (errno));
        if (children [p] == 0) {
            map = (uint8_t *) mmap (NULL, size, PROT_READ, MAP_SHARED, fd, 0);
            if (map == MAP_FAILED)
                s_die (argv [2], strerror (errno));
            size_t first = share * (size_t) p;
            size_t mine = first >= count ? 0 : count - first < share ? count - first : share;
            float sum = s_sum (map + offset + 4 * first, mine);
            munmap (map, size);
            printf ("%ld: %.9g\n", p, (double) sum);
            fflush (stdout);
            _exit (0);
        }
    }
    int failed = 0;
    for (long p = 0; p < processes; p++) {
        int status;
        while (waitpid (children [p], &status, 0) < 0)
            if (errno != EINTR)
                s_die ("waitpid", strerror (errno));
        failed |= !WIFEXITED (status) || WEXITSTATUS (status) != 0;
    }
    close (fd);
    return failed ? 2 : 0;
}
