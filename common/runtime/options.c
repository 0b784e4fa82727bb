/*  fanfold's option table and its one parser and validator. Organised as:
    the table, checking one value, the option set (parse, rules between
    options, accessors), and forwarding options to a stage's command line. */

#include "fanfold/runtime/options.h"
#include "fanfold/runtime/codec.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/topology.h"

#include <assert.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -p pairs a user may give: the job's parameters also carry retries,
   timeout, one per --plugin, and what the launcher sets for exec (cmd,
   pipe, shell, args, failed_output, command, retries). */
#define S_MAX_USER_PARAMS (FF_MAX_PARAMS - FF_MAX_PLUGINS - 10)
_Static_assert (S_MAX_USER_PARAMS > 0, "room for -p parameters");

#define S_MAX_ARG_FILES 16          /* -a given at most this often */
#define S_MAX_GIVEN 160             /* option values on one command line */
_Static_assert (S_MAX_GIVEN > S_MAX_USER_PARAMS + FF_MAX_PLUGINS + S_MAX_ARG_FILES
                              + FF_OPT_COUNT,
                "every option once and every list full fit");

#define S_WORD_MAX 80               /* --job-id, --signature */

#define RUN FF_CMD_RUN
#define WORKER FF_CMD_WORKER
#define CLEAN FF_CMD_CLEAN
#define VENT FF_CMD_VENTILATOR
#define SINK FF_CMD_SINK
#define SERVER FF_CMD_SERVER
#define STATUS FF_CMD_STATUS
#define SUBMIT FF_CMD_SUBMIT
#define ALL (RUN | WORKER | CLEAN | VENT | SINK | SERVER | STATUS | SUBMIT)

/* -------------------------------------------------------------- the table */

