#   Shared helpers for the integration tests: paths, a scratch directory
#   removed on exit, assertions that print what differed, and timing.
set -euo pipefail
BIN=${FANFOLD_BIN:?FANFOLD_BIN must name the bin directory}
ROOT=${FANFOLD_ROOT:?}
PY=/usr/bin/python3                 # Debian's python3, with python3-zmq
SCRATCH=$(mktemp -d /tmp/fanfold-test.XXXXXX)
# on exit: stop whatever the test left running in the background, then clean
finish () {
    local status=$?
    set +e
    local left
    left=$(jobs -p)
    [ -n "$left" ] && kill $left 2>/dev/null && sleep 0.2
    rm -rf "$SCRATCH"
    exit $status
}
trap finish EXIT

fail () {
    echo "FAILED: $*" >&2
    exit 1
}

# same FILE1 FILE2 WHAT: the two files are byte-identical
same () {
    cmp -s "$1" "$2" || { cmp "$1" "$2" >&2 || true; fail "$3: $1 and $2 differ"; }
}

now () {
    date +%s.%N
}

# elapsed START: seconds since START
elapsed () {
    echo "$(now) - $1" | bc
}

# below VALUE LIMIT WHAT: VALUE < LIMIT
below () {
    [ "$(echo "$1 < $2" | bc)" = 1 ] || fail "$3: $1 is not below $2"
}

# utf8_lines N FILE: a deterministic UTF-8 text of N lines, some empty,
# some long, quotes, backslashes, tabs and several scripts
utf8_lines () {
    "$PY" - "$1" "$2" <<'PYEOF'
import random, sys
count, path = int(sys.argv[1]), sys.argv[2]
words = ["alpha", "βήτα", "γάμμα", "日本語", "🎉", "tab\there", '"quote"',
         "back\\slash", "Ünïcödé", "-dash", "$dollar", "*star", "; semi", "לשון"]
r = random.Random(count)
with open(path, "w", encoding="utf-8") as out:
    for n in range(count):
        size = r.choice([0, 1, 3, 8, 40]) if n % 97 else 300
        out.write(" ".join(r.choice(words) for _ in range(size)) + "\n")
PYEOF
}

# no_stage_left PATTERN: no fanfold stage process whose command line has PATTERN
no_stage_left () {
    local left
    left=$(pgrep -f "fanfold-(sink|ventilator|worker).*$1" || true)
    [ -z "$left" ] || { ps -o pid,args -p "$(echo $left | tr ' ' ,)" >&2; fail "stage processes left: $left"; }
}
