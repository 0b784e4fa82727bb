/*  fanfold exec kernel: runs a command template through a shell for each
    task, GNU parallel style: replacement strings {} {.} {/} {//} {/.} {#}
    {%} and positional {1} {2} {-1} ... quoted as parallel quotes them,
    records on stdin with pipe=1, the command's stdout as the result and its
    exit status in the meta. docs/PARALLEL.md says how each parallel habit
    maps onto these parameters. */

#ifndef FANFOLD_EXEC_H
#define FANFOLD_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "fanfold/kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The shell of a task without a shell parameter, and the one
   ff_exec_shell_choose falls back on. */
#define FF_EXEC_DEFAULT_SHELL "/bin/sh"

/* The exec kernel. Task parameters (values are strings):
     cmd         the command template (required), run with SHELL -c LINE
     shell       the shell's path (default /bin/sh); a name without '/' is
                 looked up in PATH. See ff_exec_shell_choose.
     pipe        "1": the payload goes to the command's stdin; otherwise the
                 payload is the argument(s), and stdin is /dev/null
     args        "nul": the payload is an argument tuple, its fields
                 separated by NUL bytes (n fields: n - 1 NULs; "a\0" is
                 "a" and ""), as :::, ::::, --colsep, --link and -N give
                 them; "one" (default): the payload is one argument, which
                 may not hold a NUL
     context     "1": parallel's context replace, as -N, -L and -X use it: a
                 word of cmd with {} (or {.} ...) in it is written once for
                 each argument (see ff_exec_line); otherwise (default) {}
                 gives all the arguments in place, as :::, --colsep and
                 --link use it
     slot        the job slot, a number from 1: {%} and $PARALLEL_JOBSLOT
                 (default 1). A worker sets it (it runs one task at a time)
     command     "1": the meta also gets `"command":"LINE"`, the command
                 line run (for a joblog's Command column), as a JSON string;
                 a byte that is not valid UTF-8 appears as \u0080..\u00ff
     failed_output  "1": a command that ran and failed keeps its stdout as
                 the result (see below); otherwise the message replaces it
     timeout     seconds (fractional allowed); 0 or absent: none. Past it the
                 command's process group gets SIGTERM, then SIGKILL 1 s later
     max_output  bytes of stdout kept at most (default 1 GiB); past it the
                 process group is killed and the task fails
   Every command gets PARALLEL_SEQ (seq + 1) and PARALLEL_JOBSLOT (slot) in
   its environment, which is otherwise the worker's.
   The result is the command's stdout, byte for byte; its stderr goes to the
   worker's stderr. The meta gets `"exit":N` or `"signal":N`. Exit 0 is
   success (returns 0). A command that exits N != 0, or dies of a signal
   the kernel did not send, failed (returns -1): the result is a one-line
   message ("command exited with status 3", "command killed by signal 9"),
   or with failed_output=1 its stdout, and then the meta says so with a
   member `"failed":"<that message>"` after exit or signal. Every other
   failure ("command timed out after 0.5 s", output past max_output, a
   shell that cannot start, a bad parameter) returns -1 with its message
   as the result and no "failed" member. A copy of this struct is also in
   ff_kernels_builtin (). */
extern const ff_kernel_t ff_kernel_exec;

/* Cancels the command exec runs now, and any it starts until cleared
   (cancel 0): its process group is killed at once (SIGTERM, SIGKILL after
   the grace) and the task fails with "command cancelled with its job".
   Safe from another thread (a pool worker's heartbeat thread, on the
   server's `cancel`). */
void
    ff_exec_cancel (int cancel);

/* Returns 1 while cancelled, else 0. */
int
    ff_exec_cancelled (void);

/* The run and cost functions of ff_kernel_exec (cost: the payload size),
   exported so that a static kernel table can name them. */
int
    ff_exec_run (const ff_task_t *task, ff_result_t *result);
double
    ff_exec_cost (const ff_task_t *task);

/* One argument of a command line: len bytes at text, no NUL among them. */
typedef struct {
    const char *text;               /* the argument's bytes */
    size_t len;                     /* their count */
} ff_exec_arg_t;

/* Appends to out the command line that GNU parallel (20221122) builds
   from template cmd for the nargs arguments args (the fields of one input
   line with --colsep, one of each ::: source, or -N of them), whose job
   number {#} is seq + 1, in job slot slot ({%}; NULL: "1").
   - {} {.} {/} {//} {/.} give the value of each argument, each quoted with
     ff_exec_quote, separated by spaces: "echo {}" on (a b, c) gives
     "echo 'a b' c". {0} is {}.
   - {N} {N.} {N/} {N//} {N/.} (N from 1; white space may precede the
     suffix, as in {1 .}) give the value of argument N alone; {-N} counts
     from the end. An argument that is not there gives nothing, not ''.
   - {#} and {%} give their value once.
   - A replacement string that is part of the first word of cmd (no space,
     tab, newline or '=' before it, as in `{}` or `./{1}.sh`) turns quoting
     off for the whole line, as in parallel.
   - When cmd has no replacement string, " " and {} are appended.
   nargs 0 means --pipe mode: the values derive from the empty argument,
   as with `parallel --pipe`, and nothing is appended.
   Returns 0, or -1 when memory runs out (out then holds part of the
   line).
   With context 1 (parallel's context replace: -N, -L, -X), a word of cmd
   (a run of bytes other than space and tab) that holds {} {.} {/} {//} or
   {/.} is written once for each argument, space-separated, each time with
   that argument's values: "echo x{}y" on (a b, c) gives
   "echo x'a b'y xcy" (without context: "echo x'a b' cy"). */
int
    ff_exec_line (ff_buf_t *out, const char *cmd, const ff_exec_arg_t *args,
                  size_t nargs, uint64_t seq, const char *slot, int context);

/* ff_exec_line with the one argument input (a C string), or in --pipe
   mode when input is NULL, in slot 1. */
int
    ff_exec_expand (ff_buf_t *out, const char *cmd, const char *input,
                    uint64_t seq);

/* Appends text to out shell-quoted for bash, zsh, ksh and /bin/sh exactly
   as GNU parallel's Q() does: as it is when it only has characters from
   [-_.+/a-zA-Z0-9]; '' when empty; otherwise in single quotes, with each
   ' written as '"'"' and the '' this leaves at either end dropped.
   Returns 0 or -1 (out of memory). */
int
    ff_exec_quote (ff_buf_t *out, const char *text);

/* Chooses the shell commands run under, as parallel does: forced (the
   --shell option, else $PARALLEL_SHELL) when it is set and not empty;
   else login ($SHELL) when it is an absolute path whose last component is
   bash, zsh, ksh, ksh93 or mksh; else FF_EXEC_DEFAULT_SHELL. Returns one
   of its arguments or a static string; never NULL. Reads no file: the
   shell is looked for where the command runs. */
const char *
    ff_exec_shell_choose (const char *forced, const char *login);

#ifdef __cplusplus
}
#endif

#endif
