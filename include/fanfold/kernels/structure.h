/*  fanfold structures: reads a molecular structure (.pdb, .pdb.gz, .ent,
    .ent.gz, .xyz, .xyz.gz) into the arrays the detector kernels read:
    "coords", "flags", "residues" and "rings". Pure computation: no shared
    memory, no sockets. docs/DETECTORS.md states the selection rules. */

#ifndef FANFOLD_STRUCTURE_H
#define FANFOLD_STRUCTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanfold/kernel.h"

typedef struct ff_structure ff_structure_t;

/* Bits of the "flags" array (uint16 per selected atom). Exactly one of the
   five element-class bits is set. The others come from the residue and
   atom names (standard amino acids and water, see docs/DETECTORS.md);
   .xyz atoms have element bits only. */
#define FF_ATOM_C           0x0001u /* element C */
#define FF_ATOM_N           0x0002u /* element N */
#define FF_ATOM_O           0x0004u /* element O */
#define FF_ATOM_S           0x0008u /* element S */
#define FF_ATOM_OTHER       0x0010u /* any other element (not H or D) */
#define FF_ATOM_ELEMENT     0x001fu /* mask of the five bits above */
#define FF_ATOM_DONOR       0x0020u /* hydrogen-bond donor (N or O) */
#define FF_ATOM_ACCEPTOR    0x0040u /* hydrogen-bond acceptor (N or O) */
#define FF_ATOM_AROMATIC    0x0080u /* atom of a PHE/TYR/TRP/HIS ring */
#define FF_ATOM_CHARGED     0x0100u /* ASP/GLU carboxylate O, LYS NZ,
                                       ARG NE/NH1/NH2, HIP ring N, OXT */
#define FF_ATOM_BACKBONE    0x0200u /* N, CA, C, O or OXT of an amino acid */
#define FF_ATOM_BACKBONE_C  0x0400u /* the backbone carbonyl C */
#define FF_ATOM_BACKBONE_N  0x0800u /* the backbone amide N */

/* Loads the structure at path. The format comes from the name: .xyz or
   .xyz.gz is XYZ, anything else is PDB; both may be gzip-compressed.
   Returns a new structure the caller destroys, or NULL with a one-line
   message naming the file (and the line, when there is one) in error:
   unreadable file, truncated or corrupt gzip data, a coordinate that is
   not a number, no selected atom, an XYZ atom count that does not match. */
ff_structure_t *
    ff_structure_load (const char *path, char *error, size_t error_size);

/* Destroys the structure and NULLs the pointer. Safe on NULL. */
void
    ff_structure_destroy (ff_structure_t **self_p);

/* Sets *arrays to the structure's four arrays, in this order: "coords"
   (float32 [N][3]), "flags" (uint16 [N]), "residues" (uint32 [N], residue
   ordinal from 0) and "rings" (float32 [R][6]: centroid x y z, unit normal
   x y z; R may be 0). Returns 4. The arrays belong to the structure. */
size_t
    ff_structure_arrays (ff_structure_t *self, const ff_array_t **arrays);

/* Returns the number of selected atoms N (at least 1). */
size_t
    ff_structure_atoms (ff_structure_t *self);

/* Returns the number of aromatic rings R. */
size_t
    ff_structure_rings (ff_structure_t *self);

/* Returns true when path names a structure file by its extension (.pdb,
   .ent, .xyz, each optionally followed by .gz; case-insensitive). */
bool
    ff_structure_recognises (const char *path);

#endif
