//  fanfold's only C++ unit: gemmi reads PDB records and mmCIF files into a
//  flat list of the first model's atoms and residues, and answers element
//  questions (atomic number, covalent and van der Waals radii). Every
//  exception stops here and becomes a message: the callers are C.

#include "fanfold/kernels/structure_gemmi.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include <gemmi/elem.hpp>
#include <gemmi/gz.hpp>
#include <gemmi/mmread.hpp>
#include <gemmi/pdb.hpp>

namespace {

void s_copy (char *out, size_t size, const std::string &text)
{
    size_t length = text.size () < size - 1 ? text.size () : size - 1;
    std::memcpy (out, text.data (), length);
    std::memset (out + length, 0, size - length);
}

// Writes "path: what", or what alone when gemmi named the file already.
void s_message (char *error, size_t error_size, const char *path,
                const char *what)
{
    if (!error || !error_size)
        return;
    size_t length = std::strlen (path);
    if (std::strncmp (what, path, length) == 0)
        std::snprintf (error, error_size, "%s", what);
    else
        std::snprintf (error, error_size, "%s: %s", path, what);
}

// Copies the first model of st into *model. Throws std::bad_alloc.
void s_flatten (const gemmi::Structure &st, ff_gemmi_model_t *model)
{
    if (st.models.empty ())
        return;
    const gemmi::Model &first = st.models [0];
    size_t atoms = 0, residues = 0;
    for (const gemmi::Chain &chain : first.chains)
        for (const gemmi::Residue &residue : chain.residues) {
            residues++;
            atoms += residue.atoms.size ();
        }
    if (atoms == 0)
        return;
    if (atoms > UINT32_MAX || residues > UINT32_MAX)
        throw std::bad_alloc ();
    model->atoms = static_cast<ff_gemmi_atom_t *> (
        std::calloc (atoms, sizeof (ff_gemmi_atom_t)));
    model->residues = static_cast<ff_gemmi_residue_t *> (
        std::calloc (residues, sizeof (ff_gemmi_residue_t)));
    if (!model->atoms || !model->residues)
        throw std::bad_alloc ();
    for (const gemmi::Chain &chain : first.chains)
        for (const gemmi::Residue &residue : chain.residues) {
            ff_gemmi_residue_t *out = &model->residues [model->residues_count];
            s_copy (out->chain, sizeof (out->chain), chain.name);
            s_copy (out->name, sizeof (out->name), residue.name);
            out->number = residue.seqid.num.has_value ()
                        ? residue.seqid.num.value : 0;
            out->icode = residue.seqid.icode ? residue.seqid.icode : ' ';
            for (const gemmi::Atom &atom : residue.atoms) {
                ff_gemmi_atom_t *a = &model->atoms [model->atoms_count++];
                a->xyz [0] = static_cast<float> (atom.pos.x);
                a->xyz [1] = static_cast<float> (atom.pos.y);
                a->xyz [2] = static_cast<float> (atom.pos.z);
                int number = atom.element.atomic_number ();
                a->element = static_cast<uint8_t> (number > 0 && number < 256
                                                   ? number : 0);
                a->altloc = atom.altloc;
                s_copy (a->name, sizeof (a->name), atom.name);
                a->residue = static_cast<uint32_t> (model->residues_count);
            }
            model->residues_count++;
        }
}

template <typename Read>
int s_read (const char *path, ff_gemmi_model_t *model, char *error,
            size_t error_size, Read read)
{
    std::memset (model, 0, sizeof (*model));
    try {
        gemmi::Structure st = read ();
        s_flatten (st, model);
        return 0;
    }
    catch (const std::bad_alloc &) {
        s_message (error, error_size, path, "out of memory");
    }
    catch (const std::exception &caught) {
        s_message (error, error_size, path, caught.what ());
    }
    catch (...) {
        s_message (error, error_size, path, "unknown error reading it");
    }
    ff_gemmi_model_free (model);
    return -1;
}

} // namespace

extern "C" int
ff_gemmi_read_mmcif (const char *path, ff_gemmi_model_t *model, char *error,
                     size_t error_size)
{
    return s_read (path, model, error, error_size, [path] () {
        return gemmi::read_structure (gemmi::MaybeGzipped (path),
                                      gemmi::CoorFormat::Mmcif);
    });
}

extern "C" int
ff_gemmi_read_pdb (const char *data, size_t size, const char *path,
                   ff_gemmi_model_t *model, char *error, size_t error_size)
{
    return s_read (path, model, error, error_size, [data, size, path] () {
        return gemmi::read_pdb_from_memory (data, size, path);
    });
}

extern "C" void
ff_gemmi_model_free (ff_gemmi_model_t *model)
{
    if (model) {
        std::free (model->atoms);
        std::free (model->residues);
        std::memset (model, 0, sizeof (*model));
    }
}

extern "C" unsigned
ff_element_number (const char *symbol)
{
    if (!symbol || !*symbol)
        return 0;
    gemmi::Element element (symbol);
    int number = element.atomic_number ();
    return number > 0 ? static_cast<unsigned> (number) : 0;
}

extern "C" double
ff_element_covalent_radius (unsigned number)
{
    return gemmi::Element (static_cast<int> (number)).covalent_r ();
}

extern "C" double
ff_element_vdw_radius (unsigned number)
{
    return gemmi::Element (static_cast<int> (number)).vdw_r ();
}
