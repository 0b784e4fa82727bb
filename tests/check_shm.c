/*  Unit tests for shared memory: segments are made 0600 and exclusive,
    sealed read-only, opened read-only after their checks, and cleaned by
    job or by dead ventilator; in "limits", every name and segment that
    ff_shm_open refuses. Each test uses its own job id (with the pid), and
    removes every segment it made. */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fanfold/runtime/shm.h"

/* The pid field of segments that no ff_shm_clean (NULL) removes, whatever
   other fanfold runs on this host do as they start: no process is 0. */
#define S_HELD 0

static char s_job [32];                 /* this test's job id */
static char s_prefix [64];              /* its prefix, ff_<uid>_<job>_ */

/* Gives each test a job id of its own, even when tests share a process. */
static void
s_setup (void)
{
    static unsigned counter = 0;
    snprintf (s_job, sizeof (s_job), "tshm%dn%u", (int) getpid (), counter++);
    ff_shm_job_prefix (s_job, s_prefix, sizeof (s_prefix));
}

/* Removes whatever the test left of its job. */
static void
s_teardown (void)
{
    ff_shm_clean (s_job);
}

/* Writes the name of this job's segment for ventilator pid and kind. */
static const char *
s_name (pid_t pid, const char *kind)
{
    static char name [FF_SHM_NAME_MAX];
    snprintf (name, sizeof (name), "%s%d_0123456789abcdef_%s", s_prefix, (int) pid, kind);
    return name;
}

/* Returns 1 when segment name exists under /dev/shm. */
static int
s_exists (const char *name)
{
    char path [FF_SHM_NAME_MAX + 16];
    struct stat info;
    snprintf (path, sizeof (path), "/dev/shm/%s", name);
    return stat (path, &info) == 0;
}

/* Makes segment name of size bytes and mode straight with shm_open, so
   that ff_shm_open can be shown one it did not make. */
static void
s_make_raw (const char *name, size_t size, mode_t mode)
{
    char path [FF_SHM_NAME_MAX + 256];
    snprintf (path, sizeof (path), "/%s", name);
    int fd = shm_open (path, O_CREAT | O_EXCL | O_RDWR, 0600);
    ck_assert_msg (fd >= 0, "shm_open %s: %s", path, strerror (errno));
    ck_assert_int_eq (fchmod (fd, mode), 0);
    ck_assert_int_eq (ftruncate (fd, (off_t) size), 0);
    close (fd);
}

static void
s_unlink_raw (const char *name)
{
    char path [FF_SHM_NAME_MAX + 256];
    snprintf (path, sizeof (path), "/%s", name);
    ck_assert_int_eq (shm_unlink (path), 0);
}

/* Returns the permissions ("r--s", "rw-s") of the mapping that starts at
   address, from /proc/self/maps, in perms. */
static void
s_mapping_perms (const void *address, char perms [5])
{
    FILE *file = fopen ("/proc/self/maps", "re");
    char line [512];
    int found = 0;
    ck_assert_ptr_nonnull (file);
    while (!found && fgets (line, sizeof (line), file)) {
        unsigned long long start, end;
        if (sscanf (line, "%llx-%llx %4s", &start, &end, perms) == 3
        &&  start == (unsigned long long) (uintptr_t) address)
            found = 1;
    }
    fclose (file);
    ck_assert_msg (found, "no mapping starts at %p", address);
}

/* Opens name, which must be refused with a message that contains what. */
static void
s_assert_refused (const char *name, const char *prefix, size_t min_size, const char *what)
{
    char error [256] = "";
    ff_shm_t *shm = ff_shm_open (name, prefix, min_size, error, sizeof (error));
    ck_assert_ptr_null (shm);
    ck_assert_msg (strstr (error, what) != NULL,
                   "message \"%s\" does not mention \"%s\"", error, what);
}

/* Forks a child that names itself fanfold-ventilator (as its comm) and
   waits to be killed (or dies after 30 s); returns its pid once renamed. */
