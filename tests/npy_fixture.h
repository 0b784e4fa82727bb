/*  Test fixture shared by check_source and check_producer: a small .npy
    written in a temporary directory, and the shared-memory segments a test
    made under its prefix. Included by those two suites only. */

#ifndef FANFOLD_TESTS_NPY_FIXTURE_H
#define FANFOLD_TESTS_NPY_FIXTURE_H

#include <check.h>
#include <limits.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Writes a .npy (format 1.0, little-endian f8, shape (count,)) into path,
   holding count values of values but only data_count of them. */
static void
ff_fixture_write_npy (const char *path, const double *values, size_t count, size_t data_count)
{
    char header [128];
    memset (header, ' ', sizeof (header));
    memcpy (header, "\x93NUMPY\x01\x00", 8);
    header [8] = (char) (sizeof (header) - 10);
    header [9] = 0;
    char dict [118];
    int len = snprintf (dict, sizeof (dict),
                        "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu,), }",
                        count);
    ck_assert_int_lt (len, (int) sizeof (header) - 11);
    memcpy (header + 10, dict, (size_t) len);
    header [sizeof (header) - 1] = '\n';
    FILE *file = fopen (path, "wb");
    ck_assert_ptr_nonnull (file);
    ck_assert_uint_eq (fwrite (header, 1, sizeof (header), file), sizeof (header));
    ck_assert_uint_eq (fwrite (values, sizeof (double), data_count, file), data_count);
    ck_assert_int_eq (fclose (file), 0);
}

/* Returns how many segments under /dev/shm start with prefix. */
static int
ff_fixture_segments_left (const char *prefix)
{
    DIR *dir = opendir ("/dev/shm");
    struct dirent *entry;
    int count = 0;
    ck_assert_ptr_nonnull (dir);
    while ((entry = readdir (dir)))
        if (strncmp (entry->d_name, prefix, strlen (prefix)) == 0)
            count++;
    closedir (dir);
    return count;
}

/* Removes the temporary directory dir and its files, and any segment
   under prefix that a failed test left. */
static void
ff_fixture_remove (const char *dir_path, const char *prefix)
{
    DIR *dir = opendir (dir_path);
    struct dirent *entry;
    if (dir) {
        while ((entry = readdir (dir))) {
            char path [PATH_MAX];
            if (strcmp (entry->d_name, ".") && strcmp (entry->d_name, "..")) {
                snprintf (path, sizeof (path), "%s/%s", dir_path, entry->d_name);
                unlink (path);
            }
        }
        closedir (dir);
        rmdir (dir_path);
    }
    dir = opendir ("/dev/shm");
    if (dir) {
        while ((entry = readdir (dir)))
            if (strncmp (entry->d_name, prefix, strlen (prefix)) == 0) {
                char name [260];
                snprintf (name, sizeof (name), "/%s", entry->d_name);
                shm_unlink (name);
            }
        closedir (dir);
    }
}

#endif
