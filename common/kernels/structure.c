/*  fanfold structures: reads PDB and mmCIF through gemmi, and XYZ, into the
    four detector arrays. Organised as: growable arrays and the error
    helper; a line reader over zlib (plain or gzip files alike); residue
    tables that give each atom its flags; ring geometry; PDB records
    checked and normalised before gemmi reads them; the atom selection over
    gemmi's first model; the XYZ reader; covalent bonds and the "topology"
    array; the public functions. */

#include "fanfold/kernels/structure.h"
#include "fanfold/kernels/detectors.h"
#include "fanfold/kernels/structure_gemmi.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define S_MAX_LINE (1024 * 1024)    /* longest line read, in bytes */
#define S_CHUNK    (128 * 1024)     /* bytes read from zlib at a time */

_Static_assert (sizeof (ff_topology_header_t) == 32, "topology header layout");
_Static_assert (sizeof (ff_topology_ring_t) == 32, "topology ring layout");
_Static_assert (sizeof (ff_topology_residue_t) == 24, "topology residue layout");
_Static_assert (sizeof (ff_topology_hydrogen_t) == 16, "topology hydrogen layout");

struct ff_structure {
    float *coords;                  /* [atoms][3] */
    uint16_t *flags;                /* [atoms] */
    uint32_t *residues;             /* [atoms] */
    uint8_t *elements;              /* [atoms] atomic numbers */
    size_t atoms;                   /* selected atoms N */
    size_t atoms_cap;               /* allocated atoms */
    ff_topology_ring_t *rings;      /* [rings_count] */
    size_t rings_count;             /* aromatic rings R */
    size_t rings_cap;               /* allocated rings */
    ff_topology_residue_t *table;   /* [table_count] residue names */
    size_t table_count;             /* residues (ordinals 0..count-1) */
    size_t table_cap;               /* allocated residues */
    uint32_t *bonds;                /* [bonds_count][2] */
    size_t bonds_count;             /* covalent bonds B */
    size_t bonds_cap;               /* allocated bonds */
    bool no_bonds;                  /* an atom had more than FF_BOND_MAX_PER_ATOM
                                       atoms within bond distance: bonds unknown */
    ff_topology_hydrogen_t *hydrogens; /* [hydrogens_count] */
    size_t hydrogens_count;         /* explicit hydrogens kept */
    size_t hydrogens_cap;           /* allocated hydrogens */
    uint8_t *topology;              /* the "topology" array's bytes */
    size_t topology_size;           /* its size */
    ff_array_t arrays [FF_STRUCTURE_ARRAYS]; /* coords, flags, residues, topology */
};

/* ------------------------------------------------------ errors, arrays */

/* The state of one load: the file, where we are, and the message. */
typedef struct {
    const char *path;               /* file name for messages */
    gzFile gz;                      /* the open file */
    char *chunk;                    /* bytes read, S_CHUNK of them */
    size_t chunk_pos;               /* next byte of chunk to use */
    size_t chunk_end;               /* bytes in chunk */
    bool eof;                       /* the file is read to its end */
    int zerror;                     /* zlib error met, reported after the
                                       complete lines before it */
    int zerrno;                     /* errno of a Z_ERRNO */
    char zmessage [128];            /* zlib's message for it */
    char *line;                     /* current line, NUL-terminated */
    size_t line_cap;                /* allocated size of line */
    unsigned long number;           /* 1-based number of the current line */
    char *error;                    /* caller's message buffer, or NULL */
    size_t error_size;              /* its size */
} s_load_t;

/* Writes "path: line N: message" (no line part when line is 0). Returns
   -1 so that callers can `return s_fail (...)`. */
static int __attribute__ ((format (printf, 3, 4)))
s_fail (s_load_t *load, unsigned long line, const char *format, ...)
{
    if (!load->error || load->error_size == 0)
        return -1;
    char message [512];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof (message), format, args);
    va_end (args);
    if (line)
        snprintf (load->error, load->error_size, "%s: line %lu: %s",
                  load->path, line, message);
    else
        snprintf (load->error, load->error_size, "%s: %s",
                  load->path, message);
    return -1;
}

/* Makes room for one more atom. Returns 0 or -1. */
static int
s_atom_room (ff_structure_t *self)
{
    if (self->atoms < self->atoms_cap)
        return 0;
    size_t cap = self->atoms_cap ? self->atoms_cap * 2 : 1024;
    if (cap > UINT32_MAX)
        return -1;
    float *coords = (float *) realloc (self->coords, cap * 3 * sizeof (float));
    if (!coords)
        return -1;
    self->coords = coords;
    uint16_t *flags = (uint16_t *) realloc (self->flags, cap * sizeof (uint16_t));
    if (!flags)
        return -1;
    self->flags = flags;
    uint32_t *residues = (uint32_t *) realloc (self->residues,
                                               cap * sizeof (uint32_t));
    if (!residues)
        return -1;
    self->residues = residues;
    uint8_t *elements = (uint8_t *) realloc (self->elements, cap);
    if (!elements)
        return -1;
    self->elements = elements;
    self->atoms_cap = cap;
    return 0;
}

/* Grows *items (of item bytes, *cap of them) to hold count + 1. Returns
   0 or -1. */
static int
s_room (void **items, size_t *cap, size_t count, size_t item)
{
    if (count < *cap)
        return 0;
    size_t grown_cap = *cap ? *cap * 2 : 64;
    void *grown = realloc (*items, grown_cap * item);
    if (!grown)
        return -1;
    *items = grown;
    *cap = grown_cap;
    return 0;
}

/* Appends one ring (centroid, normal, residue, size). Returns 0 or -1. */
static int
s_ring_add (ff_structure_t *self, const double centroid [3],
            const double normal [3], uint32_t residue, int size)
{
    if (s_room ((void **) &self->rings, &self->rings_cap, self->rings_count,
                sizeof (ff_topology_ring_t)) != 0)
        return -1;
    ff_topology_ring_t *ring = &self->rings [self->rings_count++];
    for (int axis = 0; axis < 3; axis++) {
        ring->centroid [axis] = (float) centroid [axis];
        ring->normal [axis] = (float) normal [axis];
    }
    ring->residue = residue;
    ring->size = (uint32_t) size;
    return 0;
}

