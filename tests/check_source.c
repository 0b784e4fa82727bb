/*  Unit tests for array sources: a .npy written by hand into a temporary
    directory, mapped in place and named by a file handle, and
    tests/data/pept.pdb.gz, loaded into process memory and into shared
    memory, cut into chunks whose slices tile the data; in "limits", files
    that do not load and segment names that are taken. Every test removes
    its files and segments. */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fanfold/runtime/shm.h"
#include "fanfold/kernels/source.h"
#include "fanfold/kernels/structure.h"
#include "npy_fixture.h"

#define S_DATA "tests/data/"
#define S_COUNT 10                      /* elements of the test .npy */
#define S_DATA_OFFSET 128               /* where the fixture's data starts */

static char s_dir [64];                 /* this test's temporary directory */
static char s_npy [128];                /* s_dir/ten.npy: S_COUNT f8 values */
static char s_prefix [96];              /* ff_<uid>_<job>_0_ for this test */
static double s_values [S_COUNT];       /* what s_npy holds */

static void
s_setup (void)
{
    static unsigned counter = 0;
    snprintf (s_dir, sizeof (s_dir), "/tmp/check_source_XXXXXX");
    ck_assert_ptr_nonnull (mkdtemp (s_dir));
    snprintf (s_npy, sizeof (s_npy), "%s/ten.npy", s_dir);
    for (size_t index = 0; index < S_COUNT; index++)
        s_values [index] = (double) index * 1.25 - 3.5;
    ff_fixture_write_npy (s_npy, s_values, S_COUNT, S_COUNT);
    char job [32];
    snprintf (job, sizeof (job), "tsrc%dn%u", (int) getpid (), counter++);
    ff_shm_job_prefix (job, s_prefix, sizeof (s_prefix));
    /* ventilator pid 0: the segments name no process, so that the
       ff_shm_clean (NULL) of another fanfold run on this host keeps them
       (it would remove those of this live test binary, no ventilator) */
    size_t used = strlen (s_prefix);
    snprintf (s_prefix + used, sizeof (s_prefix) - used, "0_");
}

/* Returns how many segments under /dev/shm start with s_prefix. */
static int
s_segments_left (void)
{
    return ff_fixture_segments_left (s_prefix);
}

/* Removes the temporary directory, and any segment a failed test left. */
static void
s_teardown (void)
{
    ff_fixture_remove (s_dir, s_prefix);
}

/* Loads path, which must succeed. */
static ff_source_t *
s_load (const char *path, const char *prefix, unsigned n)
{
    char error [256] = "";
    ff_source_t *source = ff_source_load (path, prefix, n, error, sizeof (error));
    ck_assert_msg (source != NULL, "%s: %s", path, error);
    return source;
}

/* Loads path, which must fail with a message that starts with its name. */
static void
s_load_fails (const char *path, const char *prefix)
{
    char error [256] = "";
    ff_source_t *source = ff_source_load (path, prefix, 0, error, sizeof (error));
    ck_assert_msg (source == NULL, "%s loaded", path);
    ck_assert_msg (strstr (error, path) == error,
                   "message \"%s\" does not start with the file name %s", error, path);
}

/* Checks that slice is the whole of the test .npy. */
static void
s_assert_whole_npy (const ff_slice_t *slice)
{
    ck_assert_str_eq (slice->array.name, "data");
    ck_assert_int_eq (slice->array.dtype, FF_DTYPE_F64);
    ck_assert_uint_eq (slice->array.ndim, 1);
    ck_assert_uint_eq (slice->array.shape [0], S_COUNT);
    ck_assert_uint_eq (slice->array.size, sizeof (s_values));
    ck_assert_uint_eq (slice->offset, S_DATA_OFFSET);
    ck_assert_ptr_nonnull (slice->array.data);
    ck_assert_mem_eq (slice->array.data, s_values, sizeof (s_values));
}

/* Checks that the slices of chunk_bytes tile the test .npy in order, with
   per elements in every chunk but the last. */
