/*  Unit tests for the structure reader: atom selection (first model,
    altlocs, hydrogens), elements, flags, residue ordinals and rings on the
    PDB files of Debian's pymol-data and the small files in tests/data;
    gzip and XYZ input; and, in "limits", bad input of every kind. */

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "fanfold/kernels/structure.h"
#include "fanfold/kernels/structure_gemmi.h"

#define S_DEMO "/usr/share/pymol/data/demo/"
#define S_DATA "tests/data/"

/* Loads path, which must succeed; returns the structure and its arrays. */
static ff_structure_t *
s_load (const char *path, const ff_array_t **arrays)
{
    char error [256] = "";
    ff_structure_t *structure = ff_structure_load (path, error, sizeof (error));
    ck_assert_msg (structure != NULL, "%s: %s", path, error);
    ck_assert_uint_eq (ff_structure_arrays (structure, arrays), 4);
    return structure;
}

/* Loads path, which must fail; returns the error message in error. */
static void
s_load_fails (const char *path, char *error, size_t size)
{
    ff_structure_t *structure = ff_structure_load (path, error, size);
    ck_assert_msg (structure == NULL, "%s loaded", path);
    ck_assert_msg (strstr (error, path) == error,
                   "message \"%s\" does not start with the file name %s",
                   error, path);
}

static const float *
s_coords (const ff_array_t *arrays)
{
    return (const float *) arrays [0].data;
}

static const uint16_t *
s_flags (const ff_array_t *arrays)
{
    return (const uint16_t *) arrays [1].data;
}

static const uint32_t *
s_residues (const ff_array_t *arrays)
{
    return (const uint32_t *) arrays [2].data;
}

/* The checked view of the "topology" array. */
static ff_topology_t
s_topology (const ff_array_t *arrays)
{
    ff_topology_t view;
    char error [160] = "";
    ck_assert_str_eq (arrays [3].name, "topology");
    ck_assert_int_eq (arrays [3].dtype, FF_DTYPE_U8);
    ck_assert_uint_eq (arrays [3].ndim, 1);
    ck_assert_uint_eq (arrays [3].shape [0], arrays [3].size);
    ck_assert_msg (ff_topology_view (arrays [3].data, arrays [3].size, &view,
                                     error, sizeof (error)) == 0, "%s", error);
    ck_assert_uint_eq (view.header->atoms, arrays [0].shape [0]);
    return view;
}

/* Writes text into a new file under a temporary directory; returns its
   path (static storage, one at a time). */
static const char *
s_temp_file (const char *name, const void *data, size_t size)
{
    static char path [256];
    snprintf (path, sizeof (path), "/tmp/fanfold-structure-%d-%s",
              (int) getpid (), name);
    FILE *file = fopen (path, "wb");
    ck_assert_ptr_nonnull (file);
    ck_assert_uint_eq (fwrite (data, 1, size, file), size);
    fclose (file);
    return path;
}

START_TEST (test_structure_reads_every_atom_of_pept_with_its_arrays)
{
    const ff_array_t *arrays;
    ff_structure_t *structure = s_load (S_DEMO "pept.pdb", &arrays);
    ck_assert_uint_eq (ff_structure_atoms (structure), 107);
    ck_assert_str_eq (arrays [0].name, "coords");
    ck_assert_int_eq (arrays [0].dtype, FF_DTYPE_F32);
    ck_assert_uint_eq (arrays [0].ndim, 2);
    ck_assert_uint_eq (arrays [0].shape [0], 107);
    ck_assert_uint_eq (arrays [0].shape [1], 3);
    ck_assert_uint_eq (arrays [0].size, 107 * 3 * sizeof (float));
    ck_assert_str_eq (arrays [1].name, "flags");
    ck_assert_int_eq (arrays [1].dtype, FF_DTYPE_U16);
    ck_assert_uint_eq (arrays [1].ndim, 1);
    ck_assert_uint_eq (arrays [1].size, 107 * sizeof (uint16_t));
    ck_assert_str_eq (arrays [2].name, "residues");
    ck_assert_int_eq (arrays [2].dtype, FF_DTYPE_U32);
    ck_assert_uint_eq (arrays [2].size, 107 * sizeof (uint32_t));
    ff_topology_t topology = s_topology (arrays);
    ck_assert_uint_eq (topology.header->rings, ff_structure_rings (structure));
    ck_assert_uint_eq (topology.header->bonds, ff_structure_bonds (structure));
    ck_assert_uint_eq (topology.header->residues, 13);
    /* residue 0 is ASP E 1, atom 0 its N */
    ck_assert_str_eq (topology.residues [0].chain, "E");
    ck_assert_str_eq (topology.residues [0].name, "ASP");
    ck_assert_int_eq (topology.residues [0].number, 1);
    ck_assert_int_eq (topology.residues [0].icode, ' ');
    ck_assert_uint_eq (topology.elements [0], 7);
    /* first atom: ATOM 1 N ASP E 1 4.868 -17.809 25.188; last: 107 */
    ck_assert_float_eq (s_coords (arrays) [0], 4.868f);
    ck_assert_float_eq (s_coords (arrays) [1], -17.809f);
    ck_assert_float_eq (s_coords (arrays) [2], 25.188f);
    ck_assert_uint_eq (s_residues (arrays) [0], 0);
    ck_assert_uint_eq (s_residues (arrays) [106], 12);
    ff_structure_destroy (&structure);
    ck_assert_ptr_null (structure);
}
END_TEST

