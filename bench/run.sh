#!/bin/bash
#   bench/run.sh: the driver of `make bench`. Installs what the benchmark
#   needs (scripts/deps.sh bench), builds the raw libzmq baseline with the
#   project's pkg-config flags, snapshots the fanfold binaries, then runs
#   bench/bench.py: every measure, the table, RESULTS.md and results.png.
#   Usage: [FANFOLD_BIN=DIR] [FANFOLD_BASE_BIN=DIR | FANFOLD_BASE_REV=COMMIT]
#          [BENCH_QUICK=1] bench/run.sh [MEASURE...]
#   A base build (row 8, "versus") is a bin directory, or a commit that is
#   built here in a scratch git worktree under bench/out/.
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

# the raw libzmq pipeline, built and linked like the project's stages
# (the same static archives, so that neither side starts faster)
libs=$(make -s -C "$root" print-libs)
# shellcheck disable=SC2046,SC2086
c++ -x c -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wstrict-prototypes -Werror \
    "$here/zmqpipe.c" -x none -o "$out/zmqpipe.tmp" $(pkg-config --cflags libzmq) $libs
mv -f "$out/zmqpipe.tmp" "$out/zmqpipe"
# the load generator of row 9: simulated workers that speak docs/PROTOCOL.md
# shellcheck disable=SC2046
cc -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wstrict-prototypes -Werror \
    "$here/loadgen.c" -o "$out/loadgen.tmp" $(pkg-config --cflags --libs libzmq libczmq msgpack) -lpthread
mv -f "$out/loadgen.tmp" "$out/loadgen"
# the machine's ceiling of row 7b: a mapped .npy summed by 1 or 2 processes
cc -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wstrict-prototypes -Werror \
    "$here/mapsum.c" -o "$out/mapsum.tmp"
mv -f "$out/mapsum.tmp" "$out/mapsum"
# the machine's floor of rows 4a-4c: bare processes that sleep, or only start
cc -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wstrict-prototypes -Werror \
    "$here/floor.c" -o "$out/floor.tmp"
mv -f "$out/floor.tmp" "$out/floor"

# measure a copy: other work may rebuild bin/ while the benchmark runs, and
# the launcher starts the stages that sit next to it
rm -rf "${out:?}/bin.tmp"
mkdir "$out/bin.tmp"
cp "$FANFOLD_BIN/fanfold" "$FANFOLD_BIN"/fanfold-* "$out/bin.tmp/"
rm -rf "${out:?}/bin"
mv "$out/bin.tmp" "$out/bin"

# the earlier build that row 8 compares with, snapshotted the same way
rm -rf "${out:?}/base-bin"
if [ -n "${FANFOLD_BASE_REV:-}" ]; then
    src=$out/base-src
    git -C "$root" worktree remove --force "$src" 2>/dev/null || rm -rf "$src"
    git -C "$root" worktree add --detach "$src" "$FANFOLD_BASE_REV" >/dev/null
    make -C "$src" -j2 all >"$out/base-build.log" 2>&1 \
        || { echo "bench: cannot build $FANFOLD_BASE_REV (bench/out/base-build.log)" >&2; exit 2; }
    FANFOLD_BASE_BIN=$src/bin
fi
if [ -n "${FANFOLD_BASE_BIN:-}" ]; then
    mkdir "$out/base-bin"
    cp "$FANFOLD_BASE_BIN/fanfold" "$FANFOLD_BASE_BIN"/fanfold-* "$out/base-bin/"
    echo "${FANFOLD_BASE_REV:-$FANFOLD_BASE_BIN}" > "$out/base-bin/REV"
fi
if [ -n "${FANFOLD_BASE_REV:-}" ]; then
    git -C "$root" worktree remove --force "$out/base-src"
fi

exec /usr/bin/python3 "$here/bench.py" "$@"
