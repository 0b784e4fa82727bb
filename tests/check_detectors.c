/*  Unit tests for the array kernels: contacts, hbonds, clashes and
    pistacking against brute-force O(N²) computations written here, on the
    PDB files of Debian's pymol-data and on made-up arrays (a 216,000-atom
    lattice, coordinates spread over 10^4 Å, everything in one cell); stats
    and its fold against a direct computation and against numpy; and, in
    "limits", bad arrays, bad parameters and bad partial results. */

#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fanfold/kernels/detectors.h"
#include "fanfold/kernels/kernels.h"
#include "fanfold/kernels/npy.h"
#include "fanfold/kernels/structure.h"
#include "fanfold/kernels/structure_gemmi.h"

#define S_DEMO "/usr/share/pymol/data/demo/"
#define S_DATA "tests/data/"
#define S_PI   3.14159265358979323846

/* ------------------------------------------------------------- helpers */

/* Runs kernel name over arrays with params through the registry. Returns
   its return code; *text is the result, NUL-terminated, for free (). */
static int
s_run (const char *name, const ff_array_t *arrays, size_t narrays,
       const char *const *params, size_t nparams, char **text)
{
    const ff_kernel_t *kernel = ff_kernels_find (name);
    ck_assert_ptr_nonnull (kernel);
    ck_assert_uint_eq (kernel->flags, FF_KERNEL_JSON | FF_KERNEL_ARRAYS);
    ff_task_t task = { 3, "test", NULL, 0, params, nparams, arrays, narrays };
    ff_result_t result;
    memset (&result, 0, sizeof (result));
    int rc = ff_kernels_run (kernel, &task, &result);
    ck_assert_int_eq (ff_buf_append (&result.data, "", 1), 0);
    *text = (char *) result.data.data;
    free (result.meta.data);
    return rc;
}

/* Runs kernel name, which must succeed; returns the result text. */
static char *
s_ok (const char *name, const ff_array_t *arrays, size_t narrays,
      const char *const *params, size_t nparams)
{
    char *text;
    int rc = s_run (name, arrays, narrays, params, nparams, &text);
    ck_assert_msg (rc == 0, "%s failed: %s", name, text);
    return text;
}

/* Runs kernel name, which must fail with a message mentioning what. */
static void
s_refused (const char *name, const ff_array_t *arrays, size_t narrays,
           const char *const *params, size_t nparams, const char *what)
{
    char *text;
    int rc = s_run (name, arrays, narrays, params, nparams, &text);
    ck_assert_msg (rc == -1, "%s accepted: %.200s", name, text);
    ck_assert_msg (strstr (text, what) != NULL && strstr (text, name) == text,
                   "message \"%s\" lacks \"%s\"", text, what);
    free (text);
}

/* Appends printf-formatted text to buf. */
static void __attribute__ ((format (printf, 2, 3)))
s_printf (ff_buf_t *buf, const char *format, ...)
{
    char text [256];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof (text), format, args);
    va_end (args);
    ck_assert_int_eq (ff_buf_puts (buf, text), 0);
}

/* Returns buf as a NUL-terminated string (the caller frees it). */
static char *
s_text (ff_buf_t *buf)
{
    ck_assert_int_eq (ff_buf_append (buf, "", 1), 0);
    return (char *) buf->data;
}

/* Asserts two (long) texts are equal, showing where they part. */
static void
s_assert_same (const char *got, const char *expected)
{
    size_t at = 0;
    while (got [at] && got [at] == expected [at])
        at++;
    ck_assert_msg (got [at] == expected [at],
                   "texts part at byte %zu of %zu: got \"%.60s\", "
                   "expected \"%.60s\"", at, strlen (expected),
                   got + (at > 20 ? at - 20 : 0),
                   expected + (at > 20 ? at - 20 : 0));
}

static double
s_d2 (const float *a, const float *b)
{
    double dx = (double) a [0] - b [0], dy = (double) a [1] - b [1],
           dz = (double) a [2] - b [2];
    return dx * dx + dy * dy + dz * dz;
}

/* The coords array over n points. */
static ff_array_t
s_coords_array (const float *coords, size_t n)
{
    ff_array_t array = {
        "coords", FF_DTYPE_F32, 2, { n, 3, 0, 0 }, coords, n * 3 * sizeof (float)
    };
    return array;
}

/* The contacts result computed the slow way. */
static char *
s_brute_contacts (const float *coords, size_t n, double cutoff, int pairs)
{
    ff_buf_t list = { NULL, 0, 0 }, out = { NULL, 0, 0 };
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (s_d2 (coords + 3 * i, coords + 3 * j) <= cutoff * cutoff) {
                s_printf (&list, "%s[%zu,%zu]", count ? "," : "", i, j);
                count++;
            }
    s_printf (&out, "{\"atoms\":%zu,\"count\":%zu", n, count);
    if (pairs) {
        s_printf (&out, ",\"pairs\":[");
        if (list.size)
            ck_assert_int_eq (ff_buf_append (&out, list.data, list.size), 0);
        s_printf (&out, "]");
    }
    s_printf (&out, "}");
    free (list.data);
    return s_text (&out);
}

/* Asserts contacts over n points at cutoff equals the brute force. */
static void
s_assert_contacts (const float *coords, size_t n, const char *cutoff)
{
    ff_array_t array = s_coords_array (coords, n);
    const char *params [] = { "cutoff", cutoff };
    char *got = s_ok ("contacts", &array, 1, params, 1);
    char *expected = s_brute_contacts (coords, n, atof (cutoff), 1);
    s_assert_same (got, expected);
    free (got);
    free (expected);
}

/* A deterministic pseudo-random number in [0, 1). */
static double
s_random (uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (double) (*state >> 11) / 9007199254740992.0;
}

static ff_structure_t *
s_structure (const char *path, const ff_array_t **arrays)
{
    char error [256] = "";
    ff_structure_t *structure = ff_structure_load (path, error, sizeof (error));
    ck_assert_msg (structure != NULL, "%s", error);
    ff_structure_arrays (structure, arrays);
    return structure;
}

/* ------------------------------------------------------------- contacts */

START_TEST (test_contacts_matches_brute_force_on_real_structures_at_3_4_and_6)
{
    static const char *files [] = {
        S_DEMO "pept.pdb", S_DEMO "il2.pdb", S_DEMO "1tii.pdb"
    };
    static const char *cutoffs [] = { "3.0", "4.0", "6.0" };
    for (size_t file = 0; file < 3; file++) {
        const ff_array_t *arrays;
        ff_structure_t *structure = s_structure (files [file], &arrays);
        for (size_t cutoff = 0; cutoff < 3; cutoff++)
            s_assert_contacts ((const float *) arrays [0].data,
                               ff_structure_atoms (structure), cutoffs [cutoff]);
        ff_structure_destroy (&structure);
    }
}
END_TEST

START_TEST (test_contacts_uses_4_angstroms_by_default_and_pairs_0_gives_the_count_alone)
{
    const ff_array_t *arrays;
    ff_structure_t *structure = s_structure (S_DEMO "pept.pdb", &arrays);
    const float *coords = (const float *) arrays [0].data;
    size_t atoms = ff_structure_atoms (structure);
    char *got = s_ok ("contacts", arrays, 4, NULL, 0);
    char *expected = s_brute_contacts (coords, atoms, 4.0, 1);
    s_assert_same (got, expected);
    free (got);
    free (expected);
    const char *params [] = { "pairs", "0" };
    got = s_ok ("contacts", arrays, 4, params, 1);
    expected = s_brute_contacts (coords, atoms, 4.0, 0);
    s_assert_same (got, expected);
    free (got);
    free (expected);
    ff_structure_destroy (&structure);
}
END_TEST

START_TEST (test_contacts_includes_a_pair_exactly_at_the_cutoff)
{
    static const float coords [] = { 0, 0, 0, 4, 0, 0, 0, 4.0000005f, 0 };
    ff_array_t array = s_coords_array (coords, 3);
    char *got = s_ok ("contacts", &array, 1, NULL, 0);
    ck_assert_str_eq (got, "{\"atoms\":3,\"count\":1,\"pairs\":[[0,1]]}");
    free (got);
}
END_TEST

START_TEST (test_contacts_counts_a_lattice_of_216000_atoms_exactly)
{
    /* 60³ atoms 1.5 Å apart: the pairs within 4 Å are those of the
       offsets (dx, dy, dz) with 2.25 (dx² + dy² + dz²) <= 16 */
    const int n = 60;
    size_t atoms = (size_t) n * n * n, atom = 0;
    float *coords = (float *) malloc (atoms * 3 * sizeof (float));
    ck_assert_ptr_nonnull (coords);
    for (int x = 0; x < n; x++)
        for (int y = 0; y < n; y++)
            for (int z = 0; z < n; z++, atom++) {
                coords [3 * atom] = -40.0f + 1.5f * (float) x;
                coords [3 * atom + 1] = 1.5f * (float) y;
                coords [3 * atom + 2] = 7.0f + 1.5f * (float) z;
            }
    uint64_t expected = 0;
    for (int dx = -3; dx <= 3; dx++)
        for (int dy = -3; dy <= 3; dy++)
            for (int dz = -3; dz <= 3; dz++) {
                int r2 = dx * dx + dy * dy + dz * dz;
                if (r2 > 0 && 2.25 * r2 <= 16.0)
                    expected += (uint64_t) (n - abs (dx)) * (uint64_t) (n - abs (dy))
                              * (uint64_t) (n - abs (dz));
            }
    expected /= 2;
    ff_array_t array = s_coords_array (coords, atoms);
    const char *params [] = { "pairs", "0" };
    char *got = s_ok ("contacts", &array, 1, params, 1);
    char text [128];
    snprintf (text, sizeof (text), "{\"atoms\":%zu,\"count\":%" PRIu64 "}",
              atoms, expected);
    ck_assert_str_eq (got, text);
    free (got);
    free (coords);
}
END_TEST

