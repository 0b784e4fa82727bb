#   GNU parallel habits (issue 13): each case runs one shell snippet twice,
#   with `par` as `parallel` and as `fanfold run`, each in a fresh copy of
#   the same fixture directory, and compares stdout, exit status and the
#   files left (listing and checksums). What is not comparable (times,
#   hosts) is cut away by the snippet itself; docs/PARALLEL.md names each
#   such difference. A case in PENDING that fails is a known failure; one
#   that passes is an error (the list must shrink); any other failure fails
#   the test. Set CASES='name1 name2' to run a few; CORPUS_VERBOSE=1 shows
#   every difference.
. "$(dirname "$0")/lib.sh"

# Known failures: a case listed here that fails is reported, not failed;
# one that passes is an error (the list only shrinks). Empty: every case
# gives parallel's stdout, status and files, or names its difference.
PENDING="
"

LIMIT=${CORPUS_CASE_TIMEOUT:-10}     # seconds per run of one snippet
export FF="$BIN/fanfold"
export HOME="$SCRATCH/home"         # parallel's will-cite file, nothing else
mkdir -p "$HOME/.parallel"
touch "$HOME/.parallel/will-cite"
command -v parallel >/dev/null || fail "GNU parallel is not installed (make deps installs it)"

# ------------------------------------------------------------ the fixture
fixture="$SCRATCH/fixture"
mkdir -p "$fixture/files" "$fixture/docs/sub"
for name in plain.txt "a b.txt" "it's.txt" '"dq".txt' '$HOME.txt' '`id`.txt' \
            $'new\nline.txt' "日本語.txt" "-dash.txt" "semi;colon.txt"; do
    printf '%s\n' "$name" > "$fixture/files/$name"
done
printf 'one\n' > "$fixture/docs/one.txt"
printf 'two words\n' > "$fixture/docs/two words.txt"
printf 'three\n' > "$fixture/docs/sub/three.txt"
printf 'not text\n' > "$fixture/docs/skip.md"
printf '%s\n' alpha "beta gamma" "it's" '$x' "" -n "tab	in" > "$fixture/args.txt"
printf '%s\n' 1 2 3 > "$fixture/nums3.txt"
printf 'a,1\nb c,2\nd,3\n' > "$fixture/table.csv"
printf 'a\t1\nb c\t2\n' > "$fixture/table.tsv"
printf 'hay\nneedle\n' > "$fixture/hay.txt"

# ---------------------------------------------------------------- the runs
passed=0 pending=0 failed=0
failures=""

