#   make install PREFIX=DIR, then the example plugin builds with
#   `pkg-config fanfold` from that install, and --plugin runs its kernels in
#   workers and --serial alike.
. "$(dirname "$0")/lib.sh"
prefix="$SCRATCH/prefix"
make -s -C "$ROOT" install PREFIX="$prefix" > "$SCRATCH/install.log" 2>&1 \
    || fail "make install: $(tail "$SCRATCH/install.log")"
[ -x "$prefix/bin/fanfold" ] && [ -f "$prefix/include/fanfold/kernel.h" ] \
    && [ -f "$prefix/lib/pkgconfig/fanfold.pc" ] || fail "install is incomplete"
cp -r "$ROOT/examples/plugin" "$SCRATCH/plugin"
make -s -C "$SCRATCH/plugin" PKG_CONFIG_PATH="$prefix/lib/pkgconfig" > "$SCRATCH/build.log" 2>&1 \
    || fail "plugin build: $(cat "$SCRATCH/build.log")"
"$prefix/bin/fanfold" run -w 2 --plugin "$SCRATCH/plugin/upper.so" -K upper,words \
    --format jsonl -- "hello world" "two words here" > "$SCRATCH/out.jsonl"
"$BIN/fanfold" run --serial --plugin "$SCRATCH/plugin/upper.so" -K upper,words \
    --format jsonl -- "hello world" "two words here" > "$SCRATCH/serial.jsonl"
same "$SCRATCH/out.jsonl" "$SCRATCH/serial.jsonl" "plugin kernels in workers vs --serial"
grep -q '"kernel":"upper","status":"ok","result":{"text":"HELLO WORLD"}' "$SCRATCH/out.jsonl" \
    || fail "upper: $(cat "$SCRATCH/out.jsonl")"
grep -q '"result":{"lines":0,"words":3,"bytes":14}' "$SCRATCH/out.jsonl" || fail "words"
# a library that is not a plugin is refused with a clear message
rc=0
"$BIN/fanfold" run --plugin /lib/x86_64-linux-gnu/libz.so.1 -K noop a 2> "$SCRATCH/err" || rc=$?
[ "$rc" = 2 ] && grep -q "not a fanfold plugin" "$SCRATCH/err" || fail "bad plugin accepted: $(cat "$SCRATCH/err")"
