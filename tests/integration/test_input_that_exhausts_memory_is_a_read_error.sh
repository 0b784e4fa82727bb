#   A --pipe block that cannot grow for want of memory is a read error
#   (exit 2, naming it), not a spin: one 300 MB line under a 250 MB
#   address-space limit, in both modes. AddressSanitizer cannot start under
#   such a limit, so with sanitized binaries the test reports a skip (77).
. "$(dirname "$0")/lib.sh"
if grep -q __asan_init "$BIN/fanfold-ventilator" 2>/dev/null; then
    echo "skip: an address-space limit stops AddressSanitizer itself"
    exit 77
fi
head -c 300000000 /dev/zero | tr '\0' x > "$SCRATCH/huge.txt"
for mode in --serial "--mode parallel -w 1"; do
    rc=0
    # shellcheck disable=SC2086
    (ulimit -v 250000; timeout 20 "$BIN/fanfold" run $mode --pipe --max-block 1G -K noop \
        < "$SCRATCH/huge.txt" > /dev/null 2> "$SCRATCH/err") || rc=$?
    [ "$rc" = 2 ] || fail "out of memory reading stdin ($mode): exit $rc, expected 2; stderr: $(cat "$SCRATCH/err")"
    grep -q 'read failed: Cannot allocate memory' "$SCRATCH/err" \
        || fail "out of memory reading stdin ($mode): $(cat "$SCRATCH/err")"
done
rm -f "$SCRATCH/huge.txt"
