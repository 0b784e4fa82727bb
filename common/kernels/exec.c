/*  fanfold exec kernel: one command per task through a shell, compatible
    with GNU parallel 20221122. In order: the command line (replacement
    values, quoting, expansion), the child (spawn into its own process
    group, one poll loop that feeds stdin and reads stdout, kill, reap),
    then the kernel (parameters, status, messages). */

#include "fanfold/kernels/exec.h"
#include "fanfold/kernels/kernels.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define S_DEFAULT_MAX_OUTPUT (1024.0 * 1024 * 1024)
#define S_KILL_GRACE_MS      1000       /* SIGTERM to SIGKILL */
#define S_TICK_MS            10         /* exit polling without pidfd */
#define S_CHUNK              (64 * 1024)

/* ------------------------------------------------------ the command line */

/* What a replacement string stands for. parallel's {= perl =}, --rpl and
   --plus strings have no meaning here and stay as they are written. */
typedef enum {
    S_RPL_ARG,                      /* {}   the argument */
    S_RPL_NOEXT,                    /* {.}  without its extension */
    S_RPL_BASE,                     /* {/}  its basename */
    S_RPL_DIR,                      /* {//} its dirname */
    S_RPL_BASE_NOEXT,               /* {/.} its basename without extension */
    S_RPL_SEQ,                      /* {#}  the job number, seq + 1 */
    S_RPL_SLOT                      /* {%}  the job slot */
} s_rpl_kind_t;

/* What follows the '{' (and, in a positional form, the number). */
static const struct {
    const char *text;               /* as written in a template */
    size_t len;                     /* strlen (text) */
    s_rpl_kind_t kind;              /* what it stands for */
    int positional;                 /* 1: also as {N...} */
} s_rpls [] = {
    { "}", 1, S_RPL_ARG, 1 },
    { ".}", 2, S_RPL_NOEXT, 1 },
    { "/}", 2, S_RPL_BASE, 1 },
    { "//}", 3, S_RPL_DIR, 1 },
    { "/.}", 3, S_RPL_BASE_NOEXT, 1 },
    { "#}", 2, S_RPL_SEQ, 0 },
    { "%}", 2, S_RPL_SLOT, 0 },
};
#define S_NRPLS (sizeof (s_rpls) / sizeof (s_rpls [0]))

/* One replacement string found in a template. */
typedef struct {
    s_rpl_kind_t kind;              /* what it stands for */
    int positional;                 /* 1: {N...}, one argument; 0: every one */
    int64_t position;               /* N (negative: from the end), if positional */
    size_t len;                     /* bytes it takes in the template */
} s_rpl_t;

/* Positions past this are out of range whatever the arguments. */
#define S_MAX_POSITION 1000000000

/* Returns 1 and fills *rpl when a replacement string starts at text (a
   '{'). No two can overlap (each has one '{' first and one '}' last), so
   matching at each '{' from the left is what parallel's replacing of the
   longest first comes to. Positional forms are parallel's
   \{(-?\d+)\s*SUFFIX: "{0}" is {} (perl takes "0" as false), any other
   number, "00" and "-0" too, is a position. */
static int
s_rpl_at (const char *text, s_rpl_t *rpl)
{
    size_t index, at = 1;
    assert (text [0] == '{');
    for (index = 0; index < S_NRPLS; index++)
        if (strncmp (text + 1, s_rpls [index].text, s_rpls [index].len) == 0) {
            *rpl = (s_rpl_t) { s_rpls [index].kind, 0, 0, 1 + s_rpls [index].len };
            return 1;
        }
    int negative = text [at] == '-';
    at += (size_t) negative;
    size_t digits = strspn (text + at, "0123456789");
    if (digits == 0)
        return 0;
    int64_t value = 0;
    for (index = 0; index < digits; index++)
        if (value <= S_MAX_POSITION)
            value = value * 10 + (text [at + index] - '0');
    int all = !negative && digits == 1 && text [at] == '0';
    at += digits;
    while (text [at] && strchr (" \t\n\r\f\v", text [at]))
        at++;
    for (index = 0; index < S_NRPLS; index++)
        if (s_rpls [index].positional
        &&  strncmp (text + at, s_rpls [index].text, s_rpls [index].len) == 0) {
            *rpl = (s_rpl_t) { s_rpls [index].kind, !all,
                               negative? -value: value, at + s_rpls [index].len };
            return 1;
        }
    return 0;
}

/* Returns the first replacement string in cmd and fills *rpl, or NULL. */
static const char *
s_first_rpl (const char *cmd, s_rpl_t *rpl)
{
    const char *brace = cmd;
    while ((brace = strchr (brace, '{')) && !s_rpl_at (brace, rpl))
        brace++;
    return brace;
}

/* {/} is perl's substitution s:.*[/]:: (written here without its comment
   ending) on the argument. '.' does not match a newline, so it removes, in
   the first line that has a '/', everything from the start of that line
   to its last '/'. */
static int
s_append_basename (ff_buf_t *out, const char *text, size_t len)
{
    size_t line = 0;
    while (line <= len) {
        const char *newline = memchr (text + line, '\n', len - line);
        size_t end = newline? (size_t) (newline - text): len;
        const char *slash = memrchr (text + line, '/', end - line);
        if (slash) {
            size_t after = (size_t) (slash + 1 - text);
            if (ff_buf_append (out, text, line))
                return -1;
            return ff_buf_append (out, text + after, len - after);
        }
        if (!newline)
            break;
        line = end + 1;
    }
    return ff_buf_append (out, text, len);
}