static pid_t
s_fake_ventilator (void)
{
    int ready [2];
    ck_assert_int_eq (pipe (ready), 0);
    pid_t pid = fork ();
    ck_assert_int_ge (pid, 0);
    if (pid == 0) {
        close (ready [0]);
        prctl (PR_SET_NAME, "fanfold-ventilator", 0, 0, 0);
        if (write (ready [1], "r", 1) != 1)
            _exit (1);
        alarm (30);
        while (1)
            pause ();
    }
    close (ready [1]);
    char byte;
    ck_assert_int_eq (read (ready [0], &byte, 1), 1);
    close (ready [0]);
    return pid;
}

/* ------------------------------------------------------------- segments */

START_TEST (test_shm_job_prefix_is_ff_uid_and_job)
{
    char prefix [64], expected [64];
    ff_shm_job_prefix ("abc123", prefix, sizeof (prefix));
    snprintf (expected, sizeof (expected), "ff_%u_abc123_", (unsigned) getuid ());
    ck_assert_str_eq (prefix, expected);
}
END_TEST

START_TEST (test_shm_create_makes_a_0600_segment_of_the_size_asked_under_dev_shm)
{
    const char *name = s_name (S_HELD, "data");
    ff_shm_t *shm = ff_shm_create (name, 4096 + 17);
    ck_assert_ptr_nonnull (shm);
    ck_assert_str_eq (ff_shm_name (shm), name);
    ck_assert_uint_eq (ff_shm_size (shm), 4096 + 17);
    ck_assert_ptr_nonnull (ff_shm_data (shm));

    char path [FF_SHM_NAME_MAX + 16];
    struct stat info;
    snprintf (path, sizeof (path), "/dev/shm/%s", name);
    ck_assert_int_eq (stat (path, &info), 0);
    ck_assert (S_ISREG (info.st_mode));
    ck_assert_uint_eq (info.st_mode & 07777, 0600);
    ck_assert_uint_eq (info.st_uid, getuid ());
    ck_assert_int_eq (info.st_size, 4096 + 17);
    ff_shm_destroy (&shm, 1);
}
END_TEST

START_TEST (test_shm_data_is_writable_until_seal_makes_it_read_only)
{
    ff_shm_t *shm = ff_shm_create (s_name (S_HELD, "data"), 8192);
    ck_assert_ptr_nonnull (shm);
    uint8_t *data = ff_shm_data (shm);
    char perms [5];
    s_mapping_perms (data, perms);
    ck_assert_str_eq (perms, "rw-s");
    memset (data, 0xa5, 8192);
    data [8191] = 0x5a;

    ck_assert_int_eq (ff_shm_seal (shm), 0);
    s_mapping_perms (data, perms);
    ck_assert_str_eq (perms, "r--s");
    /* what was written stays readable */
    ck_assert_uint_eq (data [0], 0xa5);
    ck_assert_uint_eq (data [8191], 0x5a);
    ff_shm_destroy (&shm, 1);
}
END_TEST

START_TEST (test_shm_open_maps_a_sealed_segment_read_only_and_sees_its_bytes)
{
    const char *name = s_name (S_HELD, "data");
    ff_shm_t *made = ff_shm_create (name, 100);
    ck_assert_ptr_nonnull (made);
    for (size_t index = 0; index < 100; index++)
        ff_shm_data (made) [index] = (uint8_t) (index * 7 + 3);
    ck_assert_int_eq (ff_shm_seal (made), 0);

    char error [256] = "";
    ff_shm_t *opened = ff_shm_open (name, s_prefix, 100, error, sizeof (error));
    ck_assert_msg (opened != NULL, "%s", error);
    ck_assert_str_eq (ff_shm_name (opened), name);
    ck_assert_uint_eq (ff_shm_size (opened), 100);
    ck_assert_ptr_ne (ff_shm_data (opened), ff_shm_data (made));
    ck_assert_mem_eq (ff_shm_data (opened), ff_shm_data (made), 100);
    char perms [5];
    s_mapping_perms (ff_shm_data (opened), perms);
    ck_assert_str_eq (perms, "r--s");

    ff_shm_destroy (&opened, 0);
    ck_assert_ptr_null (opened);
    ck_assert (s_exists (name));
    ff_shm_destroy (&made, 1);
}
END_TEST

START_TEST (test_shm_open_accepts_a_segment_of_exactly_min_size)
{
    const char *name = s_name (S_HELD, "data");
    ff_shm_t *made = ff_shm_create (name, 16);
    ck_assert_ptr_nonnull (made);
    char error [256] = "";
    ff_shm_t *opened = ff_shm_open (name, s_prefix, 16, error, sizeof (error));
    ck_assert_msg (opened != NULL, "%s", error);
    ff_shm_destroy (&opened, 0);
    ff_shm_destroy (&made, 1);
}
END_TEST