/* Appends one residue to the table. Returns 0 or -1. */
static int
s_residue_add (ff_structure_t *self, const char *chain, const char *name,
               int32_t number, char icode)
{
    if (s_room ((void **) &self->table, &self->table_cap, self->table_count,
                sizeof (ff_topology_residue_t)) != 0)
        return -1;
    ff_topology_residue_t *residue = &self->table [self->table_count++];
    memset (residue, 0, sizeof (*residue));
    strncpy (residue->chain, chain, sizeof (residue->chain) - 1);
    strncpy (residue->name, name, sizeof (residue->name) - 1);
    residue->number = number;
    residue->icode = icode ? icode : ' ';
    return 0;
}

/* --------------------------------------------------------- line reader */

/* Reads the next line into load->line without its line end. Returns 1, 0
   at the end of the file, or -1 with the message written (read error,
   truncated or corrupt gzip data, a NUL byte, a line too long). An error
   of zlib is reported once the complete lines before it are read, and
   names the line it cut. */
static int
s_next_line (s_load_t *load)
{
    size_t size = 0;
    bool complete = false;
    while (!complete) {
        if (load->chunk_pos == load->chunk_end) {
            if (load->eof)
                break;
            if (load->zerror) {
                if (load->zerror == Z_BUF_ERROR)
                    return s_fail (load, load->number + 1,
                                   "truncated gzip data (unexpected end of file)");
                if (load->zerror == Z_ERRNO)
                    return s_fail (load, load->number + 1, "read error: %s",
                                   strerror (load->zerrno));
                return s_fail (load, load->number + 1, "corrupt gzip data: %s",
                               load->zmessage);
            }
            errno = 0;
            int got = gzread (load->gz, load->chunk, S_CHUNK);
            int code;
            const char *message = gzerror (load->gz, &code);
            load->chunk_pos = 0;
            load->chunk_end = got > 0 ? (size_t) got : 0;
            if (code != Z_OK && code != Z_STREAM_END) {
                load->zerror = code;
                load->zerrno = errno;
                snprintf (load->zmessage, sizeof (load->zmessage), "%s", message);
            }
            else
            if (got <= 0)
                load->eof = true;
            continue;
        }
        const char *start = load->chunk + load->chunk_pos;
        size_t left = load->chunk_end - load->chunk_pos;
        const char *newline = (const char *) memchr (start, '\n', left);
        size_t take = newline ? (size_t) (newline - start) : left;
        if (size + take + 1 > load->line_cap) {
            if (size + take + 1 > S_MAX_LINE)
                return s_fail (load, load->number + 1,
                               "line longer than %d bytes", S_MAX_LINE);
            size_t cap = load->line_cap;
            while (cap < size + take + 1)
                cap *= 2;
            char *grown = (char *) realloc (load->line, cap);
            if (!grown)
                return s_fail (load, load->number + 1, "out of memory");
            load->line = grown;
            load->line_cap = cap;
        }
        memcpy (load->line + size, start, take);
        size += take;
        load->chunk_pos += take + (newline ? 1 : 0);
        complete = newline != NULL;
    }
    if (!complete && size == 0)
        return 0;
    load->number++;
    if (memchr (load->line, 0, size))
        return s_fail (load, load->number, "NUL byte in a text line");
    if (size > 0 && load->line [size - 1] == '\r')
        size--;
    load->line [size] = 0;
    return 1;
}

/* ------------------------------------------------------ residue tables */

/* An atom of a residue that gets bits beyond its element. */
typedef struct {
    const char *residue;            /* residue name, or NULL for any amino acid */
    const char *atom;               /* atom name */
    uint16_t flags;                 /* bits it gets */
} s_atom_rule_t;

#define D   FF_ATOM_DONOR
#define A   FF_ATOM_ACCEPTOR
#define AR  FF_ATOM_AROMATIC
#define Q   FF_ATOM_CHARGED
#define BB  FF_ATOM_BACKBONE

static const char *s_amino_acids [] = {
    "ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE",
    "LEU", "LYS", "MET", "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL",
    "HID", "HIE", "HIP", "HSD", "HSE", "HSP", "MSE", NULL
};

static const char *s_waters [] = { "HOH", "WAT", "DOD", "H2O", NULL };

/* Backbone atoms of every amino acid. The amide N is a donor except in
   PRO (handled in s_flags). */
static const s_atom_rule_t s_backbone [] = {
    { NULL, "N",   BB | FF_ATOM_BACKBONE_N | D },
    { NULL, "CA",  BB },
    { NULL, "C",   BB | FF_ATOM_BACKBONE_C },
    { NULL, "O",   BB | A },
    { NULL, "OXT", BB | A | Q },
    { NULL, "OT1", BB | A | Q },
    { NULL, "OT2", BB | A | Q },
    { NULL, NULL, 0 }
};

/* Side-chain atoms. Histidine's protonation is unknown under HIS, so both
   ring nitrogens are donors and acceptors; HID/HIE/HIP (and CHARMM's
   HSD/HSE/HSP) name it. */
static const s_atom_rule_t s_side_chains [] = {
    { "SER", "OG",  D | A },
    { "THR", "OG1", D | A },
    { "TYR", "OH",  D | A },
    { "ASN", "OD1", A },      { "ASN", "ND2", D },
    { "GLN", "OE1", A },      { "GLN", "NE2", D },
    { "ASP", "OD1", A | Q },  { "ASP", "OD2", A | Q },
    { "GLU", "OE1", A | Q },  { "GLU", "OE2", A | Q },
    { "LYS", "NZ",  D | Q },
    { "ARG", "NE",  D | Q },  { "ARG", "NH1", D | Q },  { "ARG", "NH2", D | Q },
    { "TRP", "NE1", D | AR },
    { "HIS", "ND1", D | A | AR }, { "HIS", "NE2", D | A | AR },
    { "HID", "ND1", D | AR },     { "HID", "NE2", A | AR },
    { "HIE", "ND1", A | AR },     { "HIE", "NE2", D | AR },
    { "HIP", "ND1", D | Q | AR }, { "HIP", "NE2", D | Q | AR },
    { "HSD", "ND1", D | AR },     { "HSD", "NE2", A | AR },
    { "HSE", "ND1", A | AR },     { "HSE", "NE2", D | AR },
    { "HSP", "ND1", D | Q | AR }, { "HSP", "NE2", D | Q | AR },
    { NULL, NULL, 0 }
};