/* {.} is perl's s:\.[^/.]*$:: on what out holds from mark on: the last
   '.' and what follows go, unless a '/' follows it. ('$' may also match
   before a final newline, but [^/.]* takes that newline first.) */
static void
s_strip_extension (ff_buf_t *out, size_t mark)
{
    const char *text = (const char *) out->data + mark;
    size_t len = out->size - mark;
    const char *dot = len? memrchr (text, '.', len): NULL;
    if (dot && !memchr (dot, '/', len - (size_t) (dot - text)))
        out->size = mark + (size_t) (dot - text);
}

/* File::Basename's _strip_trailing_sep, s{(.)[/]*\z}{$1}s. Returns the
   new length: trailing slashes go, but never the first character. */
static size_t
s_strip_slashes (const char *text, size_t len)
{
    while (len > 1 && text [len - 1] == '/')
        len--;
    return len;
}

/* File::Basename's fileparse for Unix: the directory part keeps its last
   '/' and is "./" when there is none. Sets *dir and returns its length;
   sets *base_len. */
static size_t
s_fileparse (const char *text, size_t len, const char **dir, size_t *base_len)
{
    const char *slash = len? memrchr (text, '/', len): NULL;
    if (!slash) {
        *dir = "./";
        *base_len = len;
        return 2;
    }
    *dir = text;
    *base_len = len - (size_t) (slash + 1 - text);
    return (size_t) (slash + 1 - text);
}

/* {//} is File::Basename's dirname: "a/b" -> "a", "a/b/" -> "a",
   "a" -> ".", "/" -> "/", "" -> ".". */
static int
s_append_dirname (ff_buf_t *out, const char *text, size_t len)
{
    const char *dir;
    size_t base_len;
    size_t dir_len = s_fileparse (text, len, &dir, &base_len);
    dir_len = s_strip_slashes (dir, dir_len);
    if (base_len == 0) {
        const char *outer;
        size_t outer_len = s_fileparse (dir, dir_len, &outer, &base_len);
        return ff_buf_append (out, outer, s_strip_slashes (outer, outer_len));
    }
    return ff_buf_append (out, dir, dir_len);
}

/* Appends the value of replacement string kind for one argument. */
static int
s_append_value (ff_buf_t *out, s_rpl_kind_t kind, const ff_exec_arg_t *arg,
                uint64_t seq, const char *slot)
{
    size_t mark = out->size;
    char number [24];
    switch (kind) {
        case S_RPL_ARG:
            return ff_buf_append (out, arg->text, arg->len);
        case S_RPL_NOEXT:
            if (ff_buf_append (out, arg->text, arg->len))
                return -1;
            s_strip_extension (out, mark);
            return 0;
        case S_RPL_BASE:
            return s_append_basename (out, arg->text, arg->len);
        case S_RPL_DIR:
            return s_append_dirname (out, arg->text, arg->len);
        case S_RPL_BASE_NOEXT:
            if (s_append_basename (out, arg->text, arg->len))
                return -1;
            s_strip_extension (out, mark);
            return 0;
        case S_RPL_SEQ:
            snprintf (number, sizeof (number), "%" PRIu64, seq + 1);
            return ff_buf_puts (out, number);
        case S_RPL_SLOT:
            return ff_buf_puts (out, slot);
    }
    return -1;
}

/* parallel's shell_quote_scalar_default, on len bytes of text. */
static int
s_quote (ff_buf_t *out, const char *text, size_t len)
{
    static const char safe [] =
        "-_.+/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t index, mark = out->size;
    if (len == 0)
        return ff_buf_puts (out, "''");
    for (index = 0; index < len; index++)
        if (!text [index] || !strchr (safe, text [index]))
            break;
    if (index == len)
        return ff_buf_append (out, text, len);

    /* s/'/'"'"'/g; $_ = "'$_'"; s/^''//; s/''$//; */
    if (ff_buf_puts (out, "'"))
        return -1;
    for (index = 0; index < len; index++) {
        int rc = text [index] == '\''
               ? ff_buf_puts (out, "'\"'\"'")
               : ff_buf_append (out, text + index, 1);
        if (rc)
            return -1;
    }
    if (ff_buf_puts (out, "'"))
        return -1;
    if (memcmp (out->data + mark, "''", 2) == 0) {
        memmove (out->data + mark, out->data + mark + 2, out->size - mark - 2);
        out->size -= 2;
    }
    if (out->size - mark >= 2 && memcmp (out->data + out->size - 2, "''", 2) == 0)
        out->size -= 2;
    return 0;
}

int
ff_exec_quote (ff_buf_t *out, const char *text)
{
    assert (out && text);
    return s_quote (out, text, strlen (text));
}

/* Appends value (quoted when quote) to out. */
static int
s_put (ff_buf_t *out, const ff_buf_t *value, int quote)
{
    return quote? s_quote (out, (const char *) value->data, value->size)
                : ff_buf_append (out, value->data, value->size);
}

/* Appends what replacement string rpl gives for args: a positional one
   the value of its argument, or nothing when there is none (not even
   ''); {#} and {%} their value once; any other one the value of argument
   only, or when only is -1 of each argument, space-separated, each quoted
   apart. */