START_TEST (test_shm_destroy_with_unlink_removes_the_name_and_is_safe_twice)
{
    const char *name = s_name (S_HELD, "data");
    ff_shm_t *shm = ff_shm_create (name, 64);
    ck_assert_ptr_nonnull (shm);
    ck_assert (s_exists (name));
    ff_shm_destroy (&shm, 1);
    ck_assert_ptr_null (shm);
    ck_assert (!s_exists (name));
    ff_shm_destroy (&shm, 1);
    ff_shm_destroy (NULL, 1);
}
END_TEST

START_TEST (test_shm_destroy_without_unlink_keeps_the_name)
{
    const char *name = s_name (S_HELD, "data");
    ff_shm_t *shm = ff_shm_create (name, 64);
    ck_assert_ptr_nonnull (shm);
    ff_shm_destroy (&shm, 0);
    ck_assert_ptr_null (shm);
    ck_assert (s_exists (name));
    s_unlink_raw (name);
}
END_TEST

START_TEST (test_shm_clean_of_a_job_removes_only_that_jobs_segments)
{
    /* another job whose id starts with this one's, and one it starts with */
    char longer [48], shorter [48], other_prefix [64], name [FF_SHM_NAME_MAX];
    snprintf (longer, sizeof (longer), "%sx", s_job);
    snprintf (shorter, sizeof (shorter), "%.*s", (int) strlen (s_job) - 1, s_job);
    ff_shm_t *mine [2], *others [2];
    mine [0] = ff_shm_create (s_name (S_HELD, "data"), 32);
    mine [1] = ff_shm_create (s_name (S_HELD, "coords"), 32);
    ff_shm_job_prefix (longer, other_prefix, sizeof (other_prefix));
    snprintf (name, sizeof (name), "%s%d_0123456789abcdef_data", other_prefix, S_HELD);
    others [0] = ff_shm_create (name, 32);
    ff_shm_job_prefix (shorter, other_prefix, sizeof (other_prefix));
    snprintf (name, sizeof (name), "%s%d_0123456789abcdef_data", other_prefix, S_HELD);
    others [1] = ff_shm_create (name, 32);
    ck_assert_ptr_nonnull (mine [0]);
    ck_assert_ptr_nonnull (mine [1]);
    ck_assert_ptr_nonnull (others [0]);
    ck_assert_ptr_nonnull (others [1]);

    ck_assert_int_eq (ff_shm_clean (s_job), 2);
    ck_assert (!s_exists (ff_shm_name (mine [0])));
    ck_assert (!s_exists (ff_shm_name (mine [1])));
    ck_assert (s_exists (ff_shm_name (others [0])));
    ck_assert (s_exists (ff_shm_name (others [1])));
    ck_assert_int_eq (ff_shm_clean (s_job), 0);

    ff_shm_destroy (&mine [0], 0);
    ff_shm_destroy (&mine [1], 0);
    ff_shm_destroy (&others [0], 1);
    ff_shm_destroy (&others [1], 1);
}
END_TEST

START_TEST (test_shm_clean_of_null_removes_the_segments_of_a_dead_process)
{
    pid_t pid = fork ();
    ck_assert_int_ge (pid, 0);
    if (pid == 0)
        _exit (0);
    int status;
    ck_assert_int_eq (waitpid (pid, &status, 0), pid);
    const char *name = s_name (pid, "data");
    ff_shm_t *shm = ff_shm_create (name, 32);
    ck_assert_ptr_nonnull (shm);
    ff_shm_clean (NULL);
    ck_assert (!s_exists (name));
    ff_shm_destroy (&shm, 0);
}
END_TEST

START_TEST (test_shm_clean_of_null_keeps_the_segments_of_any_live_owner)
{
    /* this test binary is no fanfold stage: a Python client or worker
       owns its segments just the same */
    const char *name = s_name (getpid (), "data");
    ff_shm_t *shm = ff_shm_create (name, 32);
    ck_assert_ptr_nonnull (shm);
    ff_shm_clean (NULL);
    ck_assert (s_exists (name));
    ff_shm_destroy (&shm, 1);
}
END_TEST

