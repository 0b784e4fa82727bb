/*  fanfold's command-line options: every option of every executable is
    described once, in one table (options.c), and parsed and validated by
    one function, so that the launcher and the stages never disagree about
    a value. An option belongs to the commands named in its `commands` mask;
    a command refuses an option that is not its own. */

#ifndef FANFOLD_OPTIONS_H
#define FANFOLD_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

/* The commands that parse options: `fanfold run`, `fanfold worker` (and
   fanfold-worker), `fanfold clean`, and the two other stages. One bit each. */
typedef enum {
    FF_CMD_RUN        = 1 << 0,     /* fanfold run */
    FF_CMD_WORKER     = 1 << 1,     /* fanfold worker, fanfold-worker */
    FF_CMD_CLEAN      = 1 << 2,     /* fanfold clean */
    FF_CMD_VENTILATOR = 1 << 3,     /* fanfold-ventilator */
    FF_CMD_SINK       = 1 << 4,     /* fanfold-sink */
    FF_CMD_SERVER     = 1 << 5,     /* fanfold serve, fanfold-server */
    FF_CMD_STATUS     = 1 << 6,     /* fanfold status */
    FF_CMD_SUBMIT     = 1 << 7      /* fanfold submit's own options (the others are run's) */
} ff_command_t;

/* Every option, by name. The order is the table's order. */
typedef enum {
    FF_OPT_TOPOLOGY = 0,            /* -t, --topology PATH */
    FF_OPT_WORKERS,                 /* -w, --workers N */
    FF_OPT_OUTPUT,                  /* -o, --output PATH */
    FF_OPT_FORMAT,                  /* --format raw|jsonl */
    FF_OPT_KERNEL,                  /* -K, --kernel KERNEL[,KERNEL...] */
    FF_OPT_KEEP_ORDER,              /* -k, --keep-order (output is always in order) */
    FF_OPT_JOBS,                    /* -j, --jobs N|N%|+N|-N|0 (parallel's spelling of -w) */
    FF_OPT_PARAM,                   /* -p, --param KEY=VALUE, repeated */
    FF_OPT_EXEC,                    /* --exec CMD */
    FF_OPT_PIPE,                    /* --pipe */
    FF_OPT_LINES,                   /* --lines N */
    FF_OPT_BLOCK,                   /* --block SIZE */
    FF_OPT_MAX_BLOCK,               /* --max-block SIZE */
    FF_OPT_INPUT,                   /* --input PATH */
    FF_OPT_MAX_ARGS,                /* -N, --max-args N (with --pipe: --lines N) */
    FF_OPT_NULL,                    /* -0, --null: argument records end at NUL */
    FF_OPT_ARG_FILE,                /* -a, --arg-file FILE, repeated: a source */
    FF_OPT_LINK,                    /* --link: sources side by side, not their product */
    FF_OPT_COLSEP,                  /* --colsep REGEX: records split into fields */
    FF_OPT_SHELL,                   /* --shell PATH: the shell commands run under */
    FF_OPT_DRY_RUN,                 /* --dry-run: print the command lines, run nothing */
    FF_OPT_CHUNK,                   /* --chunk SIZE */
    FF_OPT_PLUGIN,                  /* --plugin PATH, repeated */
    FF_OPT_TIMEOUT,                 /* --timeout SECONDS (0: none) */
    FF_OPT_RETRIES,                 /* --retries N */
    FF_OPT_JOBLOG,                  /* --joblog PATH */
    FF_OPT_RESUME,                  /* --resume */
    FF_OPT_INTAKE,                  /* --intake ENDPOINT */
    FF_OPT_EMIT,                    /* --emit ENDPOINT */
    FF_OPT_SERIAL,                  /* --serial */
    FF_OPT_MODE,                    /* --mode auto|serial|parallel */
    FF_OPT_DISPATCH,                /* --dispatch heavy|fifo (run) */
    FF_OPT_FIFO,                    /* --fifo (ventilator: --dispatch fifo) */
    FF_OPT_INSECURE,                /* --insecure */
    FF_OPT_PROGRESS,                /* --progress */
    FF_OPT_NO_SHM,                  /* --no-shm */
    FF_OPT_JOB_ID,                  /* --job-id WORD (ventilator) */
    FF_OPT_SIGNATURE,               /* --signature WORD (sink) */
    FF_OPT_HOSTS,                   /* --hosts SPEC (run) */
    FF_OPT_HOSTS_FILE,              /* --hosts-file PATH (run) */
    FF_OPT_SLURM,                   /* --slurm (run) */
    FF_OPT_REMOTE_BIN,              /* --remote-bin PATH (run) */
    FF_OPT_SHARE,                   /* --share N (submit): the job's weight in the pool */
    FF_OPT_VERBOSE,                 /* -v, --verbose */
    FF_OPT_HELP,                    /* -h, --help */
    FF_OPT_COUNT                    /* how many options there are */
} ff_opt_t;

/* What an option's value is, and so how it is checked. */
typedef enum {
    FF_TYPE_FLAG = 0,               /* no value */
    FF_TYPE_SIZE,                   /* bytes, with K, M or G: 4M */
    FF_TYPE_COUNT,                  /* a whole number (K, M, G allowed) */
    FF_TYPE_SECONDS,                /* a decimal number of seconds: 0.5 */
    FF_TYPE_ENDPOINT,               /* tcp://, ipc:// or inproc:// */
    FF_TYPE_PATH,                   /* a file name, not empty */
    FF_TYPE_ENUM,                   /* one of the words in `choices` */
    FF_TYPE_TEXT,                   /* anything not empty (a command, a list) */
    FF_TYPE_PAIR,                   /* KEY=VALUE with a KEY */
    FF_TYPE_WORD                    /* one word, no blanks, under 80 bytes */
} ff_opt_type_t;