static int
s_append_rpl (ff_buf_t *out, const s_rpl_t *rpl, const ff_exec_arg_t *args,
              size_t nargs, int64_t only, uint64_t seq, const char *slot,
              int quote, ff_buf_t *value)
{
    size_t index;
    if (rpl->positional) {
        /* perl: $argref->[$N > 0 ? $N-1 : $n+$N], a negative index again
           counting from the end */
        int64_t count = (int64_t) nargs, at;
        at = rpl->position > 0? rpl->position - 1: count + rpl->position;
        if (at < 0)
            at += count;
        if (at < 0 || at >= count)
            return 0;
        value->size = 0;
        return s_append_value (value, rpl->kind, &args [at], seq, slot)
            || s_put (out, value, quote);
    }
    if (rpl->kind == S_RPL_SEQ || rpl->kind == S_RPL_SLOT)
        nargs = 1;
    else
    if (only >= 0) {
        args += only;
        nargs = 1;
    }
    for (index = 0; index < nargs; index++) {
        value->size = 0;
        if ((index && ff_buf_puts (out, " "))
        ||  s_append_value (value, rpl->kind, &args [index], seq, slot)
        ||  s_put (out, value, quote))
            return -1;
    }
    return 0;
}

/* What a command line is built from. */
typedef struct {
    const ff_exec_arg_t *args;      /* the arguments */
    size_t nargs;                   /* how many, at least 1 */
    uint64_t seq;                   /* {#} is seq + 1 */
    const char *slot;               /* {%} */
    int quote;                      /* 1: values are quoted */
    ff_buf_t value;                 /* scratch: one value before quoting */
} s_line_t;

/* Appends the template bytes from at to end (end never splits a
   replacement string), replacing each replacement string; a plain one
   gives argument only, or every argument when only is -1. */
static int
s_replace_span (ff_buf_t *out, const char *at, const char *end,
                s_line_t *line, int64_t only)
{
    s_rpl_t rpl;
    while (at < end) {
        const char *brace = memchr (at, '{', (size_t) (end - at));
        if (!brace)
            return ff_buf_append (out, at, (size_t) (end - at));
        if (!s_rpl_at (brace, &rpl)) {
            /* a brace that starts no replacement string stays */
            if (ff_buf_append (out, at, (size_t) (brace + 1 - at)))
                return -1;
            at = brace + 1;
            continue;
        }
        if (ff_buf_append (out, at, (size_t) (brace - at))
        ||  s_append_rpl (out, &rpl, line->args, line->nargs, only,
                          line->seq, line->slot, line->quote, &line->value))
            return -1;
        at = brace + rpl.len;
    }
    return 0;
}

/* parallel's context replace (-N, -X): each word (a run of bytes other
   than space and tab, with the tab before it if any) with a plain
   replacement string ({} {.} ...) is written once for each argument,
   space-separated, with the values of that argument; positional ones,
   {#} and {%} keep their one value. */
static int
s_replace_words (ff_buf_t *out, const char *cmd, s_line_t *line)
{
    const char *at = cmd;
    s_rpl_t rpl;
    while (*at) {
        if (*at == ' ') {
            if (ff_buf_append (out, at++, 1))
                return -1;
            continue;
        }
        /* a tab ends a word and starts the next one (perl pushes it onto
           the next context group) */
        const char *word = at;
        int plain = 0;
        if (*at == '\t')
            at++;
        while (*at && *at != ' ' && *at != '\t') {
            if (*at == '{' && s_rpl_at (at, &rpl)) {
                plain |= !rpl.positional && rpl.kind != S_RPL_SEQ
                      && rpl.kind != S_RPL_SLOT;
                at += rpl.len;
            }
            else
                at++;
        }
        if (!plain) {
            if (s_replace_span (out, word, at, line, -1))
                return -1;
            continue;
        }
        size_t index;
        for (index = 0; index < line->nargs; index++)
            if ((index && ff_buf_puts (out, " "))
            ||  s_replace_span (out, word, at, line, (int64_t) index))
                return -1;
    }
    return 0;
}

int
ff_exec_line (ff_buf_t *out, const char *cmd, const ff_exec_arg_t *args,
              size_t nargs, uint64_t seq, const char *slot, int context)
{
    assert (out && cmd && (args || nargs == 0));
    /* with no argument (--pipe) the values derive from the empty one */
    static const ff_exec_arg_t empty = { "", 0 };
    s_line_t line = { args, nargs, seq, slot? slot: "1", 1, { NULL, 0, 0 } };
    if (nargs == 0) {
        line.args = &empty;
        line.nargs = 1;
    }
    s_rpl_t rpl;
    const char *first = s_first_rpl (cmd, &rpl);
    /* parallel does not quote when a replacement string is (part of) the
       command word: "@command" =~ /^[^ \t\n=]*\257</ */
    line.quote = !first || strcspn (cmd, " \t\n=") < (size_t) (first - cmd);

    int rc = context? s_replace_words (out, cmd, &line)
                    : s_replace_span (out, cmd, cmd + strlen (cmd), &line, -1);
    if (rc == 0 && !first && nargs > 0) {
        /* no replacement string: parallel appends " {}" */
        static const char all [] = "{}";
        rc = ff_buf_puts (out, " ")
          || s_replace_span (out, all, all + 2, &line, -1);
    }
    free (line.value.data);
    return rc;
}