START_TEST (test_structure_leaves_out_the_hydrogens_of_il2)
{
    /* il2.pdb: 2084 ATOM records of which 1059 are hydrogens (element H) */
    const ff_array_t *arrays;
    ff_structure_t *structure = s_load (S_DEMO "il2.pdb", &arrays);
    ck_assert_uint_eq (ff_structure_atoms (structure), 2084 - 1059);
    /* ATOM 1 N SER 4 17.166 -7.606 -4.933, 2 HN skipped, 3 CA 17.918 */
    ck_assert_float_eq (s_coords (arrays) [0], 17.166f);
    ck_assert_float_eq (s_coords (arrays) [3], 17.918f);
    ck_assert_uint_eq (s_flags (arrays) [1] & FF_ATOM_ELEMENT, FF_ATOM_C);
    ff_structure_destroy (&structure);
}
END_TEST

START_TEST (test_structure_numbers_residues_in_file_order_across_chains)
{
    /* 1tii: 712 amino acids in 7 chains and 215 waters */
    const ff_array_t *arrays;
    ff_structure_t *structure = s_load (S_DEMO "1tii.pdb", &arrays);
    size_t atoms = ff_structure_atoms (structure), atom;
    ck_assert_uint_eq (atoms, 5684);
    const uint32_t *residues = s_residues (arrays);
    ck_assert_uint_eq (residues [0], 0);
    for (atom = 1; atom < atoms; atom++)
        ck_assert_uint_le (residues [atom] - residues [atom - 1], 1);
    ck_assert_uint_eq (residues [atoms - 1], 712 + 215 - 1);
    size_t waters = 0;
    for (atom = 0; atom < atoms; atom++)
        if ((s_flags (arrays) [atom] & (FF_ATOM_DONOR | FF_ATOM_ACCEPTOR
                                      | FF_ATOM_BACKBONE))
                == (FF_ATOM_DONOR | FF_ATOM_ACCEPTOR)
        &&  atom > 0 && residues [atom] != residues [atom - 1]
        &&  (atom + 1 == atoms || residues [atom + 1] != residues [atom]))
            waters++;               /* a one-atom residue that is D and A */
    ck_assert_uint_eq (waters, 215);
    ff_structure_destroy (&structure);
}
END_TEST

START_TEST (test_structure_reads_only_the_first_model)
{
    /* model 2 has a broken coordinate: it must never be read */
    const ff_array_t *arrays;
    ff_structure_t *structure = s_load (S_DATA "multimodel.pdb", &arrays);
    ck_assert_uint_eq (ff_structure_atoms (structure), 3);
    ck_assert_float_eq (s_coords (arrays) [0], 1.0f);
    ck_assert_float_eq (s_coords (arrays) [3], 2.0f);
    ck_assert_float_eq (s_coords (arrays) [6], 5.0f);
    ck_assert_uint_eq (s_residues (arrays) [2], 1);
    ff_structure_destroy (&structure);
}
END_TEST

START_TEST (test_structure_keeps_blank_altlocs_and_the_first_letter_seen_per_atom)
{
    /* CA: A then B (A kept); CB: B then A (B kept); OG: A then B (A);
       H and D left out; 5A is a new residue, and so is chain B's 5 */
    static const float x [] = { 0, 1.0f, 2.2f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, 8.0f };
    static const uint32_t residue [] = { 0, 0, 0, 0, 0, 1, 1, 2, 2 };
    const ff_array_t *arrays;
    ff_structure_t *structure = s_load (S_DATA "altloc.pdb", &arrays);
    ck_assert_uint_eq (ff_structure_atoms (structure), 9);
    for (size_t atom = 0; atom < 9; atom++) {
        ck_assert_float_eq (s_coords (arrays) [3 * atom], x [atom]);
        ck_assert_uint_eq (s_residues (arrays) [atom], residue [atom]);
    }
    ck_assert_uint_eq (s_flags (arrays) [3],
                       FF_ATOM_O | FF_ATOM_DONOR | FF_ATOM_ACCEPTOR);
    ff_structure_destroy (&structure);
}
END_TEST