#undef D
#undef A
#undef AR
#undef Q
#undef BB

/* An aromatic ring: its residue and its atoms in order around the ring. */
typedef struct {
    const char *residue;            /* residue name */
    const char *atoms [6];          /* ring atoms in order; NULL ends */
} s_ring_rule_t;

static const s_ring_rule_t s_ring_rules [] = {
    { "PHE", { "CG", "CD1", "CE1", "CZ", "CE2", "CD2" } },
    { "TYR", { "CG", "CD1", "CE1", "CZ", "CE2", "CD2" } },
    { "TRP", { "CG", "CD1", "NE1", "CE2", "CD2", NULL } },
    { "TRP", { "CD2", "CE2", "CZ2", "CH2", "CZ3", "CE3" } },
    { "HIS", { "CG", "ND1", "CE1", "NE2", "CD2", NULL } },
    { "HID", { "CG", "ND1", "CE1", "NE2", "CD2", NULL } },
    { "HIE", { "CG", "ND1", "CE1", "NE2", "CD2", NULL } },
    { "HIP", { "CG", "ND1", "CE1", "NE2", "CD2", NULL } },
    { "HSD", { "CG", "ND1", "CE1", "NE2", "CD2", NULL } },
    { "HSE", { "CG", "ND1", "CE1", "NE2", "CD2", NULL } },
    { "HSP", { "CG", "ND1", "CE1", "NE2", "CD2", NULL } },
};
#define S_RING_RULES (sizeof (s_ring_rules) / sizeof (s_ring_rules [0]))

static bool
s_in_list (const char *const *list, const char *name)
{
    for (; *list; list++)
        if (strcmp (*list, name) == 0)
            return true;
    return false;
}

/* Returns the element-class bit of an upper-case element symbol. */
static uint16_t
s_element_class (const char *element)
{
    if (strcmp (element, "C") == 0)
        return FF_ATOM_C;
    if (strcmp (element, "N") == 0)
        return FF_ATOM_N;
    if (strcmp (element, "O") == 0)
        return FF_ATOM_O;
    if (strcmp (element, "S") == 0)
        return FF_ATOM_S;
    return FF_ATOM_OTHER;
}

/* Returns true when atom is a ring atom of residue by s_ring_rules. */
static bool
s_ring_atom (const char *residue, const char *atom)
{
    for (size_t rule = 0; rule < S_RING_RULES; rule++) {
        if (strcmp (s_ring_rules [rule].residue, residue) != 0)
            continue;
        for (int index = 0; index < 6 && s_ring_rules [rule].atoms [index]; index++)
            if (strcmp (s_ring_rules [rule].atoms [index], atom) == 0)
                return true;
    }
    return false;
}

/* Returns the flags of an atom from its element class and its residue and
   atom names (both trimmed). Donor and acceptor bits go only to N and O. */
static uint16_t
s_flags (uint16_t element, const char *residue, const char *atom)
{
    uint16_t flags = element;
    if (s_in_list (s_waters, residue)) {
        if (element == FF_ATOM_O)
            flags |= FF_ATOM_DONOR | FF_ATOM_ACCEPTOR;
        return flags;
    }
    if (!s_in_list (s_amino_acids, residue))
        return flags;
    const s_atom_rule_t *rule;
    for (rule = s_backbone; rule->atom; rule++)
        if (strcmp (rule->atom, atom) == 0) {
            flags |= rule->flags;
            if (strcmp (residue, "PRO") == 0)
                flags &= (uint16_t) ~FF_ATOM_DONOR;
        }
    for (rule = s_side_chains; rule->atom; rule++)
        if (strcmp (rule->residue, residue) == 0 && strcmp (rule->atom, atom) == 0)
            flags |= rule->flags;
    if (s_ring_atom (residue, atom))
        flags |= FF_ATOM_AROMATIC;
    if (element != FF_ATOM_N && element != FF_ATOM_O)
        flags &= (uint16_t) ~(FF_ATOM_DONOR | FF_ATOM_ACCEPTOR);
    return flags;
}

/* ------------------------------------------------------- ring geometry */

/* One atom of the residue being read, kept until the residue ends. */
typedef struct {
    char residue [8];               /* residue name, trimmed */
    char atom [8];                  /* atom name, trimmed */
    size_t index;                   /* atom index */
} s_member_t;

/* Computes the centroid and the unit normal (Newell's method) of the ring
   whose n atom indices are given in order. Returns 0, or -1 when the
   atoms are collinear or coincide. */
static int
s_ring_geometry (const float *coords, const size_t *atoms, int n,
                 double centroid [3], double normal [3])
{
    int index, axis;
    for (axis = 0; axis < 3; axis++) {
        centroid [axis] = 0;
        normal [axis] = 0;
    }
    for (index = 0; index < n; index++)
        for (axis = 0; axis < 3; axis++)
            centroid [axis] += coords [3 * atoms [index] + axis];
    for (axis = 0; axis < 3; axis++)
        centroid [axis] /= n;
    for (index = 0; index < n; index++) {
        const float *p = coords + 3 * atoms [index];
        const float *q = coords + 3 * atoms [(index + 1) % n];
        double a [3], b [3];
        for (axis = 0; axis < 3; axis++) {
            a [axis] = p [axis] - centroid [axis];
            b [axis] = q [axis] - centroid [axis];
        }
        normal [0] += a [1] * b [2] - a [2] * b [1];
        normal [1] += a [2] * b [0] - a [0] * b [2];
        normal [2] += a [0] * b [1] - a [1] * b [0];
    }
    double length = sqrt (normal [0] * normal [0] + normal [1] * normal [1]
                        + normal [2] * normal [2]);
    if (!(length > 1e-6))
        return -1;
    for (axis = 0; axis < 3; axis++)
        normal [axis] /= length;
    return 0;
}