int
ff_exec_expand (ff_buf_t *out, const char *cmd, const char *input,
                uint64_t seq)
{
    assert (out && cmd);
    ff_exec_arg_t arg = { input, input? strlen (input): 0 };
    return ff_exec_line (out, cmd, &arg, input? 1: 0, seq, NULL, 0);
}

const char *
ff_exec_shell_choose (const char *forced, const char *login)
{
    static const char *const known [] = { "bash", "zsh", "ksh", "ksh93", "mksh" };
    size_t index;
    if (forced && *forced)
        return forced;
    if (!login || login [0] != '/')
        return FF_EXEC_DEFAULT_SHELL;
    const char *name = strrchr (login, '/') + 1;
    for (index = 0; index < sizeof (known) / sizeof (known [0]); index++)
        if (strcmp (name, known [index]) == 0)
            return login;
    return FF_EXEC_DEFAULT_SHELL;
}

/* ------------------------------------------------------------- the child */

typedef struct {
    pid_t pid;                      /* the shell, leader of its own group */
    int pidfd;                      /* readable once pid exits, or -1 */
    int in_fd;                      /* our end of its stdin pipe, or -1 */
    int out_fd;                     /* our end of its stdout pipe, or -1 */
    size_t pipe_size;               /* capacity of the stdout pipe */
    int exited;                     /* pid has exited: a zombie until reaped */
} s_child_t;

/* How the poll loop ended. */
typedef enum {
    S_DONE,                         /* the command exited, output drained */
    S_TIMED_OUT,                    /* the timeout passed */
    S_TOO_MUCH,                     /* stdout went past max_output */
    S_NO_MEMORY,                    /* the output buffer could not grow */
    S_POLL_FAILED,                  /* poll failed (errno kept) */
    S_CANCELLED                     /* ff_exec_cancel was called: the job was cancelled */
} s_outcome_t;

/* Set by ff_exec_cancel (another thread: a pool worker's heartbeat
   thread), read by the wait loop at least every S_CANCEL_TICK_MS. */
static int s_cancel = 0;
#define S_CANCEL_TICK_MS 20

void
ff_exec_cancel (int cancel)
{
    __atomic_store_n (&s_cancel, cancel? 1: 0, __ATOMIC_SEQ_CST);
}

int
ff_exec_cancelled (void)
{
    return __atomic_load_n (&s_cancel, __ATOMIC_SEQ_CST);
}

static double
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (double) now.tv_sec * 1e3 + (double) now.tv_nsec / 1e6;
}

static void
s_close (int *fd)
{
    if (*fd >= 0) {
        close (*fd);
        *fd = -1;
    }
}

/* Moves a new pipe end away from 0, 1 and 2 (a worker started with them
   closed gets them from pipe2), so that dup2 onto 0 or 1 in the child
   always makes a copy without FD_CLOEXEC. Returns the fd or -1. */
static int
s_above_stdio (int fd)
{
    if (fd < 0 || fd > 2)
        return fd;
    int moved = fcntl (fd, F_DUPFD_CLOEXEC, 3);
    close (fd);
    return moved;
}

/* Makes a pipe with both ends close-on-exec and above stdio. Returns 0,
   or -1 with errno set and nothing left open. */
static int
s_pipe (int ends [2])
{
    if (pipe2 (ends, O_CLOEXEC))
        return -1;
    ends [0] = s_above_stdio (ends [0]);
    ends [1] = s_above_stdio (ends [1]);
    if (ends [0] < 0 || ends [1] < 0) {
        int saved = errno;
        s_close (&ends [0]);
        s_close (&ends [1]);
        errno = saved;
        return -1;
    }
    return 0;
}

/* Starts shell -c line with environment envp in a new process group, with
   stdout on a pipe and stdin on a pipe (feed) or /dev/null, SIGPIPE at its
   default and no signal blocked. A shell without '/' is looked up in PATH.
   Returns 0, or an errno value with nothing left open. */
static int
s_spawn (s_child_t *child, const char *shell, const char *line, int feed,
         char *const envp [])
{
    int in [2] = { -1, -1 }, out [2] = { -1, -1 };
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t defaults, mask;
    char *argv [] = { (char *) shell, (char *) "-c", (char *) line, NULL };
    int rc;

    if ((feed && s_pipe (in)) || s_pipe (out)) {
        rc = errno;
        s_close (&in [0]);
        s_close (&in [1]);
        return rc;
    }
    sigemptyset (&defaults);
    sigaddset (&defaults, SIGPIPE);
    sigemptyset (&mask);
    rc = posix_spawn_file_actions_init (&actions);
    if (rc == 0) {
        rc = posix_spawnattr_init (&attr);
        if (rc == 0) {
            if (feed)
                rc = posix_spawn_file_actions_adddup2 (&actions, in [0], 0);
            else
                rc = posix_spawn_file_actions_addopen (&actions, 0, "/dev/null",
                                                       O_RDONLY, 0);
            if (rc == 0)
                rc = posix_spawn_file_actions_adddup2 (&actions, out [1], 1);
            if (rc == 0)
                rc = posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETPGROUP
                                               | POSIX_SPAWN_SETSIGDEF
                                               | POSIX_SPAWN_SETSIGMASK);
            if (rc == 0)
                rc = posix_spawnattr_setpgroup (&attr, 0);
            if (rc == 0)
                rc = posix_spawnattr_setsigdefault (&attr, &defaults);
            if (rc == 0)
                rc = posix_spawnattr_setsigmask (&attr, &mask);
            if (rc == 0)
                rc = strchr (shell, '/')
                   ? posix_spawn (&child->pid, shell, &actions, &attr, argv, envp)
                   : posix_spawnp (&child->pid, shell, &actions, &attr, argv, envp);
            posix_spawnattr_destroy (&attr);
        }
        posix_spawn_file_actions_destroy (&actions);
    }
    s_close (&in [0]);
    s_close (&out [1]);
    if (rc) {
        s_close (&in [1]);
        s_close (&out [0]);
        return rc;
    }
    child->in_fd = in [1];
    child->out_fd = out [0];
    if (child->in_fd >= 0)
        fcntl (child->in_fd, F_SETFL, O_NONBLOCK);
    fcntl (child->out_fd, F_SETFL, O_NONBLOCK);
    int capacity = fcntl (child->out_fd, F_GETPIPE_SZ);
    child->pipe_size = capacity > 0? (size_t) capacity: S_CHUNK;
    child->pidfd = -1;