START_TEST (test_structure_takes_the_element_from_the_atom_name_when_columns_77_78_are_blank)
{
    /* N, CA, 1HB (H), SD, HG1 (H), OXT, FE (first letter: F), 2N */
    static const uint16_t element [] = {
        FF_ATOM_N, FF_ATOM_C, FF_ATOM_S, FF_ATOM_O, FF_ATOM_OTHER, FF_ATOM_N
    };
    const ff_array_t *arrays;
    ff_structure_t *structure = s_load (S_DATA "noelement.pdb", &arrays);
    ck_assert_uint_eq (ff_structure_atoms (structure), 6);
    for (size_t atom = 0; atom < 6; atom++)
        ck_assert_uint_eq (s_flags (arrays) [atom] & FF_ATOM_ELEMENT,
                           element [atom]);
    ck_assert_uint_eq (s_flags (arrays) [3], FF_ATOM_O | FF_ATOM_BACKBONE
                       | FF_ATOM_ACCEPTOR | FF_ATOM_CHARGED);
    ck_assert_uint_eq (s_flags (arrays) [5], FF_ATOM_N);   /* ligand N */
    ff_structure_destroy (&structure);
}
END_TEST

START_TEST (test_structure_flags_donors_acceptors_charges_rings_and_backbone)
{
    /* pept.pdb: 0 N ASP, 1 CA, 4 OD1, 6 C, 7 O; TRP 4 starts at atom 19
       (N CA CB CG CD1 CD2 CE2 CE3 NE1 ...): NE1 is atom 27 */
    const ff_array_t *arrays;
    ff_structure_t *structure = s_load (S_DEMO "pept.pdb", &arrays);
    const uint16_t *flags = s_flags (arrays);
    ck_assert_uint_eq (flags [0], FF_ATOM_N | FF_ATOM_BACKBONE
                       | FF_ATOM_BACKBONE_N | FF_ATOM_DONOR);
    ck_assert_uint_eq (flags [1], FF_ATOM_C | FF_ATOM_BACKBONE);
    ck_assert_uint_eq (flags [4], FF_ATOM_O | FF_ATOM_ACCEPTOR | FF_ATOM_CHARGED);
    ck_assert_uint_eq (flags [6], FF_ATOM_C | FF_ATOM_BACKBONE | FF_ATOM_BACKBONE_C);
    ck_assert_uint_eq (flags [7], FF_ATOM_O | FF_ATOM_BACKBONE | FF_ATOM_ACCEPTOR);
    ck_assert_uint_eq (flags [27], FF_ATOM_N | FF_ATOM_DONOR | FF_ATOM_AROMATIC);
    ck_assert_uint_eq (flags [22], FF_ATOM_C | FF_ATOM_AROMATIC);   /* CG */
    ck_assert_uint_eq (flags [21], FF_ATOM_C);                      /* CB */
    ff_structure_destroy (&structure);
}
END_TEST

START_TEST (test_structure_sets_exactly_one_element_bit_per_atom)
{
    static const char *files [] = {
        S_DEMO "pept.pdb", S_DEMO "il2.pdb", S_DEMO "1tii.pdb"
    };
    for (size_t file = 0; file < 3; file++) {
        const ff_array_t *arrays;
        ff_structure_t *structure = s_load (files [file], &arrays);
        for (size_t atom = 0; atom < ff_structure_atoms (structure); atom++) {
            unsigned element = s_flags (arrays) [atom] & FF_ATOM_ELEMENT;
            ck_assert_uint_ne (element, 0);
            ck_assert_uint_eq (element & (element - 1), 0);
            ck_assert_uint_eq (s_flags (arrays) [atom] & 0xf000, 0);
        }
        ff_structure_destroy (&structure);
    }
}
END_TEST

