/*  fanfold's door to gemmi (common/kernels/structure_gemmi.cpp, the only
    C++ unit): reads a coordinate file into a flat list of atoms and
    residues of its first model, and gives gemmi's element data. The
    selection rules of docs/DETECTORS.md §1.2 are applied by the caller
    (common/kernels/structure.c), not here. */

#ifndef FANFOLD_STRUCTURE_GEMMI_H
#define FANFOLD_STRUCTURE_GEMMI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One atom of the first model, as gemmi read it. */
typedef struct {
    float xyz [3];                  /* coordinates (Å), gemmi's doubles rounded */
    uint8_t element;                /* atomic number, 0 when unknown; 1 for H and D */
    char altloc;                    /* altloc letter, 0 when none */
    char name [8];                  /* atom name, trimmed (cut at 7 bytes) */
    uint32_t residue;               /* index into the model's residues */
} ff_gemmi_atom_t;

/* One residue of the first model. */
typedef struct {
    char chain [8];                 /* chain name (author's), cut at 7 bytes */
    char name [8];                  /* residue name, cut at 7 bytes */
    int32_t number;                 /* sequence number (author's) */
    char icode;                     /* insertion code, ' ' when none */
} ff_gemmi_residue_t;

/* The first model: atoms in the order gemmi holds them (chains, residues,
   atoms in the order of the file; a residue whose records are split is
   read as one). Owned by whoever filled it; ff_gemmi_model_free frees. */
typedef struct {
    ff_gemmi_atom_t *atoms;         /* atoms_count atoms */
    size_t atoms_count;             /* atoms, hydrogens included */
    ff_gemmi_residue_t *residues;   /* residues_count residues */
    size_t residues_count;          /* residues */
} ff_gemmi_model_t;

/* Reads an mmCIF file (.cif, .mmcif, plain or gzip-compressed) with gemmi
   into *model. Returns 0, or -1 with "path: what gemmi said" in error
   (cannot open, a syntax error with its line, no model, out of memory). */
int
    ff_gemmi_read_mmcif (const char *path, ff_gemmi_model_t *model,
                         char *error, size_t error_size);

/* Reads PDB records from memory (size bytes; path names them in messages)
   with gemmi into *model. Returns 0 or -1 with the message in error. */
int
    ff_gemmi_read_pdb (const char *data, size_t size, const char *path,
                       ff_gemmi_model_t *model, char *error, size_t error_size);

/* Frees what a read filled and zeroes *model. Safe on a zeroed model. */
void
    ff_gemmi_model_free (ff_gemmi_model_t *model);

/* Returns the atomic number of an element symbol (case-insensitive; "D"
   is 1), or 0 when gemmi does not know it. */
unsigned
    ff_element_number (const char *symbol);

/* gemmi's covalent radius (Cordero et al. 2008) and van der Waals radius
   (Bondi 1964, Mantina et al. 2009) of an atomic number, in Å; element 0
   (unknown) gets gemmi's values for X: 0.50 and 1.00. */
double
    ff_element_covalent_radius (unsigned number);
double
    ff_element_vdw_radius (unsigned number);

#ifdef __cplusplus
}
#endif

#endif
