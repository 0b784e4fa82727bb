/*  fanfold structures: PDB and XYZ readers that fill the four detector
    arrays. Organised as: growable arrays and the error helper; a line
    reader over zlib (plain or gzip files alike); residue tables that give
    each atom its flags; ring geometry; the PDB reader (atom selection,
    altlocs, residues); the XYZ reader; the public functions. */

#include "fanfold/kernels/structure.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define S_MAX_LINE (1024 * 1024)    /* longest line read, in bytes */
#define S_CHUNK    (128 * 1024)     /* bytes read from zlib at a time */

struct ff_structure {
    float *coords;                  /* [atoms][3] */
    uint16_t *flags;                /* [atoms] */
    uint32_t *residues;             /* [atoms] */
    float *rings;                   /* [rings][6], never NULL */
    size_t atoms;                   /* selected atoms N */
    size_t atoms_cap;               /* allocated atoms */
    size_t rings_count;             /* aromatic rings R */
    size_t rings_cap;               /* allocated rings */
    ff_array_t arrays [4];          /* coords, flags, residues, rings */
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
    self->atoms_cap = cap;
    return 0;
}

/* Appends one ring (centroid, normal). Returns 0 or -1. */
static int
s_ring_add (ff_structure_t *self, const double centroid [3],
            const double normal [3])
{
    if (self->rings_count == self->rings_cap) {
        size_t cap = self->rings_cap ? self->rings_cap * 2 : 64;
        float *rings = (float *) realloc (self->rings, cap * 6 * sizeof (float));
        if (!rings)
            return -1;
        self->rings = rings;
        self->rings_cap = cap;
    }
    float *ring = self->rings + 6 * self->rings_count++;
    for (int axis = 0; axis < 3; axis++) {
        ring [axis] = (float) centroid [axis];
        ring [3 + axis] = (float) normal [axis];
    }
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
    char residue [5];               /* residue name, trimmed */
    char atom [5];                  /* atom name, trimmed */
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
s_residue_rings (ff_structure_t *self, const s_member_t *members, size_t count)
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
        &&  s_ring_add (self, centroid, normal) != 0)
            return -1;
    }
    return 0;
}

/* --------------------------------------------------------- PDB reading */

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

/* The altloc letter chosen for each atom (chain, resSeq, iCode, name):
   an open-addressing table of 10-byte keys. */