static void
s_assert_tiles (ff_source_t *source, uint64_t chunk_bytes, uint64_t per,
                uint32_t chunks)
{
    ck_assert_uint_eq (ff_source_chunks (source, chunk_bytes), chunks);
    ff_slice_t whole [FF_SOURCE_MAX_ARRAYS], slices [FF_SOURCE_MAX_ARRAYS];
    ck_assert_uint_eq (ff_source_slices (source, 0, 0, whole), 1);
    const uint8_t *base = (const uint8_t *) whole [0].array.data;
    uint64_t next = 0;
    for (uint32_t index = 0; index < chunks; index++) {
        uint64_t count = index + 1 < chunks? per: S_COUNT - per * (chunks - 1);
        ck_assert_uint_eq (ff_source_slices (source, chunk_bytes, index, slices), 1);
        ck_assert_str_eq (slices [0].array.name, "data");
        ck_assert_str_eq (slices [0].segment, whole [0].segment);
        ck_assert_int_eq (slices [0].array.dtype, FF_DTYPE_F64);
        ck_assert_uint_eq (slices [0].array.ndim, 1);
        ck_assert_uint_eq (slices [0].array.shape [0], count);
        ck_assert_uint_eq (slices [0].offset, S_DATA_OFFSET + next);
        ck_assert_uint_eq (slices [0].array.size, count * sizeof (double));
        ck_assert_ptr_eq (slices [0].array.data, base + next);
        ck_assert_mem_eq (slices [0].array.data, (const uint8_t *) s_values + next,
                          slices [0].array.size);
        next += slices [0].array.size;
    }
    ck_assert_uint_eq (next, sizeof (s_values));
}

/* ------------------------------------------------------------------ npy */

START_TEST (test_source_recognises_npy_pdb_pdb_gz_and_xyz_but_not_txt)
{
    ck_assert_int_eq (ff_source_recognises ("a.npy"), 1);
    ck_assert_int_eq (ff_source_recognises ("dir/b.pdb"), 1);
    ck_assert_int_eq (ff_source_recognises ("c.pdb.gz"), 1);
    ck_assert_int_eq (ff_source_recognises ("d.xyz"), 1);
    ck_assert_int_eq (ff_source_recognises ("e.txt"), 0);
    ck_assert_int_eq (ff_source_recognises ("npy"), 0);
}
END_TEST

START_TEST (test_source_maps_an_npy_in_place_with_its_dtype_shape_and_data)
{
    ff_source_t *source = s_load (s_npy, NULL, 0);
    ff_slice_t slices [FF_SOURCE_MAX_ARRAYS];
    ck_assert_uint_eq (ff_source_bytes (source), sizeof (s_values));
    ck_assert_uint_eq (ff_source_slices (source, 0, 0, slices), 1);
    s_assert_whole_npy (&slices [0]);
    ck_assert_int_eq (strncmp (slices [0].segment, FF_SHM_FILE_PREFIX,
                               strlen (FF_SHM_FILE_PREFIX)), 0);
    ff_source_destroy (&source);
    ck_assert_ptr_null (source);
    ck_assert_int_eq (s_segments_left (), 0);
}
END_TEST

START_TEST (test_source_names_an_npy_by_a_file_handle_with_its_path_and_identity)
{
    ff_source_t *source = s_load (s_npy, s_prefix, 3);
    ff_slice_t slices [FF_SOURCE_MAX_ARRAYS];
    ck_assert_uint_eq (ff_source_slices (source, 0, 0, slices), 1);
    s_assert_whole_npy (&slices [0]);
    /* no segment: the file is the shared memory */
    ck_assert_int_eq (s_segments_left (), 0);

    const char *handle = slices [0].segment;
    ff_shm_file_id_t id;
    char path [FF_SHM_HANDLE_MAX], *real = realpath (s_npy, NULL);
    ck_assert_ptr_nonnull (real);
    ck_assert_int_eq (ff_shm_file_handle_parse (handle, strlen (handle), &id, path,
                                                sizeof (path)), 0);
    ck_assert_str_eq (path, real);
    struct stat info;
    ck_assert_int_eq (stat (s_npy, &info), 0);
    ck_assert_uint_eq (id.ino, (uint64_t) info.st_ino);
    ck_assert_uint_eq (id.dev, (uint64_t) info.st_dev);
    ck_assert_uint_eq (id.size, (uint64_t) info.st_size);

    /* a worker mapping the handle sees the same bytes at the offset */
    char error [256] = "";
    ff_shm_file_id_t got;
    ff_shm_t *map = ff_shm_map_file (path, &id, &got, error, sizeof (error));
    ck_assert_msg (map != NULL, "%s", error);
    ck_assert_str_eq (ff_shm_name (map), handle);
    ck_assert_mem_eq (ff_shm_data (map) + slices [0].offset, s_values, sizeof (s_values));
    ff_shm_destroy (&map, 1);       /* never removes the file */
    ck_assert_int_eq (access (s_npy, R_OK), 0);
    free (real);
    ff_source_destroy (&source);
}
END_TEST