START_TEST (test_structure_reads_gzip_compressed_pdb_like_the_plain_file)
{
    const ff_array_t *plain, *packed;
    ff_structure_t *a = s_load (S_DEMO "pept.pdb", &plain);
    ff_structure_t *b = s_load (S_DATA "pept.pdb.gz", &packed);
    for (size_t index = 0; index < 4; index++) {
        ck_assert_uint_eq (plain [index].size, packed [index].size);
        ck_assert_mem_eq (plain [index].data, packed [index].data,
                          plain [index].size);
    }
    ff_structure_destroy (&a);
    ff_structure_destroy (&b);
}
END_TEST

START_TEST (test_structure_reads_xyz_without_hydrogens_as_one_residue)
{
    const ff_array_t *arrays;
    ff_structure_t *structure = s_load (S_DATA "small.xyz", &arrays);
    ck_assert_uint_eq (ff_structure_atoms (structure), 3);
    ck_assert_uint_eq (ff_structure_rings (structure), 0);
    ff_topology_t topology = s_topology (arrays);
    ck_assert_uint_eq (topology.header->rings, 0);
    ck_assert_uint_eq (topology.header->residues, 1);
    ck_assert_uint_eq (topology.elements [0], 6);
    ck_assert_uint_eq (topology.elements [1], 8);
    ck_assert_uint_eq (topology.elements [2], 17);
    ck_assert_uint_eq (s_flags (arrays) [0], FF_ATOM_C);
    ck_assert_uint_eq (s_flags (arrays) [1], FF_ATOM_O);
    ck_assert_uint_eq (s_flags (arrays) [2], FF_ATOM_OTHER);   /* Cl */
    ck_assert_float_eq (s_coords (arrays) [3], 1.43f);
    ck_assert_float_eq (s_coords (arrays) [8], 3.0f);
    for (size_t atom = 0; atom < 3; atom++)
        ck_assert_uint_eq (s_residues (arrays) [atom], 0);
    ff_structure_destroy (&structure);
}
END_TEST

/* Asserts that ring index of arrays has this centroid and a normal along
   axis (either sign). */
static void
s_assert_ring (const ff_array_t *arrays, size_t index, float x, float y,
               float z, int axis, uint32_t residue)
{
    ff_topology_t topology = s_topology (arrays);
    ck_assert_uint_lt (index, topology.header->rings);
    const ff_topology_ring_t *ring = &topology.rings [index];
    ck_assert_float_eq_tol (ring->centroid [0], x, 1e-3);
    ck_assert_float_eq_tol (ring->centroid [1], y, 1e-3);
    ck_assert_float_eq_tol (ring->centroid [2], z, 1e-3);
    for (int other = 0; other < 3; other++)
        ck_assert_float_eq_tol (fabsf (ring->normal [other]), other == axis, 1e-5);
    ck_assert_uint_eq (ring->residue, residue);
}

START_TEST (test_structure_finds_ring_centroids_and_unit_normals_and_skips_incomplete_rings)
{
    /* PHE in z = 0 around (1, 2, 0); TYR without CZ (skipped); HIS in
       x = 5 around (5, 2, 3.8); PHE in z = 3.8 around (1, 2, 3.8) */
    const ff_array_t *arrays;
    ff_structure_t *structure = s_load (S_DATA "rings.pdb", &arrays);
    ck_assert_uint_eq (ff_structure_rings (structure), 3);
    s_assert_ring (arrays, 0, 1, 2, 0, 2, 0);
    s_assert_ring (arrays, 1, 5, 2, 3.8f, 0, 2);
    s_assert_ring (arrays, 2, 1, 2, 3.8f, 2, 3);
    for (size_t atom = 0; atom < ff_structure_atoms (structure); atom++)
        ck_assert (s_flags (arrays) [atom] & FF_ATOM_AROMATIC);
    ff_structure_destroy (&structure);
}
END_TEST

START_TEST (test_structure_finds_every_aromatic_ring_of_1tii)
{
    /* 19 PHE, 31 TYR, 13 TRP (two rings each), 4 HIS, all complete */
    const ff_array_t *arrays;
    ff_structure_t *structure = s_load (S_DEMO "1tii.pdb", &arrays);
    size_t rings = ff_structure_rings (structure);
    ck_assert_uint_eq (rings, 19 + 31 + 2 * 13 + 4);
    ff_topology_t topology = s_topology (arrays);
    for (size_t index = 0; index < rings; index++) {
        const float *normal = topology.rings [index].normal;
        double length = sqrt (normal [0] * normal [0] + normal [1] * normal [1]
                            + normal [2] * normal [2]);
        ck_assert_double_eq_tol (length, 1.0, 1e-6);
        /* a TRP's two rings: the 5-ring, then the 6-ring, same residue */
        ck_assert_uint_lt (topology.rings [index].residue, topology.header->residues);
        ck_assert (topology.rings [index].size == 5 || topology.rings [index].size == 6);
    }
    ff_structure_destroy (&structure);
}
END_TEST