/* One option, as the table describes it. Read-only. */
typedef struct {
    const char *name;               /* long name, without the dashes */
    char short_name;                /* -x, or 0 */
    ff_opt_type_t type;             /* its value's type */
    double min;                     /* size, count, seconds: least value */
    double max;                     /* size, count, seconds: greatest value */
    const char *choices;            /* enum: the words, "|"-separated */
    int max_given;                  /* times it may be given: 1, or more for lists */
    unsigned commands;              /* ff_command_t bits that accept it */
    const char *meta;               /* the value's name in usage: SIZE */
    const char *help;               /* one line for usage */
} ff_option_t;

/* The table entry of an option. Never NULL for id < FF_OPT_COUNT. */
const ff_option_t *
    ff_option_describe (ff_opt_t id);

/* Looks an option up by its long name; returns FF_OPT_COUNT if none. */
ff_opt_t
    ff_option_find (const char *name);

/* Checks one value of option id against its type and bounds. Returns 0,
   or -1 with one line in error naming the option and what it expects. On
   success *number holds the value of a size, count or seconds option (or
   the choice's index for an enum; 0 otherwise). */
int
    ff_option_check (ff_opt_t id, const char *text, double *number,
                     char *error, size_t error_size);

/* The options given on one command line, parsed and validated. */
typedef struct ff_options ff_options_t;

/* How a parse ended. */
typedef enum {
    FF_OPTIONS_OK = 0,              /* every option is valid; run */
    FF_OPTIONS_HELP,                /* -h or --help: print usage, exit 0 */
    FF_OPTIONS_ERROR                /* error holds one line; exit FF_EXIT_ERROR */
} ff_options_status_t;

/* Makes an empty option set for command. NULL when out of memory. */
ff_options_t *
    ff_options_new (ff_command_t command);

/* Destroys the set and NULLs the pointer; safe on NULL. */
void
    ff_options_destroy (ff_options_t **self_p);

/* Parses argv [1..argc-1] for the set's command: each option by the table
   (stopping at the first positional argument or "--"; for `fanfold run`
   the command's words come first, see ff_options_command), each value by its
   type and bounds, and then the rules between options (--block within
   --max-block, --lines or --block but not both, --lines/--block/--input
   only with --pipe, --resume with -o, what --serial and --intake exclude).
   Positional arguments stay in argv; ff_options_inputs gives them. The
   strings of argv must outlive the set. On FF_OPTIONS_ERROR, error holds
   one line without the program's name, e.g.
   "--block 1M is larger than --max-block 512K". */
ff_options_status_t
    ff_options_parse (ff_options_t *self, int argc, char *argv [],
                      char *error, size_t error_size);

/* Sets or adds a value as if it had been given (the launcher turns --exec
   into -p cmd=...); text is copied, NULL for a flag. The value is checked
   by its type and bounds, but not against the set's command (the launcher
   sets --fifo, a ventilator option, to forward it). Returns 0, or -1 with
   a line in error. Call ff_options_validate after changes. */
int
    ff_options_set (ff_options_t *self, ff_opt_t id, const char *text,
                    char *error, size_t error_size);

/* Forgets every value of id, as if it had not been given. */
void
    ff_options_clear (ff_options_t *self, ff_opt_t id);

/* Checks the rules between options again (ff_options_parse runs it).
   Returns 0, or -1 with one line in error. */
int
    ff_options_validate (ff_options_t *self, char *error, size_t error_size);

/* How many times option id was given (0 if not). */
int
    ff_options_given (const ff_options_t *self, ff_opt_t id);

/* The last value given for id, or fallback when it was not given. */
const char *
    ff_options_text (const ff_options_t *self, ff_opt_t id, const char *fallback);

/* The value of a size or count option, or fallback when not given. */
long
    ff_options_long (const ff_options_t *self, ff_opt_t id, long fallback);

/* The value of a seconds option, or fallback when not given. */
double
    ff_options_seconds (const ff_options_t *self, ff_opt_t id, double fallback);

/* Value number index (0 first) of a repeated option, or NULL. */
const char *
    ff_options_nth (const ff_options_t *self, ff_opt_t id, int index);

/* Returns 1 when word separates argument sources (`:::`, `::::`,
   `:::+`, `::::+`), else 0. */
int
    ff_options_is_marker (const char *word);

/* The words of the command given as trailing words (`fanfold run
   [options] CMD ARGS... ::: inputs`): *count of them, 0 when the command
   is --exec CMD or a kernel is named. For `fanfold run` without --exec
   and without -K, ff_options_parse takes the words up to the first
   `:::`, `::::`, `:::+` or `::::+` as the command, as parallel does; the
   rest are the inputs. */
char **
    ff_options_command (const ff_options_t *self, int *count);

/* The positional arguments after the options (and after the command's
   words): *count of them. */
char **
    ff_options_inputs (const ff_options_t *self, int *count);

/* Appends to argv (which has room for max entries, NULL-terminated) every
   option given in self that command accepts, as "--name" [value], in
   table order, repeated ones once per value. Values point into self.
   Returns 0, or -1 when argv is full. The launcher builds a stage's
   command line with it, so a stage sees exactly what the user gave. */
int
    ff_options_forward (const ff_options_t *self, ff_command_t command,
                        char **argv, int *argc, int max);

/* Writes the options command accepts, one per line with its help, to
   stream. */
void
    ff_options_usage (ff_command_t command, FILE *stream);

#endif