START_TEST (test_shm_owner_is_live_only_when_it_started_before_its_segment)
{
    struct timespec now, long_ago = { .tv_sec = 1000000000, .tv_nsec = 0 };
    ck_assert_int_eq (clock_gettime (CLOCK_REALTIME, &now), 0);
    ck_assert_int_eq (ff_shm_owner_live (getpid (), &now), 1);
    /* a process that started after the segment was made reuses the pid */
    ck_assert_int_eq (ff_shm_owner_live (getpid (), &long_ago), 0);
    ck_assert_int_eq (ff_shm_owner_live (0, &now), 0);

    pid_t pid = fork ();
    ck_assert_int_ge (pid, 0);
    if (pid == 0)
        _exit (0);
    int status;
    ck_assert_int_eq (waitpid (pid, &status, 0), pid);
    ck_assert_int_eq (ff_shm_owner_live (pid, &now), 0);
}
END_TEST

START_TEST (test_shm_clean_of_null_keeps_a_live_ventilators_segments_until_it_is_gone)
{
    pid_t pid = s_fake_ventilator ();
    char name [FF_SHM_NAME_MAX];
    snprintf (name, sizeof (name), "%s", s_name (pid, "data"));
    ff_shm_t *shm = ff_shm_create (name, 32);
    ck_assert_ptr_nonnull (shm);
    ff_shm_clean (NULL);
    int kept = s_exists (name);

    int status;
    ck_assert_int_eq (kill (pid, SIGKILL), 0);
    ck_assert_int_eq (waitpid (pid, &status, 0), pid);
    ck_assert_msg (kept, "segment of live fanfold-ventilator %d was removed", (int) pid);
    ff_shm_clean (NULL);
    ck_assert (!s_exists (name));
    ff_shm_destroy (&shm, 0);
}
END_TEST

START_TEST (test_shm_clean_of_null_leaves_names_without_a_pid_alone)
{
    char name [FF_SHM_NAME_MAX];
    snprintf (name, sizeof (name), "%sno-pid", s_prefix);
    ff_shm_t *shm = ff_shm_create (name, 32);
    ck_assert_ptr_nonnull (shm);
    ff_shm_clean (NULL);
    ck_assert (s_exists (name));
    ff_shm_destroy (&shm, 1);
}
END_TEST

/* ---------------------------------------------------------------- limits */

START_TEST (test_shm_create_refuses_a_name_that_exists_with_eexist)
{
    const char *name = s_name (S_HELD, "data");
    ff_shm_t *first = ff_shm_create (name, 64);
    ck_assert_ptr_nonnull (first);
    ff_shm_data (first) [0] = 42;
    errno = 0;
    ff_shm_t *second = ff_shm_create (name, 128);
    ck_assert_ptr_null (second);
    ck_assert_int_eq (errno, EEXIST);
    /* the first segment is untouched */
    ck_assert (s_exists (name));
    ck_assert_uint_eq (ff_shm_data (first) [0], 42);
    ff_shm_destroy (&first, 1);
}
END_TEST

START_TEST (test_shm_create_refuses_a_name_with_a_slash_with_einval)
{
    char name [FF_SHM_NAME_MAX];
    snprintf (name, sizeof (name), "%sa/b", s_prefix);
    errno = 0;
    ck_assert_ptr_null (ff_shm_create (name, 64));
    ck_assert_int_eq (errno, EINVAL);
}
END_TEST

START_TEST (test_shm_open_refuses_a_name_without_the_prefix)
{
    char prefix [96], name [FF_SHM_NAME_MAX];
    /* a segment that exists and is fine, but of another job */
    snprintf (prefix, sizeof (prefix), "%sother_", s_prefix);
    snprintf (name, sizeof (name), "%s", s_name (S_HELD, "data"));
    ff_shm_t *made = ff_shm_create (name, 64);
    ck_assert_ptr_nonnull (made);
    s_assert_refused (name, prefix, 0, "is not one of this job's");
    ff_shm_destroy (&made, 1);
}
END_TEST

START_TEST (test_shm_open_refuses_a_name_with_a_slash)
{
    char name [FF_SHM_NAME_MAX];
    snprintf (name, sizeof (name), "%sx/../../etc", s_prefix);
    s_assert_refused (name, s_prefix, 0, "is not one of this job's");
}
END_TEST

