/*  fanfold structures: reads a molecular structure (PDB and mmCIF through
    gemmi, XYZ; each plain or gzip-compressed) into the arrays the detector
    kernels read: "coords", "flags", "residues" and "topology" (elements,
    covalent bonds, aromatic rings, residue names, hydrogens). Pure
    computation: no shared memory, no sockets. docs/DETECTORS.md states the
    selection rules and the layout of "topology". */

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

#define FF_STRUCTURE_ARRAYS 4       /* arrays of a structure */
#define FF_BOND_TOLERANCE   0.4     /* Å beyond the sum of covalent radii
                                       that still makes a bond */
#define FF_BOND_MAX_PER_ATOM 16     /* more atoms than this within bond distance
                                       of one atom is no molecule: its bonds are
                                       unknown (FF_TOPOLOGY_NO_BONDS), and their
                                       search stops instead of listing ~N² pairs */

/* The "topology" array: uint8 [S], one little-endian block made of a
   header, then elements (uint8 [atoms], zero-padded to a multiple of 4
   bytes), bonds (uint32 [bonds][2], i < j, sorted), rings, residues and
   hydrogens (arrays of the structs below), each part right after the one
   before. Written by ff_structure_load; read with ff_topology_view. */
#define FF_TOPOLOGY_MAGIC   0x31504f54u /* "TOP1" */
#define FF_TOPOLOGY_NO_BONDS 0x1u       /* header flags: the atoms are packed too
                                           densely to perceive bonds; bonds is 0 */

typedef struct {
    uint32_t magic;                 /* FF_TOPOLOGY_MAGIC */
    uint32_t atoms;                 /* N, as "coords" has */
    uint32_t residues;              /* residue ordinals 0..residues-1 */
    uint32_t rings;                 /* aromatic rings R */
    uint32_t bonds;                 /* covalent bonds B */
    uint32_t hydrogens;             /* explicit hydrogens H */
    uint32_t flags;                 /* FF_TOPOLOGY_* bits */
    uint32_t reserved;              /* zero */
} ff_topology_header_t;

typedef struct {
    float centroid [3];             /* mean of the ring atoms (Å) */
    float normal [3];               /* unit normal (Newell), sign meaningless */
    uint32_t residue;               /* residue ordinal of the ring */
    uint32_t size;                  /* 5 or 6 ring atoms */
} ff_topology_ring_t;

typedef struct {
    char chain [8];                 /* chain name, NUL-padded */
    char name [8];                  /* residue name, NUL-padded */
    int32_t number;                 /* sequence number */
    char icode;                     /* insertion code, ' ' when none */
    char padding [3];               /* zero */
} ff_topology_residue_t;

typedef struct {
    float xyz [3];                  /* the hydrogen's coordinates (Å) */
    uint32_t atom;                  /* the selected atom it is bonded to */
} ff_topology_hydrogen_t;

/* A checked view of a "topology" array: pointers into its bytes. */
typedef struct {
    const ff_topology_header_t *header; /* counts */
    const uint8_t *elements;        /* [atoms] atomic numbers, 0 unknown */
    const uint32_t *bonds;          /* [bonds][2] */
    const ff_topology_ring_t *rings; /* [rings] */
    const ff_topology_residue_t *residues; /* [residues] */
    const ff_topology_hydrogen_t *hydrogens; /* [hydrogens] */
} ff_topology_t;

/* Fills *view from size bytes at data (4-byte aligned). Returns 0, or -1
   with the reason in error when the bytes are not a topology whose parts
   fit its size, with every index in range (atoms, residues). */
int
    ff_topology_view (const void *data, size_t size, ff_topology_t *view,
                      char *error, size_t error_size);

/* Loads the structure at path. The format comes from the name: .xyz or
   .xyz.gz is XYZ; .cif, .mmcif (and .gz) mmCIF, read by gemmi; anything
   else PDB, read by gemmi after fanfold's record checks; all may be
   gzip-compressed.
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
   ordinal from 0) and "topology" (uint8 [S], above). Returns 4. The
   arrays belong to the structure. */
size_t
    ff_structure_arrays (ff_structure_t *self, const ff_array_t **arrays);

/* Returns the number of selected atoms N (at least 1). */
size_t
    ff_structure_atoms (ff_structure_t *self);

/* Returns the number of aromatic rings R and of covalent bonds B. */
size_t
    ff_structure_rings (ff_structure_t *self);
size_t
    ff_structure_bonds (ff_structure_t *self);

/* Returns true when path names a structure file by its extension (.pdb,
   .ent, .cif, .mmcif, .xyz, each optionally followed by .gz;
   case-insensitive). */
bool
    ff_structure_recognises (const char *path);

#endif