static const ff_option_t s_table [FF_OPT_COUNT] = {
    [FF_OPT_TOPOLOGY]  = { "topology", 't', FF_TYPE_PATH, 0, 0, NULL, 1,
                           RUN | WORKER | CLEAN | VENT | SINK | SERVER | STATUS, "TOPOLOGY",
                           "topology file (default: a private ipc one)" },
    [FF_OPT_WORKERS]   = { "workers", 'w', FF_TYPE_COUNT, 0, FF_MAX_WORKERS, NULL, 1,
                           RUN | SERVER, "N", "local workers (default: the cores; 0: added by hand)" },
    [FF_OPT_OUTPUT]    = { "output", 'o', FF_TYPE_PATH, 0, 0, NULL, 1,
                           RUN | SINK, "FILE", "write results to FILE (default stdout)" },
    [FF_OPT_FORMAT]    = { "format", 0, FF_TYPE_ENUM, 0, 0, "raw|jsonl", 1,
                           RUN | SINK | STATUS, "raw|jsonl", "result bytes, or one JSON object per task" },
    [FF_OPT_KERNEL]    = { "kernel", 'K', FF_TYPE_TEXT, 0, 0, NULL, 1,
                           RUN | VENT, "KERNEL[,KERNEL...]", "kernels run on every input (default noop)" },
    [FF_OPT_KEEP_ORDER] = { "keep-order", 'k', FF_TYPE_FLAG, 0, 0, NULL, 1,
                           RUN, NULL, "accepted: output is always in input order" },
    [FF_OPT_JOBS]      = { "jobs", 'j', FF_TYPE_TEXT, 0, 0, NULL, 1,
                           RUN, "N|N%|+N|-N|0", "workers as parallel's -j reads it (0: one per task)" },
    [FF_OPT_PARAM]     = { "param", 'p', FF_TYPE_PAIR, 0, 0, NULL, S_MAX_USER_PARAMS,
                           RUN | VENT, "KEY=VALUE", "a kernel parameter (repeatable)" },
    [FF_OPT_EXEC]      = { "exec", 0, FF_TYPE_TEXT, 0, 0, NULL, 1,
                           RUN, "CMD", "the exec kernel runs CMD through the shell" },
    [FF_OPT_PIPE]      = { "pipe", 0, FF_TYPE_FLAG, 0, 0, NULL, 1,
                           RUN | VENT, NULL, "records from stdin (or --input), cut into blocks" },
    [FF_OPT_LINES]     = { "lines", 0, FF_TYPE_COUNT, 1, FF_MAX_BLOCK, NULL, 1,
                           RUN | VENT, "N", "--pipe: N lines per task" },
    [FF_OPT_BLOCK]     = { "block", 0, FF_TYPE_SIZE, 1, FF_MAX_BLOCK, NULL, 1,
                           RUN | VENT, "SIZE", "--pipe: about SIZE bytes of whole lines per task (default 1M)" },
    [FF_OPT_MAX_BLOCK] = { "max-block", 0, FF_TYPE_SIZE, 1, FF_MAX_BLOCK, NULL, 1,
                           RUN | VENT, "SIZE", "the longest block (default 256M)" },
    [FF_OPT_INPUT]     = { "input", 0, FF_TYPE_PATH, 0, 0, NULL, 1,
                           RUN | VENT, "FILE", "--pipe: read records from FILE" },
    [FF_OPT_MAX_ARGS]  = { "max-args", 'N', FF_TYPE_COUNT, 1, FF_MAX_BLOCK, NULL, 1,
                           RUN, "N", "--pipe: N lines per task (as --lines)" },
    [FF_OPT_NULL]      = { "null", '0', FF_TYPE_FLAG, 0, 0, NULL, 1,
                           RUN | VENT, NULL, "argument records end at NUL, not newline" },
    [FF_OPT_ARG_FILE]  = { "arg-file", 'a', FF_TYPE_PATH, 0, 0, NULL, S_MAX_ARG_FILES,
                           RUN, "FILE", "arguments from FILE, one per line (as :::: FILE)" },
    [FF_OPT_LINK]      = { "link", 0, FF_TYPE_FLAG, 0, 0, NULL, 1,
                           RUN | VENT, NULL, "the i-th argument of each source, not the product" },
    [FF_OPT_COLSEP]    = { "colsep", 0, FF_TYPE_TEXT, 0, 0, NULL, 1,
                           RUN | VENT, "REGEX", "split each argument record into {1} {2} ..." },
    [FF_OPT_SHELL]     = { "shell", 0, FF_TYPE_PATH, 0, 0, NULL, 1,
                           RUN, "PATH", "commands run under PATH (default $SHELL or /bin/sh)" },
    [FF_OPT_DRY_RUN]   = { "dry-run", 0, FF_TYPE_FLAG, 0, 0, NULL, 1,
                           RUN, NULL, "print each command line, run nothing" },
    [FF_OPT_CHUNK]     = { "chunk", 0, FF_TYPE_SIZE, 1, FF_MAX_CHUNK, NULL, 1,
                           RUN | VENT, "SIZE", "arrays: SIZE bytes per task" },
    [FF_OPT_PLUGIN]    = { "plugin", 0, FF_TYPE_PATH, 0, 0, NULL, FF_MAX_PLUGINS,
                           RUN | VENT | SINK, "LIB.so", "load more kernels (repeatable)" },
    [FF_OPT_TIMEOUT]   = { "timeout", 0, FF_TYPE_SECONDS, 0, FF_MAX_TIMEOUT_S, NULL, 1,
                           RUN | VENT, "SECONDS", "a task running longer is sent again (0: no limit)" },
    [FF_OPT_RETRIES]   = { "retries", 0, FF_TYPE_COUNT, 1, FF_MAX_RETRIES, NULL, 1,
                           RUN | VENT, "N", "runs of a failing task before its error record (default 3)" },
    [FF_OPT_JOBLOG]    = { "joblog", 0, FF_TYPE_PATH, 0, 0, NULL, 1,
                           RUN | SINK, "FILE", "one TSV line per task" },
    [FF_OPT_RESUME]    = { "resume", 0, FF_TYPE_FLAG, 0, 0, NULL, 1,
                           RUN | SINK, NULL, "complete the output of a job that died" },
    [FF_OPT_INTAKE]    = { "intake", 0, FF_TYPE_ENDPOINT, 0, 0, NULL, 1,
                           RUN | VENT, "ENDPOINT", "take records from a bound PULL socket" },
    [FF_OPT_EMIT]      = { "emit", 0, FF_TYPE_ENDPOINT, 0, 0, NULL, 1,
                           RUN | SINK, "ENDPOINT", "send results in order on a bound PUSH socket" },
    [FF_OPT_SERIAL]    = { "serial", 0, FF_TYPE_FLAG, 0, 0, NULL, 1,
                           RUN, NULL, "run every task in this process (--mode serial)" },
    [FF_OPT_MODE]      = { "mode", 0, FF_TYPE_ENUM, 0, 0, "auto|serial|parallel", 1,
                           RUN, "auto|serial|parallel", "serial for jobs smaller than starting the stages" },
    [FF_OPT_DISPATCH]  = { "dispatch", 0, FF_TYPE_ENUM, 0, 0, "heavy|fifo", 1,
                           RUN, "heavy|fifo", "heavier tasks first, or in input order" },
    [FF_OPT_FIFO]      = { "fifo", 0, FF_TYPE_FLAG, 0, 0, NULL, 1,
                           VENT, NULL, "dispatch in input order" },
    [FF_OPT_INSECURE]  = { "insecure", 0, FF_TYPE_FLAG, 0, 0, NULL, 1,
                           RUN | VENT | SINK | SERVER, NULL, "bind tcp without CURVE keys" },
    [FF_OPT_PROGRESS]  = { "progress", 0, FF_TYPE_FLAG, 0, 0, NULL, 1,
                           RUN | SINK, NULL, "progress on stderr" },
    [FF_OPT_NO_SHM]    = { "no-shm", 0, FF_TYPE_FLAG, 0, 0, NULL, 1,
                           WORKER, NULL, "fetch array bytes instead of mapping shared memory" },
    [FF_OPT_JOB_ID]    = { "job-id", 0, FF_TYPE_WORD, 0, 0, NULL, 1,
                           VENT, "ID", "the job's id (default: a random one)" },
    [FF_OPT_SIGNATURE] = { "signature", 0, FF_TYPE_WORD, 0, 0, NULL, 1,
                           SINK, "WORD", "what --resume compares with the state file" },
    [FF_OPT_HOSTS]     = { "hosts", 0, FF_TYPE_TEXT, 0, 0, NULL, 1,
                           RUN, "SPEC", "workers over ssh: host, N/host, user@host, : (here), comma-separated" },
    [FF_OPT_HOSTS_FILE] = { "hosts-file", 0, FF_TYPE_PATH, 0, 0, NULL, 1,
                           RUN, "FILE", "the --hosts entries, one per line" },
    [FF_OPT_SLURM]     = { "slurm", 0, FF_TYPE_FLAG, 0, 0, NULL, 1,
                           RUN, NULL, "workers on every node of this Slurm allocation (srun)" },
    [FF_OPT_REMOTE_BIN] = { "remote-bin", 0, FF_TYPE_PATH, 0, 0, NULL, 1,
                           RUN, "PATH", "fanfold on the other hosts (default: fanfold on their PATH)" },
    [FF_OPT_SHARE]     = { "share", 0, FF_TYPE_COUNT, 1, FF_MAX_SHARE, NULL, 1,
                           SUBMIT, "N", "the job's weight among the pool's jobs (default 1)" },
    [FF_OPT_VERBOSE]   = { "verbose", 'v', FF_TYPE_FLAG, 0, 0, NULL, 1,
                           RUN | WORKER | VENT | SINK | SERVER | STATUS, NULL, "say more on stderr" },
    [FF_OPT_HELP]      = { "help", 'h', FF_TYPE_FLAG, 0, 0, NULL, 1,
                           ALL, NULL, "this help" }
};