#ifdef SYS_pidfd_open
    /* safe: pid cannot be reused before we reap it. Where the kernel (or
       valgrind) lacks the call, ask once and then tick instead. */
    static int s_no_pidfd;
    if (!__atomic_load_n (&s_no_pidfd, __ATOMIC_RELAXED)) {
        child->pidfd = (int) syscall (SYS_pidfd_open, child->pid, 0);
        if (child->pidfd < 0 && errno == ENOSYS)
            __atomic_store_n (&s_no_pidfd, 1, __ATOMIC_RELAXED);
    }
#endif
    child->exited = 0;
    return 0;
}

/* Returns 1 once the child has exited. It is not reaped, so that its pid
   (and so its process group id) cannot be reused before we kill the group. */
static int
s_has_exited (s_child_t *child)
{
    siginfo_t info;
    if (child->exited)
        return 1;
    while (1) {
        memset (&info, 0, sizeof (info));
        if (waitid (P_PID, (id_t) child->pid, &info,
                    WEXITED | WNOHANG | WNOWAIT) == 0)
            break;
        if (errno != EINTR) {
            /* ECHILD: reaped by someone else (SIGCHLD ignored) */
            child->exited = 1;
            return 1;
        }
    }
    if (info.si_pid == child->pid)
        child->exited = 1;
    return child->exited;
}

/* Waits at most ms for the child to exit. */
static void
s_wait_exit (s_child_t *child, double ms)
{
    double deadline = s_now_ms () + ms;
    while (!s_has_exited (child)) {
        double left = deadline - s_now_ms ();
        if (left <= 0)
            return;
        if (child->pidfd >= 0) {
            struct pollfd ready = { child->pidfd, POLLIN, 0 };
            poll (&ready, 1, (int) ceil (left));  /* EINTR: look again */
        }
        else {
            struct timespec tick = { 0, S_TICK_MS * 1000000L };
            nanosleep (&tick, NULL);
        }
    }
}

/* Stops the command and everything it started in its process group:
   SIGTERM, then SIGKILL once the shell has gone or the grace is over. */
static void
s_kill_group (s_child_t *child)
{
    s_close (&child->in_fd);
    s_close (&child->out_fd);
    kill (-child->pid, SIGTERM);
    s_wait_exit (child, S_KILL_GRACE_MS);
    kill (-child->pid, SIGKILL);
}

/* Reaps the child into *status. Returns 0, or -1 when its status is lost
   (ECHILD). Closes the pidfd. */
static int
s_reap (s_child_t *child, int *status)
{
    int rc;
    while ((rc = waitpid (child->pid, status, 0)) < 0 && errno == EINTR)
        ;
    s_close (&child->pidfd);
    return rc == child->pid? 0: -1;
}

/* Makes room for want more bytes in buf. Returns 0 or -1. */
static int
s_reserve (ff_buf_t *buf, size_t want)
{
    size_t cap = buf->cap? buf->cap: S_CHUNK;
    if (buf->cap - buf->size >= want)
        return 0;
    while (cap - buf->size < want) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    uint8_t *grown = (uint8_t *) realloc (buf->data, cap);
    if (!grown)
        return -1;
    buf->data = grown;
    buf->cap = cap;
    return 0;
}

/* Reads what the command wrote into out (its output starts at start), at
   most limit bytes, until the pipe is empty or at end of file (then the
   pipe is closed). */
static s_outcome_t
s_read (s_child_t *child, ff_buf_t *out, size_t start, size_t max_output,
        size_t limit)
{
    size_t got = 0;
    while (child->out_fd >= 0 && got < limit) {
        size_t kept = out->size - start;
        if (kept > max_output)
            return S_TOO_MUCH;
        if (s_reserve (out, S_CHUNK))
            return S_NO_MEMORY;
        size_t room = out->cap - out->size;
        if (room > max_output - kept + 1)
            room = max_output - kept + 1;   /* one byte more tells */
        if (room > limit - got)
            room = limit - got;
        ssize_t count = read (child->out_fd, out->data + out->size, room);
        if (count > 0) {
            out->size += (size_t) count;
            got += (size_t) count;
        }
        else
        if (count < 0 && errno == EINTR)
            continue;
        else
        if (count < 0 && errno == EAGAIN)
            break;
        else
            s_close (&child->out_fd);       /* end of file, or read error */
    }
    return out->size - start > max_output? S_TOO_MUCH: S_DONE;
}

