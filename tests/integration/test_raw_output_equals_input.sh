#   Raw output of noop over records reproduces a 30,000-line UTF-8 file byte
#   for byte, with 3 workers, with 4 jittered sleeping workers, and --serial.
. "$(dirname "$0")/lib.sh"
utf8_lines 30000 "$SCRATCH/in.txt"
"$BIN/fanfold" run -w 3 --pipe --lines 7 -K noop --format raw < "$SCRATCH/in.txt" > "$SCRATCH/w3.txt"
same "$SCRATCH/in.txt" "$SCRATCH/w3.txt" "noop -w 3"
"$BIN/fanfold" run -w 4 --pipe --lines 7 -K sleep -p ms=30 -p jitter=1 --format raw \
    < "$SCRATCH/in.txt" > "$SCRATCH/w4.txt"
same "$SCRATCH/in.txt" "$SCRATCH/w4.txt" "sleep jitter -w 4"
"$BIN/fanfold" run --serial --pipe --lines 7 -K noop --format raw < "$SCRATCH/in.txt" > "$SCRATCH/serial.txt"
same "$SCRATCH/in.txt" "$SCRATCH/serial.txt" "--serial"
# --block cuts at line ends too, and a file without a final newline keeps it
printf 'no newline at the end' >> "$SCRATCH/in.txt"
"$BIN/fanfold" run -w 2 --pipe --block 4k -o "$SCRATCH/block.txt" < "$SCRATCH/in.txt"
same "$SCRATCH/in.txt" "$SCRATCH/block.txt" "--block 4k -o"
