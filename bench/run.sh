#!/bin/bash
#   bench/run.sh: the driver of `make bench`. Installs what the benchmark
#   needs (scripts/deps.sh bench), builds the raw libzmq baseline with the
#   project's pkg-config flags, snapshots the fanfold binaries, then runs
#   bench/bench.py: every measure, the table, RESULTS.md and results.png.
#   Usage: [FANFOLD_BIN=DIR] [BENCH_QUICK=1] bench/run.sh [MEASURE...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=$here/out
FANFOLD_BIN=${FANFOLD_BIN:-$root/bin}

"$root/scripts/deps.sh" bench
if [ ! -x "$FANFOLD_BIN/fanfold" ]; then
    echo "bench: no $FANFOLD_BIN/fanfold: run make first" >&2
    exit 2
fi
mkdir -p "$out"

# the raw libzmq pipeline, built like the project's stages
# shellcheck disable=SC2046
cc -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wstrict-prototypes -Werror \
    "$here/zmqpipe.c" -o "$out/zmqpipe.tmp" $(pkg-config --cflags --libs libzmq)
mv -f "$out/zmqpipe.tmp" "$out/zmqpipe"

# measure a copy: other work may rebuild bin/ while the benchmark runs, and
# the launcher starts the stages that sit next to it
rm -rf "${out:?}/bin.tmp"
mkdir "$out/bin.tmp"
cp "$FANFOLD_BIN/fanfold" "$FANFOLD_BIN"/fanfold-* "$out/bin.tmp/"
rm -rf "${out:?}/bin"
mv "$out/bin.tmp" "$out/bin"

exec /usr/bin/python3 "$here/bench.py" "$@"