START_TEST (test_contacts_handles_coordinates_spread_over_ten_thousand_angstroms)
{
    /* 1000 atoms scattered over (10^4 Å)³ and 1000 in ten tight clusters */
    size_t atoms = 2000, atom;
    float *coords = (float *) malloc (atoms * 3 * sizeof (float));
    ck_assert_ptr_nonnull (coords);
    uint64_t state = 7;
    for (atom = 0; atom < 1000; atom++)
        for (int axis = 0; axis < 3; axis++)
            coords [3 * atom + axis] = (float) (1e4 * s_random (&state) - 5e3);
    for (; atom < atoms; atom++)
        for (int axis = 0; axis < 3; axis++)
            coords [3 * atom + axis] = (float) (1e3 * (double) ((atom / 100) % 10)
                                              + 12 * s_random (&state));
    s_assert_contacts (coords, atoms, "4.0");
    s_assert_contacts (coords, atoms, "0.5");
    /* and far beyond any grid: ±1e30 with the clusters in between */
    coords [0] = -1e30f;
    coords [4] = 1e30f;
    s_assert_contacts (coords, atoms, "4.0");
    free (coords);
}
END_TEST

START_TEST (test_contacts_handles_every_atom_in_one_cell)
{
    size_t atoms = 400, atom;
    float coords [400 * 3];
    uint64_t state = 11;
    for (atom = 0; atom < atoms; atom++)
        for (int axis = 0; axis < 3; axis++)
            coords [3 * atom + axis] = (float) s_random (&state);
    s_assert_contacts (coords, atoms, "4.0");
    s_assert_contacts (coords, atoms, "1000");
    /* cutoff 0: only atoms at the very same place */
    for (atom = 0; atom < 6; atom++) {
        coords [3 * atom] = atom < 5 ? 2.5f : 3.0f;
        coords [3 * atom + 1] = 1.0f;
        coords [3 * atom + 2] = -1.0f;
    }
    s_assert_contacts (coords, 6, "0");
    ff_array_t array = s_coords_array (coords, 6);
    const char *params [] = { "cutoff", "0", "pairs", "0" };
    char *got = s_ok ("contacts", &array, 1, params, 2);
    ck_assert_str_eq (got, "{\"atoms\":6,\"count\":10}");
    free (got);
}
END_TEST

START_TEST (test_contacts_stops_once_its_pairs_pass_max_result_and_names_the_limit)
{
    size_t atoms = 400, atom;
    float coords [400 * 3];
    uint64_t state = 5;
    for (atom = 0; atom < atoms; atom++)
        for (int axis = 0; axis < 3; axis++)
            coords [3 * atom + axis] = (float) s_random (&state);
    ff_array_t array = s_coords_array (coords, atoms);
    /* 79,800 pairs, about 900 kB of JSON */
    const char *small [] = { "cutoff", "1000", "max_result", "10000" };
    s_refused ("contacts", &array, 1, small, 2, "exceeds the limit of 10000 bytes of one result");
    /* a limit it fits: the same bytes as without one, the same as brute force */
    const char *roomy [] = { "cutoff", "1000", "max_result", "10M" };
    char *got = s_ok ("contacts", &array, 1, roomy, 2);
    char *expected = s_brute_contacts (coords, atoms, 1000, 1);
    s_assert_same (got, expected);
    free (got);
    free (expected);
    /* the count alone keeps no pair: no limit applies */
    const char *count [] = { "cutoff", "1000", "max_result", "100", "pairs", "0" };
    got = s_ok ("contacts", &array, 1, count, 3);
    ck_assert_str_eq (got, "{\"atoms\":400,\"count\":79800}");
    free (got);
}
END_TEST

START_TEST (test_atoms_piled_up_load_without_bonds_and_the_bonded_detectors_say_so)
{
    /* 300 carbons within 1 A: each has hundreds of atoms in bond distance */
    char path [] = "/tmp/check_detectors_pile_XXXXXX.xyz";
    int fd = mkstemps (path, 4);
    ck_assert_int_ge (fd, 0);
    FILE *file = fdopen (fd, "w");
    ck_assert_ptr_nonnull (file);
    fprintf (file, "300\npile\n");
    uint64_t state = 9;
    for (int atom = 0; atom < 300; atom++)
        fprintf (file, "C %.3f %.3f %.3f\n", s_random (&state) / 4, s_random (&state) / 4,
                 s_random (&state) / 4);
    fclose (file);
    const ff_array_t *arrays;
    ff_structure_t *structure = s_structure (path, &arrays);
    unlink (path);
    ck_assert_uint_eq (ff_structure_bonds (structure), 0);
    const ff_array_t *topology = ff_task_array (&(ff_task_t) { .arrays = arrays,
                                                               .narrays = FF_STRUCTURE_ARRAYS },
                                                "topology");
    ck_assert_ptr_nonnull (topology);
    const ff_topology_header_t *header = (const ff_topology_header_t *) topology->data;
    ck_assert_uint_eq (header->flags, FF_TOPOLOGY_NO_BONDS);
    s_refused ("clashes", arrays, FF_STRUCTURE_ARRAYS, NULL, 0, "packed too densely for bonds");
    s_refused ("hbonds", arrays, FF_STRUCTURE_ARRAYS, NULL, 0, "packed too densely for bonds");
    char *got = s_ok ("contacts", arrays, FF_STRUCTURE_ARRAYS, NULL, 0);
    ck_assert_ptr_nonnull (strstr (got, "\"count\":44850,"));
    free (got);
    ff_structure_destroy (&structure);
}
END_TEST

START_TEST (test_contacts_of_one_atom_has_no_pair)
{
    static const float coords [] = { 1, 2, 3 };
    ff_array_t array = s_coords_array (coords, 1);
    char *got = s_ok ("contacts", &array, 1, NULL, 0);
    ck_assert_str_eq (got, "{\"atoms\":1,\"count\":0,\"pairs\":[]}");
    free (got);
}
END_TEST

START_TEST (test_contacts_level_residue_gives_each_pair_of_residues_once)
{
    /* pept.pdb: the residue pairs of the atom pairs within 4 Å, without
       pairs within one residue, each once, named by the topology */
    const ff_array_t *arrays;
    ff_structure_t *structure = s_structure (S_DEMO "pept.pdb", &arrays);
    const float *coords = (const float *) arrays [0].data;
    const uint32_t *residues = (const uint32_t *) arrays [2].data;
    size_t n = ff_structure_atoms (structure);
    ff_topology_t topology;
    ck_assert_int_eq (ff_topology_view (arrays [3].data, arrays [3].size,
                                        &topology, NULL, 0), 0);
    uint32_t m = topology.header->residues;
    char *seen = calloc ((size_t) m * m, 1);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (residues [i] != residues [j]
            &&  s_d2 (coords + 3 * i, coords + 3 * j) <= 16.0) {
                uint32_t a = residues [i] < residues [j] ? residues [i] : residues [j];
                uint32_t b = residues [i] ^ residues [j] ^ a;
                seen [(size_t) a * m + b] = 1;
            }
    ff_buf_t out = { NULL, 0, 0 }, list = { NULL, 0, 0 };
    size_t count = 0;
    for (uint32_t a = 0; a < m; a++)
        for (uint32_t b = 0; b < m; b++)
            if (seen [(size_t) a * m + b]) {
                const ff_topology_residue_t *ra = &topology.residues [a], *rb = &topology.residues [b];
                s_printf (&list, "%s[[\"%s\",%d,\"\",\"%s\"],[\"%s\",%d,\"\",\"%s\"]]",
                          count ? "," : "", ra->chain, ra->number, ra->name,
                          rb->chain, rb->number, rb->name);
                count++;
            }
    s_printf (&out, "{\"atoms\":%zu,\"count\":%zu,\"pairs\":[", n, count);
    ck_assert_int_eq (ff_buf_append (&out, list.data, list.size), 0);
    s_printf (&out, "]}");
    char *expected = s_text (&out);
    const char *level [] = { "level", "residue" };
    char *got = s_ok ("contacts", arrays, 4, level, 1);
    ck_assert_uint_gt (count, 12);
    s_assert_same (got, expected);
    free (got);
    free (expected);
    free (list.data);
    free (seen);
    ff_structure_destroy (&structure);
}
END_TEST

/* --------------------------------------------------------------- hbonds */

/* What a made-up "topology" holds. Residue r is named chain "A",
   number r + 1, name "UNK", insertion code icodes [r] (or blank). */
typedef struct {
    size_t atoms;                   /* atoms */
    const uint8_t *elements;        /* [atoms] atomic numbers */
    size_t bonds;                   /* bonds */
    const uint32_t *pairs;          /* [bonds][2] */
    size_t rings;                   /* rings */
    const ff_topology_ring_t *ring; /* [rings] */
    size_t residues;                /* residues */
    const char *icodes;             /* [residues] or NULL */
    size_t hydrogens;               /* hydrogens */
    const ff_topology_hydrogen_t *hydrogen; /* [hydrogens] */
} s_spec_t;

/* Builds the "topology" array of spec in *owned (8-byte aligned; the
   caller frees it). */
