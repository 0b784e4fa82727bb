/*  fanfold exec kernel: runs a command template through /bin/sh for each
    task, GNU parallel style: replacement strings {} {.} {/} {//} {/.} {#}
    quoted as parallel quotes them, records on stdin with pipe=1, the
    command's stdout as the result and its exit status in the meta. */

#ifndef FANFOLD_EXEC_H
#define FANFOLD_EXEC_H

#include <stdint.h>

#include "fanfold/kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The exec kernel. Task parameters:
     cmd         the command template (required), run with /bin/sh -c
     pipe        "1": the payload goes to the command's stdin; otherwise the
                 payload is the argument, and stdin is /dev/null
     timeout     seconds (fractional allowed); 0 or absent: none. Past it the
                 command's process group gets SIGTERM, then SIGKILL 1 s later
     max_output  bytes of stdout kept at most (default 1 GiB); past it the
                 process group is killed and the task fails
   The result is the command's stdout, byte for byte; its stderr goes to the
   worker's stderr. The meta gets `"exit":N` or `"signal":N`. Exit 0 is
   success; anything else fails with a one-line message ("command exited
   with status 3", "command killed by signal 9", "command timed out after
   0.5 s"). A copy of this struct is also in ff_kernels_builtin (). */
extern const ff_kernel_t ff_kernel_exec;

/* The run and cost functions of ff_kernel_exec (cost: the payload size),
   exported so that a static kernel table can name them. */
int
    ff_exec_run (const ff_task_t *task, ff_result_t *result);
double
    ff_exec_cost (const ff_task_t *task);

/* Appends to out the command line that GNU parallel (20221122, /bin/sh)
   builds from template cmd for the argument input, whose job number {#} is
   seq + 1. Each replacement string is replaced by its value, shell-quoted
   with ff_exec_quote, unless a replacement string is part of the first word
   of cmd (no space, tab, newline or '=' before it, as in `{}` or `./{}.sh`)
   where parallel inserts values as they are. When cmd has no replacement
   string, " " and the quoted input are appended.
   input NULL means --pipe mode: the values derive from the empty argument,
   as with `parallel --pipe`, and nothing is appended.
   input must not hold a NUL byte (it is a C string). Returns 0, or -1 when
   memory runs out (out then holds part of the line). */
int
    ff_exec_expand (ff_buf_t *out, const char *cmd, const char *input,
                    uint64_t seq);

/* Appends text to out shell-quoted for /bin/sh exactly as GNU parallel's
   Q() does: as it is when it only has characters from [-_.+/a-zA-Z0-9];
   '' when empty; otherwise in single quotes, with each ' written as
   '"'"' and the '' this leaves at either end dropped. Returns 0 or -1
   (out of memory). */
int
    ff_exec_quote (ff_buf_t *out, const char *text);

#ifdef __cplusplus
}
#endif

#endif