START_TEST (test_shm_open_refuses_dot_dot_slash_x)
{
    s_assert_refused ("../x", "", 0, "is not one of this job's");
    s_assert_refused ("..", "", 0, "is not one of this job's");
}
END_TEST

START_TEST (test_shm_open_refuses_an_empty_name)
{
    s_assert_refused ("", "", 0, "is not one of this job's");
}
END_TEST

START_TEST (test_shm_open_refuses_a_name_longer_than_the_maximum)
{
    /* it exists, 0600 and large enough: only its length is wrong */
    char name [FF_SHM_NAME_MAX + 64];
    int len = snprintf (name, sizeof (name), "%s", s_prefix);
    while (len < FF_SHM_NAME_MAX + 8)
        name [len++] = 'a';
    name [len] = 0;
    s_make_raw (name, 64, 0600);
    s_assert_refused (name, s_prefix, 0, "is not one of this job's");
    s_unlink_raw (name);
}
END_TEST

START_TEST (test_shm_open_refuses_a_segment_smaller_than_min_size)
{
    const char *name = s_name (S_HELD, "data");
    ff_shm_t *made = ff_shm_create (name, 16);
    ck_assert_ptr_nonnull (made);
    s_assert_refused (name, s_prefix, 17, "17 needed");
    s_assert_refused (name, s_prefix, 17, name);
    ff_shm_destroy (&made, 1);
}
END_TEST

START_TEST (test_shm_open_refuses_a_segment_others_can_read)
{
    const char *name = s_name (S_HELD, "data");
    s_make_raw (name, 64, 0644);
    s_assert_refused (name, s_prefix, 0, "mode 644");
    s_assert_refused (name, s_prefix, 0, name);
    s_unlink_raw (name);
}
END_TEST

START_TEST (test_shm_open_refuses_a_missing_segment)
{
    const char *name = s_name (S_HELD, "missing");
    ck_assert (!s_exists (name));
    s_assert_refused (name, s_prefix, 0, name);
    s_assert_refused (name, s_prefix, 0, strerror (ENOENT));
}
END_TEST

/* ---------------------------------------------------------------- files */

static char s_file_dir [64];            /* a temporary directory */
static char s_file [128];               /* s_file_dir/a.npy: 4096 bytes */

static void
s_file_setup (void)
{
    snprintf (s_file_dir, sizeof (s_file_dir), "/tmp/check_shm_XXXXXX");
    ck_assert_ptr_nonnull (mkdtemp (s_file_dir));
    snprintf (s_file, sizeof (s_file), "%s/a.npy", s_file_dir);
    FILE *file = fopen (s_file, "wb");
    ck_assert_ptr_nonnull (file);
    for (int index = 0; index < 4096; index++)
        fputc (index & 0xff, file);
    ck_assert_int_eq (fclose (file), 0);
}

static void
s_file_teardown (void)
{
    char path [160];
    const char *names [] = { "a.npy", "link.npy", "fifo.npy" };
    for (size_t index = 0; index < 3; index++) {
        snprintf (path, sizeof (path), "%s/%s", s_file_dir, names [index]);
        unlink (path);
    }
    rmdir (s_file_dir);
}

/* Maps s_file (or path) expecting identity expect; returns the map or NULL
   with the message in error. */
static ff_shm_t *
s_map (const char *path, const ff_shm_file_id_t *expect, char *error, size_t size)
{
    ff_shm_file_id_t id;
    error [0] = 0;
    return ff_shm_map_file (path, expect, &id, error, size);
}