static ff_array_t
s_topology_array (const s_spec_t *spec, void **owned)
{
    ff_topology_header_t header = {
        FF_TOPOLOGY_MAGIC, (uint32_t) spec->atoms, (uint32_t) spec->residues,
        (uint32_t) spec->rings, (uint32_t) spec->bonds,
        (uint32_t) spec->hydrogens, 0, 0
    };
    size_t elements = (spec->atoms + 3) / 4 * 4;
    size_t size = sizeof (header) + elements + spec->bonds * 8
                + spec->rings * sizeof (ff_topology_ring_t)
                + spec->residues * sizeof (ff_topology_residue_t)
                + spec->hydrogens * sizeof (ff_topology_hydrogen_t);
    uint8_t *bytes = (uint8_t *) calloc (1, (size + 7) / 8 * 8);
    ck_assert_ptr_nonnull (bytes);
    uint8_t *at = bytes;
    memcpy (at, &header, sizeof (header));
    at += sizeof (header);
    if (spec->atoms)
        memcpy (at, spec->elements, spec->atoms);
    at += elements;
    if (spec->bonds)
        memcpy (at, spec->pairs, spec->bonds * 8);
    at += spec->bonds * 8;
    if (spec->rings)
        memcpy (at, spec->ring, spec->rings * sizeof (ff_topology_ring_t));
    at += spec->rings * sizeof (ff_topology_ring_t);
    for (size_t r = 0; r < spec->residues; r++) {
        ff_topology_residue_t residue;
        memset (&residue, 0, sizeof (residue));
        strcpy (residue.chain, "A");
        strcpy (residue.name, "UNK");
        residue.number = (int32_t) r + 1;
        residue.icode = spec->icodes ? spec->icodes [r] : ' ';
        memcpy (at, &residue, sizeof (residue));
        at += sizeof (residue);
    }
    if (spec->hydrogens)
        memcpy (at, spec->hydrogen, spec->hydrogens * sizeof (ff_topology_hydrogen_t));
    *owned = bytes;
    ff_array_t array = { "topology", FF_DTYPE_U8, 1, { size, 0, 0, 0 }, bytes, size };
    return array;
}

/* The four arrays of a made-up structure; the topology has the atoms'
   elements (from the flags: C, N, O, S) and the residues up to the
   largest ordinal, no bond, ring or hydrogen unless spec says. */
static void
s_made_up (ff_array_t arrays [4], const float *coords, const uint16_t *flags,
           const uint32_t *residues, size_t n, const s_spec_t *spec, void **owned)
{
    arrays [0] = s_coords_array (coords, n);
    ff_array_t f = { "flags", FF_DTYPE_U16, 1, { n, 0, 0, 0 }, flags,
                     n * sizeof (uint16_t) };
    ff_array_t r = { "residues", FF_DTYPE_U32, 1, { n, 0, 0, 0 }, residues,
                     n * sizeof (uint32_t) };
    arrays [1] = f;
    arrays [2] = r;
    static uint8_t elements [64];
    ck_assert_uint_le (n, 64);
    uint32_t largest = 0;
    for (size_t atom = 0; atom < n; atom++) {
        uint16_t element = flags [atom] & FF_ATOM_ELEMENT;
        elements [atom] = element == FF_ATOM_C ? 6 : element == FF_ATOM_N ? 7
                        : element == FF_ATOM_O ? 8 : element == FF_ATOM_S ? 16 : 0;
        if (residues [atom] > largest)
            largest = residues [atom];
    }
    s_spec_t made = { n, elements, 0, NULL, 0, NULL, largest + 1, NULL, 0, NULL };
    if (spec) {
        made.bonds = spec->bonds;
        made.pairs = spec->pairs;
        made.rings = spec->rings;
        made.ring = spec->ring;
        made.icodes = spec->icodes;
        made.hydrogens = spec->hydrogens;
        made.hydrogen = spec->hydrogen;
    }
    arrays [3] = s_topology_array (&made, owned);
}

START_TEST (test_hbonds_pairs_donors_with_acceptors_of_other_residues_2_5_to_3_5_apart)
{
    static const float coords [] = {
        0, 0, 0,   3, 0, 0,   0, 3, 0,   0, 0, 2.4f,   3, 0, 3.2f,
        3, 3, 0,   6.6f, 0, 0
    };
    static const uint16_t flags [] = {
        FF_ATOM_N | FF_ATOM_DONOR,                      /* 0, residue 0 */
        FF_ATOM_O | FF_ATOM_ACCEPTOR,                   /* 1: 3.0 from 0 */
        FF_ATOM_O | FF_ATOM_ACCEPTOR,                   /* 2: residue of 0 */
        FF_ATOM_O | FF_ATOM_DONOR | FF_ATOM_ACCEPTOR,   /* 3: 2.4 from 0 */
        FF_ATOM_O | FF_ATOM_DONOR | FF_ATOM_ACCEPTOR,   /* 4: 3.2 from 1 */
        FF_ATOM_C | FF_ATOM_DONOR,                      /* 5: not N or O */
        FF_ATOM_N | FF_ATOM_DONOR,                      /* 6: 3.6 from 1 */
    };
    static const uint32_t residues [] = { 0, 1, 0, 2, 3, 4, 5 };
    ff_array_t arrays [4];
    void *owned;
    s_made_up (arrays, coords, flags, residues, 7, NULL, &owned);
    char *got = s_ok ("hbonds", arrays, 4, NULL, 0);
    ck_assert_str_eq (got, "{\"atoms\":7,\"count\":4,\"pairs\":[[0,1,3.000],"
                      "[3,4,3.105],[4,1,3.200],[4,3,3.105]]}");
    free (got);
    free (owned);
}
END_TEST

START_TEST (test_hbonds_refuse_an_angle_under_90_at_a_bonded_heavy_atom)
{
    /* donor N 0 (residue 0), acceptor O 1 at 3 Å (residue 1); C 2 bonded
       to the acceptor, C 3 bonded to the donor: first behind them (180°),
       then on the donor's side (about 27°) */
    float coords [] = { 0, 0, 0,   3, 0, 0,   4.2f, 0, 0,   -1.2f, 0, 0 };
    static const uint16_t flags [] = {
        FF_ATOM_N | FF_ATOM_DONOR, FF_ATOM_O | FF_ATOM_ACCEPTOR, FF_ATOM_C, FF_ATOM_C
    };
    static const uint32_t residues [] = { 0, 1, 1, 0 };
    static const uint32_t pairs [] = { 0, 3,   1, 2 };
    s_spec_t spec = { 0, NULL, 2, pairs, 0, NULL, 0, NULL, 0, NULL };
    ff_array_t arrays [4];
    void *owned;
    s_made_up (arrays, coords, flags, residues, 4, &spec, &owned);
    char *got = s_ok ("hbonds", arrays, 4, NULL, 0);
    ck_assert_str_eq (got, "{\"atoms\":4,\"count\":1,\"pairs\":[[0,1,3.000]]}");
    free (got);
    free (owned);
    coords [6] = 1.8f, coords [8] = 0.6f;           /* C 2 at 26.6° */
    s_made_up (arrays, coords, flags, residues, 4, &spec, &owned);
    got = s_ok ("hbonds", arrays, 4, NULL, 0);
    ck_assert_str_eq (got, "{\"atoms\":4,\"count\":0,\"pairs\":[]}");
    free (got);
    free (owned);
    coords [6] = 4.2f, coords [8] = 0;
    coords [9] = 1.2f, coords [11] = 0.3f;         /* C 3 at 14° */
    s_made_up (arrays, coords, flags, residues, 4, &spec, &owned);
    got = s_ok ("hbonds", arrays, 4, NULL, 0);
    ck_assert_str_eq (got, "{\"atoms\":4,\"count\":0,\"pairs\":[]}");
    free (got);
    free (owned);
}
END_TEST

START_TEST (test_hbonds_with_a_hydrogen_on_the_donor_need_d_h_a_of_120)
{
    /* donor N 0 with a hydrogen; acceptor O 1 at 3 Å; a heavy atom on the
       donor pointing at the acceptor no longer matters */
    static const float coords [] = { 0, 0, 0,   3, 0, 0,   1.2f, 0, 0.3f };
    static const uint16_t flags [] = {
        FF_ATOM_N | FF_ATOM_DONOR, FF_ATOM_O | FF_ATOM_ACCEPTOR, FF_ATOM_C
    };
    static const uint32_t residues [] = { 0, 1, 0 };
    static const uint32_t pairs [] = { 0, 2 };
    ff_topology_hydrogen_t hydrogen = { { 1.0f, 0, 0 }, 0 };    /* 180° */
    s_spec_t spec = { 0, NULL, 1, pairs, 0, NULL, 0, NULL, 1, &hydrogen };
    ff_array_t arrays [4];
    void *owned;
    s_made_up (arrays, coords, flags, residues, 3, &spec, &owned);
    char *got = s_ok ("hbonds", arrays, 4, NULL, 0);
    ck_assert_str_eq (got, "{\"atoms\":3,\"count\":1,\"pairs\":[[0,1,3.000]]}");
    free (got);
    free (owned);
    hydrogen.xyz [0] = 0, hydrogen.xyz [1] = 1.0f;             /* 71.6° */
    s_made_up (arrays, coords, flags, residues, 3, &spec, &owned);
    got = s_ok ("hbonds", arrays, 4, NULL, 0);
    ck_assert_str_eq (got, "{\"atoms\":3,\"count\":0,\"pairs\":[]}");
    free (got);
    free (owned);
}
END_TEST

/* The angle at b of a, b, c in degrees. */
static double
s_angle_at (const float *a, const float *b, const float *c)
{
    double dot = 0, uu = 0, vv = 0;
    for (int axis = 0; axis < 3; axis++) {
        double u = (double) a [axis] - b [axis], v = (double) c [axis] - b [axis];
        dot += u * v;
        uu += u * u;
        vv += v * v;
    }
    return acos (fmax (-1.0, fmin (1.0, dot / sqrt (uu * vv)))) * 180.0 / S_PI;
}