START_TEST (test_source_makes_one_chunk_of_the_whole_array_with_chunk_bytes_0)
{
    ff_source_t *source = s_load (s_npy, NULL, 0);
    ff_slice_t slices [FF_SOURCE_MAX_ARRAYS];
    ck_assert_uint_eq (ff_source_chunks (source, 0), 1);
    ck_assert_uint_eq (ff_source_slices (source, 0, 0, slices), 1);
    s_assert_whole_npy (&slices [0]);
    /* chunks at least as large as the array are one chunk too */
    ck_assert_uint_eq (ff_source_chunks (source, sizeof (s_values)), 1);
    ck_assert_uint_eq (ff_source_chunks (source, 1u << 20), 1);
    ck_assert_uint_eq (ff_source_slices (source, 1u << 20, 0, slices), 1);
    s_assert_whole_npy (&slices [0]);
    ff_source_destroy (&source);
}
END_TEST

START_TEST (test_source_cuts_ten_f8_into_chunks_of_3_3_3_1_with_24_byte_chunks)
{
    ff_source_t *source = s_load (s_npy, NULL, 0);
    s_assert_tiles (source, 24, 3, 4);
    ff_source_destroy (&source);
}
END_TEST

START_TEST (test_source_slices_of_a_segment_tile_it_at_offsets_into_the_segment)
{
    ff_source_t *source = s_load (s_npy, s_prefix, 0);
    s_assert_tiles (source, 24, 3, 4);
    ff_source_destroy (&source);
}
END_TEST

START_TEST (test_source_rounds_chunks_to_whole_elements_of_at_least_one)
{
    ff_source_t *source = s_load (s_npy, NULL, 0);
    s_assert_tiles (source, 5, 1, 10);      /* smaller than an element */
    s_assert_tiles (source, 31, 3, 4);      /* not a multiple of 8 */
    s_assert_tiles (source, 40, 5, 2);      /* an exact half */
    ff_source_destroy (&source);
}
END_TEST

START_TEST (test_source_keeps_its_mapping_until_the_last_reference_is_dropped)
{
    ff_source_t *source = s_load (s_npy, s_prefix, 0);
    ck_assert_uint_eq (ff_source_refs (source), 1);
    ff_source_t *held = ff_source_ref (source);
    ck_assert_ptr_eq (held, source);
    ck_assert_uint_eq (ff_source_refs (source), 2);
    ff_source_unref (&source);
    ck_assert_ptr_null (source);
    ck_assert_uint_eq (ff_source_refs (held), 1);
    ff_slice_t slices [FF_SOURCE_MAX_ARRAYS];
    ck_assert_uint_eq (ff_source_slices (held, 0, 0, slices), 1);
    ck_assert_mem_eq (slices [0].array.data, s_values, sizeof (s_values));
    ff_source_unref (&held);
    ck_assert_ptr_null (held);
    ck_assert_int_eq (s_segments_left (), 0);
    ff_source_unref (&held);        /* safe on NULL */
}
END_TEST