typedef struct {
    char (*keys) [10];              /* keys; all-zero is an empty slot */
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
s_altlocs_slot (const s_altlocs_t *table, const char key [10])
{
    static const char empty [10];
    size_t slot = (size_t) s_hash (key, 10) & (table->cap - 1);
    while (memcmp (table->keys [slot], empty, 10) != 0
       &&  memcmp (table->keys [slot], key, 10) != 0)
        slot = (slot + 1) & (table->cap - 1);
    return slot;
}

/* Returns true when an atom with this key and altloc letter is selected:
   the first letter seen for the key is, the others are not. Sets *failed
   when memory runs out. */
static bool
s_altloc_selected (s_altlocs_t *table, const char key [10], char letter,
                   bool *failed)
{
    if ((table->count + 1) * 2 > table->cap) {
        s_altlocs_t grown = { NULL, NULL, 0, table->cap ? table->cap * 2 : 256 };
        grown.keys = (char (*) [10]) calloc (grown.cap, 10);
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
                memcpy (grown.keys [to], table->keys [slot], 10);
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
    memcpy (table->keys [slot], key, 10);
    table->letters [slot] = letter;
    table->count++;
    return true;
}

/* The residue being read: its identity and its selected atoms. */
typedef struct {
    char id [6];                    /* chain, resSeq (4), iCode */
    bool started;                   /* an atom was selected already */
    uint32_t ordinal;               /* its residue ordinal */
    s_member_t *members;            /* its atoms */
    size_t count;                   /* how many */
    size_t cap;                     /* allocated */
} s_residue_t;

/* Reads one ATOM/HETATM card (padded to 80 columns) and, when selected,
   appends the atom. Returns 0 or -1 with the message written. */
static int
s_pdb_atom (ff_structure_t *self, s_load_t *load, const char *card,
            s_altlocs_t *altlocs, s_residue_t *residue)
{
    static const char *axes [] = { "x", "y", "z" };
    char field [16], name [5], element [8], residue_name [5];
    float xyz [3];
    for (int axis = 0; axis < 3; axis++) {
        s_columns (card, 31 + 8 * axis, 38 + 8 * axis, field);
        if (s_coordinate (field, &xyz [axis]) != 0)
            return s_fail (load, load->number,
                           "%s coordinate \"%s\" is not a number",
                           axes [axis], field);
    }
    s_columns (card, 13, 16, name);
    s_columns (card, 77, 78, element);
    if (!*element) {
        const char *at = card + 12;
        while (at < card + 16 && (*at == ' ' || isdigit ((unsigned char) *at)))
            at++;
        if (at < card + 16)
            element [0] = *at, element [1] = 0;
    }
    for (char *at = element; *at; at++)
        *at = (char) toupper ((unsigned char) *at);
    if (strcmp (element, "H") == 0 || strcmp (element, "D") == 0)
        return 0;

    char key [10];
    key [0] = card [21];                        /* chain */
    memcpy (key + 1, card + 22, 4);             /* resSeq */
    key [5] = card [26];                        /* iCode */
    memcpy (key + 6, card + 12, 4);             /* atom name */
    if (card [16] != ' ') {
        bool failed = false;
        if (!s_altloc_selected (altlocs, key, card [16], &failed))
            return failed ? s_fail (load, load->number, "out of memory") : 0;
    }

    if (!residue->started || memcmp (residue->id, key, 6) != 0) {
        if (residue->started) {
            if (s_residue_rings (self, residue->members, residue->count) != 0)
                return s_fail (load, load->number, "out of memory");
            residue->ordinal++;
        }
        memcpy (residue->id, key, 6);
        residue->started = true;
        residue->count = 0;
    }
    if (residue->count == residue->cap) {
        size_t cap = residue->cap ? residue->cap * 2 : 32;
        s_member_t *grown = (s_member_t *) realloc (residue->members,
                                                    cap * sizeof (s_member_t));
        if (!grown)
            return s_fail (load, load->number, "out of memory");
        residue->members = grown;
        residue->cap = cap;
    }
    if (s_atom_room (self) != 0)
        return s_fail (load, load->number, "out of memory");
    s_columns (card, 18, 20, residue_name);
    s_member_t *member = &residue->members [residue->count++];
    snprintf (member->residue, sizeof (member->residue), "%s", residue_name);
    snprintf (member->atom, sizeof (member->atom), "%s", name);
    member->index = self->atoms;

    size_t atom = self->atoms++;
    memcpy (self->coords + 3 * atom, xyz, sizeof (xyz));
    self->flags [atom] = s_flags (s_element_class (element), residue_name, name);
    self->residues [atom] = residue->ordinal;
    return 0;
}

static int
s_pdb_read (ff_structure_t *self, s_load_t *load)
{
    s_altlocs_t altlocs = { NULL, NULL, 0, 0 };
    s_residue_t residue;
    memset (&residue, 0, sizeof (residue));
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
        if ((rc = s_pdb_atom (self, load, card, &altlocs, &residue)) != 0)
            break;
    }
    if (rc >= 0 && residue.started
    &&  s_residue_rings (self, residue.members, residue.count) != 0)
        rc = s_fail (load, load->number, "out of memory");
    free (altlocs.keys);
    free (altlocs.letters);
    free (residue.members);
    return rc < 0 ? -1 : 0;
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
        self->atoms++;
    }
    while ((rc = s_next_line (load)) == 1) {
        if (load->line [strspn (load->line, " \t")])
            return s_fail (load, load->number,
                           "more atom lines than the count %llu on line 1",
                           count);
    }
    return rc < 0 ? -1 : 0;
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
        ".pdb", ".pdb.gz", ".ent", ".ent.gz", ".xyz", ".xyz.gz", NULL
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
    array [3].name = "rings";
    array [3].dtype = FF_DTYPE_F32;
    array [3].ndim = 2;
    array [3].shape [0] = self->rings_count;
    array [3].shape [1] = 6;
    array [3].data = self->rings;
    array [3].size = self->rings_count * 6 * sizeof (float);
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
    self->rings_cap = 16;
    self->rings = (float *) malloc (self->rings_cap * 6 * sizeof (float));
    if (!self->rings) {
        s_fail (&load, 0, "out of memory");
        goto fail;
    }
    if (!path) {
        s_fail (&load, 0, "no file name");
        goto fail;
    }
    errno = 0;
    load.gz = gzopen (path, "rb");
    if (!load.gz) {
        s_fail (&load, 0, "cannot open: %s",
                errno ? strerror (errno) : "out of memory");
        goto fail;
    }
    gzbuffer (load.gz, S_CHUNK);
    bool xyz = s_ends_with (path, ".xyz") || s_ends_with (path, ".xyz.gz");
    if ((xyz ? s_xyz_read (self, &load) : s_pdb_read (self, &load)) != 0)
        goto fail;
    if (self->atoms == 0) {
        s_fail (&load, 0, "no atom selected (%s)", xyz
                ? "hydrogens only or an atom count of 0"
                : "no ATOM or HETATM record in the first model, or hydrogens only");
        goto fail;
    }
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
        free (self->rings);
        free (self);
        *self_p = NULL;
    }
}

size_t
ff_structure_arrays (ff_structure_t *self, const ff_array_t **arrays)
{
    assert (self);
    *arrays = self->arrays;
    return 4;
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