/* True when every atom bonded to atom (scanning all bonds) makes 90° or
   more with other at atom. */
static int
s_brute_heavy (const ff_topology_t *topology, const float *coords,
               size_t atom, size_t other)
{
    for (uint32_t bond = 0; bond < topology->header->bonds; bond++) {
        uint32_t i = topology->bonds [2 * bond], j = topology->bonds [2 * bond + 1];
        uint32_t x = i == atom ? j : j == atom ? i : UINT32_MAX;
        if (x != UINT32_MAX
        &&  s_angle_at (coords + 3 * (size_t) x, coords + 3 * atom,
                        coords + 3 * other) < 90.0)
            return 0;
    }
    return 1;
}

/* True when donor to acceptor passes the angle rules of hbonds. */
static int
s_brute_hbond_angles (const ff_topology_t *topology, const float *coords,
                      size_t donor, size_t acceptor)
{
    if (!s_brute_heavy (topology, coords, acceptor, donor))
        return 0;
    int hydrogens = 0;
    for (uint32_t h = 0; h < topology->header->hydrogens; h++)
        if (topology->hydrogens [h].atom == donor) {
            hydrogens++;
            if (s_angle_at (coords + 3 * donor, topology->hydrogens [h].xyz,
                            coords + 3 * acceptor) >= 120.0)
                return 1;
        }
    return hydrogens ? 0 : s_brute_heavy (topology, coords, donor, acceptor);
}

/* The hbonds result computed the slow way. */
static char *
s_brute_hbonds (const ff_array_t *arrays, size_t n)
{
    const float *coords = (const float *) arrays [0].data;
    const uint16_t *flags = (const uint16_t *) arrays [1].data;
    const uint32_t *residues = (const uint32_t *) arrays [2].data;
    ff_topology_t topology;
    ck_assert_int_eq (ff_topology_view (arrays [3].data, arrays [3].size,
                                        &topology, NULL, 0), 0);
    ff_buf_t out = { NULL, 0, 0 }, list = { NULL, 0, 0 };
    size_t count = 0;
    for (size_t donor = 0; donor < n; donor++)
        for (size_t acceptor = 0; acceptor < n; acceptor++) {
            if (!(flags [donor] & FF_ATOM_DONOR)
            ||  !(flags [acceptor] & FF_ATOM_ACCEPTOR)
            ||  !(flags [donor] & (FF_ATOM_N | FF_ATOM_O))
            ||  !(flags [acceptor] & (FF_ATOM_N | FF_ATOM_O))
            ||  residues [donor] == residues [acceptor])
                continue;
            double d2 = s_d2 (coords + 3 * donor, coords + 3 * acceptor);
            if (d2 >= 2.5 * 2.5 && d2 <= 3.5 * 3.5
            &&  s_brute_hbond_angles (&topology, coords, donor, acceptor)) {
                s_printf (&list, "%s[%zu,%zu,%.3f]", count ? "," : "",
                          donor, acceptor, sqrt (d2));
                count++;
            }
        }
    s_printf (&out, "{\"atoms\":%zu,\"count\":%zu,\"pairs\":[", n, count);
    if (list.size)
        ck_assert_int_eq (ff_buf_append (&out, list.data, list.size), 0);
    s_printf (&out, "]}");
    free (list.data);
    return s_text (&out);
}

START_TEST (test_hbonds_matches_brute_force_on_real_structures)
{
    /* il2.pdb has hydrogens: its donors are judged by D-H...A */
    static const char *files [] = { S_DEMO "pept.pdb", S_DEMO "il2.pdb", S_DEMO "1tii.pdb" };
    for (size_t file = 0; file < 3; file++) {
        const ff_array_t *arrays;
        ff_structure_t *structure = s_structure (files [file], &arrays);
        char *got = s_ok ("hbonds", arrays, 4, NULL, 0);
        char *expected = s_brute_hbonds (arrays, ff_structure_atoms (structure));
        s_assert_same (got, expected);
        ck_assert_ptr_null (strstr (got, "\"count\":0,"));
        free (got);
        free (expected);
        ff_structure_destroy (&structure);
    }
}
END_TEST

/* -------------------------------------------------------------- clashes */

START_TEST (test_clashes_report_vdw_overlaps_of_atoms_more_than_three_bonds_apart)
{
    /* a chain of carbons 0-1-2-3-4 (bonds given, not from distances):
       0 and 3 (three bonds) at 2.5 Å are not a clash, 0 and 4 (four
       bonds) at 2.5 Å are (overlap 1.7 + 1.7 - 2.5 = 0.9); N donor 5 and
       O acceptor 6 at 2.6 Å could be a hydrogen bond: not a clash; N 5 and
       C 7 at 2.6 Å are (1.55 + 1.7 - 2.6 = 0.65) */
    static const float coords [] = {
        0, 0, 0,   0, 0, 10,   0, 0, 20,   2.5f, 0, 0,   0, 2.5f, 0,
        10, 0, 0,  12.6f, 0, 0,   10, 0, 2.6f
    };
    static const uint16_t flags [] = {
        FF_ATOM_C, FF_ATOM_C, FF_ATOM_C, FF_ATOM_C, FF_ATOM_C,
        FF_ATOM_N | FF_ATOM_DONOR, FF_ATOM_O | FF_ATOM_ACCEPTOR, FF_ATOM_C
    };
    static const uint32_t residues [] = { 0, 0, 0, 0, 1, 2, 3, 4 };
    static const uint32_t pairs [] = { 0, 1,   1, 2,   2, 3,   3, 4 };
    static const char icodes [] = { ' ', ' ', ' ', ' ', 'A' };
    s_spec_t spec = { 0, NULL, 4, pairs, 0, NULL, 0, icodes, 0, NULL };
    ff_array_t arrays [4];
    void *owned;
    s_made_up (arrays, coords, flags, residues, 8, &spec, &owned);
    char *got = s_ok ("clashes", arrays, 4, NULL, 0);
    ck_assert_str_eq (got, "{\"atoms\":8,\"count\":2,\"pairs\":"
                      "[[0,4,2.500,0.900],[5,7,2.600,0.650]]}");
    free (got);
    const char *params [] = { "overlap", "0.7", "level", "residue" };
    got = s_ok ("clashes", arrays, 4, params, 1);
    ck_assert_str_eq (got, "{\"atoms\":8,\"count\":1,\"pairs\":[[0,4,2.500,0.900]]}");
    free (got);
    got = s_ok ("clashes", arrays, 4, params + 2, 1);
    ck_assert_str_eq (got, "{\"atoms\":8,\"count\":2,\"pairs\":"
                      "[[[\"A\",1,\"\",\"UNK\"],[\"A\",2,\"\",\"UNK\"],2.500,0.900],"
                      "[[\"A\",3,\"\",\"UNK\"],[\"A\",5,\"A\",\"UNK\"],2.600,0.650]]}");
    free (got);
    free (owned);
}
END_TEST

/* The clashes result computed the slow way: every pair, van der Waals
   radii from gemmi, topological distance by breadth-first search over
   the bonds. */
static char *
s_brute_clashes (const ff_array_t *arrays, size_t n, double limit)
{
    const float *coords = (const float *) arrays [0].data;
    const uint16_t *flags = (const uint16_t *) arrays [1].data;
    ff_topology_t topology;
    ck_assert_int_eq (ff_topology_view (arrays [3].data, arrays [3].size,
                                        &topology, NULL, 0), 0);
    /* adjacency as a plain list per atom (at most 8 bonds) */
    uint32_t (*adjacent) [8] = calloc (n, sizeof (*adjacent));
    uint8_t *degree = calloc (n, 1);
    int *depth = malloc (n * sizeof (int));
    uint32_t *queue = malloc (n * sizeof (uint32_t));
    for (uint32_t bond = 0; bond < topology.header->bonds; bond++) {
        uint32_t i = topology.bonds [2 * bond], j = topology.bonds [2 * bond + 1];
        ck_assert_uint_lt (degree [i], 8);
        ck_assert_uint_lt (degree [j], 8);
        adjacent [i][degree [i]++] = j;
        adjacent [j][degree [j]++] = i;
    }
    ff_buf_t out = { NULL, 0, 0 }, list = { NULL, 0, 0 };
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        /* depths up to 3 from i */
        for (size_t k = 0; k < n; k++)
            depth [k] = -1;
        size_t head = 0, tail = 0;
        depth [i] = 0;
        queue [tail++] = (uint32_t) i;
        while (head < tail) {
            uint32_t at = queue [head++];
            if (depth [at] == 3)
                continue;
            for (int k = 0; k < degree [at]; k++)
                if (depth [adjacent [at][k]] < 0) {
                    depth [adjacent [at][k]] = depth [at] + 1;
                    queue [tail++] = adjacent [at][k];
                }
        }
        for (size_t j = i + 1; j < n; j++) {
            double d = sqrt (s_d2 (coords + 3 * i, coords + 3 * j));
            double overlap = ff_element_vdw_radius (topology.elements [i])
                           + ff_element_vdw_radius (topology.elements [j]) - d;
            if (overlap < limit || depth [j] >= 0)
                continue;
            int polar = ((flags [i] & FF_ATOM_DONOR) && (flags [j] & FF_ATOM_ACCEPTOR))
                     || ((flags [j] & FF_ATOM_DONOR) && (flags [i] & FF_ATOM_ACCEPTOR));
            if (polar && d >= 2.5)
                continue;
            s_printf (&list, "%s[%zu,%zu,%.3f,%.3f]", count ? "," : "", i, j,
                      d, overlap);
            count++;
        }
    }
    s_printf (&out, "{\"atoms\":%zu,\"count\":%zu,\"pairs\":[", n, count);
    if (list.size)
        ck_assert_int_eq (ff_buf_append (&out, list.data, list.size), 0);
    s_printf (&out, "]}");
    free (list.data);
    free (adjacent);
    free (degree);
    free (depth);
    free (queue);
    return s_text (&out);
}

