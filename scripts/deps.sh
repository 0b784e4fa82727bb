#!/bin/sh
#   Installs the Debian packages fanfold needs, only when something is
#   missing. Called by make before building, running or testing.
#   Usage: scripts/deps.sh build|test|bench|cluster
set -eu
goal=${1:-build}
missing=""

need_pkgconfig () {        # pkg-config module, Debian package
    pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"
}
need_command () {          # command, Debian package
    command -v "$1" >/dev/null 2>&1 || missing="$missing $2"
}
need_python () {           # module, Debian package (Debian's own python3)
    /usr/bin/python3 -c "import $1" >/dev/null 2>&1 || missing="$missing $2"
}

need_command pkg-config pkg-config
need_command cc gcc
need_pkgconfig libzmq libzmq3-dev
need_pkgconfig libczmq libczmq-dev
need_pkgconfig msgpack libmsgpack-dev
need_pkgconfig libsodium libsodium-dev
need_pkgconfig zlib zlib1g-dev
need_command c++ g++
# gemmi (header-only C++17, reads PDB and mmCIF) and the PEGTL it includes
[ -f /usr/include/gemmi/mmread.hpp ] || missing="$missing gemmi-dev"
[ -f /usr/include/tao/pegtl.hpp ] || missing="$missing tao-pegtl-dev"
if [ "$goal" = test ] || [ "$goal" = bench ]; then
    need_pkgconfig check check
    need_command python3 python3
    [ -x /usr/bin/python3 ] || missing="$missing python3"
    need_python zmq python3-zmq
    need_python msgpack python3-msgpack
    need_python numpy python3-numpy
    need_python gemmi python3-gemmi
    need_python tqdm python3-tqdm            # the Python pool's progress bar
    [ -x /usr/bin/time ] || missing="$missing time"     # peak memory in a test
    [ -f /usr/share/pymol/data/demo/1tii.pdb ] || missing="$missing pymol-data"
    need_command valgrind valgrind
    need_command parallel parallel
    need_command bc bc
    need_command pgrep procps
    need_command setsid util-linux
    need_command cmp diffutils
    need_command gzip gzip
fi
[ "$goal" = fuzz ] && { need_command clang clang; for rt in /usr/lib/llvm-14/lib/clang/14*/lib/linux/libclang_rt.fuzzer-x86_64.a; do [ -f "$rt" ] || missing="$missing libclang-rt-14-dev"; done; }
if [ "$goal" = cluster ]; then         # make check-cluster: hosts in namespaces
    [ -x /usr/sbin/sshd ] || missing="$missing openssh-server"
    need_command ssh openssh-client
    need_command ip iproute2
    need_command slurmctld slurmctld
    need_command slurmd slurmd
    need_command sbatch slurm-client
    need_command munged munge
    [ -x /usr/bin/python3 ] || missing="$missing python3"   # the /proc scanner
    need_command bc bc
fi
if [ "$goal" = bench ]; then
    need_command hyperfine hyperfine
    need_command gnuplot gnuplot-nox
fi

[ -z "$missing" ] && exit 0
echo "deps: installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=sudo
    else
        echo "deps: missing:$missing; run as root or install them with apt-get" >&2
        exit 1
    fi
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