/* Writes the next chunk of data to the command's stdin; closes it when all
   is written or when the command no longer reads (EPIPE, or any other
   error: the command goes on without the rest). Sets *broken on EPIPE. */
static void
s_feed (s_child_t *child, const uint8_t *data, size_t size, size_t *fed,
        int *broken)
{
    while (child->in_fd >= 0 && *fed < size) {
        size_t chunk = size - *fed < S_CHUNK? size - *fed: S_CHUNK;
        ssize_t count = write (child->in_fd, data + *fed, chunk);
        if (count >= 0) {
            *fed += (size_t) count;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return;
        if (errno == EPIPE)
            *broken = 1;
        s_close (&child->in_fd);
    }
    if (*fed == size)
        s_close (&child->in_fd);
}

/* The one loop: feeds data to stdin and reads stdout into out at the same
   time, until the command has exited and its pipe is drained, the deadline
   (ms on the s_now_ms clock, 0 for none) passes or the output is too big.
   Signals are no reason to stop (EINTR is retried). */
static s_outcome_t
s_communicate (s_child_t *child, const uint8_t *data, size_t size,
               ff_buf_t *out, size_t max_output, double deadline, int *broken)
{
    size_t start = out->size, fed = 0;
    s_outcome_t outcome;
    if (size == 0)
        s_close (&child->in_fd);
    while (1) {
        struct pollfd fds [3];
        nfds_t count = 0;
        int out_at = -1, in_at = -1, pid_at = -1, wait_ms = -1;
        if (child->out_fd >= 0) {
            out_at = (int) count;
            fds [count++] = (struct pollfd) { child->out_fd, POLLIN, 0 };
        }
        if (child->in_fd >= 0) {
            in_at = (int) count;
            fds [count++] = (struct pollfd) { child->in_fd, POLLOUT, 0 };
        }
        if (child->pidfd >= 0) {
            pid_at = (int) count;
            fds [count++] = (struct pollfd) { child->pidfd, POLLIN, 0 };
        }
        if (deadline > 0) {
            double left = deadline - s_now_ms ();
            if (left <= 0)
                return S_TIMED_OUT;
            wait_ms = left > 60000? 60000: (int) ceil (left);
        }
        if (child->pidfd < 0 && (wait_ms < 0 || wait_ms > S_TICK_MS))
            wait_ms = S_TICK_MS;
        if (wait_ms < 0 || wait_ms > S_CANCEL_TICK_MS)
            wait_ms = S_CANCEL_TICK_MS;
        if (ff_exec_cancelled ())
            return S_CANCELLED;
        if (poll (fds, count, wait_ms) < 0) {
            if (errno == EINTR)
                continue;
            return S_POLL_FAILED;
        }
        if (in_at >= 0 && fds [in_at].revents)
            s_feed (child, data, size, &fed, broken);
        if (out_at >= 0 && fds [out_at].revents) {
            outcome = s_read (child, out, start, max_output, child->pipe_size);
            if (outcome != S_DONE)
                return outcome;
        }
        if ((pid_at < 0 || fds [pid_at].revents) && s_has_exited (child)) {
            /* what the shell wrote is in the pipe; whatever it left running
               in the background may hold the pipe open: do not wait for it
               (parallel does not either) */
            s_close (&child->in_fd);
            outcome = s_read (child, out, start, max_output, child->pipe_size);
            s_close (&child->out_fd);
            return outcome;
        }
    }
}

/* ------------------------------------------------------------ the kernel */

/* Appends a one-line message to result->data and returns -1. */
static int
s_fail (ff_result_t *result, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static int
s_fail (ff_result_t *result, const char *format, ...)
{
    char message [256];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof (message), format, args);
    va_end (args);
    ff_buf_puts (&result->data, message);
    return -1;
}

/* Appends one JSON member to result->meta. */
static void
s_meta (ff_result_t *result, const char *key, int value)
{
    char member [64];
    snprintf (member, sizeof (member), "%s\"%s\":%d",
              result->meta.size? ",": "", key, value);
    ff_buf_puts (&result->meta, member);
}

/* The environment of a command: the worker's, with PARALLEL_SEQ and
   PARALLEL_JOBSLOT set to seq_var and slot_var ("NAME=value" strings).
   Returns a new array of borrowed strings (the caller frees the array), or
   NULL when memory runs out. */
static char **
s_environment (char *seq_var, char *slot_var)
{
    size_t count = 0, kept = 0, index;
    while (environ [count])
        count++;
    char **envp = (char **) malloc ((count + 3) * sizeof (char *));
    if (!envp)
        return NULL;
    for (index = 0; index < count; index++)
        if (strncmp (environ [index], "PARALLEL_SEQ=", 13) != 0
        &&  strncmp (environ [index], "PARALLEL_JOBSLOT=", 17) != 0)
            envp [kept++] = environ [index];
    envp [kept++] = seq_var;
    envp [kept++] = slot_var;
    envp [kept] = NULL;
    return envp;
}

/* Splits the payload into arguments: one, or with tuple its NUL-separated
   fields. Returns a new array (the caller frees it) and sets *nargs, or
   NULL when memory runs out. */
static ff_exec_arg_t *
s_arguments (const ff_task_t *task, int tuple, size_t *nargs)
{
    const char *text = task->size? (const char *) task->data: "";
    size_t count = 1, at = 0, index = 0;
    if (tuple)
        for (at = 0; at < task->size; at++)
            count += text [at] == 0;
    ff_exec_arg_t *args = (ff_exec_arg_t *) malloc (count * sizeof (ff_exec_arg_t));
    if (!args)
        return NULL;
    args [0].text = text;
    for (at = 0; tuple && at < task->size; at++)
        if (text [at] == 0) {
            args [index].len = (size_t) (text + at - args [index].text);
            args [++index].text = text + at + 1;
        }
    args [index].len = (size_t) (text + task->size - args [index].text);
    *nargs = count;
    return args;
}

/* Length of the UTF-8 sequence at text (at most len bytes), or 0 when it
   is not one (overlong forms, surrogates and code points past U+10FFFF
   included). */
static size_t
s_utf8_length (const uint8_t *text, size_t len)
{
    size_t need, index;
    uint32_t point;
    if (text [0] < 0x80)
        return 1;
    if (text [0] >= 0xc2 && text [0] <= 0xdf)
        need = 2, point = text [0] & 0x1f;
    else
    if (text [0] >= 0xe0 && text [0] <= 0xef)
        need = 3, point = text [0] & 0x0f;
    else
    if (text [0] >= 0xf0 && text [0] <= 0xf4)
        need = 4, point = text [0] & 0x07;
    else
        return 0;
    if (len < need)
        return 0;
    for (index = 1; index < need; index++) {
        if ((text [index] & 0xc0) != 0x80)
            return 0;
        point = (point << 6) | (text [index] & 0x3f);
    }
    if ((need == 3 && (point < 0x800 || (point >= 0xd800 && point <= 0xdfff)))
    ||  (need == 4 && (point < 0x10000 || point > 0x10ffff)))
        return 0;
    return need;
}

/* Appends ,"command":"LINE" to meta: the line as a JSON string, with
   quotes, backslashes and control characters escaped, and each byte that
   is not part of valid UTF-8 written as the code point of its value
   (\u0080 to \u00ff), so that the member is always valid JSON. Returns 0
   or -1 (out of memory). */
static int
s_meta_command (ff_buf_t *meta, const char *line)
{
    const uint8_t *at = (const uint8_t *) line;
    size_t len = strlen (line);
    char escape [8];
    if (ff_buf_puts (meta, meta->size? ",\"command\":\"": "\"command\":\""))
        return -1;
    while (len) {
        size_t run = s_utf8_length (at, len);
        int rc;
        if (run == 1 && *at != '"' && *at != '\\' && *at >= 0x20 && *at != 0x7f)
            rc = ff_buf_append (meta, at, 1);
        else
        if (run > 1)
            rc = ff_buf_append (meta, at, run);
        else {
            if (*at == '"' || *at == '\\')
                snprintf (escape, sizeof (escape), "\\%c", *at);
            else
                snprintf (escape, sizeof (escape), "\\u%04x", *at);
            rc = ff_buf_puts (meta, escape);
            run = 1;
        }
        if (rc)
            return -1;
        at += run;
        len -= run;
    }
    return ff_buf_puts (meta, "\"");
}

/* Returns 1 when text is a job slot: a decimal number from 1, at most
   9 digits. */
static int
s_is_slot (const char *text)
{
    size_t digits = strspn (text, "0123456789");
    return digits > 0 && digits <= 9 && !text [digits] && atoi (text) > 0;
}

double
ff_exec_cost (const ff_task_t *task)
{
    return (double) task->size;
}

int
ff_exec_run (const ff_task_t *task, ff_result_t *result)
{
    const char *cmd = ff_task_param (task, "cmd", NULL);
    const char *shell = ff_task_param (task, "shell", FF_EXEC_DEFAULT_SHELL);
    const char *timeout_text = ff_task_param (task, "timeout", "0");
    const char *max_text = ff_task_param (task, "max_output", NULL);
    const char *args_text = ff_task_param (task, "args", "one");
    const char *slot = ff_task_param (task, "slot", "1");
    int feed = strcmp (ff_task_param (task, "pipe", "0"), "1") == 0;
    int keep_failed = strcmp (ff_task_param (task, "failed_output", "0"), "1") == 0;
    int tell_command = strcmp (ff_task_param (task, "command", "0"), "1") == 0;
    int tuple = strcmp (args_text, "nul") == 0;
    int context = strcmp (ff_task_param (task, "context", "0"), "1") == 0;
    double timeout, max_output = S_DEFAULT_MAX_OUTPUT;
    size_t start = result->data.size, nargs = 0;
    ff_buf_t line = { NULL, 0, 0 };
    ff_exec_arg_t *args = NULL;
    char seq_var [40], slot_var [40];
    char **envp;
    int rc;

    if (!cmd)
        return s_fail (result, "exec: parameter cmd is missing");
    if (!*shell)
        return s_fail (result, "exec: parameter shell is empty");
    if (ff_parse_number (timeout_text, &timeout) || timeout > 1e9)
        return s_fail (result, "exec: parameter timeout=%.64s is not a "
                       "non-negative number of seconds", timeout_text);
    if (max_text && ff_parse_number (max_text, &max_output))
        return s_fail (result, "exec: parameter max_output=%.64s is not a "
                       "non-negative number of bytes", max_text);
    if (!tuple && strcmp (args_text, "one") != 0)
        return s_fail (result, "exec: parameter args=%.64s is neither one "
                       "nor nul", args_text);
    /* a path is checked here: a failed exec in posix_spawn's child is
       reported only where the C library can (not under valgrind) */
    if (strchr (shell, '/') && access (shell, X_OK) != 0)
        return s_fail (result, "exec: cannot start %.128s: %s", shell,
                       strerror (errno));
    if (!s_is_slot (slot))
        return s_fail (result, "exec: parameter slot=%.64s is not a job slot "
                       "(a number from 1)", slot);
    if (max_output > (double) (SIZE_MAX / 4))
        max_output = (double) (SIZE_MAX / 4);
    if (!feed) {
        if (!tuple && task->size && memchr (task->data, 0, task->size))
            return s_fail (result, "exec: the argument holds a NUL byte, "
                           "which no command line can carry");
        args = s_arguments (task, tuple, &nargs);
        if (!args)
            return s_fail (result, "exec: out of memory");
    }
    rc = ff_exec_line (&line, cmd, args, nargs, task->seq, slot, context);
    free (args);
    snprintf (seq_var, sizeof (seq_var), "PARALLEL_SEQ=%" PRIu64, task->seq + 1);
    snprintf (slot_var, sizeof (slot_var), "PARALLEL_JOBSLOT=%s", slot);
    envp = s_environment (seq_var, slot_var);
    if (rc || !envp || ff_buf_append (&line, "", 1)) {
        free (line.data);
        free (envp);
        return s_fail (result, "exec: out of memory");
    }

    /* a command that stops reading must not kill us with SIGPIPE, whatever
       the host did with it: block it here, and take the one EPIPE raised */
    sigset_t sigpipe, old_mask;
    sigemptyset (&sigpipe);
    sigaddset (&sigpipe, SIGPIPE);
    if (feed)
        pthread_sigmask (SIG_BLOCK, &sigpipe, &old_mask);

    s_child_t child;
    rc = s_spawn (&child, shell, (const char *) line.data, feed, envp);
    ff_buf_t command = { NULL, 0, 0 };
    int told = !tell_command || s_meta_command (&command, (const char *) line.data) == 0;
    free (line.data);
    free (envp);
    if (rc) {
        free (command.data);
        if (feed)
            pthread_sigmask (SIG_SETMASK, &old_mask, NULL);
        return s_fail (result, "exec: cannot start %.128s: %s", shell,
                       strerror (rc));
    }
    int broken = 0, status = 0;
    double deadline = timeout > 0? s_now_ms () + timeout * 1e3: 0;
    s_outcome_t outcome = s_communicate (&child, task->data, feed? task->size: 0,
                                         &result->data, (size_t) max_output,
                                         deadline, &broken);
    int poll_errno = errno;
    if (outcome != S_DONE)
        s_kill_group (&child);
    s_close (&child.in_fd);
    s_close (&child.out_fd);
    int reaped = s_reap (&child, &status) == 0;

    if (feed) {
        struct timespec now = { 0, 0 };
        if (broken && !sigismember (&old_mask, SIGPIPE))
            while (sigtimedwait (&sigpipe, NULL, &now) < 0 && errno == EINTR)
                ;
        pthread_sigmask (SIG_SETMASK, &old_mask, NULL);
    }
    if (reaped && WIFEXITED (status))
        s_meta (result, "exit", WEXITSTATUS (status));
    else
    if (reaped && WIFSIGNALED (status))
        s_meta (result, "signal", WTERMSIG (status));
    if (command.size && result->meta.size)
        ff_buf_puts (&result->meta, ",");
    if (command.size)
        ff_buf_append (&result->meta, command.data, command.size);
    free (command.data);
    if (!told && outcome == S_DONE)
        outcome = S_NO_MEMORY;

    /* the command ran to its end and failed: its own outcome, not a fault */
    int failed = outcome == S_DONE && reaped && status != 0
              && (WIFSIGNALED (status) || WIFEXITED (status));
    if (failed && keep_failed) {
        char message [64];
        if (WIFSIGNALED (status))
            snprintf (message, sizeof (message), "command killed by signal %d",
                      WTERMSIG (status));
        else
            snprintf (message, sizeof (message), "command exited with status %d",
                      WEXITSTATUS (status));
        ff_buf_puts (&result->meta, ",\"failed\":\"");
        ff_buf_puts (&result->meta, message);
        ff_buf_puts (&result->meta, "\"");
        return -1;
    }
    if (outcome != S_DONE || !reaped || status != 0)
        result->data.size = start;          /* the message replaces output */
    switch (outcome) {
        case S_TIMED_OUT:
            return s_fail (result, "command timed out after %g s", timeout);
        case S_TOO_MUCH:
            return s_fail (result, "command output exceeded max_output=%.0f bytes",
                           max_output);
        case S_NO_MEMORY:
            return s_fail (result, "exec: out of memory for the command's output");
        case S_POLL_FAILED:
            return s_fail (result, "exec: poll failed: %s", strerror (poll_errno));
        case S_CANCELLED:
            return s_fail (result, "command cancelled with its job");
        case S_DONE:
            break;
    }
    if (!reaped)
        return s_fail (result, "exec: the command's exit status was lost "
                       "(is SIGCHLD ignored?)");
    if (WIFSIGNALED (status))
        return s_fail (result, "command killed by signal %d", WTERMSIG (status));
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        return s_fail (result, "command exited with status %d",
                       WEXITSTATUS (status));
    return 0;
}

const ff_kernel_t ff_kernel_exec = {
    FF_KERNEL_ABI, 0, "exec", ff_exec_cost, ff_exec_run, NULL
};
