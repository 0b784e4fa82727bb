#   Every `fanfold ...` command line of README.md's code blocks runs as
#   written (bin/ is the build's, the files it names are made in a scratch
#   directory from data in the repository), each under timeout, and exits
#   0; `make run` too. A line ending in & runs in the background until the
#   next line has run; a run with -w 0 waits for the worker lines after it.
#   README_PENDING lists README line numbers known to fail today: such a
#   line is reported and not counted, and one that passes is an error.
. "$(dirname "$0")/lib.sh"
# (none known today)
README_PENDING=${README_PENDING-}

work="$SCRATCH/readme"
mkdir -p "$work/inputs"
ln -s "$BIN" "$work/bin"
cp -r "$ROOT/topology" "$work/topology"
rm -rf "$work/topology/keys"
sed -i "s|/local/|/readme-$$/|" "$work/topology/local.zpl"
cp "$ROOT/tests/data/demo.txt" "$work/big.txt"
seq 1 40 > "$work/jobs.txt"
printf 'one\n' > "$work/a.log"
printf 'two\n' > "$work/b.log"
cp "$ROOT/tests/data/rings.pdb" "$ROOT/tests/data/altloc.pdb" "$ROOT/tests/data/pept.pdb.gz" "$work/"
printf '#!/bin/sh\nwc -c < "$1"\n' > "$work/heavy"
chmod +x "$work/heavy"
for n in 1 2 3; do echo "input $n" > "$work/inputs/$n"; done
"$PY" - "$work/big.npy" <<'PYEOF'
import struct, sys
values = [float(n % 17) for n in range(200000)]
header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d,), }" % len(values)
header += " " * (63 - (10 + len(header)) % 64) + "\n"
with open(sys.argv[1], "wb") as out:
    out.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    out.write(struct.pack("<%dd" % len(values), *values))
PYEOF

# the command lines of README's code blocks, with their line numbers
mapfile -t lines < <(awk '/^```/ { inside = !inside; next }
    inside && /(^|[|] *)bin\/fanfold / { sub(/^ +/, ""); print NR "\t" $0 }' "$ROOT/README.md")
[ ${#lines[@]} -ge 15 ] || fail "found only ${#lines[@]} fanfold command lines in README.md"

failed="" passed=0 background=""
for entry in "${lines[@]}"; do
    number=${entry%%$'\t'*}
    command=${entry#*$'\t'}
    command=${command%%  #*}                    # the comment after the command
    pending=0
    [[ " $README_PENDING " == *" $number "* ]] && pending=1
    status=0
    if [[ "$command" == *"&" ]] || [[ "$command" == *" -w 0 "* ]]; then
        command=${command%&}
        (cd "$work" && exec timeout 60 bash -c "$command") &
        background="$background $!:$number"
        continue
    fi
    [ -n "$background" ] && sleep 1            # typed once the job is up
    (cd "$work" && timeout 60 bash -c "$command" > "$SCRATCH/line-$number.out" 2> "$SCRATCH/line-$number.err") \
        || status=$?
    for pair in $background; do                 # the job a worker line joined
        wait "${pair%%:*}" || { status=$?; number="${pair#*:}+$number"; }
    done
    background=""
    if [ $status = 0 ]; then
        passed=$((passed + 1))
        [ $pending = 1 ] && { echo "README line $number passes but is in README_PENDING: $command"; failed="$failed $number"; }
    elif [ $pending = 1 ]; then
        echo "PENDING (known failure) README line $number: $command (exit $status)"
    else
        echo "README line $number fails (exit $status): $command"
        sed 's/^/    | /' "$SCRATCH/line-${number##*+}.err" 2>/dev/null | tail -5
        failed="$failed $number"
    fi
done
[ -z "$background" ] || fail "a background command was left without a line after it"
cmp -s "$work/big.txt" "$work/copy.txt" || fail "README line 42 promises copy.txt == big.txt"

# make run, from the top of the repository
if ! timeout 120 make -s -C "$ROOT" run > "$SCRATCH/make-run.out" 2> "$SCRATCH/make-run.err"; then
    sed 's/^/    | /' "$SCRATCH/make-run.err" | tail -5
    failed="$failed make-run"
fi
grep -q "demo: identical" "$SCRATCH/make-run.err" || failed="$failed make-run-demo"
echo "README: $passed command lines passed; failing:${failed:- none}"
no_stage_left "readme-$$"
[ -z "$failed" ] || fail "README commands fail:$failed"