START_TEST (test_source_destroy_leaves_the_npy_file_in_place)
{
    ff_source_t *source = s_load (s_npy, s_prefix, 0);
    ff_source_destroy (&source);
    ck_assert_ptr_null (source);
    struct stat info;
    ck_assert_int_eq (stat (s_npy, &info), 0);
    ck_assert_int_eq (info.st_size, S_DATA_OFFSET + sizeof (s_values));
    ck_assert_int_eq (s_segments_left (), 0);
    ff_source_destroy (&source);
}
END_TEST

/* ------------------------------------------------------------ structure */

/* Checks the four arrays of pept.pdb.gz against ff_structure_load's. */
static void
s_assert_pept (ff_source_t *source, int in_shm)
{
    char error [256] = "";
    const ff_array_t *expected;
    ff_structure_t *structure = ff_structure_load (S_DATA "pept.pdb.gz", error, sizeof (error));
    ck_assert_msg (structure != NULL, "%s", error);
    ck_assert_uint_eq (ff_structure_arrays (structure, &expected), 4);
    size_t atoms = ff_structure_atoms (structure), rings = ff_structure_rings (structure);
    ck_assert_uint_gt (atoms, 0);

    static const char *names [4] = { "coords", "flags", "residues", "topology" };
    ff_slice_t slices [FF_SOURCE_MAX_ARRAYS];
    ck_assert_uint_eq (ff_source_chunks (source, 24), 1);
    ck_assert_uint_eq (ff_source_slices (source, 24, 0, slices), 4);
    uint64_t bytes = 0;
    for (size_t index = 0; index < 4; index++) {
        const ff_array_t *array = &slices [index].array;
        ck_assert_str_eq (array->name, names [index]);
        ck_assert_int_eq (array->dtype, expected [index].dtype);
        ck_assert_uint_eq (array->ndim, expected [index].ndim);
        ck_assert_mem_eq (array->shape, expected [index].shape, sizeof (array->shape));
        ck_assert_uint_eq (array->size, expected [index].size);
        if (array->size)
            ck_assert_mem_eq (array->data, expected [index].data, array->size);
        ck_assert_uint_eq (slices [index].offset, 0);
        if (in_shm) {
            ck_assert_msg (strncmp (slices [index].segment, s_prefix, strlen (s_prefix)) == 0,
                           "segment %s", slices [index].segment);
            ck_assert_ptr_nonnull (strstr (slices [index].segment, names [index]));
        }
        else
            ck_assert_str_eq (slices [index].segment, "");
        bytes += array->size;
    }
    /* the atom count agrees across coords, flags and residues */
    ck_assert_uint_eq (slices [0].array.shape [0], atoms);
    ck_assert_uint_eq (slices [0].array.shape [1], 3);
    ck_assert_uint_eq (slices [0].array.size, atoms * 3 * sizeof (float));
    ck_assert_uint_eq (slices [1].array.shape [0], atoms);
    ck_assert_uint_eq (slices [1].array.size, atoms * sizeof (uint16_t));
    ck_assert_uint_eq (slices [2].array.shape [0], atoms);
    ck_assert_uint_eq (slices [2].array.size, atoms * sizeof (uint32_t));
    ff_topology_t topology;
    ck_assert_int_eq (ff_topology_view (slices [3].array.data, slices [3].array.size,
                                        &topology, NULL, 0), 0);
    ck_assert_uint_eq (topology.header->rings, rings);
    ck_assert_uint_eq (ff_source_bytes (source), bytes);
    ff_structure_destroy (&structure);
}

START_TEST (test_source_loads_a_structure_into_memory_as_four_arrays)
{
    ff_source_t *source = s_load (S_DATA "pept.pdb.gz", NULL, 0);
    s_assert_pept (source, 0);
    ff_source_destroy (&source);
    ck_assert_int_eq (s_segments_left (), 0);
}
END_TEST

START_TEST (test_source_loads_a_structure_into_four_segments_and_destroy_removes_them)
{
    ff_source_t *source = s_load (S_DATA "pept.pdb.gz", s_prefix, 1);
    s_assert_pept (source, 1);
    ck_assert_int_eq (s_segments_left (), 4);
    ff_source_destroy (&source);
    ck_assert_int_eq (s_segments_left (), 0);
}
END_TEST

/* ---------------------------------------------------------------- limits */