/* Asserts that two loads gave byte-identical arrays. */
static void
s_assert_same_arrays (const ff_array_t *a, const ff_array_t *b)
{
    for (size_t index = 0; index < 4; index++) {
        ck_assert_str_eq (a [index].name, b [index].name);
        ck_assert_int_eq (a [index].dtype, b [index].dtype);
        ck_assert_mem_eq (a [index].shape, b [index].shape, sizeof (a [index].shape));
        ck_assert_uint_eq (a [index].size, b [index].size);
        ck_assert_mem_eq (a [index].data, b [index].data, a [index].size);
    }
}

START_TEST (test_structure_reads_the_pdb_and_the_mmcif_of_1a8o_into_identical_arrays)
{
    /* 1A8O (1.7 Å, X-ray) as .pdb.gz and .cif.gz from the PDB archive */
    const ff_array_t *pdb, *cif;
    ff_structure_t *a = s_load (S_DATA "1A8O.pdb.gz", &pdb);
    ff_structure_t *b = s_load (S_DATA "1A8O.cif.gz", &cif);
    ck_assert_uint_eq (ff_structure_atoms (a), 644);
    ck_assert_uint_gt (ff_structure_bonds (a), 500);
    s_assert_same_arrays (pdb, cif);
    ff_structure_destroy (&a);
    ff_structure_destroy (&b);
}
END_TEST

START_TEST (test_structure_reads_plain_mmcif_like_the_gzipped_file)
{
    gzFile gz = gzopen (S_DATA "1A8O.cif.gz", "rb");
    ck_assert_ptr_nonnull (gz);
    size_t size = 0, cap = 1 << 20;
    char *text = (char *) malloc (cap);
    int got;
    while ((got = gzread (gz, text + size, (unsigned) (cap - size))) > 0)
        size += (size_t) got;
    gzclose (gz);
    ck_assert_uint_gt (size, 10000);
    ck_assert_uint_lt (size, cap);
    const char *path = s_temp_file ("1a8o.cif", text, size);
    const ff_array_t *plain, *packed;
    ff_structure_t *a = s_load (path, &plain);
    ff_structure_t *b = s_load (S_DATA "1A8O.cif.gz", &packed);
    s_assert_same_arrays (plain, packed);
    ff_structure_destroy (&a);
    ff_structure_destroy (&b);
    unlink (path);
    free (text);
}
END_TEST

START_TEST (test_structure_bonds_are_the_pairs_within_covalent_radii_plus_0_4)
{
    /* the brute-force set of pairs with d <= r_i + r_j + 0.4 (gemmi's
       covalent radii), and every peptide bond C(k)-N(k+1) among them */
    const ff_array_t *arrays;
    ff_structure_t *structure = s_load (S_DEMO "pept.pdb", &arrays);
    ff_topology_t topology = s_topology (arrays);
    const float *xyz = s_coords (arrays);
    size_t atoms = ff_structure_atoms (structure), bond = 0, peptide = 0;
    for (size_t i = 0; i < atoms; i++)
        for (size_t j = i + 1; j < atoms; j++) {
            double d2 = 0;
            for (int axis = 0; axis < 3; axis++) {
                double delta = (double) xyz [3 * i + axis] - xyz [3 * j + axis];
                d2 += delta * delta;
            }
            double limit = ff_element_covalent_radius (topology.elements [i])
                         + ff_element_covalent_radius (topology.elements [j]) + 0.4;
            if (d2 > limit * limit)
                continue;
            ck_assert_uint_lt (bond, topology.header->bonds);
            ck_assert_uint_eq (topology.bonds [2 * bond], i);
            ck_assert_uint_eq (topology.bonds [2 * bond + 1], j);
            bond++;
            if ((s_flags (arrays) [i] & FF_ATOM_BACKBONE_C)
            &&  (s_flags (arrays) [j] & FF_ATOM_BACKBONE_N)
            &&  s_residues (arrays) [j] == s_residues (arrays) [i] + 1)
                peptide++;
        }
    ck_assert_uint_eq (bond, topology.header->bonds);
    ck_assert_uint_eq (peptide, 12);    /* 13 residues in one chain */
    ff_structure_destroy (&structure);
}
END_TEST