START_TEST (test_clashes_match_brute_force_on_real_structures)
{
    static const char *files [] = { S_DEMO "pept.pdb", S_DATA "1A8O.pdb.gz", S_DEMO "1tii.pdb" };
    static const char *limits [] = { "0.4", "0.2" };
    for (size_t file = 0; file < 3; file++) {
        const ff_array_t *arrays;
        ff_structure_t *structure = s_structure (files [file], &arrays);
        for (size_t limit = 0; limit < 2; limit++) {
            const char *params [] = { "overlap", limits [limit] };
            char *got = s_ok ("clashes", arrays, 4, params, 1);
            char *expected = s_brute_clashes (arrays, ff_structure_atoms (structure),
                                              atof (limits [limit]));
            s_assert_same (got, expected);
            free (got);
            free (expected);
        }
        ff_structure_destroy (&structure);
    }
}
END_TEST

/* ----------------------------------------------------------- pistacking */

START_TEST (test_pistacking_reports_distance_angle_offset_and_class_of_ring_pairs)
{
    /* rings.pdb: PHE 1 in z = 0 and PHE 4 in z = 3.8 face to face; HIS 3
       in x = 5 edge to face with PHE 4 */
    const ff_array_t *arrays;
    ff_structure_t *structure = s_structure (S_DATA "rings.pdb", &arrays);
    char *got = s_ok ("pistacking", arrays, 4, NULL, 0);
    ck_assert_str_eq (got, "{\"rings\":3,\"count\":2,\"pairs\":"
                      "[[0,2,3.800,0.000,0.000,\"parallel\"],"
                      "[1,2,4.000,90.000,0.000,\"tshape\"]]}");
    free (got);
    ff_structure_destroy (&structure);
}
END_TEST

START_TEST (test_pistacking_classes_by_plip_and_skips_rings_of_one_residue)
{
    static const ff_topology_ring_t rings [] = {
        { { 0, 0, 0 },        { 0, 0, 1 },   0, 6 },
        { { 0, 0, 3.5f },     { 0, 0, -1 },  1, 6 },  /* antiparallel: 0° */
        { { 5, 0, 0 },        { 1, 0, 0 },   2, 6 },  /* T with 0 */
        { { 0, 0, -3.6f },    { 0, 0, 1 },   0, 5 },  /* residue of 0 */
        { { 3, 0, 3.4f },     { 0, 0, 1 },   3, 6 },  /* offset 3 from 0 and 1, 2.0 from 2 */
        { { 0, 5.6f, 0 },     { 1, 0, 0 },   4, 6 },  /* 5.6 from 0 */
        { { 0, 0, -3.8f },    { 0, 2, 2 },   5, 6 },  /* 45°, not unit */
    };
    static const uint32_t residues [] = { 0 };
    static const float coords [] = { 0, 0, 0 };
    static const uint16_t flags [] = { FF_ATOM_C };
    s_spec_t spec = { 0, NULL, 0, NULL, 7, rings, 0, NULL, 0, NULL };
    ff_array_t arrays [4];
    void *owned;
    s_made_up (arrays, coords, flags, residues, 1, &spec, &owned);
    /* six residues named in the topology */
    ff_topology_header_t *header = (ff_topology_header_t *) owned;
    ck_assert_uint_eq (header->residues, 1);
    free (owned);
    static const uint8_t elements [] = { 6 };
    s_spec_t full = { 1, elements, 0, NULL, 7, rings, 6, NULL, 0, NULL };
    arrays [3] = s_topology_array (&full, &owned);
    char *got = s_ok ("pistacking", arrays + 3, 1, NULL, 0);
    ck_assert_str_eq (got, "{\"rings\":7,\"count\":2,\"pairs\":"
                      "[[0,1,3.500,0.000,0.000,\"parallel\"],"
                      "[0,2,5.000,90.000,0.000,\"tshape\"]]}");
    free (got);
    const char *level [] = { "level", "residue" };
    got = s_ok ("pistacking", arrays + 3, 1, level, 1);
    ck_assert_str_eq (got, "{\"rings\":7,\"count\":2,\"pairs\":"
                      "[[[\"A\",1,\"\",\"UNK\"],[\"A\",2,\"\",\"UNK\"],3.500,0.000,0.000,\"parallel\"],"
                      "[[\"A\",1,\"\",\"UNK\"],[\"A\",3,\"\",\"UNK\"],5.000,90.000,0.000,\"tshape\"]]}");
    free (got);
    free (owned);
}
END_TEST

/* The in-plane distance from centroid a to centroid b on a's plane. */
static double
s_brute_offset (const ff_topology_ring_t *a, const ff_topology_ring_t *b)
{
    double delta [3], along = 0, nn = 0;
    for (int axis = 0; axis < 3; axis++) {
        delta [axis] = (double) b->centroid [axis] - a->centroid [axis];
        along += delta [axis] * a->normal [axis];
        nn += (double) a->normal [axis] * a->normal [axis];
    }
    double projected [3];
    for (int axis = 0; axis < 3; axis++)
        projected [axis] = delta [axis] - along / nn * a->normal [axis];
    return sqrt (projected [0] * projected [0] + projected [1] * projected [1]
               + projected [2] * projected [2]);
}

START_TEST (test_pistacking_matches_brute_force_on_1tii_and_2beg)
{
    static const char *files [] = { S_DEMO "1tii.pdb", S_DATA "2BEG.pdb.gz" };
    for (size_t file = 0; file < 2; file++) {
        const ff_array_t *arrays;
        ff_structure_t *structure = s_structure (files [file], &arrays);
        ff_topology_t topology;
        ck_assert_int_eq (ff_topology_view (arrays [3].data, arrays [3].size,
                                            &topology, NULL, 0), 0);
        size_t rings = topology.header->rings;
        ff_buf_t out = { NULL, 0, 0 }, list = { NULL, 0, 0 };
        size_t count = 0;
        for (size_t a = 0; a < rings; a++)
            for (size_t b = a + 1; b < rings; b++) {
                const ff_topology_ring_t *ra = &topology.rings [a], *rb = &topology.rings [b];
                double d = sqrt (s_d2 (ra->centroid, rb->centroid));
                if (ra->residue == rb->residue || d <= 0.5 || d >= 5.5)
                    continue;
                double dot = 0, la = 0, lb = 0;
                for (int axis = 0; axis < 3; axis++) {
                    dot += (double) ra->normal [axis] * rb->normal [axis];
                    la += (double) ra->normal [axis] * ra->normal [axis];
                    lb += (double) rb->normal [axis] * rb->normal [axis];
                }
                double angle = acos (fmin (1.0, fabs (dot) / sqrt (la * lb))) * 180.0 / S_PI;
                double offset = fmin (s_brute_offset (ra, rb), s_brute_offset (rb, ra));
                const char *class = offset >= 2.0 ? NULL : angle < 30 ? "parallel"
                                  : angle > 60 ? "tshape" : NULL;
                if (!class)
                    continue;
                s_printf (&list, "%s[%zu,%zu,%.3f,%.3f,%.3f,\"%s\"]", count ? "," : "",
                          a, b, d, angle, offset, class);
                count++;
            }
        s_printf (&out, "{\"rings\":%zu,\"count\":%zu,\"pairs\":[", rings, count);
        if (list.size)
            ck_assert_int_eq (ff_buf_append (&out, list.data, list.size), 0);
        s_printf (&out, "]}");
        char *expected = s_text (&out);
        char *got = s_ok ("pistacking", arrays, 4, NULL, 0);
        ck_assert_uint_gt (count, 0);
        s_assert_same (got, expected);
        free (got);
        free (expected);
        free (list.data);
        ff_structure_destroy (&structure);
    }
}
END_TEST

START_TEST (test_detectors_are_registered_with_a_cost_and_only_stats_folds)
{
    static const char *names [] = {
        "stats", "contacts", "hbonds", "clashes", "pistacking"
    };
    const ff_array_t *arrays;
    ff_structure_t *small = s_structure (S_DEMO "pept.pdb", &arrays);
    ff_task_t task = { 0, "pept", NULL, 0, NULL, 0, arrays, 4 };
    const ff_array_t *big_arrays;
    ff_structure_t *big = s_structure (S_DEMO "1tii.pdb", &big_arrays);
    ff_task_t big_task = { 0, "1tii", NULL, 0, NULL, 0, big_arrays, 4 };
    for (size_t index = 0; index < 5; index++) {
        const ff_kernel_t *kernel = ff_kernels_find (names [index]);
        ck_assert_ptr_nonnull (kernel);
        ck_assert_uint_eq (kernel->abi, FF_KERNEL_ABI);
        ck_assert_uint_eq (kernel->flags, FF_KERNEL_JSON | FF_KERNEL_ARRAYS);
        ck_assert_ptr_nonnull (kernel->cost);
        ck_assert_int_eq (kernel->fold != NULL, index == 0);
        if (index > 0) {
            ck_assert_double_gt (kernel->cost (&task), 0);
            ck_assert_double_gt (kernel->cost (&big_task), kernel->cost (&task));
        }
    }
    ck_assert_ptr_eq (ff_kernel_contacts.run, ff_kernels_find ("contacts")->run);
    ck_assert_ptr_eq (ff_kernel_stats.fold, ff_kernels_find ("stats")->fold);
    ff_structure_destroy (&small);
    ff_structure_destroy (&big);
}
END_TEST