/* Adds the complete rings of the residue whose atoms are members. */
static int
s_residue_rings (ff_structure_t *self, const s_member_t *members, size_t count,
                 uint32_t residue)
{
    for (size_t rule = 0; rule < S_RING_RULES; rule++) {
        const s_ring_rule_t *ring = &s_ring_rules [rule];
        size_t atoms [6];
        int n = 0;
        for (; n < 6 && ring->atoms [n]; n++) {
            size_t member;
            for (member = 0; member < count; member++)
                if (strcmp (members [member].residue, ring->residue) == 0
                &&  strcmp (members [member].atom, ring->atoms [n]) == 0)
                    break;
            if (member == count)
                break;
            atoms [n] = members [member].index;
        }
        if (n < 6 && ring->atoms [n])
            continue;               /* an atom is missing: no ring */
        double centroid [3], normal [3];
        if (s_ring_geometry (self->coords, atoms, n, centroid, normal) == 0
        &&  s_ring_add (self, centroid, normal, residue, n) != 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------- PDB records for gemmi */

/* Copies columns first..last (1-based, inclusive) of an 80-column line
   into out, without leading and trailing spaces. */
static void
s_columns (const char *card, int first, int last, char *out)
{
    int start = first - 1, end = last;
    while (start < end && card [start] == ' ')
        start++;
    while (end > start && card [end - 1] == ' ')
        end--;
    memcpy (out, card + start, (size_t) (end - start));
    out [end - start] = 0;
}

/* Parses a coordinate field: a plain decimal number, finite as a float. */
static int
s_coordinate (const char *text, float *value)
{
    if (!*text || strspn (text, "0123456789+-.eE") != strlen (text))
        return -1;
    char *end;
    errno = 0;
    double parsed = strtod (text, &end);
    if (errno || *end || !isfinite ((float) parsed))
        return -1;
    *value = (float) parsed;
    return 0;
}

/* The ATOM/HETATM records of the first model, checked and normalised. */
typedef struct {
    char *data;                     /* 81 bytes per record: 80 columns, \n */
    size_t size;                    /* bytes used */
    size_t cap;                     /* bytes allocated */
} s_records_t;

/* Checks one ATOM/HETATM card (padded to 80 columns) by §1.2 of
   docs/DETECTORS.md and appends it with columns 77-78 holding the element
   that section names, so that gemmi reads that element. Returns 0 or -1
   with the message written. */
static int
s_pdb_card (s_load_t *load, char *card, s_records_t *records)
{
    static const char *axes [] = { "x", "y", "z" };
    char field [16], element [8];
    float xyz;
    for (int axis = 0; axis < 3; axis++) {
        s_columns (card, 31 + 8 * axis, 38 + 8 * axis, field);
        if (s_coordinate (field, &xyz) != 0)
            return s_fail (load, load->number,
                           "%s coordinate \"%s\" is not a number",
                           axes [axis], field);
    }
    s_columns (card, 77, 78, element);
    if (!*element) {
        const char *at = card + 12;
        while (at < card + 16 && (*at == ' ' || isdigit ((unsigned char) *at)))
            at++;
        if (at < card + 16)
            element [0] = *at, element [1] = 0;
    }
    bool alpha = false;
    for (char *at = element; *at; at++) {
        *at = (char) toupper ((unsigned char) *at);
        alpha = alpha || isalpha ((unsigned char) *at);
    }
    /* gemmi reads columns 77-78 when one of them is a letter, and makes
       any symbol it does not know element X (other), as §1.2 does */
    if (!alpha)
        strcpy (element, "X");
    if (strlen (element) == 1)
        card [76] = ' ', card [77] = element [0];
    else
        card [76] = element [0], card [77] = element [1];
    if (records->size + 81 > records->cap) {
        size_t cap = records->cap ? records->cap * 2 : 81 * 1024;
        char *grown = (char *) realloc (records->data, cap);
        if (!grown)
            return s_fail (load, load->number, "out of memory");
        records->data = grown;
        records->cap = cap;
    }
    memcpy (records->data + records->size, card, 80);
    records->data [records->size + 80] = '\n';
    records->size += 81;
    return 0;
}

/* Reads the ATOM/HETATM records of the first model into records. Returns
   0 or -1 with the message written. */
static int
s_pdb_records (s_load_t *load, s_records_t *records)
{
    int models = 0, rc = 0;
    while ((rc = s_next_line (load)) == 1) {
        const char *line = load->line;
        if (strncmp (line, "ENDMDL", 6) == 0)
            break;
        if (strncmp (line, "MODEL", 5) == 0 && ++models > 1)
            break;                  /* a second MODEL without ENDMDL */
        if (strncmp (line, "ATOM", 4) != 0 && strncmp (line, "HETATM", 6) != 0)
            continue;
        char card [81];
        size_t size = strlen (line);
        if (size > 80)
            size = 80;
        memset (card, ' ', 80);
        memcpy (card, line, size);
        card [80] = 0;
        if ((rc = s_pdb_card (load, card, records)) != 0)
            break;
    }
    return rc < 0 ? -1 : 0;
}

/* ------------------------------------------------------- atom selection */

/* The altloc letter chosen for each atom (chain, number, insertion code,
   name): an open-addressing table of S_KEY-byte keys. */
#define S_KEY 24
typedef struct {
    char (*keys) [S_KEY];           /* keys; all-zero is an empty slot */
    char *letters;                  /* altloc letter chosen per key */
    size_t count;                   /* keys stored */
    size_t cap;                     /* slots, a power of two */
} s_altlocs_t;

static uint64_t
s_hash (const char *key, size_t size)
{
    uint64_t hash = 1469598103934665603ull;     /* FNV-1a */
    for (size_t index = 0; index < size; index++)
        hash = (hash ^ (uint8_t) key [index]) * 1099511628211ull;
    return hash;
}

/* Returns the slot of key: the one holding it or the empty one where it
   would go. */
static size_t
s_altlocs_slot (const s_altlocs_t *table, const char key [S_KEY])
{
    static const char empty [S_KEY];
    size_t slot = (size_t) s_hash (key, S_KEY) & (table->cap - 1);
    while (memcmp (table->keys [slot], empty, S_KEY) != 0
       &&  memcmp (table->keys [slot], key, S_KEY) != 0)
        slot = (slot + 1) & (table->cap - 1);
    return slot;
}

/* Returns true when an atom with this key and altloc letter is selected:
   the first letter seen for the key is, the others are not. Sets *failed
   when memory runs out. */
static bool
s_altloc_selected (s_altlocs_t *table, const char key [S_KEY], char letter,
                   bool *failed)
{
    if ((table->count + 1) * 2 > table->cap) {
        s_altlocs_t grown = { NULL, NULL, 0, table->cap ? table->cap * 2 : 256 };
        grown.keys = (char (*) [S_KEY]) calloc (grown.cap, S_KEY);
        grown.letters = (char *) calloc (grown.cap, 1);
        if (!grown.keys || !grown.letters) {
            free (grown.keys);
            free (grown.letters);
            *failed = true;
            return false;
        }
        for (size_t slot = 0; slot < table->cap; slot++)
            if (table->letters [slot]) {
                size_t to = s_altlocs_slot (&grown, table->keys [slot]);
                memcpy (grown.keys [to], table->keys [slot], S_KEY);
                grown.letters [to] = table->letters [slot];
            }
        grown.count = table->count;
        free (table->keys);
        free (table->letters);
        *table = grown;
    }
    size_t slot = s_altlocs_slot (table, key);
    if (table->letters [slot])
        return table->letters [slot] == letter;
    memcpy (table->keys [slot], key, S_KEY);
    table->letters [slot] = letter;
    table->count++;
    return true;
}

/* Returns the element-class bit of an atomic number. */
static uint16_t
s_number_class (unsigned number)
{
    switch (number) {
        case 6:  return FF_ATOM_C;
        case 7:  return FF_ATOM_N;
        case 8:  return FF_ATOM_O;
        case 16: return FF_ATOM_S;
        default: return FF_ATOM_OTHER;
    }
}

/* The atom identity that altlocs are chosen by. */
static void
s_atom_key (const ff_gemmi_residue_t *residue, const ff_gemmi_atom_t *atom,
            char key [S_KEY])
{
    memset (key, 0, S_KEY);
    memcpy (key, residue->chain, 7);
    memcpy (key + 7, &residue->number, 4);
    key [11] = residue->icode;
    memcpy (key + 12, atom->name, 7);
}

/* A hydrogen waiting for its heavy atom: its index in the model. */
typedef struct {
    size_t *items;                  /* model atom indices */
    size_t count;                   /* how many */
    size_t cap;                     /* allocated */
} s_pending_t;

/* Keeps the hydrogens of the model whose heavy atom (the nearest selected
   atom of the same gemmi residue within bonding distance) is known.
   first [r] and end [r] bound the selected atoms of gemmi residue r. */
static int
s_hydrogens (ff_structure_t *self, const ff_gemmi_model_t *model,
             const s_pending_t *pending, const size_t *first, const size_t *end)
{
    double hydrogen = ff_element_covalent_radius (1);
    for (size_t index = 0; index < pending->count; index++) {
        const ff_gemmi_atom_t *h = &model->atoms [pending->items [index]];
        size_t best = SIZE_MAX;
        double best_d2 = INFINITY;
        for (size_t atom = first [h->residue]; atom < end [h->residue]; atom++) {
            double d2 = 0;
            for (int axis = 0; axis < 3; axis++) {
                double delta = (double) h->xyz [axis] - self->coords [3 * atom + axis];
                d2 += delta * delta;
            }
            double limit = hydrogen + ff_element_covalent_radius (self->elements [atom])
                         + FF_BOND_TOLERANCE;
            if (d2 <= limit * limit && d2 < best_d2)
                best = atom, best_d2 = d2;
        }
        if (best == SIZE_MAX)
            continue;
        if (s_room ((void **) &self->hydrogens, &self->hydrogens_cap,
                    self->hydrogens_count, sizeof (ff_topology_hydrogen_t)) != 0)
            return -1;
        ff_topology_hydrogen_t *kept = &self->hydrogens [self->hydrogens_count++];
        memcpy (kept->xyz, h->xyz, sizeof (kept->xyz));
        kept->atom = (uint32_t) best;
    }
    return 0;
}

/* Applies the selection of §1.2 to gemmi's first model: hydrogens aside,
   the first altloc letter per atom, residue ordinals by chain, number and
   insertion code, flags and rings by residue and atom names. Returns 0 or
   -1 with the message written. */
static int
s_select (ff_structure_t *self, s_load_t *load, const ff_gemmi_model_t *model)
{
    s_altlocs_t altlocs = { NULL, NULL, 0, 0 };
    s_member_t *members = NULL;
    size_t members_count = 0, members_cap = 0;
    s_pending_t pending = { NULL, 0, 0 };
    size_t *first = (size_t *) calloc (model->residues_count + 1, sizeof (size_t));
    size_t *end = (size_t *) calloc (model->residues_count + 1, sizeof (size_t));
    const ff_gemmi_residue_t *current = NULL;
    uint32_t ordinal = 0;
    int rc = -1;
    if (!first || !end)
        goto done;
    for (size_t index = 0; index < model->atoms_count; index++) {
        const ff_gemmi_atom_t *atom = &model->atoms [index];
        const ff_gemmi_residue_t *residue = &model->residues [atom->residue];
        char key [S_KEY];
        s_atom_key (residue, atom, key);
        if (atom->altloc) {
            bool failed = false;
            if (!s_altloc_selected (&altlocs, key, atom->altloc, &failed)) {
                if (failed)
                    goto done;
                continue;
            }
        }
        if (atom->element == 1) {
            if (s_room ((void **) &pending.items, &pending.cap, pending.count,
                        sizeof (size_t)) != 0)
                goto done;
            pending.items [pending.count++] = index;
            continue;
        }
        if (!current || strcmp (current->chain, residue->chain) != 0
        ||  current->number != residue->number || current->icode != residue->icode) {
            if (current) {
                if (s_residue_rings (self, members, members_count, ordinal) != 0)
                    goto done;
                ordinal++;
            }
            if (s_residue_add (self, residue->chain, residue->name,
                               residue->number, residue->icode) != 0)
                goto done;
            current = residue;
            members_count = 0;
        }
        if (s_room ((void **) &members, &members_cap, members_count,
                    sizeof (s_member_t)) != 0
        ||  s_atom_room (self) != 0)
            goto done;
        s_member_t *member = &members [members_count++];
        snprintf (member->residue, sizeof (member->residue), "%s", residue->name);
        snprintf (member->atom, sizeof (member->atom), "%s", atom->name);
        member->index = self->atoms;
        size_t at = self->atoms++;
        if (first [atom->residue] == end [atom->residue])
            first [atom->residue] = at;
        end [atom->residue] = at + 1;
        memcpy (self->coords + 3 * at, atom->xyz, sizeof (atom->xyz));
        self->elements [at] = atom->element;
        self->flags [at] = s_flags (s_number_class (atom->element),
                                    residue->name, atom->name);
        self->residues [at] = ordinal;
    }
    if (current && s_residue_rings (self, members, members_count, ordinal) != 0)
        goto done;
    if (s_hydrogens (self, model, &pending, first, end) != 0)
        goto done;
    rc = 0;
done:
    if (rc != 0)
        s_fail (load, 0, "out of memory");
    free (altlocs.keys);
    free (altlocs.letters);
    free (members);
    free (pending.items);
    free (first);
    free (end);
    return rc;
}

/* Reads a PDB file: its records checked here, then parsed by gemmi. */
static int
s_pdb_read (ff_structure_t *self, s_load_t *load)
{
    s_records_t records = { NULL, 0, 0 };
    ff_gemmi_model_t model;
    memset (&model, 0, sizeof (model));
    int rc = s_pdb_records (load, &records);
    if (rc == 0 && records.size > 0) {
        rc = ff_gemmi_read_pdb (records.data, records.size, load->path, &model,
                                load->error, load->error_size);
        if (rc == 0)
            rc = s_select (self, load, &model);
    }
    ff_gemmi_model_free (&model);
    free (records.data);
    return rc;
}

/* Reads an mmCIF file with gemmi. */
static int
s_mmcif_read (ff_structure_t *self, s_load_t *load)
{
    ff_gemmi_model_t model;
    int rc = ff_gemmi_read_mmcif (load->path, &model, load->error,
                                  load->error_size);
    if (rc == 0)
        rc = s_select (self, load, &model);
    ff_gemmi_model_free (&model);
    return rc;
}

/* --------------------------------------------------------- XYZ reading */

/* Returns the element symbol of an XYZ element token (a symbol, or an
   atomic number for H, C, N, O, S), upper-cased into out. */
static void
s_xyz_element (const char *token, char *out, size_t size)
{
    static const struct { int number; const char *symbol; } numbers [] = {
        { 1, "H" }, { 6, "C" }, { 7, "N" }, { 8, "O" }, { 16, "S" }
    };
    if (isdigit ((unsigned char) *token)) {
        int number = atoi (token);
        snprintf (out, size, "#%d", number);
        for (size_t index = 0; index < 5; index++)
            if (numbers [index].number == number)
                snprintf (out, size, "%s", numbers [index].symbol);
        return;
    }
    size_t index = 0;
    for (; token [index] && index + 1 < size; index++)
        out [index] = (char) toupper ((unsigned char) token [index]);
    out [index] = 0;
}

static int
s_xyz_read (ff_structure_t *self, s_load_t *load)
{
    static const char *axes [] = { "x", "y", "z" };
    int rc = s_next_line (load);
    if (rc <= 0)
        return rc < 0 ? -1 : s_fail (load, 0, "empty file: no atom count");
    char *end;
    const char *text = load->line;
    while (isspace ((unsigned char) *text))
        text++;
    errno = 0;
    unsigned long long count = strtoull (text, &end, 10);
    while (isspace ((unsigned char) *end))
        end++;
    if (!isdigit ((unsigned char) *text) || *end || errno || count > UINT32_MAX)
        return s_fail (load, 1, "atom count \"%.32s\" is not a number",
                       load->line);
    if ((rc = s_next_line (load)) <= 0)
        return rc < 0 ? -1 : s_fail (load, 0, "expected %llu atoms, found 0",
                                     count);
    for (unsigned long long atom = 0; atom < count; atom++) {
        if ((rc = s_next_line (load)) <= 0)
            return rc < 0 ? -1
                 : s_fail (load, 0, "expected %llu atoms (line 1), found %llu",
                           count, atom);
        char *save, *token [4];
        int tokens = 0;
        for (char *at = strtok_r (load->line, " \t", &save);
             at && tokens < 4; at = strtok_r (NULL, " \t", &save))
            token [tokens++] = at;
        if (tokens < 4)
            return s_fail (load, load->number,
                           "expected \"element x y z\", found %d field%s",
                           tokens, tokens == 1 ? "" : "s");
        float xyz [3];
        for (int axis = 0; axis < 3; axis++)
            if (s_coordinate (token [1 + axis], &xyz [axis]) != 0)
                return s_fail (load, load->number,
                               "%s coordinate \"%.32s\" is not a number",
                               axes [axis], token [1 + axis]);
        char element [8];
        s_xyz_element (token [0], element, sizeof (element));
        if (strcmp (element, "H") == 0 || strcmp (element, "D") == 0)
            continue;
        if (s_atom_room (self) != 0)
            return s_fail (load, load->number, "out of memory");
        memcpy (self->coords + 3 * self->atoms, xyz, sizeof (xyz));
        self->flags [self->atoms] = s_element_class (element);
        self->residues [self->atoms] = 0;
        long number = isdigit ((unsigned char) token [0][0]) ? atol (token [0])
                    : (long) ff_element_number (element);
        self->elements [self->atoms] = (uint8_t) (number > 0 && number <= 118
                                                  ? number : 0);
        self->atoms++;
    }
    if (self->atoms > 0 && s_residue_add (self, "", "", 0, ' ') != 0)
        return s_fail (load, 0, "out of memory");
    while ((rc = s_next_line (load)) == 1) {
        if (load->line [strspn (load->line, " \t")])
            return s_fail (load, load->number,
                           "more atom lines than the count %llu on line 1",
                           count);
    }
    return rc < 0 ? -1 : 0;
}

/* ------------------------------------------------- bonds and topology */

/* What the bond search needs: covalent radii per atom. */
typedef struct {
    ff_structure_t *self;           /* the structure */
    const double *radii;            /* [atoms] covalent radii */
    uint8_t *degree;                /* [atoms] bonds found per atom so far */
    bool failed;                    /* out of memory */
    bool crowded;                   /* an atom passed FF_BOND_MAX_PER_ATOM */
} s_bonding_t;

static int
s_bond_visit (void *context, uint32_t i, uint32_t j, double d2)
{
    s_bonding_t *bonding = (s_bonding_t *) context;
    ff_structure_t *self = bonding->self;
    double limit = bonding->radii [i] + bonding->radii [j] + FF_BOND_TOLERANCE;
    if (d2 > limit * limit)
        return 0;
    if (++bonding->degree [i] > FF_BOND_MAX_PER_ATOM
    ||  ++bonding->degree [j] > FF_BOND_MAX_PER_ATOM) {
        bonding->crowded = true;
        return -1;
    }
    if (s_room ((void **) &self->bonds, &self->bonds_cap, self->bonds_count,
                2 * sizeof (uint32_t)) != 0) {
        bonding->failed = true;
        return -1;
    }
    self->bonds [2 * self->bonds_count] = i;
    self->bonds [2 * self->bonds_count + 1] = j;
    self->bonds_count++;
    return 0;
}

/* Finds the covalent bonds: pairs of selected atoms no farther apart than
   the sum of their covalent radii plus FF_BOND_TOLERANCE. Returns 0 or -1
   with the message written. */
static int
s_bonds (ff_structure_t *self, s_load_t *load)
{
    double *radii = (double *) malloc ((self->atoms ? self->atoms : 1)
                                       * sizeof (double));
    uint8_t *degree = (uint8_t *) calloc (self->atoms ? self->atoms : 1, 1);
    if (!radii || !degree) {
        free (radii);
        free (degree);
        return s_fail (load, 0, "out of memory");
    }
    double largest = 0;
    for (size_t atom = 0; atom < self->atoms; atom++) {
        radii [atom] = ff_element_covalent_radius (self->elements [atom]);
        if (radii [atom] > largest)
            largest = radii [atom];
    }
    s_bonding_t bonding = { self, radii, degree, false, false };
    ff_pairs_status_t status = ff_pairs_search (self->coords, 3, NULL,
                                                self->atoms,
                                                2 * largest + FF_BOND_TOLERANCE,
                                                s_bond_visit, &bonding);
    free (radii);
    free (degree);
    if (status == FF_PAIRS_DONE)
        return 0;
    if (bonding.crowded) {
        /* atoms piled up (a 2 Å cube of thousands): no chemistry to find,
           and listing every pair within bond distance would take ~N² */
        self->bonds_count = 0;
        self->no_bonds = true;
        return 0;
    }
    if (status == FF_PAIRS_NOT_FINITE)
        return s_fail (load, 0, "a coordinate is not finite");
    return s_fail (load, 0, "out of memory");
}

/* The byte offsets of the parts of a topology with these counts. */
typedef struct {
    size_t elements, bonds, rings, residues, hydrogens, size;
} s_layout_t;

static int
s_layout (const ff_topology_header_t *header, s_layout_t *layout)
{
    uint64_t at = sizeof (ff_topology_header_t);
    layout->elements = (size_t) at;
    at += ((uint64_t) header->atoms + 3) / 4 * 4;
    layout->bonds = (size_t) at;
    at += (uint64_t) header->bonds * 2 * sizeof (uint32_t);
    layout->rings = (size_t) at;
    at += (uint64_t) header->rings * sizeof (ff_topology_ring_t);
    layout->residues = (size_t) at;
    at += (uint64_t) header->residues * sizeof (ff_topology_residue_t);
    layout->hydrogens = (size_t) at;
    at += (uint64_t) header->hydrogens * sizeof (ff_topology_hydrogen_t);
    if (at > SIZE_MAX)
        return -1;
    layout->size = (size_t) at;
    return 0;
}

/* Writes the "topology" bytes. Returns 0 or -1. */
static int
s_topology (ff_structure_t *self)
{
    ff_topology_header_t header = {
        FF_TOPOLOGY_MAGIC, (uint32_t) self->atoms, (uint32_t) self->table_count,
        (uint32_t) self->rings_count, (uint32_t) self->bonds_count,
        (uint32_t) self->hydrogens_count, self->no_bonds ? FF_TOPOLOGY_NO_BONDS : 0, 0
    };
    s_layout_t layout;
    if (s_layout (&header, &layout) != 0)
        return -1;
    self->topology = (uint8_t *) calloc (1, layout.size);
    if (!self->topology)
        return -1;
    self->topology_size = layout.size;
    memcpy (self->topology, &header, sizeof (header));
    memcpy (self->topology + layout.elements, self->elements, self->atoms);
    if (self->bonds_count)
        memcpy (self->topology + layout.bonds, self->bonds,
                self->bonds_count * 2 * sizeof (uint32_t));
    if (self->rings_count)
        memcpy (self->topology + layout.rings, self->rings,
                self->rings_count * sizeof (ff_topology_ring_t));
    if (self->table_count)
        memcpy (self->topology + layout.residues, self->table,
                self->table_count * sizeof (ff_topology_residue_t));
    if (self->hydrogens_count)
        memcpy (self->topology + layout.hydrogens, self->hydrogens,
                self->hydrogens_count * sizeof (ff_topology_hydrogen_t));
    return 0;
}

int
ff_topology_view (const void *data, size_t size, ff_topology_t *view,
                  char *error, size_t error_size)
{
    const uint8_t *bytes = (const uint8_t *) data;
    memset (view, 0, sizeof (*view));
    const char *problem = NULL;
    s_layout_t layout;
    const ff_topology_header_t *header = (const ff_topology_header_t *) data;
    if (!data || size < sizeof (ff_topology_header_t))
        problem = "shorter than its header";
    else
    if ((uintptr_t) data % 4 != 0)
        problem = "not aligned to 4 bytes";
    else
    if (header->magic != FF_TOPOLOGY_MAGIC)
        problem = "has no topology header";
    else
    if (s_layout (header, &layout) != 0 || layout.size > size)
        problem = "shorter than its counts need";
    if (problem) {
        if (error && error_size)
            snprintf (error, error_size, "\"topology\" %s", problem);
        return -1;
    }
    view->header = header;
    view->elements = bytes + layout.elements;
    view->bonds = (const uint32_t *) (bytes + layout.bonds);
    view->rings = (const ff_topology_ring_t *) (bytes + layout.rings);
    view->residues = (const ff_topology_residue_t *) (bytes + layout.residues);
    view->hydrogens = (const ff_topology_hydrogen_t *) (bytes + layout.hydrogens);
    for (uint32_t index = 0; index < header->bonds && !problem; index++)
        if (view->bonds [2 * index] >= header->atoms
        ||  view->bonds [2 * index + 1] >= header->atoms)
            problem = "has a bond to an atom out of range";
    for (uint32_t index = 0; index < header->rings && !problem; index++)
        if (view->rings [index].residue >= header->residues)
            problem = "has a ring of a residue out of range";
    for (uint32_t index = 0; index < header->hydrogens && !problem; index++)
        if (view->hydrogens [index].atom >= header->atoms)
            problem = "has a hydrogen on an atom out of range";
    if (problem) {
        if (error && error_size)
            snprintf (error, error_size, "\"topology\" %s", problem);
        memset (view, 0, sizeof (*view));
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------- public API */

static bool
s_ends_with (const char *text, const char *suffix)
{
    size_t size = strlen (text), length = strlen (suffix);
    return size >= length && strcasecmp (text + size - length, suffix) == 0;
}

bool
ff_structure_recognises (const char *path)
{
    static const char *suffixes [] = {
        ".pdb", ".pdb.gz", ".ent", ".ent.gz", ".cif", ".cif.gz", ".mmcif",
        ".mmcif.gz", ".xyz", ".xyz.gz", NULL
    };
    for (const char **suffix = suffixes; path && *suffix; suffix++)
        if (s_ends_with (path, *suffix))
            return true;
    return false;
}

/* Points the four array descriptors at the data. */
static void
s_describe (ff_structure_t *self)
{
    ff_array_t *array = self->arrays;
    memset (self->arrays, 0, sizeof (self->arrays));
    array [0].name = "coords";
    array [0].dtype = FF_DTYPE_F32;
    array [0].ndim = 2;
    array [0].shape [0] = self->atoms;
    array [0].shape [1] = 3;
    array [0].data = self->coords;
    array [0].size = self->atoms * 3 * sizeof (float);
    array [1].name = "flags";
    array [1].dtype = FF_DTYPE_U16;
    array [1].ndim = 1;
    array [1].shape [0] = self->atoms;
    array [1].data = self->flags;
    array [1].size = self->atoms * sizeof (uint16_t);
    array [2].name = "residues";
    array [2].dtype = FF_DTYPE_U32;
    array [2].ndim = 1;
    array [2].shape [0] = self->atoms;
    array [2].data = self->residues;
    array [2].size = self->atoms * sizeof (uint32_t);
    array [3].name = "topology";
    array [3].dtype = FF_DTYPE_U8;
    array [3].ndim = 1;
    array [3].shape [0] = self->topology_size;
    array [3].data = self->topology;
    array [3].size = self->topology_size;
}

ff_structure_t *
ff_structure_load (const char *path, char *error, size_t error_size)
{
    s_load_t load;
    memset (&load, 0, sizeof (load));
    load.path = path ? path : "(null)";
    load.error = error;
    load.error_size = error_size;
    load.line_cap = 256;
    if (error && error_size)
        error [0] = 0;
    ff_structure_t *self = (ff_structure_t *) calloc (1, sizeof (ff_structure_t));
    load.line = (char *) malloc (load.line_cap);
    load.chunk = (char *) malloc (S_CHUNK);
    if (!self || !load.line || !load.chunk) {
        s_fail (&load, 0, "out of memory");
        goto fail;
    }
    if (!path) {
        s_fail (&load, 0, "no file name");
        goto fail;
    }
    bool xyz = s_ends_with (path, ".xyz") || s_ends_with (path, ".xyz.gz");
    bool mmcif = s_ends_with (path, ".cif") || s_ends_with (path, ".cif.gz")
              || s_ends_with (path, ".mmcif") || s_ends_with (path, ".mmcif.gz");
    if (mmcif) {
        if (s_mmcif_read (self, &load) != 0)
            goto fail;
    }
    else {
        errno = 0;
        load.gz = gzopen (path, "rb");
        if (!load.gz) {
            s_fail (&load, 0, "cannot open: %s",
                    errno ? strerror (errno) : "out of memory");
            goto fail;
        }
        gzbuffer (load.gz, S_CHUNK);
        if ((xyz ? s_xyz_read (self, &load) : s_pdb_read (self, &load)) != 0)
            goto fail;
    }
    if (self->atoms == 0) {
        s_fail (&load, 0, "no atom selected (%s)", xyz
                ? "hydrogens only or an atom count of 0"
                : mmcif ? "no atom in the first model, or hydrogens only"
                : "no ATOM or HETATM record in the first model, or hydrogens only");
        goto fail;
    }
    if (self->table_count > UINT32_MAX || self->rings_count > UINT32_MAX
    ||  self->bonds_count > UINT32_MAX) {
        s_fail (&load, 0, "more than 2^32 residues, rings or bonds");
        goto fail;
    }
    if (s_bonds (self, &load) != 0)
        goto fail;
    if (s_topology (self) != 0) {
        s_fail (&load, 0, "out of memory");
        goto fail;
    }
    if (load.gz)
        gzclose (load.gz);
    free (load.line);
    free (load.chunk);
    s_describe (self);
    return self;
fail:
    if (load.gz)
        gzclose (load.gz);
    free (load.line);
    free (load.chunk);
    ff_structure_destroy (&self);
    return NULL;
}

void
ff_structure_destroy (ff_structure_t **self_p)
{
    if (self_p && *self_p) {
        ff_structure_t *self = *self_p;
        free (self->coords);
        free (self->flags);
        free (self->residues);
        free (self->elements);
        free (self->rings);
        free (self->table);
        free (self->bonds);
        free (self->hydrogens);
        free (self->topology);
        free (self);
        *self_p = NULL;
    }
}

size_t
ff_structure_arrays (ff_structure_t *self, const ff_array_t **arrays)
{
    assert (self);
    *arrays = self->arrays;
    return FF_STRUCTURE_ARRAYS;
}

size_t
ff_structure_atoms (ff_structure_t *self)
{
    assert (self);
    return self->atoms;
}

size_t
ff_structure_rings (ff_structure_t *self)
{
    assert (self);
    return self->rings_count;
}

size_t
ff_structure_bonds (ff_structure_t *self)
{
    assert (self);
    return self->bonds_count;
}