const ff_option_t *
ff_option_describe (ff_opt_t id)
{
    assert (id < FF_OPT_COUNT);
    return &s_table [id];
}

ff_opt_t
ff_option_find (const char *name)
{
    int id;
    for (id = 0; id < FF_OPT_COUNT; id++)
        if (strcmp (s_table [id].name, name) == 0)
            return (ff_opt_t) id;
    return FF_OPT_COUNT;
}

/* --------------------------------------------------------- one value */

/* Writes choices "a|b|c" as "a, b or c". */
static void
s_choices (const char *choices, char *out, size_t size)
{
    size_t len = 0, words = 1, word = 0;
    const char *at;
    for (at = choices; *at; at++)
        words += *at == '|';
    out [0] = 0;
    for (at = choices; *at && len + 6 < size; at++) {
        if (*at == '|') {
            word++;
            len += (size_t) snprintf (out + len, size - len, word + 1 == words? " or ": ", ");
        }
        else {
            out [len++] = *at;
            out [len] = 0;
        }
    }
}

/* The index of text among choices, or -1. */
static int
s_choice (const char *choices, const char *text)
{
    size_t len = strlen (text);
    int index = 0;
    const char *at = choices;
    while (1) {
        const char *end = strchr (at, '|');
        size_t word = end? (size_t) (end - at): strlen (at);
        if (word == len && strncmp (at, text, len) == 0)
            return index;
        if (!end)
            return -1;
        at = end + 1;
        index++;
    }
}