START_TEST (test_shm_map_file_maps_a_file_in_place_read_only_and_names_it_by_handle)
{
    char error [256], path [FF_SHM_HANDLE_MAX];
    ff_shm_file_id_t id, parsed;
    ff_shm_t *map = ff_shm_map_file (s_file, NULL, &id, error, sizeof (error));
    ck_assert_msg (map != NULL, "%s", error);
    ck_assert_uint_eq (ff_shm_size (map), 4096);
    ck_assert_uint_eq (ff_shm_data (map) [300], 300 & 0xff);
    struct stat info;
    ck_assert_int_eq (stat (s_file, &info), 0);
    ck_assert_uint_eq (id.ino, (uint64_t) info.st_ino);
    ck_assert_uint_eq (id.size, 4096);
    const char *handle = ff_shm_name (map);
    ck_assert_int_eq (ff_shm_file_handle_parse (handle, strlen (handle), &parsed, path,
                                                sizeof (path)), 0);
    ck_assert_str_eq (path, s_file);
    ck_assert_mem_eq (&parsed, &id, sizeof (id));
    /* mapped with the identity it had: the same again */
    ff_shm_t *again = s_map (path, &parsed, error, sizeof (error));
    ck_assert_msg (again != NULL, "%s", error);
    ff_shm_destroy (&again, 1);
    ff_shm_destroy (&map, 1);
    ck_assert_ptr_null (map);
    ck_assert_int_eq (access (s_file, R_OK), 0);    /* a file is never removed */
}
END_TEST

START_TEST (test_shm_map_file_refuses_a_file_whose_identity_changed)
{
    char error [256];
    ff_shm_file_id_t id;
    ff_shm_t *map = ff_shm_map_file (s_file, NULL, &id, error, sizeof (error));
    ck_assert_ptr_nonnull (map);
    ff_shm_destroy (&map, 0);
    ff_shm_file_id_t other = id;
    other.mtime_ns++;
    ck_assert_ptr_null (s_map (s_file, &other, error, sizeof (error)));
    ck_assert_ptr_nonnull (strstr (error, "not the file the job named"));
    other = id;
    other.size--;
    ck_assert_ptr_null (s_map (s_file, &other, error, sizeof (error)));
    other = id;
    other.ino++;
    ck_assert_ptr_null (s_map (s_file, &other, error, sizeof (error)));
    /* the file rewritten in place: its size and time move on */
    FILE *file = fopen (s_file, "ab");
    ck_assert_ptr_nonnull (file);
    fputc ('x', file);
    fclose (file);
    ck_assert_ptr_null (s_map (s_file, &id, error, sizeof (error)));
}
END_TEST

START_TEST (test_shm_map_file_refuses_a_symlink_a_fifo_a_directory_and_a_missing_file)
{
    char error [256], path [160];
    snprintf (path, sizeof (path), "%s/link.npy", s_file_dir);
    ck_assert_int_eq (symlink (s_file, path), 0);
    ck_assert_ptr_null (s_map (path, NULL, error, sizeof (error)));
    ck_assert_ptr_nonnull (strstr (error, path));
    /* a FIFO: refused at once, not waited on */
    snprintf (path, sizeof (path), "%s/fifo.npy", s_file_dir);
    ck_assert_int_eq (mkfifo (path, 0600), 0);
    ck_assert_ptr_null (s_map (path, NULL, error, sizeof (error)));
    ck_assert_ptr_nonnull (strstr (error, "not a regular file"));
    ck_assert_ptr_null (s_map (s_file_dir, NULL, error, sizeof (error)));
    snprintf (path, sizeof (path), "%s/missing.npy", s_file_dir);
    ck_assert_ptr_null (s_map (path, NULL, error, sizeof (error)));
    ck_assert_ptr_nonnull (strstr (error, "cannot open"));
}
END_TEST