# state DIR: every path under DIR with its type, then the checksums of files
state () {
    (cd "$1" && find . -mindepth 1 -printf '%y %p\n' | LC_ALL=C sort \
        && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

# run SIDE NAME BODY: runs BODY with par as SIDE's tool in SIDE's copy of
# the fixture; leaves out, err, rc and state next to it
run () {
    local side=$1 name=$2 body=$3
    local base="$SCRATCH/$side/$name"
    mkdir -p "$base"
    cp -a "$fixture" "$base/work"
    local rc=0
    (
        cd "$base/work"
        if [ "$side" = parallel ]; then
            par () { parallel "$@"; }
        else
            par () { "$FF" run "$@"; }
        fi
        export -f par
        SHELL=/bin/bash exec timeout -k 2 "$LIMIT" bash -c "set -o pipefail; $body"
    ) < /dev/null > "$base/out" 2> "$base/err" || rc=$?
    echo "$rc" > "$base/rc"
    state "$base/work" > "$base/state"
}

# kase NAME BODY [FANFOLD_BODY]: one case; FANFOLD_BODY when fanfold's
# spelling differs from parallel's
kase () {
    local name=$1 body=$2
    local ff_body=${3:-$body}
    if [ -n "${CASES:-}" ] && [[ " $CASES " != *" $name "* ]]; then
        return 0
    fi
    run parallel "$name" "$body"
    run fanfold "$name" "$ff_body"
    local p="$SCRATCH/parallel/$name" why=""
    local f="$SCRATCH/fanfold/$name"
    cmp -s "$p/out" "$f/out" || why="stdout differs"
    cmp -s "$p/rc" "$f/rc" || why="${why:+$why, }status $(cat "$f/rc") (parallel: $(cat "$p/rc"))"
    cmp -s "$p/state" "$f/state" || why="${why:+$why, }files left differ"
    local is_pending=0
    [[ " $(echo $PENDING) " == *" $name "* ]] && is_pending=1
    if [ -z "$why" ] && [ "$is_pending" = 0 ]; then
        passed=$((passed + 1))
        echo "PASS    $name"
    elif [ -z "$why" ]; then
        failed=$((failed + 1))
        failures="$failures $name"
        echo "ERROR   $name passes but is listed in PENDING: remove it from the list"
    elif [ "$is_pending" = 1 ]; then
        pending=$((pending + 1))
        echo "PENDING (known failure) $name: $why"
    else
        failed=$((failed + 1))
        failures="$failures $name"
        echo "FAIL    $name: $why"
    fi
    if [ -n "$why" ] && { [ "$is_pending" = 0 ] || [ -n "${CORPUS_VERBOSE:-}" ]; }; then
        echo "    snippet: $ff_body"
        { diff <(head -c 2000 "$p/out") <(head -c 2000 "$f/out") || true; } \
            | head -n 12 | sed 's/^/    stdout /'
        { diff "$p/state" "$f/state" || true; } | head -n 8 | sed 's/^/    files /'
        tail -n 5 "$f/err" | sed 's/^/    fanfold stderr: /'
    fi
}

# ------------------------------------------------ arguments from stdin, -0, -a
kase stdin_lines 'printf "a\nb c\nd\n" | par -k echo'
kase stdin_args_quoting 'par -k "printf '\''<%s>\\n'\''" < args.txt'
kase stdin_find_wc 'find files -type f ! -name "*line*" | LC_ALL=C sort | par -k wc -c'
kase stdin_empty 'par -k echo never < /dev/null'
kase stdin_empty_line_is_an_argument 'printf "a\n\nb\n" | par -k echo x{}y'
kase null_find 'find files -type f -print0 | LC_ALL=C sort -z | par -0 -k wc -c'
kase null_newline_in_argument 'printf "a\nb\0c\0" | par -0 -k "printf '\''[%s]\\n'\''"'
kase null_long_spelling 'printf "x y\0z\0" | par --null -k echo {#} {}'
kase argfile 'par -k -a args.txt echo'
kase argfile_long 'par -k --arg-file args.txt echo {#}:{}'
kase argfile_two_files_product 'par -k -a nums3.txt -a table.csv echo'

# ------------------------------------------------------- ::: :::: and --link
kase colons_basic 'par -k echo ::: a "b c" "it'\''s" "\$HOME" -n'
kase colons_product_example 'par -k echo {1}-{2} ::: a b ::: 1 2' \
    'par echo {1}-{2} ::: a b ::: 1 2'
kase colons_three_sources 'par -k echo {3}{2}{1} ::: a b ::: 1 2 ::: x y'
kase colons_appended 'par -k echo ::: a "b c" ::: 1 2'
kase colons_braces_in_a_word 'par -k echo x{}y ::: "a b" c ::: d'
kase colons_positional_forms 'par -k echo {1.} {1/} {1//} {1/.} {2} ::: dir/sub/f.tar.gz "my dir/x y.txt" ::: "q r"'
kase colons_negative_positions 'par -k echo {-1} {-2} {3} ::: a b ::: c d'
kase colons_newline_splits_an_argument 'par -k echo "<{}>" ::: "$(printf "x\ny")" z'
kase quad_colons 'par -k echo {1}={2} :::: args.txt :::: nums3.txt'
kase quad_and_triple_mixed 'par -k echo {1} {2} ::: a b :::: nums3.txt'
kase quad_dash_is_stdin 'printf "x\ny\n" | par -k echo {1}{2} ::: a b :::: -'
kase link 'par -k --link echo {1}{2} ::: a b c ::: 1 2 3'
kase link_recycles_the_shorter 'par -k --link echo {1}{2} ::: a b c d ::: 1 2'

# ------------------------------------------------------------------ --colsep
kase colsep_comma 'par -k --colsep , echo {2}:{1} < table.csv'
kase colsep_tab 'par -k --colsep "\t" echo {1} and {2} < table.tsv'
kase colsep_regex 'printf "a  b\tc\n" | par -k --colsep "\s+" echo {3}{2}{1}'
kase colsep_appended 'par -k --colsep , echo < table.csv'
kase colsep_with_argfile 'par -k --colsep , -a table.csv echo {2}'

# ------------------------------------------------- the command as trailing words
kase words_grep_count 'par -k grep -c needle ::: hay.txt files/plain.txt'
kase words_double_dash 'par -k echo -- {} ::: a -b'
kase words_options_after_the_command 'par -k echo -k -j 2 ::: x'
kase words_quoted_word_splits_again 'par -k echo "a  b" {} ::: x'
kase words_pipe_in_one_word 'par -k "echo {} | tr a-z A-Z" ::: abc "d e"'
kase exec_option_form 'par -k "printf \"%s|\\n\" {} | rev" ::: "a b" "it'\''s" "\$HOME" "*" -n "日本語" ""' \
    '"$FF" run -w 2 --exec "printf \"%s|\\n\" {} | rev" -- "a b" "it'\''s" "\$HOME" "*" -n "日本語" ""'
kase exec_option_form_pipe 'seq 1 2500 | par -k --pipe -N100 md5sum' \
    'seq 1 2500 | "$FF" run -w 2 --pipe --lines 100 --exec md5sum'

# --------------------------------------------------------------- -j and -k
kase j_number 'par -k -j3 echo ::: 1 2 3 4 5 6'
kase j_percent 'par -k -j50% echo ::: a b c'
kase j_plus 'par -k -j+1 echo ::: a b'
kase j_minus 'par -k -j-1 echo ::: a b'
kase j_zero 'par -k -j0 echo ::: a b c'
kase j_long_spelling 'par -k --jobs 2 echo ::: a b'
kase j_order_kept 'par -k -j4 "sleep 0.{}; echo {}" ::: 3 1 2'
kase keep_order_long 'par --keep-order -j3 "sleep 0.{}; echo {}" ::: 2 1'
kase gzip_k_example 'find docs -name "*.txt" | par gzip -k {}'

# ------------------------------------------------------------------ failures
kase fail_status_is_the_count 'par -k "echo {}; exit {}" ::: 0 1 2 0 3'
kase fail_stdout_and_stderr_kept 'par -k "echo out-{}; echo err-{} >&2; test {} = ok" ::: ok bad 2>err.txt; s=$?; LC_ALL=C sort err.txt; rm err.txt; exit $s'
kase fail_runs_once 'par -k -j1 "echo {} >> log; false" ::: a b; s=$?; cat log; exit $s'
kase fail_pipe_grep_no_match 'seq 1 30 | par -k --pipe -N10 grep 99'
kase fail_count_capped_at_101 'par -k false ::: $(seq 1 110)'
kase fail_killed_by_signal 'par -k "echo x; kill -9 \$\$" ::: a'
kase fail_missing_command 'par -k no-such-command-ff ::: a 2>/dev/null'
kase halt_now_fail 'par -k -j1 --halt now,fail=1 "echo {}; exit {}" ::: 0 0 3 0 2>/dev/null'
kase halt_soon_fail 'par -k -j1 --halt soon,fail=2 "echo {}; exit {}" ::: 0 1 0 2 0 0 2>/dev/null'
kase halt_now_success 'par -k -j1 --halt now,success=1 "echo {}; exit {}" ::: 1 2 0 3 2>/dev/null'
kase halt_percent 'par -k -j1 --halt soon,fail=20% "echo {}; exit {}" ::: 0 1 0 0 1 0 0 0 0 0 2>/dev/null'
kase halt_percent_not_met 'par -k -j1 --halt now,fail=30% "echo {}; exit {}" ::: 0 1 0 0 1 0 0 0 0 0 2>/dev/null'
kase halt_done 'par -k -j1 --halt now,done=3 "echo {}; exit {}" ::: 0 1 0 4 1 0 2>/dev/null'
kase halt_fail_one_by_signal 'par -k -j1 --halt now,fail=1 "echo {}; kill -{} \$\$" ::: 0 15 0 2>/dev/null'
kase halt_old_number 'par -k -j1 --halt 2 "echo {}; exit {}" ::: 0 5 0 2>/dev/null'
kase halt_now_kills_running 'par -k -j2 --halt now,fail=1 "sleep {}; touch done-{}; exit 1" ::: 0.2 1 2>/dev/null; s=$?; sleep 1.5; exit $s'

# --------------------------------------------------------------------- shells
kase shell_bash_brackets 'par -k "[[ {} == a* ]] && echo yes-{} || echo no-{}" ::: ab ba'
kase shell_exported_function 'greet () { echo "hi $1"; }; export -f greet; par -k greet ::: a "b c"'
kase shell_echo_e 'par -k echo -e "a\\tb{}" ::: x'
kase shell_parallel_shell 'PARALLEL_SHELL=/bin/sh par -k "echo \$0 {}" ::: x'
kase shell_option 'PARALLEL_SHELL=/bin/sh par -k "echo \$0 {}" ::: x' \
    'par --shell /bin/sh -k "echo \$0 {}" ::: x'

# -------------------------------------------------------------- output forms
kase tag 'par -k --tag echo ::: a "b c"'
kase tag_product 'par -k --tag echo ::: a b ::: 1 2'
kase tagstring 'par -k --tagstring "{}-{#}x" echo ::: a b'
kase tag_every_line 'par -k --tag "printf \"x\ny\"; exit {}" ::: 0 1'
kase results_dir 'par -k --results out echo ::: a "b c"'
kase results_product 'par -k --results out echo ::: a b ::: 1 2'
kase results_names 'par -k --results out echo ::: "b/c" "d\\e" ""'
kase results_failed_command 'par -k --results out "echo {}; exit 1" ::: x; s=$?; cat out/1/x/stdout; exit $s'
kase results_colsep_stdin 'printf "a,b\nc,d\n" | par -k --colsep , --results out echo {2}'
kase dry_run 'par -k --dry-run "echo {} > {.}.out" ::: "a b.txt" c.txt'
kase dry_run_product 'par -k --dry-run cp {1} {2} ::: x ::: "y z"'
# the joblog's times and host differ by nature: compare the rest
kase joblog_columns 'par -k --joblog jl "echo {}; exit {}" ::: 0 2; s=$?; head -n 1 jl | cut -f 1-9; tail -n +2 jl | cut -f 1,5-9; rm jl; exit $s'
kase joblog_awk_habit 'par -k --joblog jl "exit {}" ::: 0 3 0 4; awk -F"\t" "NR > 1 && \$7 != 0 { print \$1, \$7 }" jl; rm jl'
kase joblog_signal 'par -k --joblog jl "kill -TERM \$\$" ::: a; tail -n +2 jl | cut -f 7,8; rm jl'
kase resume_runs_only_new_inputs 'par -k --joblog jl echo ::: a b; par -k --resume --joblog jl echo ::: a b c; tail -n +2 jl | cut -f 1,9; rm jl'
kase resume_nothing_left 'par -k --joblog jl echo ::: a b; par -k --resume --joblog jl echo ::: a b; echo "status $?"; tail -n +2 jl | cut -f 1,9; rm jl'
kase resume_failed 'par -k --joblog jl "echo {}; exit {}" ::: 0 1 0 2; par -k --resume-failed --joblog jl "echo again {}" ::: 0 1 0 2; echo "status $?"; tail -n +2 jl | cut -f 1,7,9; rm jl'
kase joblog_pipe_send 'seq 1 10 | par -k --pipe -N5 --joblog jl wc -l; tail -n +2 jl | cut -f 1,5,6,7,9; rm jl'
kase eta_and_bar_accepted 'par -k --eta --bar echo ::: a b 2>/dev/null'

# ------------------------------------------------------ sizes, | head, slots
kase block_k_is_1000 'seq 1 3000 | par -k --pipe --block 2k wc -c'
kase block_K_is_1024 'seq 1 3000 | par -k --pipe --block 2K wc -c'
kase block_M 'seq 1 300000 | par -k --pipe --block 1M wc -l'
kase head_closes_stdout 'par -k "seq {} 100000" ::: 1 2 3 | head -n 3; echo "status ${PIPESTATUS[0]}"'
kase head_on_many_jobs 'seq 1 2000 | par -k echo | head -n 2; echo "status ${PIPESTATUS[1]}"'
kase slot_one 'par -k -j1 "echo {%} \$PARALLEL_JOBSLOT" ::: a b c'
kase slot_range 'par -k -j3 "echo {%} \$PARALLEL_JOBSLOT" ::: 1 2 3 4 5 6 | awk "\$1 == \$2 && \$1 >= 1 && \$1 <= 3 { n++ } END { print n }"'
kase seq_env 'par -k "echo \$PARALLEL_SEQ {#}" ::: a b c'

# -------------------------------------------------------------------- --pipe
kase pipe_default 'seq 1 100000 | par -k --pipe wc -l'
kase pipe_N 'seq 1 25 | par -k --pipe -N10 "tr \"\\n\" \" \"; echo"'
kase pipe_seq 'seq 1 30 | par -k --pipe -N10 "echo {#}: \$(wc -l)"'
kase pipe_empty_stdin 'par -k --pipe wc -l < /dev/null'

# ------------------------------------------------------------ awkward names
kase names_null_basenames 'find files -type f -print0 | LC_ALL=C sort -z | par -0 -k "printf '\''%s\\n'\''" {/.}'
kase names_lines_cat 'find files -type f ! -name "*line*" | LC_ALL=C sort | par -k cat'
kase names_copy_every_file 'find files -type f -print0 | par -0 cp {} {}.bak'
kase names_leading_dash 'cd files && par -k cat -- ::: -dash.txt "a b.txt" "\$HOME.txt"'
kase names_glob_with_colons 'par -k cat ::: files/* 2>/dev/null'

echo "corpus: $passed passed, $pending pending (known failures), $failed failed"
[ "$failed" -eq 0 ] || fail "corpus cases failed:$failures"