/* Writes a size as the shortest of its K, M, G forms. */
static void
s_size_text (double value, char *out, size_t size)
{
    long bytes = (long) value;
    if (bytes >= 1L << 30 && bytes % (1L << 30) == 0)
        snprintf (out, size, "%ldG", bytes >> 30);
    else
    if (bytes >= 1L << 20 && bytes % (1L << 20) == 0)
        snprintf (out, size, "%ldM", bytes >> 20);
    else
    if (bytes >= 1L << 10 && bytes % (1L << 10) == 0)
        snprintf (out, size, "%ldK", bytes >> 10);
    else
        snprintf (out, size, "%ld", bytes);
}

int
ff_option_check (ff_opt_t id, const char *text, double *number, char *error, size_t error_size)
{
    const ff_option_t *option = ff_option_describe (id);
    char low [32], high [32];
    *number = 0;
    if (option->type == FF_TYPE_FLAG)
        return 0;
    if (!text || !*text) {
        snprintf (error, error_size, "--%s: expected %s, not an empty value", option->name,
                  option->meta);
        return -1;
    }
    switch (option->type) {
        case FF_TYPE_SIZE:
        case FF_TYPE_COUNT: {
            long value;
            if (ff_parse_size (text, &value) == 0 && value >= option->min && value <= option->max) {
                *number = (double) value;
                return 0;
            }
            if (option->type == FF_TYPE_SIZE) {
                s_size_text (option->min, low, sizeof (low));
                s_size_text (option->max, high, sizeof (high));
                snprintf (error, error_size, "--%s %s: expected a size from %s to %s, such as 4M",
                          option->name, text, low, high);
            }
            else
                snprintf (error, error_size, "--%s %s: expected a count from %.0f to %.0f",
                          option->name, text, option->min, option->max);
            return -1;
        }
        case FF_TYPE_SECONDS: {
            char *end;
            double value = strtod (text, &end);
            if (*end == 0 && end != text && value >= option->min && value <= option->max) {
                *number = value;
                return 0;
            }
            snprintf (error, error_size, "--%s %s: expected seconds from %g to %g",
                      option->name, text, option->min, option->max);
            return -1;
        }
        case FF_TYPE_ENDPOINT: {
            const char *sep = strstr (text, "://");
            if (sep && sep [3]
            &&  (strncmp (text, "tcp://", 6) == 0 || strncmp (text, "ipc://", 6) == 0
                 || strncmp (text, "inproc://", 9) == 0))
                return 0;
            snprintf (error, error_size, "--%s %s: expected an endpoint such as tcp://*:5560 "
                      "or ipc:///path", option->name, text);
            return -1;
        }
        case FF_TYPE_ENUM: {
            int index = s_choice (option->choices, text);
            if (index >= 0) {
                *number = index;
                return 0;
            }
            s_choices (option->choices, low, sizeof (low));
            snprintf (error, error_size, "--%s %s: expected %s", option->name, text, low);
            return -1;
        }
        case FF_TYPE_PAIR:
            if (strchr (text, '=') && *text != '=')
                return 0;
            snprintf (error, error_size, "-%c %s: expected KEY=VALUE", option->short_name, text);
            return -1;
        case FF_TYPE_WORD:
            if (strlen (text) < S_WORD_MAX && !strpbrk (text, " \t\n"))
                return 0;
            snprintf (error, error_size, "--%s must be one word under %d bytes", option->name,
                      S_WORD_MAX);
            return -1;
        case FF_TYPE_PATH:
        case FF_TYPE_TEXT:
        case FF_TYPE_FLAG:
            return 0;
    }
    return 0;
}