START_TEST (test_shm_file_handle_parse_refuses_every_malformed_handle)
{
    char path [FF_SHM_HANDLE_MAX];
    ff_shm_file_id_t id;
    const char *bad [] = {
        "", "file:", "file:1:2:3:4:", "file:1:2:3:4:relative.npy", "file:1:2:3:/a.npy",
        "file:1:2:3:4/a.npy", "file:x:2:3:4:/a.npy", "file::2:3:4:/a.npy",
        "segment:1:2:3:4:/a.npy", "file:1:2:3:99999999999999999999:/a.npy",
        "file:1:2:3:123456789012345678901:/a.npy", "ff_1000_job_1_x_0_data"
    };
    for (size_t index = 0; index < sizeof (bad) / sizeof (bad [0]); index++)
        ck_assert_msg (ff_shm_file_handle_parse (bad [index], strlen (bad [index]), &id, path,
                                                 sizeof (path)) != 0,
                       "accepted \"%s\"", bad [index]);
    /* a NUL inside the text */
    const char nul [] = "file:1:2:3:4:/a\0.npy";
    ck_assert_int_ne (ff_shm_file_handle_parse (nul, sizeof (nul) - 1, &id, path,
                                                sizeof (path)), 0);
    /* a path longer than the room given */
    ck_assert_int_ne (ff_shm_file_handle_parse ("file:1:2:3:4:/abcdef.npy", 24, &id, path, 8),
                      0);
    ck_assert_int_eq (ff_shm_file_handle_parse ("file:1:2:3:4:/a.npy", 19, &id, path,
                                                sizeof (path)), 0);
    ck_assert_uint_eq (id.dev, 1);
    ck_assert_uint_eq (id.ino, 2);
    ck_assert_uint_eq (id.size, 3);
    ck_assert_int_eq (id.mtime_ns, 4);
    ck_assert_str_eq (path, "/a.npy");
    /* and a relative path gets no handle */
    char text [64];
    ck_assert_int_ne (ff_shm_file_handle ("a.npy", &id, text, sizeof (text)), 0);
    ck_assert_int_ne (ff_shm_file_handle ("/a/long/path.npy", &id, text, 12), 0);
}
END_TEST

Suite *
shm_suite (void)
{
    Suite *suite = suite_create ("shm");

    TCase *tc = tcase_create ("segments");
    tcase_set_timeout (tc, 20);
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_add_test (tc, test_shm_job_prefix_is_ff_uid_and_job);
    tcase_add_test (tc, test_shm_create_makes_a_0600_segment_of_the_size_asked_under_dev_shm);
    tcase_add_test (tc, test_shm_data_is_writable_until_seal_makes_it_read_only);
    tcase_add_test (tc, test_shm_open_maps_a_sealed_segment_read_only_and_sees_its_bytes);
    tcase_add_test (tc, test_shm_open_accepts_a_segment_of_exactly_min_size);
    tcase_add_test (tc, test_shm_destroy_with_unlink_removes_the_name_and_is_safe_twice);
    tcase_add_test (tc, test_shm_destroy_without_unlink_keeps_the_name);
    tcase_add_test (tc, test_shm_clean_of_a_job_removes_only_that_jobs_segments);
    tcase_add_test (tc, test_shm_clean_of_null_removes_the_segments_of_a_dead_process);
    tcase_add_test (tc, test_shm_clean_of_null_keeps_the_segments_of_any_live_owner);
    tcase_add_test (tc, test_shm_owner_is_live_only_when_it_started_before_its_segment);
    tcase_add_test (tc, test_shm_clean_of_null_keeps_a_live_ventilators_segments_until_it_is_gone);
    tcase_add_test (tc, test_shm_clean_of_null_leaves_names_without_a_pid_alone);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("limits");
    tcase_set_timeout (tc, 20);
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_add_test (tc, test_shm_create_refuses_a_name_that_exists_with_eexist);
    tcase_add_test (tc, test_shm_create_refuses_a_name_with_a_slash_with_einval);
    tcase_add_test (tc, test_shm_open_refuses_a_name_without_the_prefix);
    tcase_add_test (tc, test_shm_open_refuses_a_name_with_a_slash);
    tcase_add_test (tc, test_shm_open_refuses_dot_dot_slash_x);
    tcase_add_test (tc, test_shm_open_refuses_an_empty_name);
    tcase_add_test (tc, test_shm_open_refuses_a_name_longer_than_the_maximum);
    tcase_add_test (tc, test_shm_open_refuses_a_segment_smaller_than_min_size);
    tcase_add_test (tc, test_shm_open_refuses_a_segment_others_can_read);
    tcase_add_test (tc, test_shm_open_refuses_a_missing_segment);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("files");
    tcase_set_timeout (tc, 20);
    tcase_add_checked_fixture (tc, s_file_setup, s_file_teardown);
    tcase_add_test (tc, test_shm_map_file_maps_a_file_in_place_read_only_and_names_it_by_handle);
    tcase_add_test (tc, test_shm_map_file_refuses_a_file_whose_identity_changed);
    tcase_add_test (tc, test_shm_map_file_refuses_a_symlink_a_fifo_a_directory_and_a_missing_file);
    tcase_add_test (tc, test_shm_file_handle_parse_refuses_every_malformed_handle);
    suite_add_tcase (suite, tc);
    return suite;
}