START_TEST (test_structure_keeps_the_hydrogens_of_il2_on_a_bonded_heavy_atom)
{
    const ff_array_t *arrays;
    ff_structure_t *structure = s_load (S_DEMO "il2.pdb", &arrays);
    ff_topology_t topology = s_topology (arrays);
    ck_assert_uint_gt (topology.header->hydrogens, 1000);
    ck_assert_uint_le (topology.header->hydrogens, 1059);
    for (uint32_t h = 0; h < topology.header->hydrogens; h++) {
        const ff_topology_hydrogen_t *hydrogen = &topology.hydrogens [h];
        const float *heavy = s_coords (arrays) + 3 * (size_t) hydrogen->atom;
        double d2 = 0;
        for (int axis = 0; axis < 3; axis++)
            d2 += ((double) hydrogen->xyz [axis] - heavy [axis])
                * ((double) hydrogen->xyz [axis] - heavy [axis]);
        double limit = 0.31 + ff_element_covalent_radius (topology.elements [hydrogen->atom]) + 0.4;
        ck_assert_double_le (d2, limit * limit);
    }
    ff_structure_destroy (&structure);
}
END_TEST

START_TEST (test_structure_recognises_structure_file_names)
{
    ck_assert (ff_structure_recognises ("1abc.pdb"));
    ck_assert (ff_structure_recognises ("dir/1ABC.PDB.GZ"));
    ck_assert (ff_structure_recognises ("pdb1abc.ent.gz"));
    ck_assert (ff_structure_recognises ("water.xyz"));
    ck_assert (ff_structure_recognises ("1abc.cif"));
    ck_assert (ff_structure_recognises ("1ABC.cif.gz"));
    ck_assert (ff_structure_recognises ("1abc.mmcif"));
    ck_assert (!ff_structure_recognises ("1abc.bcif"));
    ck_assert (!ff_structure_recognises ("data.npy"));
    ck_assert (!ff_structure_recognises ("pdb"));
    ck_assert (!ff_structure_recognises (""));
    ck_assert (!ff_structure_recognises (NULL));
}
END_TEST

/* ---------------------------------------------------------------- limits */

START_TEST (test_structure_names_the_file_and_line_of_a_non_numeric_coordinate)
{
    char error [256];
    s_load_fails (S_DATA "badcoord.pdb", error, sizeof (error));
    ck_assert_str_eq (error, S_DATA "badcoord.pdb: line 3: "
                      "x coordinate \"12.3a5\" is not a number");
}
END_TEST

START_TEST (test_structure_refuses_a_short_atom_record_and_each_broken_axis)
{
    static const char *lines [] = {
        "ATOM      1  N   GLY A   1\n",
        "ATOM      1  N   GLY A   1       1.000   nan     3.000  1.00 20.00           N\n",
        "ATOM      1  N   GLY A   1       1.000   2.000   1e999  1.00 20.00           N\n",
        "ATOM      1  N   GLY A   1       1.000   2.000  0x10    1.00 20.00           N\n",
    };
    static const char *expect [] = {
        "line 1: x coordinate \"\" is not a number",
        "line 1: y coordinate \"nan\" is not a number",
        "line 1: z coordinate \"1e999\" is not a number",
        "line 1: z coordinate \"0x10\" is not a number",
    };
    for (size_t index = 0; index < 4; index++) {
        char error [256];
        const char *path = s_temp_file ("short.pdb", lines [index],
                                        strlen (lines [index]));
        s_load_fails (path, error, sizeof (error));
        ck_assert_msg (strstr (error, expect [index]) != NULL,
                       "\"%s\" lacks \"%s\"", error, expect [index]);
        unlink (path);
    }
}
END_TEST

START_TEST (test_structure_refuses_a_file_with_no_selected_atom)
{
    char error [256];
    s_load_fails (S_DATA "empty.pdb", error, sizeof (error));
    ck_assert_ptr_nonnull (strstr (error, "no atom selected"));
    const char *path = s_temp_file ("nothing.pdb", "", 0);
    s_load_fails (path, error, sizeof (error));
    ck_assert_ptr_nonnull (strstr (error, "no atom selected"));
    unlink (path);
}
END_TEST

START_TEST (test_structure_refuses_an_unreadable_file)
{
    char error [256];
    s_load_fails (S_DATA "no-such-file.pdb", error, sizeof (error));
    ck_assert_ptr_nonnull (strstr (error, "cannot open"));
    s_load_fails (S_DATA, error, sizeof (error));     /* a directory */
    ck_assert_ptr_nonnull (strstr (error, "read error"));
}
END_TEST