/* ---------------------------------------------------------------- stats */

/* Direct figures of values, in long double. */
typedef struct {
    size_t count;                   /* elements */
    long double sum, mean, std;     /* sum, mean, population std */
    double min, max;                /* smallest and largest value */
} s_direct_t;

static s_direct_t
s_direct (const double *values, size_t count)
{
    s_direct_t direct = { count, 0, 0, 0, INFINITY, -INFINITY };
    size_t index;
    for (index = 0; index < count; index++) {
        direct.sum += values [index];
        direct.min = fmin (direct.min, values [index]);
        direct.max = fmax (direct.max, values [index]);
    }
    direct.mean = direct.sum / count;
    long double m2 = 0;
    for (index = 0; index < count; index++)
        m2 += (values [index] - direct.mean) * (values [index] - direct.mean);
    direct.std = sqrtl (m2 / count);
    return direct;
}

/* Returns the number after "key": in a result. */
static double
s_member (const char *text, const char *key)
{
    char pattern [32];
    snprintf (pattern, sizeof (pattern), "\"%s\":", key);
    const char *at = strstr (text, pattern);
    ck_assert_msg (at != NULL, "no %s in %s", key, text);
    return strtod (at + strlen (pattern), NULL);
}

/* Asserts a stats result matches the direct figures; min and max must
   print as the given texts. */
static void
s_assert_stats (const char *text, const s_direct_t *direct, const char *min,
                const char *max)
{
    ck_assert_double_eq (s_member (text, "count"), (double) direct->count);
    ck_assert_double_eq_tol (s_member (text, "sum"), (double) direct->sum,
                             1e-9 * fabs ((double) direct->sum));
    ck_assert_double_eq_tol (s_member (text, "mean"), (double) direct->mean,
                             1e-9 * fabs ((double) direct->mean));
    ck_assert_double_eq_tol (s_member (text, "std"), (double) direct->std,
                             1e-7 * (double) direct->std);
    char pattern [96];
    snprintf (pattern, sizeof (pattern), "\"min\":%s,\"max\":%s,", min, max);
    ck_assert_msg (strstr (text, pattern) != NULL, "%s lacks %s", text, pattern);
    ck_assert_double_eq (s_member (text, "min"), direct->min);
    ck_assert_double_eq (s_member (text, "max"), direct->max);
}

/* The test arrays: float32 [100003], int16 [65539], float64 [300][7]. */
typedef struct {
    float f32 [100003];
    int16_t i16 [65539];
    double f64 [300][7];
    double values [100003];         /* scratch for s_direct */
} s_arrays_t;

static s_arrays_t *
s_arrays (void)
{
    s_arrays_t *arrays = (s_arrays_t *) malloc (sizeof (s_arrays_t));
    ck_assert_ptr_nonnull (arrays);
    uint64_t state = 3;
    size_t index;
    for (index = 0; index < 100003; index++)
        arrays->f32 [index] = (float) (4000 * s_random (&state) - 1000);
    for (index = 0; index < 65539; index++)
        arrays->i16 [index] = (int16_t) (index * 7919 % 65536 - 32768);
    for (index = 0; index < 300 * 7; index++)
        arrays->f64 [index / 7][index % 7] = 1e6 * s_random (&state) + 3.25;
    return arrays;
}

/* An array over count elements of data, as a [count] or [count / 7][7]. */
static ff_array_t
s_data (ff_dtype_t dtype, const void *data, size_t count, size_t item, int rows7)
{
    ff_array_t array = { "data", dtype, 1, { count, 0, 0, 0 }, data, count * item };
    if (rows7) {
        array.ndim = 2;
        array.shape [0] = count / 7;
        array.shape [1] = 7;
    }
    return array;
}

START_TEST (test_stats_of_float32_match_a_direct_double_computation)
{
    s_arrays_t *arrays = s_arrays ();
    for (size_t index = 0; index < 100003; index++)
        arrays->values [index] = arrays->f32 [index];
    s_direct_t direct = s_direct (arrays->values, 100003);
    ff_array_t array = s_data (FF_DTYPE_F32, arrays->f32, 100003, 4, 0);
    char *got = s_ok ("stats", &array, 1, NULL, 0);
    char min [64], max [64];
    snprintf (min, sizeof (min), "%.17g", direct.min);
    snprintf (max, sizeof (max), "%.17g", direct.max);
    s_assert_stats (got, &direct, min, max);
    ck_assert_ptr_nonnull (strstr (got, "\"dtype\":\"f4\"}"));
    free (got);
    free (arrays);
}
END_TEST

START_TEST (test_stats_of_int16_print_min_and_max_as_exact_integers)
{
    s_arrays_t *arrays = s_arrays ();
    for (size_t index = 0; index < 65539; index++)
        arrays->values [index] = arrays->i16 [index];
    s_direct_t direct = s_direct (arrays->values, 65539);
    ff_array_t array = s_data (FF_DTYPE_I16, arrays->i16, 65539, 2, 0);
    char *got = s_ok ("stats", &array, 1, NULL, 0);
    s_assert_stats (got, &direct, "-32768", "32767");
    free (got);
    free (arrays);
}
END_TEST

START_TEST (test_stats_of_a_2d_float64_array_count_every_element)
{
    s_arrays_t *arrays = s_arrays ();
    memcpy (arrays->values, arrays->f64, sizeof (arrays->f64));
    s_direct_t direct = s_direct (arrays->values, 2100);
    ff_array_t array = s_data (FF_DTYPE_F64, arrays->f64, 2100, 8, 1);
    char *got = s_ok ("stats", &array, 1, NULL, 0);
    char min [64], max [64];
    snprintf (min, sizeof (min), "%.17g", direct.min);
    snprintf (max, sizeof (max), "%.17g", direct.max);
    s_assert_stats (got, &direct, min, max);
    ck_assert_uint_eq ((size_t) s_member (got, "count"), 2100);
    free (got);
    free (arrays);
}
END_TEST

/* Runs stats over consecutive chunks of array (rows of sizes cut, the
   last one taking the rest) and folds them; returns the folded text. */
static char *
s_fold_chunks (const ff_array_t *array, const size_t *cuts, size_t ncuts)
{
    size_t row_bytes = array->size / array->shape [0], row = 0;
    ff_buf_t acc = { NULL, 0, 0 };
    const ff_kernel_t *stats = ff_kernels_find ("stats");
    for (size_t chunk = 0; chunk <= ncuts; chunk++) {
        size_t rows = chunk < ncuts ? cuts [chunk] : array->shape [0] - row;
        ff_array_t slice = *array;
        slice.data = (const uint8_t *) array->data + row * row_bytes;
        slice.shape [0] = rows;
        slice.size = rows * row_bytes;
        char *partial = s_ok ("stats", &slice, 1, NULL, 0);
        ck_assert_int_eq (stats->fold (&acc, (const uint8_t *) partial,
                                       strlen (partial)), 0);
        free (partial);
        row += rows;
    }
    ck_assert_uint_eq (row, array->shape [0]);
    return s_text (&acc);
}

START_TEST (test_stats_fold_over_chunks_of_different_sizes_matches_the_direct_result)
{
    static const size_t cuts [] = { 1, 2, 0, 7, 1000, 4093, 13 };
    s_arrays_t *arrays = s_arrays ();
    size_t index;
    char min [64], max [64];

    for (index = 0; index < 100003; index++)
        arrays->values [index] = arrays->f32 [index];
    s_direct_t direct = s_direct (arrays->values, 100003);
    ff_array_t array = s_data (FF_DTYPE_F32, arrays->f32, 100003, 4, 0);
    char *folded = s_fold_chunks (&array, cuts, 7);
    snprintf (min, sizeof (min), "%.17g", direct.min);
    snprintf (max, sizeof (max), "%.17g", direct.max);
    s_assert_stats (folded, &direct, min, max);
    free (folded);

    for (index = 0; index < 65539; index++)
        arrays->values [index] = arrays->i16 [index];
    direct = s_direct (arrays->values, 65539);
    array = s_data (FF_DTYPE_I16, arrays->i16, 65539, 2, 0);
    folded = s_fold_chunks (&array, cuts, 7);
    s_assert_stats (folded, &direct, "-32768", "32767");
    free (folded);

    memcpy (arrays->values, arrays->f64, sizeof (arrays->f64));
    direct = s_direct (arrays->values, 2100);
    array = s_data (FF_DTYPE_F64, arrays->f64, 2100, 8, 1);
    static const size_t rows [] = { 1, 2, 0, 7, 100, 3 };
    folded = s_fold_chunks (&array, rows, 6);
    snprintf (min, sizeof (min), "%.17g", direct.min);
    snprintf (max, sizeof (max), "%.17g", direct.max);
    s_assert_stats (folded, &direct, min, max);
    ck_assert_ptr_nonnull (strstr (folded, "\"dtype\":\"f8\"}"));
    free (folded);
    free (arrays);
}
END_TEST