/* -------------------------------------------------------- the option set */

/* One value given on the command line (or set since). */
typedef struct {
    ff_opt_t id;                    /* which option */
    const char *text;               /* the value as given, NULL for a flag */
    double number;                  /* its checked value: size, count, seconds, choice */
} s_given_t;

struct ff_options {
    ff_command_t command;           /* which command parses */
    s_given_t given [S_MAX_GIVEN];  /* the values, in the order given */
    size_t ngiven;                  /* how many */
    char *owned [S_MAX_GIVEN];      /* copies made by ff_options_set */
    size_t nowned;                  /* how many */
    char **words;                   /* the command's trailing words, in the caller's argv */
    int nwords;                     /* how many */
    char **inputs;                  /* positional arguments, in the caller's argv */
    int ninputs;                    /* how many */
    char dashed [FF_OPT_COUNT][24]; /* "--name" of each option, for forwarding */
};

ff_options_t *
ff_options_new (ff_command_t command)
{
    ff_options_t *self = (ff_options_t *) calloc (1, sizeof (ff_options_t));
    int id;
    if (!self)
        return NULL;
    self->command = command;
    for (id = 0; id < FF_OPT_COUNT; id++) {
        int len = snprintf (self->dashed [id], sizeof (self->dashed [id]), "--%s", s_table [id].name);
        assert (len < (int) sizeof (self->dashed [id]));
        (void) len;
    }
    return self;
}

void
ff_options_destroy (ff_options_t **self_p)
{
    if (self_p && *self_p) {
        ff_options_t *self = *self_p;
        size_t index;
        for (index = 0; index < self->nowned; index++)
            free (self->owned [index]);
        free (self);
        *self_p = NULL;
    }
}

/* Records a checked value of id: a single option's new value replaces the
   old one (the last given wins), a list's is appended up to its limit. */
static int
s_add (ff_options_t *self, ff_opt_t id, const char *text, char *error, size_t error_size)
{
    const ff_option_t *option = ff_option_describe (id);
    double number;
    if (ff_option_check (id, text, &number, error, error_size))
        return -1;
    if (option->max_given == 1) {
        size_t index;
        for (index = 0; index < self->ngiven; index++)
            if (self->given [index].id == id) {
                self->given [index].text = text;
                self->given [index].number = number;
                return 0;
            }
    }
    else
    if (ff_options_given (self, id) >= option->max_given) {
        snprintf (error, error_size, "--%s: given more than %d times", option->name,
                  option->max_given);
        return -1;
    }
    assert (self->ngiven < S_MAX_GIVEN);    /* S_MAX_GIVEN holds every list full */
    self->given [self->ngiven].id = id;
    self->given [self->ngiven].text = text;
    self->given [self->ngiven].number = number;
    self->ngiven++;
    return 0;
}