START_TEST (test_structure_refuses_truncated_gzip_data_naming_the_line)
{
    char error [256];
    s_load_fails (S_DATA "truncated.pdb.gz", error, sizeof (error));
    ck_assert_msg (strstr (error, ": line ") && strstr (error, "truncated gzip"),
                   "message: %s", error);
}
END_TEST

START_TEST (test_structure_refuses_an_xyz_whose_count_does_not_match)
{
    static const char *bad [] = {
        "2\ncomment\nC 0 0 0\nO 1 0 0\nN 2 0 0\n",
        "two\ncomment\nC 0 0 0\nO 1 0 0\n",
        "2\ncomment\nC 0 0 0\nO 1 zero 0\n",
        "2\ncomment\nC 0 0 0\nO 1 0\n",
        "0\nnothing\n",
        "",
    };
    static const char *expect [] = {
        "line 5: more atom lines than the count 2",
        "line 1: atom count",
        "line 4: y coordinate \"zero\"",
        "line 4: expected \"element x y z\"",
        "no atom selected",
        "empty file",
    };
    char error [256];
    s_load_fails (S_DATA "count_mismatch.xyz", error, sizeof (error));
    ck_assert_ptr_nonnull (strstr (error, "expected 4 atoms (line 1), found 3"));
    for (size_t index = 0; index < sizeof (bad) / sizeof (bad [0]); index++) {
        const char *path = s_temp_file ("bad.xyz", bad [index], strlen (bad [index]));
        s_load_fails (path, error, sizeof (error));
        ck_assert_msg (strstr (error, expect [index]) != NULL,
                       "\"%s\" lacks \"%s\"", error, expect [index]);
        unlink (path);
    }
}
END_TEST

START_TEST (test_structure_survives_binary_garbage_and_overlong_lines)
{
    size_t size = 3 * 1024 * 1024, index;
    char *garbage = (char *) malloc (size);
    ck_assert_ptr_nonnull (garbage);
    uint32_t state = 12345;
    for (index = 0; index < size; index++) {
        state = state * 1103515245u + 12345u;
        garbage [index] = (char) (state >> 16);
    }
    char error [256];
    const char *path = s_temp_file ("garbage.pdb", garbage, size);
    s_load_fails (path, error, sizeof (error));
    unlink (path);
    memset (garbage, 'A', size);    /* one line of 3 MB */
    memcpy (garbage, "ATOM", 4);
    path = s_temp_file ("long.pdb", garbage, size);
    s_load_fails (path, error, sizeof (error));
    ck_assert_ptr_nonnull (strstr (error, "line 1: line longer than"));
    unlink (path);
    free (garbage);
}
END_TEST

START_TEST (test_structure_writes_no_more_of_the_message_than_fits)
{
    char error [16];
    memset (error, 'x', sizeof (error));
    ck_assert_ptr_null (ff_structure_load (S_DATA "badcoord.pdb", error, 8));
    ck_assert_uint_eq (strlen (error), 7);
    ck_assert_int_eq (error [8], 'x');
    ck_assert_ptr_null (ff_structure_load (S_DATA "badcoord.pdb", NULL, 0));
}
END_TEST

START_TEST (test_structure_destroy_is_safe_twice_and_on_null)
{
    const ff_array_t *arrays;
    ff_structure_t *structure = s_load (S_DATA "small.xyz", &arrays);
    ff_structure_destroy (&structure);
    ff_structure_destroy (&structure);
    ck_assert_ptr_null (structure);
    ff_structure_destroy (NULL);
}
END_TEST


START_TEST (test_structure_names_the_mmcif_file_of_a_syntax_error)
{
    static const char text [] = "data_x\nloop_\n_atom_site.id\n_atom_site.type_symbol\n1 'C\n";
    const char *path = s_temp_file ("broken.cif", text, sizeof (text) - 1);
    char error [256] = "";
    s_load_fails (path, error, sizeof (error));
    unlink (path);
}
END_TEST

START_TEST (test_structure_refuses_an_mmcif_with_no_atom)
{
    static const char text [] = "data_x\n_cell.length_a 10\n";
    const char *path = s_temp_file ("empty.cif", text, sizeof (text) - 1);
    char error [256] = "";
    s_load_fails (path, error, sizeof (error));
    ck_assert_ptr_nonnull (strstr (error, "no atom"));
    unlink (path);
}
END_TEST