START_TEST (test_stats_fold_keeps_64_bit_integer_extremes_exact)
{
    static const int64_t low [] = { INT64_MIN, 5 };
    static const int64_t high [] = { 7, INT64_MAX };
    static const uint64_t unsigned_values [] = { 3, UINT64_MAX, 0 };
    ff_buf_t acc = { NULL, 0, 0 };
    ff_array_t array = s_data (FF_DTYPE_I64, low, 2, 8, 0);
    char *partial = s_ok ("stats", &array, 1, NULL, 0);
    ck_assert_int_eq (ff_stats_fold (&acc, (const uint8_t *) partial, strlen (partial)), 0);
    free (partial);
    array = s_data (FF_DTYPE_I64, high, 2, 8, 0);
    partial = s_ok ("stats", &array, 1, NULL, 0);
    ck_assert_int_eq (ff_stats_fold (&acc, (const uint8_t *) partial, strlen (partial)), 0);
    free (partial);
    char *text = s_text (&acc);
    ck_assert_ptr_nonnull (strstr (text, "\"count\":4,"));
    ck_assert_ptr_nonnull (strstr (text, "\"min\":-9223372036854775808,"
                                         "\"max\":9223372036854775807,"));
    free (text);
    array = s_data (FF_DTYPE_U64, unsigned_values, 3, 8, 0);
    text = s_ok ("stats", &array, 1, NULL, 0);
    ck_assert_ptr_nonnull (strstr (text, "\"min\":0,\"max\":18446744073709551615,"));
    free (text);
}
END_TEST

START_TEST (test_stats_agree_with_numpy_on_npy_files)
{
    char dir [] = "/tmp/fanfold-stats-XXXXXX";
    ck_assert_ptr_nonnull (mkdtemp (dir));
    char command [1024];
    snprintf (command, sizeof (command),
              "cd %s && /usr/bin/python3 -c '"
              "import numpy as np\n"
              "r = np.random.default_rng (5)\n"
              "arrays = {\"f4\": r.normal (100, 30, 50001).astype (\"<f4\"),\n"
              "          \"i2\": r.integers (-32768, 32768, 40000).astype (\"<i2\"),\n"
              "          \"f8\": r.uniform (-5, 9, (301, 4)).astype (\"<f8\")}\n"
              "for name, a in arrays.items ():\n"
              "    np.save (name + \".npy\", a)\n"
              "    d = a.astype (np.float64)\n"
              "    open (name + \".txt\", \"w\").write (\"%%r %%r %%r %%r %%r %%r\" %% (d.size,"
              " float (d.sum ()), float (d.min ()), float (d.max ()),"
              " float (d.mean ()), float (d.std ())))\n'", dir);
    ck_assert_int_eq (system (command), 0);
    static const char *names [] = { "f4", "i2", "f8" };
    for (size_t index = 0; index < 3; index++) {
        char path [256], error [256];
        snprintf (path, sizeof (path), "%s/%s.npy", dir, names [index]);
        ff_npy_t npy;
        ck_assert_int_eq (ff_npy_read (path, &npy, error, sizeof (error)), 0);
        FILE *file = fopen (path, "rb");
        ck_assert_ptr_nonnull (file);
        uint8_t *bytes = (uint8_t *) malloc (npy.offset + npy.bytes);
        ck_assert_ptr_nonnull (bytes);
        ck_assert_uint_eq (fread (bytes, 1, npy.offset + npy.bytes, file),
                           npy.offset + npy.bytes);
        fclose (file);
        ff_array_t array = { "data", npy.dtype, npy.ndim, { 0, 0, 0, 0 },
                             bytes + npy.offset, npy.bytes };
        memcpy (array.shape, npy.shape, sizeof (array.shape));
        size_t cuts [] = { 17, 100 };
        char *folded = s_fold_chunks (&array, cuts, 2);
        char *direct = s_ok ("stats", &array, 1, NULL, 0);

        snprintf (path, sizeof (path), "%s/%s.txt", dir, names [index]);
        file = fopen (path, "r");
        ck_assert_ptr_nonnull (file);
        double count, sum, min, max, mean, std;
        ck_assert_int_eq (fscanf (file, "%lf %lf %lf %lf %lf %lf", &count, &sum,
                                  &min, &max, &mean, &std), 6);
        fclose (file);
        const char *texts [] = { direct, folded };
        for (size_t which = 0; which < 2; which++) {
            const char *text = texts [which];
            ck_assert_double_eq (s_member (text, "count"), count);
            ck_assert_double_eq_tol (s_member (text, "sum"), sum, 1e-9 * fabs (sum));
            ck_assert_double_eq (s_member (text, "min"), min);
            ck_assert_double_eq (s_member (text, "max"), max);
            ck_assert_double_eq_tol (s_member (text, "mean"), mean, 1e-9 * fabs (mean));
            ck_assert_double_eq_tol (s_member (text, "std"), std, 1e-7 * std);
        }
        free (folded);
        free (direct);
        free (bytes);
    }
    snprintf (command, sizeof (command), "rm -rf %s", dir);
    ck_assert_int_eq (system (command), 0);
}
END_TEST

/* ---------------------------------------------------------------- limits */

START_TEST (test_structure_detectors_refuse_missing_or_misshapen_arrays)
{
    static const float coords [] = { 0, 0, 0, 1, 1, 1 };
    static const double wide [] = { 0, 0, 0, 1, 1, 1 };
    static const uint16_t flags [] = { FF_ATOM_N, FF_ATOM_O };
    static const uint32_t residues [] = { 0, 1 };
    s_refused ("contacts", NULL, 0, NULL, 0, "no \"coords\" array");
    ff_array_t array = { "coords", FF_DTYPE_F64, 2, { 2, 3, 0, 0 }, wide, sizeof (wide) };
    s_refused ("contacts", &array, 1, NULL, 0, "must be float32 [N][3]");
    array = s_coords_array (coords, 2);
    array.ndim = 1;
    s_refused ("contacts", &array, 1, NULL, 0, "must be float32 [N][3]");
    array = s_coords_array (coords, 2);
    array.shape [0] = 3;
    s_refused ("contacts", &array, 1, NULL, 0, "fewer than its shape");
    float nan_coords [] = { 0, 0, 0, 1, NAN, 1 };
    array = s_coords_array (nan_coords, 2);
    s_refused ("contacts", &array, 1, NULL, 0, "not finite");

    ff_array_t arrays [4];
    void *owned;
    s_made_up (arrays, coords, flags, residues, 2, NULL, &owned);
    s_refused ("hbonds", arrays, 1, NULL, 0, "no \"flags\" array");
    s_refused ("clashes", arrays, 2, NULL, 0, "no \"residues\" array");
    s_refused ("clashes", arrays, 3, NULL, 0, "no \"topology\" array");
    s_refused ("hbonds", arrays, 3, NULL, 0, "no \"topology\" array");
    const char *level [] = { "level", "residue" };
    s_refused ("contacts", arrays, 3, level, 1, "no \"topology\" array");
    arrays [1].shape [0] = 1;
    arrays [1].size = 2;
    s_refused ("hbonds", arrays, 4, NULL, 0, "\"flags\" has 1 rows");
    free (owned);
    s_made_up (arrays, coords, flags, residues, 2, NULL, &owned);
    arrays [2].dtype = FF_DTYPE_I32;
    s_refused ("clashes", arrays, 4, NULL, 0, "\"residues\" must be uint32 [N]");
    s_refused ("pistacking", arrays, 3, NULL, 0, "no \"topology\" array");
    free (owned);
    /* a topology of another structure, or not one at all */
    s_made_up (arrays, coords, flags, residues, 2, NULL, &owned);
    ((ff_topology_header_t *) owned)->atoms = 5;
    s_refused ("clashes", arrays, 4, NULL, 0, "shorter than its counts");
    ((ff_topology_header_t *) owned)->atoms = 1;
    s_refused ("clashes", arrays, 4, NULL, 0, "describes 1 atoms");
    ((ff_topology_header_t *) owned)->magic = 0;
    s_refused ("pistacking", arrays, 4, NULL, 0, "no topology header");
    arrays [3].size = 8;
    s_refused ("hbonds", arrays, 4, NULL, 0, "fewer than its shape needs");
    arrays [3].shape [0] = 8;
    s_refused ("hbonds", arrays, 4, NULL, 0, "shorter than its header");
    free (owned);
    /* a residue the topology does not name, at level=residue */
    static const uint32_t far [] = { 0, 7 };
    s_made_up (arrays, coords, flags, residues, 2, NULL, &owned);
    arrays [2].data = far;
    s_refused ("clashes", arrays, 4, level, 1, "in residue 7");
    free (owned);
}
END_TEST

START_TEST (test_structure_detectors_refuse_bad_parameters)
{
    static const float coords [] = { 0, 0, 0, 1, 1, 1 };
    static const char *bad [] = { "abc", "-1", "inf", "", "4x" };
    ff_array_t array = s_coords_array (coords, 2);
    for (size_t index = 0; index < 5; index++) {
        const char *params [] = { "cutoff", bad [index] };
        s_refused ("contacts", &array, 1, params, 1, "cutoff=");
    }
    const char *pairs [] = { "pairs", "yes" };
    s_refused ("contacts", &array, 1, pairs, 1, "pairs=yes");
    static const uint16_t flags [] = { FF_ATOM_N, FF_ATOM_O };
    static const uint32_t residues [] = { 0, 1 };
    ff_array_t arrays [4];
    void *owned;
    s_made_up (arrays, coords, flags, residues, 2, NULL, &owned);
    const char *overlap [] = { "overlap", "near" };
    s_refused ("clashes", arrays, 4, overlap, 1, "overlap=near");
    const char *min [] = { "min", "2.0" };
    s_refused ("clashes", arrays, 4, min, 1, "min= is gone");
    const char *level [] = { "level", "chain" };
    s_refused ("clashes", arrays, 4, level, 1, "level=chain");
    s_refused ("hbonds", arrays, 4, level, 1, "level=chain");
    s_refused ("contacts", arrays, 4, level, 1, "level=chain");
    s_refused ("pistacking", arrays, 4, level, 1, "level=chain");
    free (owned);
}
END_TEST