ff_options_status_t
ff_options_parse (ff_options_t *self, int argc, char *argv [], char *error, size_t error_size)
{
    struct option longs [FF_OPT_COUNT + 1];
    char shorts [2 * FF_OPT_COUNT + 3] = "+:";
    size_t nlongs = 0, nshorts = 2;
    int id, opt;
    assert (self);
    for (id = 0; id < FF_OPT_COUNT; id++) {
        const ff_option_t *option = &s_table [id];
        if (!(option->commands & self->command))
            continue;
        longs [nlongs].name = option->name;
        longs [nlongs].has_arg = option->type == FF_TYPE_FLAG? no_argument: required_argument;
        longs [nlongs].flag = NULL;
        longs [nlongs].val = 256 + id;
        nlongs++;
        if (option->short_name) {
            shorts [nshorts++] = option->short_name;
            if (option->type != FF_TYPE_FLAG)
                shorts [nshorts++] = ':';
        }
    }
    memset (&longs [nlongs], 0, sizeof (longs [nlongs]));
    shorts [nshorts] = 0;
    opterr = 0;
    optind = 0;                     /* glibc: start afresh on this argv */
    while ((opt = getopt_long (argc, argv, shorts, longs, NULL)) != -1) {
        if (opt == '?' || opt == ':') {
            const char *word = argv [optind - 1];
            if (opt == '?' && optopt && optopt < 256 && strncmp (word, "--", 2) != 0)
                snprintf (error, error_size, "unknown option '-%c'", optopt);
            else
            if (opt == '?')
                snprintf (error, error_size, "unknown option '%s'", word);
            else {
                ff_opt_t which = FF_OPT_COUNT;
                if (optopt >= 256)
                    which = (ff_opt_t) (optopt - 256);
                else
                for (id = 0; id < FF_OPT_COUNT; id++)
                    if (s_table [id].short_name == optopt && (s_table [id].commands & self->command))
                        which = (ff_opt_t) id;
                if (which < FF_OPT_COUNT)
                    snprintf (error, error_size, "--%s: missing value (%s)",
                              s_table [which].name, s_table [which].meta);
                else
                    snprintf (error, error_size, "'%s': missing value", word);
            }
            return FF_OPTIONS_ERROR;
        }
        if (opt < 256) {
            for (id = 0; id < FF_OPT_COUNT; id++)
                if (s_table [id].short_name == opt && (s_table [id].commands & self->command))
                    break;
        }
        else
            id = opt - 256;
        assert (id < FF_OPT_COUNT);
        if (id == FF_OPT_HELP)
            return FF_OPTIONS_HELP;
        if (s_add (self, (ff_opt_t) id, optarg, error, error_size))
            return FF_OPTIONS_ERROR;
    }
    self->inputs = argv + optind;
    self->ninputs = argc - optind;
    if ((self->command & FF_CMD_RUN) && !ff_options_given (self, FF_OPT_EXEC)
    &&  !ff_options_given (self, FF_OPT_KERNEL)) {
        /* the command as trailing words, up to the first source marker */
        self->words = self->inputs;
        while (self->nwords < self->ninputs && !ff_options_is_marker (self->words [self->nwords]))
            self->nwords++;
        self->inputs += self->nwords;
        self->ninputs -= self->nwords;
    }
    return ff_options_validate (self, error, error_size)? FF_OPTIONS_ERROR: FF_OPTIONS_OK;
}

int
ff_options_set (ff_options_t *self, ff_opt_t id, const char *text, char *error, size_t error_size)
{
    char *copy = NULL;
    assert (self && id < FF_OPT_COUNT);
    if (text) {
        if (self->nowned == S_MAX_GIVEN) {
            snprintf (error, error_size, "--%s: too many values", s_table [id].name);
            return -1;
        }
        copy = strdup (text);
        if (!copy) {
            snprintf (error, error_size, "out of memory");
            return -1;
        }
        self->owned [self->nowned++] = copy;
    }
    return s_add (self, id, copy, error, error_size);
}