START_TEST (test_topology_view_refuses_bytes_that_are_not_a_topology)
{
    const ff_array_t *arrays;
    ff_structure_t *structure = s_load (S_DATA "rings.pdb", &arrays);
    size_t size = arrays [3].size;
    uint32_t *copy = (uint32_t *) malloc (size);
    ff_topology_t view;
    char error [160];
    /* short, cut, no magic, a ring of a residue out of range */
    ck_assert_int_eq (ff_topology_view (arrays [3].data, 16, &view, error, sizeof (error)), -1);
    ck_assert_ptr_nonnull (strstr (error, "shorter than its header"));
    ck_assert_int_eq (ff_topology_view (arrays [3].data, size - 1, &view, error, sizeof (error)), -1);
    ck_assert_ptr_nonnull (strstr (error, "shorter than its counts"));
    memcpy (copy, arrays [3].data, size);
    copy [0] = 0;
    ck_assert_int_eq (ff_topology_view (copy, size, &view, error, sizeof (error)), -1);
    memcpy (copy, arrays [3].data, size);
    ck_assert_int_eq (ff_topology_view (copy, size, &view, error, sizeof (error)), 0);
    ((ff_topology_ring_t *) view.rings) [0].residue = 1000;
    ck_assert_int_eq (ff_topology_view (copy, size, &view, error, sizeof (error)), -1);
    ck_assert_ptr_nonnull (strstr (error, "residue out of range"));
    free (copy);
    ff_structure_destroy (&structure);
}
END_TEST

Suite *
structure_suite (void)
{
    Suite *suite = suite_create ("structure");

    TCase *tc = tcase_create ("reading");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, test_structure_reads_every_atom_of_pept_with_its_arrays);
    tcase_add_test (tc, test_structure_leaves_out_the_hydrogens_of_il2);
    tcase_add_test (tc, test_structure_numbers_residues_in_file_order_across_chains);
    tcase_add_test (tc, test_structure_reads_only_the_first_model);
    tcase_add_test (tc, test_structure_keeps_blank_altlocs_and_the_first_letter_seen_per_atom);
    tcase_add_test (tc, test_structure_takes_the_element_from_the_atom_name_when_columns_77_78_are_blank);
    tcase_add_test (tc, test_structure_flags_donors_acceptors_charges_rings_and_backbone);
    tcase_add_test (tc, test_structure_sets_exactly_one_element_bit_per_atom);
    tcase_add_test (tc, test_structure_reads_gzip_compressed_pdb_like_the_plain_file);
    tcase_add_test (tc, test_structure_reads_xyz_without_hydrogens_as_one_residue);
    tcase_add_test (tc, test_structure_finds_ring_centroids_and_unit_normals_and_skips_incomplete_rings);
    tcase_add_test (tc, test_structure_finds_every_aromatic_ring_of_1tii);
    tcase_add_test (tc, test_structure_reads_the_pdb_and_the_mmcif_of_1a8o_into_identical_arrays);
    tcase_add_test (tc, test_structure_reads_plain_mmcif_like_the_gzipped_file);
    tcase_add_test (tc, test_structure_bonds_are_the_pairs_within_covalent_radii_plus_0_4);
    tcase_add_test (tc, test_structure_keeps_the_hydrogens_of_il2_on_a_bonded_heavy_atom);
    tcase_add_test (tc, test_structure_recognises_structure_file_names);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("limits");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, test_structure_names_the_file_and_line_of_a_non_numeric_coordinate);
    tcase_add_test (tc, test_structure_refuses_a_short_atom_record_and_each_broken_axis);
    tcase_add_test (tc, test_structure_refuses_a_file_with_no_selected_atom);
    tcase_add_test (tc, test_structure_refuses_an_unreadable_file);
    tcase_add_test (tc, test_structure_refuses_truncated_gzip_data_naming_the_line);
    tcase_add_test (tc, test_structure_refuses_an_xyz_whose_count_does_not_match);
    tcase_add_test (tc, test_structure_survives_binary_garbage_and_overlong_lines);
    tcase_add_test (tc, test_structure_writes_no_more_of_the_message_than_fits);
    tcase_add_test (tc, test_structure_destroy_is_safe_twice_and_on_null);
    tcase_add_test (tc, test_structure_names_the_mmcif_file_of_a_syntax_error);
    tcase_add_test (tc, test_structure_refuses_an_mmcif_with_no_atom);
    tcase_add_test (tc, test_topology_view_refuses_bytes_that_are_not_a_topology);
    suite_add_tcase (suite, tc);
    return suite;
}