START_TEST (test_pistacking_refuses_a_ring_without_a_normal)
{
    static const ff_topology_ring_t rings [] = {
        { { 0, 0, 0 }, { 0, 0, 1 }, 0, 6 },   { { 1, 1, 1 }, { 0, 0, 0 }, 1, 6 }
    };
    s_spec_t spec = { 0, NULL, 0, NULL, 2, rings, 2, NULL, 0, NULL };
    void *owned;
    ff_array_t array = s_topology_array (&spec, &owned);
    s_refused ("pistacking", &array, 1, NULL, 0, "ring 1 has no normal");
    free (owned);
}
END_TEST

START_TEST (test_stats_refuse_a_missing_or_short_data_array)
{
    static const int32_t values [] = { 1, 2, 3 };
    s_refused ("stats", NULL, 0, NULL, 0, "no \"data\" array");
    ff_array_t array = s_data (FF_DTYPE_I32, values, 3, 4, 0);
    array.shape [0] = 4;
    s_refused ("stats", &array, 1, NULL, 0, "not a valid array");
    array = s_data (FF_DTYPE_NONE, values, 3, 4, 0);
    s_refused ("stats", &array, 1, NULL, 0, "not a valid array");
    array = s_data (FF_DTYPE_I32, values, 3, 4, 0);
    array.ndim = 0;
    s_refused ("stats", &array, 1, NULL, 0, "not a valid array");
}
END_TEST

START_TEST (test_stats_of_an_empty_array_have_null_min_max_mean_and_std)
{
    static const float none [1] = { 0 };
    ff_array_t array = s_data (FF_DTYPE_F32, none, 0, 4, 0);
    char *got = s_ok ("stats", &array, 1, NULL, 0);
    ck_assert_str_eq (got, "{\"count\":0,\"sum\":0,\"min\":null,\"max\":null,"
                      "\"mean\":null,\"std\":null,\"m2\":0,\"dtype\":\"f4\"}");
    /* folding an empty partial into an empty or a full acc changes nothing */
    ff_buf_t acc = { NULL, 0, 0 };
    ck_assert_int_eq (ff_stats_fold (&acc, (const uint8_t *) got, strlen (got)), 0);
    char *copy = s_text (&acc);
    ck_assert_str_eq (copy, got);
    free (copy);
    free (got);
    array = s_data (FF_DTYPE_U8, none, 0, 1, 0);
    got = s_ok ("stats", &array, 1, NULL, 0);
    ck_assert_ptr_nonnull (strstr (got, "\"min\":null,\"max\":null,"));
    free (got);
}
END_TEST

START_TEST (test_stats_write_null_for_figures_that_are_not_finite)
{
    static const double values [] = { 1, NAN, 3 };
    static const double more [] = { 4, 5 };
    ff_array_t array = s_data (FF_DTYPE_F64, values, 3, 8, 0);
    char *got = s_ok ("stats", &array, 1, NULL, 0);
    ck_assert_str_eq (got, "{\"count\":3,\"sum\":null,\"min\":null,\"max\":null,"
                      "\"mean\":null,\"std\":null,\"m2\":null,\"dtype\":\"f8\"}");
    ff_buf_t acc = { NULL, 0, 0 };
    ck_assert_int_eq (ff_stats_fold (&acc, (const uint8_t *) got, strlen (got)), 0);
    free (got);
    array = s_data (FF_DTYPE_F64, more, 2, 8, 0);
    got = s_ok ("stats", &array, 1, NULL, 0);
    ck_assert_int_eq (ff_stats_fold (&acc, (const uint8_t *) got, strlen (got)), 0);
    free (got);
    got = s_text (&acc);
    ck_assert_str_eq (got, "{\"count\":5,\"sum\":null,\"min\":null,\"max\":null,"
                      "\"mean\":null,\"std\":null,\"m2\":null,\"dtype\":\"f8\"}");
    free (got);
}
END_TEST

START_TEST (test_stats_fold_refuses_what_is_not_a_stats_result_and_leaves_acc_alone)
{
    static const char *bad [] = {
        "", "not json", "{}", "[1,2]",
        "{\"count\":-1,\"sum\":0,\"min\":0,\"max\":0,\"mean\":0,\"m2\":0,\"dtype\":\"i4\"}",
        "{\"count\":1,\"sum\":1,\"min\":1,\"max\":1,\"mean\":1,\"m2\":0,\"dtype\":\"c8\"}",
        "{\"count\":1,\"sum\":1,\"min\":null,\"max\":1,\"mean\":1,\"m2\":0,\"dtype\":\"i4\"}",
        "{\"count\":1,\"sum\":\"1\",\"min\":1,\"max\":1,\"mean\":1,\"m2\":0,\"dtype\":\"i4\"}",
        "{\"count\":1,\"sum\":1,\"min\":1,\"max\":1,\"mean\":1,\"m2\":0,\"dtype\":\"i4\"} x",
        "{\"count\":1,\"count\":1,\"sum\":1,\"min\":1,\"max\":1,\"mean\":1,\"m2\":0,\"dtype\":\"i4\"}",
        "{\"count\":1,\"sum\":1,\"min\":1,\"max\":1,\"mean\":1,\"m2\":0,\"dtype\":\"f4\"}",
    };
    static const int32_t values [] = { 1, 2, 3 };
    ff_array_t array = s_data (FF_DTYPE_I32, values, 3, 4, 0);
    char *first = s_ok ("stats", &array, 1, NULL, 0);
    ff_buf_t acc = { NULL, 0, 0 };
    ck_assert_int_eq (ff_stats_fold (&acc, (const uint8_t *) first, strlen (first)), 0);
    for (size_t index = 0; index < sizeof (bad) / sizeof (bad [0]); index++) {
        ck_assert_msg (ff_stats_fold (&acc, (const uint8_t *) bad [index],
                                      strlen (bad [index])) == -1,
                       "accepted %s", bad [index]);
        ck_assert_uint_eq (acc.size, strlen (first));
        ck_assert_mem_eq (acc.data, first, acc.size);
    }
    free (acc.data);
    free (first);
}
END_TEST

Suite *
detectors_suite (void)
{
    Suite *suite = suite_create ("detectors");

    TCase *tc = tcase_create ("structures");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, test_contacts_matches_brute_force_on_real_structures_at_3_4_and_6);
    tcase_add_test (tc, test_contacts_uses_4_angstroms_by_default_and_pairs_0_gives_the_count_alone);
    tcase_add_test (tc, test_contacts_includes_a_pair_exactly_at_the_cutoff);
    tcase_add_test (tc, test_contacts_counts_a_lattice_of_216000_atoms_exactly);
    tcase_add_test (tc, test_contacts_handles_coordinates_spread_over_ten_thousand_angstroms);
    tcase_add_test (tc, test_contacts_handles_every_atom_in_one_cell);
    tcase_add_test (tc, test_contacts_stops_once_its_pairs_pass_max_result_and_names_the_limit);
    tcase_add_test (tc, test_atoms_piled_up_load_without_bonds_and_the_bonded_detectors_say_so);
    tcase_add_test (tc, test_contacts_of_one_atom_has_no_pair);
    tcase_add_test (tc, test_contacts_level_residue_gives_each_pair_of_residues_once);
    tcase_add_test (tc, test_hbonds_pairs_donors_with_acceptors_of_other_residues_2_5_to_3_5_apart);
    tcase_add_test (tc, test_hbonds_matches_brute_force_on_real_structures);
    tcase_add_test (tc, test_hbonds_refuse_an_angle_under_90_at_a_bonded_heavy_atom);
    tcase_add_test (tc, test_hbonds_with_a_hydrogen_on_the_donor_need_d_h_a_of_120);
    tcase_add_test (tc, test_clashes_report_vdw_overlaps_of_atoms_more_than_three_bonds_apart);
    tcase_add_test (tc, test_clashes_match_brute_force_on_real_structures);
    tcase_add_test (tc, test_pistacking_reports_distance_angle_offset_and_class_of_ring_pairs);
    tcase_add_test (tc, test_pistacking_classes_by_plip_and_skips_rings_of_one_residue);
    tcase_add_test (tc, test_pistacking_matches_brute_force_on_1tii_and_2beg);
    tcase_add_test (tc, test_detectors_are_registered_with_a_cost_and_only_stats_folds);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("stats");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, test_stats_of_float32_match_a_direct_double_computation);
    tcase_add_test (tc, test_stats_of_int16_print_min_and_max_as_exact_integers);
    tcase_add_test (tc, test_stats_of_a_2d_float64_array_count_every_element);
    tcase_add_test (tc, test_stats_fold_over_chunks_of_different_sizes_matches_the_direct_result);
    tcase_add_test (tc, test_stats_fold_keeps_64_bit_integer_extremes_exact);
    tcase_add_test (tc, test_stats_agree_with_numpy_on_npy_files);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("limits");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, test_structure_detectors_refuse_missing_or_misshapen_arrays);
    tcase_add_test (tc, test_structure_detectors_refuse_bad_parameters);
    tcase_add_test (tc, test_pistacking_refuses_a_ring_without_a_normal);
    tcase_add_test (tc, test_stats_refuse_a_missing_or_short_data_array);
    tcase_add_test (tc, test_stats_of_an_empty_array_have_null_min_max_mean_and_std);
    tcase_add_test (tc, test_stats_write_null_for_figures_that_are_not_finite);
    tcase_add_test (tc, test_stats_fold_refuses_what_is_not_a_stats_result_and_leaves_acc_alone);
    suite_add_tcase (suite, tc);
    return suite;
}