START_TEST (test_source_refuses_a_truncated_npy_naming_the_file)
{
    char path [160];
    snprintf (path, sizeof (path), "%s/short.npy", s_dir);
    ff_fixture_write_npy (path, s_values, S_COUNT, S_COUNT / 2);
    s_load_fails (path, NULL);
    s_load_fails (path, s_prefix);
    ck_assert_int_eq (s_segments_left (), 0);
}
END_TEST

START_TEST (test_source_refuses_a_pdb_with_a_bad_coordinate_naming_the_file)
{
    s_load_fails (S_DATA "badcoord.pdb", NULL);
    s_load_fails (S_DATA "badcoord.pdb", s_prefix);
    ck_assert_int_eq (s_segments_left (), 0);
}
END_TEST

START_TEST (test_source_refuses_a_missing_file_naming_it)
{
    char path [160];
    snprintf (path, sizeof (path), "%s/missing.npy", s_dir);
    s_load_fails (path, NULL);
    snprintf (path, sizeof (path), "%s/missing.pdb", s_dir);
    s_load_fails (path, s_prefix);
    ck_assert_int_eq (s_segments_left (), 0);
}
END_TEST

START_TEST (test_source_refuses_a_second_load_into_segments_that_exist)
{
    ff_source_t *first = s_load (S_DATA "pept.pdb.gz", s_prefix, 0);
    char error [256] = "";
    ff_source_t *second = ff_source_load (S_DATA "pept.pdb.gz", s_prefix, 0, error,
                                          sizeof (error));
    ck_assert_ptr_null (second);
    ck_assert_msg (strstr (error, S_DATA "pept.pdb.gz") == error, "message \"%s\"", error);
    ck_assert_ptr_nonnull (strstr (error, strerror (EEXIST)));
    /* the first load's segments are still there */
    ff_slice_t slices [FF_SOURCE_MAX_ARRAYS];
    ck_assert_uint_eq (ff_source_slices (first, 0, 0, slices), 4);
    ck_assert_int_eq (s_segments_left (), 4);
    ff_source_destroy (&first);
    ck_assert_int_eq (s_segments_left (), 0);
}
END_TEST

Suite *
source_suite (void)
{
    Suite *suite = suite_create ("source");

    TCase *tc = tcase_create ("npy");
    tcase_set_timeout (tc, 20);
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_add_test (tc, test_source_recognises_npy_pdb_pdb_gz_and_xyz_but_not_txt);
    tcase_add_test (tc, test_source_maps_an_npy_in_place_with_its_dtype_shape_and_data);
    tcase_add_test (tc, test_source_names_an_npy_by_a_file_handle_with_its_path_and_identity);
    tcase_add_test (tc, test_source_makes_one_chunk_of_the_whole_array_with_chunk_bytes_0);
    tcase_add_test (tc, test_source_cuts_ten_f8_into_chunks_of_3_3_3_1_with_24_byte_chunks);
    tcase_add_test (tc, test_source_slices_of_a_segment_tile_it_at_offsets_into_the_segment);
    tcase_add_test (tc, test_source_rounds_chunks_to_whole_elements_of_at_least_one);
    tcase_add_test (tc, test_source_destroy_leaves_the_npy_file_in_place);
    tcase_add_test (tc, test_source_keeps_its_mapping_until_the_last_reference_is_dropped);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("structure");
    tcase_set_timeout (tc, 20);
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_add_test (tc, test_source_loads_a_structure_into_memory_as_four_arrays);
    tcase_add_test (tc, test_source_loads_a_structure_into_four_segments_and_destroy_removes_them);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("limits");
    tcase_set_timeout (tc, 20);
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_add_test (tc, test_source_refuses_a_truncated_npy_naming_the_file);
    tcase_add_test (tc, test_source_refuses_a_pdb_with_a_bad_coordinate_naming_the_file);
    tcase_add_test (tc, test_source_refuses_a_missing_file_naming_it);
    tcase_add_test (tc, test_source_refuses_a_second_load_into_segments_that_exist);
    suite_add_tcase (suite, tc);
    return suite;
}
