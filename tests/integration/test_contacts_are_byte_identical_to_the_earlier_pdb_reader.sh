#   contacts over every PDB file the structure tests use gives the very
#   bytes the earlier hand-written PDB reader gave: the SHA-256 of each raw
#   result below was taken from that reader's binaries (before structures
#   were read through gemmi); workers in parallel and --serial alike.
. "$(dirname "$0")/lib.sh"
demo=/usr/share/pymol/data/demo
data=$ROOT/tests/data
expected=(
    "c9e7d31d9e8ecb1015b4c97bd8cab89887fee18e93e86d8d77f4eff114cd3df9 $demo/1tii.pdb"
    "292a3730fc76723e3bcb196939b728f5fe88724965b51301cdb31fc69ba44fc2 $demo/il2.pdb"
    "ed2676fa53f066ab5626fcf3405e11c23924540169b3c4977eef6a0f24a88508 $demo/pept.pdb"
    "ed2676fa53f066ab5626fcf3405e11c23924540169b3c4977eef6a0f24a88508 $data/pept.pdb.gz"
    "81f5e7d31c99c74875c397a1a31c7f931ac6b8163fe846587d498556715270f2 $data/altloc.pdb"
    "6835570bff4005877f3df189339cc46b7bc4c00d36ab26b20c07a2f24eb0973a $data/multimodel.pdb"
    "d1270839bf5a49157c84f85f958d40812e8bee7368c0df922aba70ca473fd525 $data/noelement.pdb"
    "9cd417009f26038c0b343f361e5735e173331beb7012987057e48a0bb6bc82b6 $data/rings.pdb"
    "16f0e73db8904bfcac326b26cbc37364bfd303125d9621397459371eb2a45ed1 $data/2BEG.pdb.gz"
    "252176052fb010530dfb6eddc9dbb89b6514477de06061e0d5c64fc49bf2ae41 $data/1A8O.pdb.gz"
)
for line in "${expected[@]}"; do
    sum=${line%% *}
    file=${line#* }
    for mode in "-w 2" "--serial"; do
        # shellcheck disable=SC2086
        got=$("$BIN/fanfold" run $mode -K contacts --format raw -- "$file" | sha256sum | cut -c1-64)
        [ "$got" = "$sum" ] || fail "contacts of $file ($mode): sha256 $got, the earlier reader gave $sum"
    done
    echo "identical: $(basename "$file")"
done