void
ff_options_clear (ff_options_t *self, ff_opt_t id)
{
    size_t index, kept = 0;
    assert (self);
    for (index = 0; index < self->ngiven; index++)
        if (self->given [index].id != id)
            self->given [kept++] = self->given [index];
    self->ngiven = kept;
}

/* The value of id as written on the command line, for messages. */
static const char *
s_text (const ff_options_t *self, ff_opt_t id)
{
    return ff_options_text (self, id, "");
}

int
ff_options_validate (ff_options_t *self, char *error, size_t error_size)
{
    int lines = ff_options_given (self, FF_OPT_LINES), block = ff_options_given (self, FF_OPT_BLOCK);
    int pipe = ff_options_given (self, FF_OPT_PIPE);
    int serial = ff_options_given (self, FF_OPT_SERIAL)
              || strcmp (ff_options_text (self, FF_OPT_MODE, ""), "serial") == 0;
    const char *kernels = ff_options_text (self, FF_OPT_KERNEL, NULL);
    if (lines && block) {
        snprintf (error, error_size, "--lines and --block cannot be combined");
        return -1;
    }
    if (block && ff_options_given (self, FF_OPT_MAX_BLOCK)
    &&  ff_options_long (self, FF_OPT_BLOCK, 0) > ff_options_long (self, FF_OPT_MAX_BLOCK, 0)) {
        snprintf (error, error_size, "--block %s is larger than --max-block %s",
                  s_text (self, FF_OPT_BLOCK), s_text (self, FF_OPT_MAX_BLOCK));
        return -1;
    }
    if ((lines || block || ff_options_given (self, FF_OPT_INPUT)) && !pipe) {
        snprintf (error, error_size, "--lines, --block and --input go with --pipe");
        return -1;
    }
    if (ff_options_given (self, FF_OPT_RESUME) && !ff_options_given (self, FF_OPT_OUTPUT)) {
        snprintf (error, error_size, "--resume needs -o FILE");
        return -1;
    }
    if (serial) {
        static const ff_opt_t parallel_only [] = {
            FF_OPT_RESUME, FF_OPT_JOBLOG, FF_OPT_INTAKE, FF_OPT_EMIT
        };
        size_t index;
        for (index = 0; index < sizeof (parallel_only) / sizeof (parallel_only [0]); index++)
            if (ff_options_given (self, parallel_only [index])) {
                snprintf (error, error_size, "--%s is an option of the parallel mode: not with "
                          "--serial", s_table [parallel_only [index]].name);
                return -1;
            }
    }
    if (ff_options_given (self, FF_OPT_INTAKE) && (pipe || self->ninputs > 0)) {
        snprintf (error, error_size, "--intake takes the records: no --pipe, no INPUT");
        return -1;
    }
    if (pipe && (self->ninputs > 0 || ff_options_given (self, FF_OPT_ARG_FILE))) {
        snprintf (error, error_size, "--pipe reads records from stdin (or --input), "
                  "not INPUT arguments");
        return -1;
    }
    if (ff_options_given (self, FF_OPT_MAX_ARGS) && !pipe) {
        snprintf (error, error_size, "-N N goes with --pipe here (N lines per task); "
                  "several arguments per command are not supported");
        return -1;
    }
    if (ff_options_given (self, FF_OPT_MAX_ARGS) && lines) {
        snprintf (error, error_size, "-N and --lines cannot be combined");
        return -1;
    }
    if ((self->command & FF_CMD_RUN) && !ff_options_given (self, FF_OPT_EXEC)
    &&  kernels && strstr (kernels, "exec")) {
        snprintf (error, error_size, "the exec kernel needs --exec CMD");
        return -1;
    }
    if ((self->command & (FF_CMD_VENTILATOR | FF_CMD_SINK))
    &&  !ff_options_given (self, FF_OPT_TOPOLOGY)) {
        snprintf (error, error_size, "-t TOPOLOGY is required");
        return -1;
    }
    if ((self->command & (FF_CMD_WORKER | FF_CMD_CLEAN | FF_CMD_SINK | FF_CMD_SERVER
                          | FF_CMD_STATUS)) && self->ninputs > 0) {
        snprintf (error, error_size, "unexpected argument '%s'", self->inputs [0]);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------- accessors */

int
ff_options_given (const ff_options_t *self, ff_opt_t id)
{
    size_t index;
    int count = 0;
    assert (self);
    for (index = 0; index < self->ngiven; index++)
        count += self->given [index].id == id;
    return count;
}

/* The last value given for id, or NULL. */
static const s_given_t *
s_last (const ff_options_t *self, ff_opt_t id)
{
    size_t index = self->ngiven;
    while (index-- > 0)
        if (self->given [index].id == id)
            return &self->given [index];
    return NULL;
}

const char *
ff_options_text (const ff_options_t *self, ff_opt_t id, const char *fallback)
{
    const s_given_t *given = s_last (self, id);
    return given && given->text? given->text: fallback;
}

long
ff_options_long (const ff_options_t *self, ff_opt_t id, long fallback)
{
    const s_given_t *given = s_last (self, id);
    return given? (long) given->number: fallback;
}

double
ff_options_seconds (const ff_options_t *self, ff_opt_t id, double fallback)
{
    const s_given_t *given = s_last (self, id);
    return given? given->number: fallback;
}

const char *
ff_options_nth (const ff_options_t *self, ff_opt_t id, int nth)
{
    size_t index;
    for (index = 0; index < self->ngiven; index++)
        if (self->given [index].id == id && nth-- == 0)
            return self->given [index].text;
    return NULL;
}

int
ff_options_is_marker (const char *word)
{
    return strcmp (word, ":::") == 0 || strcmp (word, "::::") == 0
        || strcmp (word, ":::+") == 0 || strcmp (word, "::::+") == 0;
}

char **
ff_options_command (const ff_options_t *self, int *count)
{
    *count = self->nwords;
    return self->words;
}

char **
ff_options_inputs (const ff_options_t *self, int *count)
{
    *count = self->ninputs;
    return self->inputs;
}

/* ------------------------------------------------------------ forwarding */

int
ff_options_forward (const ff_options_t *self, ff_command_t command, char **argv, int *argc,
                    int max)
{
    int id;
    for (id = 0; id < FF_OPT_COUNT; id++) {
        const ff_option_t *option = &s_table [id];
        size_t index;
        if (!(option->commands & command) || id == FF_OPT_HELP)
            continue;
        for (index = 0; index < self->ngiven; index++) {
            const s_given_t *given = &self->given [index];
            if (given->id != (ff_opt_t) id)
                continue;
            if (*argc + 3 > max)
                return -1;
            argv [(*argc)++] = (char *) self->dashed [id];
            if (given->text)
                argv [(*argc)++] = (char *) given->text;
            argv [*argc] = NULL;
        }
    }
    return 0;
}

void
ff_options_usage (ff_command_t command, FILE *stream)
{
    int id;
    for (id = 0; id < FF_OPT_COUNT; id++) {
        const ff_option_t *option = &s_table [id];
        char left [64];
        if (!(option->commands & command))
            continue;
        if (option->short_name)
            snprintf (left, sizeof (left), "-%c, --%s%s%s", option->short_name, option->name,
                      option->meta? " ": "", option->meta? option->meta: "");
        else
            snprintf (left, sizeof (left), "    --%s%s%s", option->name,
                      option->meta? " ": "", option->meta? option->meta: "");
        fprintf (stream, "  %-34s %s\n", left, option->help);
    }
}
