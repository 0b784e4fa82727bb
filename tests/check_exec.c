/*  Unit tests for the exec kernel: command lines checked against GNU
    parallel (golden tables taken from parallel 20221122, and the live
    `parallel --dry-run` when it is installed), then real commands: output,
    stdin in pipe mode, exit status and signals, timeouts, output bounds. */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fanfold/kernels/exec.h"
#include "fanfold/kernels/kernels.h"

extern char **environ;

typedef struct {
    const char *input;              /* the argument */
    const char *expected;           /* what parallel puts in the line */
} s_case_t;

/* `parallel --dry-run 'echo {}' ::: INPUT` writes "echo EXPECTED". */
static const s_case_t s_quoted [] = {
    { "a b", "'a b'" },
    { "it's", "'it'\"'\"'s'" },
    { "\"double\"", "'\"double\"'" },
    { "$HOME", "'$HOME'" },
    { "a;b", "'a;b'" },
    { "*", "'*'" },
    { "`id`", "'`id`'" },
    { "$(id)", "'$(id)'" },
    { "-n", "-n" },
    { "--", "--" },
    { "line1\nline2", "'line1\nline2'" },
    { "\303\251t\303\251", "'\303\251t\303\251'" },
    { "\303\251", "'\303\251'" },
    { "''", "\"'\"''\"'\"" },
    { "'", "\"'\"" },
    { "'a'", "\"'\"'a'\"'\"" },
    { "plain", "plain" },
    { "A-Z_0.9+/", "A-Z_0.9+/" },
    { "", "''" },
    { "tab\there", "'tab\there'" },
    { "back\\slash", "'back\\slash'" },
    { "!bang", "'!bang'" },
    { "~user", "'~user'" },
    { "100%", "'100%'" },
    { "x=y", "'x=y'" },
    { "a,b", "'a,b'" },
    { "@", "'@'" },
    { ":", "':'" },
    { "#", "'#'" },
    { "&", "'&'" },
    { "|", "'|'" },
    { "<>", "'<>'" },
    { "(x)", "'(x)'" },
    { "[x]", "'[x]'" },
    { "{x}", "'{x}'" },
    { "?", "'?'" },
    { " ", "' '" },
    { "\n", "'\n'" },
    { "\305\277", "'\305\277'" },           /* long s: no ASCII case folding */
    { "\342\204\252", "'\342\204\252'" },   /* Kelvin sign, likewise */
};

/* `parallel --dry-run 'echo {.}' ::: INPUT` writes "echo EXPECTED". */
static const s_case_t s_noext [] = {
    { "a/b.c", "a/b" },
    { "x.tar.gz", "x.tar" },
    { "dir.d/file", "dir.d/file" },
    { ".bashrc", "''" },
    { "a/.b", "a/" },
    { "a.", "a" },
    { "", "''" },
    { "noext", "noext" },
    { "a b.txt", "'a b'" },
    { "x.y\nz", "x" },
    { "x/y.z\n", "x/y" },
};

static const s_case_t s_basename [] = {      /* {/} */
    { "a/b/c.d", "c.d" },
    { "plain", "plain" },
    { "/", "''" },
    { "a//", "''" },
    { "/a/b/", "''" },
    { "a b/c d", "'c d'" },
    { "a/b\nc/d.e", "'b\nc/d.e'" },         /* perl's . stops at a newline */
    { "x\ny", "'x\ny'" },
};

static const s_case_t s_dirname [] = {       /* {//} */
    { "a/b/c", "a/b" },
    { "a", "." },
    { "/", "/" },
    { "/a", "/" },
    { "a//", "." },
    { "a/b/", "a" },
    { "", "." },
    { "//", "/" },
    { "a//b", "a" },
    { "a b/c", "'a b'" },
    { "a/b\nc/d.e", "'a/b\nc'" },
};

static const s_case_t s_basename_noext [] = {    /* {/.} */
    { "a/b/c.tar.gz", "c.tar" },
    { "a/.b", "''" },
    { "dir.d/file", "file" },
    { "c.d", "c" },
    { "/x/y.z w", "y" },
    { "a/b\nc/d.e", "'b\nc/d'" },
};

/* Command lines for argument tuples, as parallel 20221122 writes them
   (PARALLEL_SHELL=/bin/sh, one tuple per run):
       context 0:  parallel -0 -k -j1 --dry-run TEMPLATE ::: A1 ::: A2 ...
       context 1:  printf 'A1\0A2\0...' | parallel -0 -N<nargs> -k -j1 \
                       --dry-run TEMPLATE
   Taken once and kept here. */
typedef struct {
    const char *cmd;                /* the template */
    int context;                    /* 0: ::: sources; 1: -N (context replace) */
    size_t nargs;                   /* arguments in the tuple */
    const char *args [3];           /* the tuple */
    const char *expected;           /* the line parallel writes */
} s_tuple_case_t;

static const s_tuple_case_t s_tuples [] = {
    { "echo {}", 0, 2, { "a b", "c'd" }, "echo 'a b' 'c'\"'\"'d'" },
    { "echo {}", 1, 2, { "a b", "c'd" }, "echo 'a b' 'c'\"'\"'d'" },
    { "echo {}", 0, 2, { "dir/f.x", "" }, "echo dir/f.x ''" },
    { "echo {}", 1, 2, { "dir/f.x", "" }, "echo dir/f.x ''" },
    { "echo {}", 0, 2, { "-n", "$HOME" }, "echo -n '$HOME'" },
    { "echo {}", 1, 2, { "-n", "$HOME" }, "echo -n '$HOME'" },
    { "echo {}", 0, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo 'x\ny/z.w' '\346\227\245\346\234\254.txt'" },
    { "echo {}", 1, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo 'x\ny/z.w' '\346\227\245\346\234\254.txt'" },
    { "echo {}", 0, 3, { "a", "b", "c" }, "echo a b c" },
    { "echo {}", 1, 3, { "a", "b", "c" }, "echo a b c" },
    { "echo {}", 0, 1, { "only" }, "echo only" },
    { "echo {}", 1, 1, { "only" }, "echo only" },
    { "echo {}", 0, 2, { "/", "a.b/c" }, "echo / a.b/c" },
    { "echo {}", 1, 2, { "/", "a.b/c" }, "echo / a.b/c" },
    { "echo {}", 0, 2, { "`id`", "it's \"q\"" }, "echo '`id`' 'it'\"'\"'s \"q\"'" },
    { "echo {}", 1, 2, { "`id`", "it's \"q\"" }, "echo '`id`' 'it'\"'\"'s \"q\"'" },
    { "echo {1} {2}", 0, 2, { "a b", "c'd" }, "echo 'a b' 'c'\"'\"'d'" },
    { "echo {1} {2}", 1, 2, { "a b", "c'd" }, "echo 'a b' 'c'\"'\"'d'" },
    { "echo {1} {2}", 0, 2, { "dir/f.x", "" }, "echo dir/f.x ''" },
    { "echo {1} {2}", 1, 2, { "dir/f.x", "" }, "echo dir/f.x ''" },
    { "echo {1} {2}", 0, 2, { "-n", "$HOME" }, "echo -n '$HOME'" },
    { "echo {1} {2}", 1, 2, { "-n", "$HOME" }, "echo -n '$HOME'" },
    { "echo {1} {2}", 0, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo 'x\ny/z.w' '\346\227\245\346\234\254.txt'" },
    { "echo {1} {2}", 1, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo 'x\ny/z.w' '\346\227\245\346\234\254.txt'" },
    { "echo {1} {2}", 0, 3, { "a", "b", "c" }, "echo a b" },
    { "echo {1} {2}", 1, 3, { "a", "b", "c" }, "echo a b" },
    { "echo {1} {2}", 0, 1, { "only" }, "echo only " },
    { "echo {1} {2}", 1, 1, { "only" }, "echo only " },
    { "echo {1} {2}", 0, 2, { "/", "a.b/c" }, "echo / a.b/c" },
    { "echo {1} {2}", 1, 2, { "/", "a.b/c" }, "echo / a.b/c" },
    { "echo {1} {2}", 0, 2, { "`id`", "it's \"q\"" }, "echo '`id`' 'it'\"'\"'s \"q\"'" },
    { "echo {1} {2}", 1, 2, { "`id`", "it's \"q\"" }, "echo '`id`' 'it'\"'\"'s \"q\"'" },
    { "echo {2} {1} {1}", 0, 2, { "a b", "c'd" }, "echo 'c'\"'\"'d' 'a b' 'a b'" },
    { "echo {2} {1} {1}", 1, 2, { "a b", "c'd" }, "echo 'c'\"'\"'d' 'a b' 'a b'" },
    { "echo {2} {1} {1}", 0, 2, { "dir/f.x", "" }, "echo '' dir/f.x dir/f.x" },
    { "echo {2} {1} {1}", 1, 2, { "dir/f.x", "" }, "echo '' dir/f.x dir/f.x" },
    { "echo {2} {1} {1}", 0, 2, { "-n", "$HOME" }, "echo '$HOME' -n -n" },
    { "echo {2} {1} {1}", 1, 2, { "-n", "$HOME" }, "echo '$HOME' -n -n" },
    { "echo {2} {1} {1}", 0, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo '\346\227\245\346\234\254.txt' 'x\ny/z.w' 'x\ny/z.w'" },
    { "echo {2} {1} {1}", 1, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo '\346\227\245\346\234\254.txt' 'x\ny/z.w' 'x\ny/z.w'" },
    { "echo {2} {1} {1}", 0, 3, { "a", "b", "c" }, "echo b a a" },
    { "echo {2} {1} {1}", 1, 3, { "a", "b", "c" }, "echo b a a" },
    { "echo {2} {1} {1}", 0, 1, { "only" }, "echo  only only" },
    { "echo {2} {1} {1}", 1, 1, { "only" }, "echo  only only" },
    { "echo {2} {1} {1}", 0, 2, { "/", "a.b/c" }, "echo a.b/c / /" },
    { "echo {2} {1} {1}", 1, 2, { "/", "a.b/c" }, "echo a.b/c / /" },
    { "echo {2} {1} {1}", 0, 2, { "`id`", "it's \"q\"" }, "echo 'it'\"'\"'s \"q\"' '`id`' '`id`'" },
    { "echo {2} {1} {1}", 1, 2, { "`id`", "it's \"q\"" }, "echo 'it'\"'\"'s \"q\"' '`id`' '`id`'" },
    { "echo {1.} {2/} {1//} {2/.}", 0, 2, { "a b", "c'd" }, "echo 'a b' 'c'\"'\"'d' . 'c'\"'\"'d'" },
    { "echo {1.} {2/} {1//} {2/.}", 1, 2, { "a b", "c'd" }, "echo 'a b' 'c'\"'\"'d' . 'c'\"'\"'d'" },
    { "echo {1.} {2/} {1//} {2/.}", 0, 2, { "dir/f.x", "" }, "echo dir/f '' dir ''" },
    { "echo {1.} {2/} {1//} {2/.}", 1, 2, { "dir/f.x", "" }, "echo dir/f '' dir ''" },
    { "echo {1.} {2/} {1//} {2/.}", 0, 2, { "-n", "$HOME" }, "echo -n '$HOME' . '$HOME'" },
    { "echo {1.} {2/} {1//} {2/.}", 1, 2, { "-n", "$HOME" }, "echo -n '$HOME' . '$HOME'" },
    { "echo {1.} {2/} {1//} {2/.}", 0, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo 'x\ny/z' '\346\227\245\346\234\254.txt' 'x\ny' '\346\227\245\346\234\254'" },
    { "echo {1.} {2/} {1//} {2/.}", 1, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo 'x\ny/z' '\346\227\245\346\234\254.txt' 'x\ny' '\346\227\245\346\234\254'" },
    { "echo {1.} {2/} {1//} {2/.}", 0, 3, { "a", "b", "c" }, "echo a b . b" },
    { "echo {1.} {2/} {1//} {2/.}", 1, 3, { "a", "b", "c" }, "echo a b . b" },
    { "echo {1.} {2/} {1//} {2/.}", 0, 1, { "only" }, "echo only  . " },
    { "echo {1.} {2/} {1//} {2/.}", 1, 1, { "only" }, "echo only  . " },
    { "echo {1.} {2/} {1//} {2/.}", 0, 2, { "/", "a.b/c" }, "echo / c / c" },
    { "echo {1.} {2/} {1//} {2/.}", 1, 2, { "/", "a.b/c" }, "echo / c / c" },
    { "echo {1.} {2/} {1//} {2/.}", 0, 2, { "`id`", "it's \"q\"" }, "echo '`id`' 'it'\"'\"'s \"q\"' . 'it'\"'\"'s \"q\"'" },
    { "echo {1.} {2/} {1//} {2/.}", 1, 2, { "`id`", "it's \"q\"" }, "echo '`id`' 'it'\"'\"'s \"q\"' . 'it'\"'\"'s \"q\"'" },
    { "echo {-1} {-2} {3} {10}", 0, 2, { "a b", "c'd" }, "echo 'c'\"'\"'d' 'a b'  " },
    { "echo {-1} {-2} {3} {10}", 1, 2, { "a b", "c'd" }, "echo 'c'\"'\"'d' 'a b'  " },
    { "echo {-1} {-2} {3} {10}", 0, 2, { "dir/f.x", "" }, "echo '' dir/f.x  " },
    { "echo {-1} {-2} {3} {10}", 1, 2, { "dir/f.x", "" }, "echo '' dir/f.x  " },
    { "echo {-1} {-2} {3} {10}", 0, 2, { "-n", "$HOME" }, "echo '$HOME' -n  " },
    { "echo {-1} {-2} {3} {10}", 1, 2, { "-n", "$HOME" }, "echo '$HOME' -n  " },
    { "echo {-1} {-2} {3} {10}", 0, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo '\346\227\245\346\234\254.txt' 'x\ny/z.w'  " },
    { "echo {-1} {-2} {3} {10}", 1, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo '\346\227\245\346\234\254.txt' 'x\ny/z.w'  " },
    { "echo {-1} {-2} {3} {10}", 0, 3, { "a", "b", "c" }, "echo c b c " },
    { "echo {-1} {-2} {3} {10}", 1, 3, { "a", "b", "c" }, "echo c b c " },
    { "echo {-1} {-2} {3} {10}", 0, 1, { "only" }, "echo only only  " },
    { "echo {-1} {-2} {3} {10}", 1, 1, { "only" }, "echo only only  " },
    { "echo {-1} {-2} {3} {10}", 0, 2, { "/", "a.b/c" }, "echo a.b/c /  " },
    { "echo {-1} {-2} {3} {10}", 1, 2, { "/", "a.b/c" }, "echo a.b/c /  " },
    { "echo {-1} {-2} {3} {10}", 0, 2, { "`id`", "it's \"q\"" }, "echo 'it'\"'\"'s \"q\"' '`id`'  " },
    { "echo {-1} {-2} {3} {10}", 1, 2, { "`id`", "it's \"q\"" }, "echo 'it'\"'\"'s \"q\"' '`id`'  " },
    { "echo", 0, 2, { "a b", "c'd" }, "echo 'a b' 'c'\"'\"'d'" },
    { "echo", 1, 2, { "a b", "c'd" }, "echo 'a b' 'c'\"'\"'d'" },
    { "echo", 0, 2, { "dir/f.x", "" }, "echo dir/f.x ''" },
    { "echo", 1, 2, { "dir/f.x", "" }, "echo dir/f.x ''" },
    { "echo", 0, 2, { "-n", "$HOME" }, "echo -n '$HOME'" },
    { "echo", 1, 2, { "-n", "$HOME" }, "echo -n '$HOME'" },
    { "echo", 0, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo 'x\ny/z.w' '\346\227\245\346\234\254.txt'" },
    { "echo", 1, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo 'x\ny/z.w' '\346\227\245\346\234\254.txt'" },
    { "echo", 0, 3, { "a", "b", "c" }, "echo a b c" },
    { "echo", 1, 3, { "a", "b", "c" }, "echo a b c" },
    { "echo", 0, 1, { "only" }, "echo only" },
    { "echo", 1, 1, { "only" }, "echo only" },
    { "echo", 0, 2, { "/", "a.b/c" }, "echo / a.b/c" },
    { "echo", 1, 2, { "/", "a.b/c" }, "echo / a.b/c" },
    { "echo", 0, 2, { "`id`", "it's \"q\"" }, "echo '`id`' 'it'\"'\"'s \"q\"'" },
    { "echo", 1, 2, { "`id`", "it's \"q\"" }, "echo '`id`' 'it'\"'\"'s \"q\"'" },
    { "{1} {2}", 0, 2, { "a b", "c'd" }, "a b c'd" },
    { "{1} {2}", 1, 2, { "a b", "c'd" }, "a b c'd" },
    { "{1} {2}", 0, 2, { "dir/f.x", "" }, "dir/f.x " },
    { "{1} {2}", 1, 2, { "dir/f.x", "" }, "dir/f.x " },
    { "{1} {2}", 0, 2, { "-n", "$HOME" }, "-n $HOME" },
    { "{1} {2}", 1, 2, { "-n", "$HOME" }, "-n $HOME" },
    { "{1} {2}", 0, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "x\ny/z.w \346\227\245\346\234\254.txt" },
    { "{1} {2}", 1, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "x\ny/z.w \346\227\245\346\234\254.txt" },
    { "{1} {2}", 0, 3, { "a", "b", "c" }, "a b" },
    { "{1} {2}", 1, 3, { "a", "b", "c" }, "a b" },
    { "{1} {2}", 0, 1, { "only" }, "only " },
    { "{1} {2}", 1, 1, { "only" }, "only " },
    { "{1} {2}", 0, 2, { "/", "a.b/c" }, "/ a.b/c" },
    { "{1} {2}", 1, 2, { "/", "a.b/c" }, "/ a.b/c" },
    { "{1} {2}", 0, 2, { "`id`", "it's \"q\"" }, "`id` it's \"q\"" },
    { "{1} {2}", 1, 2, { "`id`", "it's \"q\"" }, "`id` it's \"q\"" },
    { "echo x{}y", 0, 2, { "a b", "c'd" }, "echo x'a b' 'c'\"'\"'d'y" },
    { "echo x{}y", 1, 2, { "a b", "c'd" }, "echo x'a b'y x'c'\"'\"'d'y" },
    { "echo x{}y", 0, 2, { "dir/f.x", "" }, "echo xdir/f.x ''y" },
    { "echo x{}y", 1, 2, { "dir/f.x", "" }, "echo xdir/f.xy x''y" },
    { "echo x{}y", 0, 2, { "-n", "$HOME" }, "echo x-n '$HOME'y" },
    { "echo x{}y", 1, 2, { "-n", "$HOME" }, "echo x-ny x'$HOME'y" },
    { "echo x{}y", 0, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo x'x\ny/z.w' '\346\227\245\346\234\254.txt'y" },
    { "echo x{}y", 1, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo x'x\ny/z.w'y x'\346\227\245\346\234\254.txt'y" },
    { "echo x{}y", 0, 3, { "a", "b", "c" }, "echo xa b cy" },
    { "echo x{}y", 1, 3, { "a", "b", "c" }, "echo xay xby xcy" },
    { "echo x{}y", 0, 1, { "only" }, "echo xonlyy" },
    { "echo x{}y", 1, 1, { "only" }, "echo xonlyy" },
    { "echo x{}y", 0, 2, { "/", "a.b/c" }, "echo x/ a.b/cy" },
    { "echo x{}y", 1, 2, { "/", "a.b/c" }, "echo x/y xa.b/cy" },
    { "echo x{}y", 0, 2, { "`id`", "it's \"q\"" }, "echo x'`id`' 'it'\"'\"'s \"q\"'y" },
    { "echo x{}y", 1, 2, { "`id`", "it's \"q\"" }, "echo x'`id`'y x'it'\"'\"'s \"q\"'y" },
    { "echo {0} {00} {1 .} {-0}", 0, 2, { "a b", "c'd" }, "echo 'a b' 'c'\"'\"'d'  'a b' " },
    { "echo {0} {00} {1 .} {-0}", 1, 2, { "a b", "c'd" }, "echo 'a b' 'c'\"'\"'d'  'a b' " },
    { "echo {0} {00} {1 .} {-0}", 0, 2, { "dir/f.x", "" }, "echo dir/f.x ''  dir/f " },
    { "echo {0} {00} {1 .} {-0}", 1, 2, { "dir/f.x", "" }, "echo dir/f.x ''  dir/f " },
    { "echo {0} {00} {1 .} {-0}", 0, 2, { "-n", "$HOME" }, "echo -n '$HOME'  -n " },
    { "echo {0} {00} {1 .} {-0}", 1, 2, { "-n", "$HOME" }, "echo -n '$HOME'  -n " },
    { "echo {0} {00} {1 .} {-0}", 0, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo 'x\ny/z.w' '\346\227\245\346\234\254.txt'  'x\ny/z' " },
    { "echo {0} {00} {1 .} {-0}", 1, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo 'x\ny/z.w' '\346\227\245\346\234\254.txt'  'x\ny/z' " },
    { "echo {0} {00} {1 .} {-0}", 0, 3, { "a", "b", "c" }, "echo a b c  a " },
    { "echo {0} {00} {1 .} {-0}", 1, 3, { "a", "b", "c" }, "echo a b c  a " },
    { "echo {0} {00} {1 .} {-0}", 0, 1, { "only" }, "echo only  only " },
    { "echo {0} {00} {1 .} {-0}", 1, 1, { "only" }, "echo only  only " },
    { "echo {0} {00} {1 .} {-0}", 0, 2, { "/", "a.b/c" }, "echo / a.b/c  / " },
    { "echo {0} {00} {1 .} {-0}", 1, 2, { "/", "a.b/c" }, "echo / a.b/c  / " },
    { "echo {0} {00} {1 .} {-0}", 0, 2, { "`id`", "it's \"q\"" }, "echo '`id`' 'it'\"'\"'s \"q\"'  '`id`' " },
    { "echo {0} {00} {1 .} {-0}", 1, 2, { "`id`", "it's \"q\"" }, "echo '`id`' 'it'\"'\"'s \"q\"'  '`id`' " },
    { "echo {.} {/} {//} {/.}", 0, 2, { "a b", "c'd" }, "echo 'a b' 'c'\"'\"'d' 'a b' 'c'\"'\"'d' . . 'a b' 'c'\"'\"'d'" },
    { "echo {.} {/} {//} {/.}", 1, 2, { "a b", "c'd" }, "echo 'a b' 'c'\"'\"'d' 'a b' 'c'\"'\"'d' . . 'a b' 'c'\"'\"'d'" },
    { "echo {.} {/} {//} {/.}", 0, 2, { "dir/f.x", "" }, "echo dir/f '' f.x '' dir . f ''" },
    { "echo {.} {/} {//} {/.}", 1, 2, { "dir/f.x", "" }, "echo dir/f '' f.x '' dir . f ''" },
    { "echo {.} {/} {//} {/.}", 0, 2, { "-n", "$HOME" }, "echo -n '$HOME' -n '$HOME' . . -n '$HOME'" },
    { "echo {.} {/} {//} {/.}", 1, 2, { "-n", "$HOME" }, "echo -n '$HOME' -n '$HOME' . . -n '$HOME'" },
    { "echo {.} {/} {//} {/.}", 0, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo 'x\ny/z' '\346\227\245\346\234\254' 'x\nz.w' '\346\227\245\346\234\254.txt' 'x\ny' . 'x\nz' '\346\227\245\346\234\254'" },
    { "echo {.} {/} {//} {/.}", 1, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo 'x\ny/z' '\346\227\245\346\234\254' 'x\nz.w' '\346\227\245\346\234\254.txt' 'x\ny' . 'x\nz' '\346\227\245\346\234\254'" },
    { "echo {.} {/} {//} {/.}", 0, 3, { "a", "b", "c" }, "echo a b c a b c . . . a b c" },
    { "echo {.} {/} {//} {/.}", 1, 3, { "a", "b", "c" }, "echo a b c a b c . . . a b c" },
    { "echo {.} {/} {//} {/.}", 0, 1, { "only" }, "echo only only . only" },
    { "echo {.} {/} {//} {/.}", 1, 1, { "only" }, "echo only only . only" },
    { "echo {.} {/} {//} {/.}", 0, 2, { "/", "a.b/c" }, "echo / a.b/c '' c / a.b '' c" },
    { "echo {.} {/} {//} {/.}", 1, 2, { "/", "a.b/c" }, "echo / a.b/c '' c / a.b '' c" },
    { "echo {.} {/} {//} {/.}", 0, 2, { "`id`", "it's \"q\"" }, "echo '`id`' 'it'\"'\"'s \"q\"' '`id`' 'it'\"'\"'s \"q\"' . . '`id`' 'it'\"'\"'s \"q\"'" },
    { "echo {.} {/} {//} {/.}", 1, 2, { "`id`", "it's \"q\"" }, "echo '`id`' 'it'\"'\"'s \"q\"' '`id`' 'it'\"'\"'s \"q\"' . . '`id`' 'it'\"'\"'s \"q\"'" },
    { "echo {#} {%} {}", 0, 2, { "a b", "c'd" }, "echo 1 1 'a b' 'c'\"'\"'d'" },
    { "echo {#} {%} {}", 1, 2, { "a b", "c'd" }, "echo 1 1 'a b' 'c'\"'\"'d'" },
    { "echo {#} {%} {}", 0, 2, { "dir/f.x", "" }, "echo 1 1 dir/f.x ''" },
    { "echo {#} {%} {}", 1, 2, { "dir/f.x", "" }, "echo 1 1 dir/f.x ''" },
    { "echo {#} {%} {}", 0, 2, { "-n", "$HOME" }, "echo 1 1 -n '$HOME'" },
    { "echo {#} {%} {}", 1, 2, { "-n", "$HOME" }, "echo 1 1 -n '$HOME'" },
    { "echo {#} {%} {}", 0, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo 1 1 'x\ny/z.w' '\346\227\245\346\234\254.txt'" },
    { "echo {#} {%} {}", 1, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo 1 1 'x\ny/z.w' '\346\227\245\346\234\254.txt'" },
    { "echo {#} {%} {}", 0, 3, { "a", "b", "c" }, "echo 1 1 a b c" },
    { "echo {#} {%} {}", 1, 3, { "a", "b", "c" }, "echo 1 1 a b c" },
    { "echo {#} {%} {}", 0, 1, { "only" }, "echo 1 1 only" },
    { "echo {#} {%} {}", 1, 1, { "only" }, "echo 1 1 only" },
    { "echo {#} {%} {}", 0, 2, { "/", "a.b/c" }, "echo 1 1 / a.b/c" },
    { "echo {#} {%} {}", 1, 2, { "/", "a.b/c" }, "echo 1 1 / a.b/c" },
    { "echo {#} {%} {}", 0, 2, { "`id`", "it's \"q\"" }, "echo 1 1 '`id`' 'it'\"'\"'s \"q\"'" },
    { "echo {#} {%} {}", 1, 2, { "`id`", "it's \"q\"" }, "echo 1 1 '`id`' 'it'\"'\"'s \"q\"'" },
    { "X={1} cmd {2}", 0, 2, { "a b", "c'd" }, "X='a b' cmd 'c'\"'\"'d'" },
    { "X={1} cmd {2}", 1, 2, { "a b", "c'd" }, "X='a b' cmd 'c'\"'\"'d'" },
    { "X={1} cmd {2}", 0, 2, { "dir/f.x", "" }, "X=dir/f.x cmd ''" },
    { "X={1} cmd {2}", 1, 2, { "dir/f.x", "" }, "X=dir/f.x cmd ''" },
    { "X={1} cmd {2}", 0, 2, { "-n", "$HOME" }, "X=-n cmd '$HOME'" },
    { "X={1} cmd {2}", 1, 2, { "-n", "$HOME" }, "X=-n cmd '$HOME'" },
    { "X={1} cmd {2}", 0, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "X='x\ny/z.w' cmd '\346\227\245\346\234\254.txt'" },
    { "X={1} cmd {2}", 1, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "X='x\ny/z.w' cmd '\346\227\245\346\234\254.txt'" },
    { "X={1} cmd {2}", 0, 3, { "a", "b", "c" }, "X=a cmd b" },
    { "X={1} cmd {2}", 1, 3, { "a", "b", "c" }, "X=a cmd b" },
    { "X={1} cmd {2}", 0, 1, { "only" }, "X=only cmd " },
    { "X={1} cmd {2}", 1, 1, { "only" }, "X=only cmd " },
    { "X={1} cmd {2}", 0, 2, { "/", "a.b/c" }, "X=/ cmd a.b/c" },
    { "X={1} cmd {2}", 1, 2, { "/", "a.b/c" }, "X=/ cmd a.b/c" },
    { "X={1} cmd {2}", 0, 2, { "`id`", "it's \"q\"" }, "X='`id`' cmd 'it'\"'\"'s \"q\"'" },
    { "X={1} cmd {2}", 1, 2, { "`id`", "it's \"q\"" }, "X='`id`' cmd 'it'\"'\"'s \"q\"'" },
    { "./{1}.sh {2}", 0, 2, { "a b", "c'd" }, "./a b.sh c'd" },
    { "./{1}.sh {2}", 1, 2, { "a b", "c'd" }, "./a b.sh c'd" },
    { "./{1}.sh {2}", 0, 2, { "dir/f.x", "" }, "./dir/f.x.sh " },
    { "./{1}.sh {2}", 1, 2, { "dir/f.x", "" }, "./dir/f.x.sh " },
    { "./{1}.sh {2}", 0, 2, { "-n", "$HOME" }, "./-n.sh $HOME" },
    { "./{1}.sh {2}", 1, 2, { "-n", "$HOME" }, "./-n.sh $HOME" },
    { "./{1}.sh {2}", 0, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "./x\ny/z.w.sh \346\227\245\346\234\254.txt" },
    { "./{1}.sh {2}", 1, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "./x\ny/z.w.sh \346\227\245\346\234\254.txt" },
    { "./{1}.sh {2}", 0, 3, { "a", "b", "c" }, "./a.sh b" },
    { "./{1}.sh {2}", 1, 3, { "a", "b", "c" }, "./a.sh b" },
    { "./{1}.sh {2}", 0, 1, { "only" }, "./only.sh " },
    { "./{1}.sh {2}", 1, 1, { "only" }, "./only.sh " },
    { "./{1}.sh {2}", 0, 2, { "/", "a.b/c" }, ".//.sh a.b/c" },
    { "./{1}.sh {2}", 1, 2, { "/", "a.b/c" }, ".//.sh a.b/c" },
    { "./{1}.sh {2}", 0, 2, { "`id`", "it's \"q\"" }, "./`id`.sh it's \"q\"" },
    { "./{1}.sh {2}", 1, 2, { "`id`", "it's \"q\"" }, "./`id`.sh it's \"q\"" },
    { "echo \"{1}\" '{2}'", 0, 2, { "a b", "c'd" }, "echo \"'a b'\" ''c'\"'\"'d''" },
    { "echo \"{1}\" '{2}'", 1, 2, { "a b", "c'd" }, "echo \"'a b'\" ''c'\"'\"'d''" },
    { "echo \"{1}\" '{2}'", 0, 2, { "dir/f.x", "" }, "echo \"dir/f.x\" ''''" },
    { "echo \"{1}\" '{2}'", 1, 2, { "dir/f.x", "" }, "echo \"dir/f.x\" ''''" },
    { "echo \"{1}\" '{2}'", 0, 2, { "-n", "$HOME" }, "echo \"-n\" ''$HOME''" },
    { "echo \"{1}\" '{2}'", 1, 2, { "-n", "$HOME" }, "echo \"-n\" ''$HOME''" },
    { "echo \"{1}\" '{2}'", 0, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo \"'x\ny/z.w'\" ''\346\227\245\346\234\254.txt''" },
    { "echo \"{1}\" '{2}'", 1, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo \"'x\ny/z.w'\" ''\346\227\245\346\234\254.txt''" },
    { "echo \"{1}\" '{2}'", 0, 3, { "a", "b", "c" }, "echo \"a\" 'b'" },
    { "echo \"{1}\" '{2}'", 1, 3, { "a", "b", "c" }, "echo \"a\" 'b'" },
    { "echo \"{1}\" '{2}'", 0, 1, { "only" }, "echo \"only\" ''" },
    { "echo \"{1}\" '{2}'", 1, 1, { "only" }, "echo \"only\" ''" },
    { "echo \"{1}\" '{2}'", 0, 2, { "/", "a.b/c" }, "echo \"/\" 'a.b/c'" },
    { "echo \"{1}\" '{2}'", 1, 2, { "/", "a.b/c" }, "echo \"/\" 'a.b/c'" },
    { "echo \"{1}\" '{2}'", 0, 2, { "`id`", "it's \"q\"" }, "echo \"'`id`'\" ''it'\"'\"'s \"q\"''" },
    { "echo \"{1}\" '{2}'", 1, 2, { "`id`", "it's \"q\"" }, "echo \"'`id`'\" ''it'\"'\"'s \"q\"''" },
    { "echo {1}{2}{1}", 0, 2, { "a b", "c'd" }, "echo 'a b''c'\"'\"'d''a b'" },
    { "echo {1}{2}{1}", 1, 2, { "a b", "c'd" }, "echo 'a b''c'\"'\"'d''a b'" },
    { "echo {1}{2}{1}", 0, 2, { "dir/f.x", "" }, "echo dir/f.x''dir/f.x" },
    { "echo {1}{2}{1}", 1, 2, { "dir/f.x", "" }, "echo dir/f.x''dir/f.x" },
    { "echo {1}{2}{1}", 0, 2, { "-n", "$HOME" }, "echo -n'$HOME'-n" },
    { "echo {1}{2}{1}", 1, 2, { "-n", "$HOME" }, "echo -n'$HOME'-n" },
    { "echo {1}{2}{1}", 0, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo 'x\ny/z.w''\346\227\245\346\234\254.txt''x\ny/z.w'" },
    { "echo {1}{2}{1}", 1, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo 'x\ny/z.w''\346\227\245\346\234\254.txt''x\ny/z.w'" },
    { "echo {1}{2}{1}", 0, 3, { "a", "b", "c" }, "echo aba" },
    { "echo {1}{2}{1}", 1, 3, { "a", "b", "c" }, "echo aba" },
    { "echo {1}{2}{1}", 0, 1, { "only" }, "echo onlyonly" },
    { "echo {1}{2}{1}", 1, 1, { "only" }, "echo onlyonly" },
    { "echo {1}{2}{1}", 0, 2, { "/", "a.b/c" }, "echo /a.b/c/" },
    { "echo {1}{2}{1}", 1, 2, { "/", "a.b/c" }, "echo /a.b/c/" },
    { "echo {1}{2}{1}", 0, 2, { "`id`", "it's \"q\"" }, "echo '`id`''it'\"'\"'s \"q\"''`id`'" },
    { "echo {1}{2}{1}", 1, 2, { "`id`", "it's \"q\"" }, "echo '`id`''it'\"'\"'s \"q\"''`id`'" },
    { "echo {#}x{}{1}\t{/}\n{.}y", 0, 2, { "a b", "c'd" }, "echo 1x'a b' 'c'\"'\"'d''a b'\t'a b' 'c'\"'\"'d'\n'a b' 'c'\"'\"'d'y" },
    { "echo {#}x{}{1}\t{/}\n{.}y", 1, 2, { "a b", "c'd" }, "echo 1x'a b''a b' 1x'c'\"'\"'d''a b'\t'a b'\n'a b'y \t'c'\"'\"'d'\n'c'\"'\"'d'y" },
    { "echo {#}x{}{1}\t{/}\n{.}y", 0, 2, { "dir/f.x", "" }, "echo 1xdir/f.x ''dir/f.x\tf.x ''\ndir/f ''y" },
    { "echo {#}x{}{1}\t{/}\n{.}y", 1, 2, { "dir/f.x", "" }, "echo 1xdir/f.xdir/f.x 1x''dir/f.x\tf.x\ndir/fy \t''\n''y" },
    { "echo {#}x{}{1}\t{/}\n{.}y", 0, 2, { "-n", "$HOME" }, "echo 1x-n '$HOME'-n\t-n '$HOME'\n-n '$HOME'y" },
    { "echo {#}x{}{1}\t{/}\n{.}y", 1, 2, { "-n", "$HOME" }, "echo 1x-n-n 1x'$HOME'-n\t-n\n-ny \t'$HOME'\n'$HOME'y" },
    { "echo {#}x{}{1}\t{/}\n{.}y", 0, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo 1x'x\ny/z.w' '\346\227\245\346\234\254.txt''x\ny/z.w'\t'x\nz.w' '\346\227\245\346\234\254.txt'\n'x\ny/z' '\346\227\245\346\234\254'y" },
    { "echo {#}x{}{1}\t{/}\n{.}y", 1, 2, { "x\ny/z.w", "\346\227\245\346\234\254.txt" }, "echo 1x'x\ny/z.w''x\ny/z.w' 1x'\346\227\245\346\234\254.txt''x\ny/z.w'\t'x\nz.w'\n'x\ny/z'y \t'\346\227\245\346\234\254.txt'\n'\346\227\245\346\234\254'y" },
    { "echo {#}x{}{1}\t{/}\n{.}y", 0, 3, { "a", "b", "c" }, "echo 1xa b ca\ta b c\na b cy" },
    { "echo {#}x{}{1}\t{/}\n{.}y", 1, 3, { "a", "b", "c" }, "echo 1xaa 1xba 1xca\ta\nay \tb\nby \tc\ncy" },
    { "echo {#}x{}{1}\t{/}\n{.}y", 0, 1, { "only" }, "echo 1xonlyonly\tonly\nonlyy" },
    { "echo {#}x{}{1}\t{/}\n{.}y", 1, 1, { "only" }, "echo 1xonlyonly\tonly\nonlyy" },
    { "echo {#}x{}{1}\t{/}\n{.}y", 0, 2, { "/", "a.b/c" }, "echo 1x/ a.b/c/\t'' c\n/ a.b/cy" },
    { "echo {#}x{}{1}\t{/}\n{.}y", 1, 2, { "/", "a.b/c" }, "echo 1x// 1xa.b/c/\t''\n/y \tc\na.b/cy" },
    { "echo {#}x{}{1}\t{/}\n{.}y", 0, 2, { "`id`", "it's \"q\"" }, "echo 1x'`id`' 'it'\"'\"'s \"q\"''`id`'\t'`id`' 'it'\"'\"'s \"q\"'\n'`id`' 'it'\"'\"'s \"q\"'y" },
    { "echo {#}x{}{1}\t{/}\n{.}y", 1, 2, { "`id`", "it's \"q\"" }, "echo 1x'`id`''`id`' 1x'it'\"'\"'s \"q\"''`id`'\t'`id`'\n'`id`'y \t'it'\"'\"'s \"q\"'\n'it'\"'\"'s \"q\"'y" },
};

#define S_COUNT(table) (sizeof (table) / sizeof ((table) [0]))

/* Returns the command line for cmd (a new string the caller frees). */
static char *
s_expand (const char *cmd, const char *input, uint64_t seq)
{
    ff_buf_t out = { NULL, 0, 0 };
    ck_assert_int_eq (ff_exec_expand (&out, cmd, input, seq), 0);
    ck_assert_int_eq (ff_buf_append (&out, "", 1), 0);
    return (char *) out.data;
}

/* Asserts that "echo RPL" expands each case's input to "echo EXPECTED". */
static void
s_assert_cases (const char *rpl, const s_case_t *cases, size_t count)
{
    char cmd [16], expected [64];
    size_t index;
    snprintf (cmd, sizeof (cmd), "echo %s", rpl);
    for (index = 0; index < count; index++) {
        char *line = s_expand (cmd, cases [index].input, 0);
        snprintf (expected, sizeof (expected), "echo %s", cases [index].expected);
        ck_assert_msg (strcmp (line, expected) == 0,
                       "%s on \"%s\" gave [%s], parallel gives [%s]",
                       rpl, cases [index].input, line, expected);
        free (line);
    }
}

static double
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (double) now.tv_sec * 1e3 + (double) now.tv_nsec / 1e6;
}

/* Runs the exec kernel over payload through ff_kernels_run, as a worker
   does. Returns its rc; *ms is the wall time. The caller frees result. */
static int
s_run (const char *const *params, size_t nparams, const void *payload,
       size_t size, ff_result_t *result, double *ms)
{
    ff_task_t task = {
        0, "input", (const uint8_t *) payload, size, params, nparams, NULL, 0
    };
    double start = s_now_ms ();
    memset (result, 0, sizeof (*result));
    int rc = ff_kernels_run (&ff_kernel_exec, &task, result);
    if (ms)
        *ms = s_now_ms () - start;
    return rc;
}

/* Returns buf as a C string (a NUL goes after its bytes, uncounted). */
static const char *
s_text (ff_buf_t *buf)
{
    ck_assert_int_eq (ff_buf_append (buf, "", 1), 0);
    buf->size--;
    return (const char *) buf->data;
}

static void
s_result_free (ff_result_t *result)
{
    ff_result_reset (result, 0);
}

/* A deterministic payload: a 32-bit LCG's bits 16..23. */
static uint8_t *
s_payload (size_t size)
{
    uint8_t *data = (uint8_t *) malloc (size);
    uint32_t state = 12345;
    size_t index;
    ck_assert_ptr_nonnull (data);
    for (index = 0; index < size; index++) {
        state = state * 1103515245u + 12345u;
        data [index] = (uint8_t) (state >> 16);
    }
    return data;
}

/* Number of open fds of this process. */
static int
s_open_fds (void)
{
    int count = 0, fd;
    for (fd = 0; fd < 1024; fd++)
        if (fcntl (fd, F_GETFD) >= 0)
            count++;
    return count;
}

/* Fills pids with the children of this process (alive or zombie) and
   returns how many there are. */
static size_t
s_children (pid_t *pids, size_t max)
{
    size_t count = 0;
    DIR *proc = opendir ("/proc");
    struct dirent *entry;
    ck_assert_ptr_nonnull (proc);
    while ((entry = readdir (proc)) && count < max) {
        char path [300], stat [512];
        if (entry->d_name [0] < '1' || entry->d_name [0] > '9')
            continue;
        snprintf (path, sizeof (path), "/proc/%s/stat", entry->d_name);
        FILE *file = fopen (path, "r");
        if (!file)
            continue;
        size_t got = fread (stat, 1, sizeof (stat) - 1, file);
        fclose (file);
        stat [got] = 0;
        char *paren = strrchr (stat, ')');
        int ppid;
        if (paren && sscanf (paren + 2, "%*c %d", &ppid) == 1 && ppid == getpid ())
            pids [count++] = (pid_t) atoi (entry->d_name);
    }
    closedir (proc);
    return count;
}

/* True when pid no longer runs (gone, or a zombie its new parent has not
   reaped yet). Waits up to 2 s for it. */
static int
s_process_gone (pid_t pid)
{
    double until = s_now_ms () + 2000;
    do {
        char path [64], stat [512];
        if (kill (pid, 0) < 0 && errno == ESRCH)
            return 1;
        snprintf (path, sizeof (path), "/proc/%d/stat", (int) pid);
        FILE *file = fopen (path, "r");
        if (file) {
            size_t got = fread (stat, 1, sizeof (stat) - 1, file);
            fclose (file);
            stat [got] = 0;
            char *paren = strrchr (stat, ')');
            if (paren && (paren [2] == 'Z' || paren [2] == 'X'))
                return 1;
        }
        usleep (10000);
    } while (s_now_ms () < until);
    return 0;
}

/* Runs argv (found in PATH) with PARALLEL_SHELL=/bin/sh, stdin fed from
   input, and returns its stdout (a new string) or NULL when it cannot be
   started. */
static char *
s_capture (char *const argv [], const char *input)
{
    size_t count = 0, index;
    while (environ [count])
        count++;
    char **envp = (char **) calloc (count + 2, sizeof (char *));
    ck_assert_ptr_nonnull (envp);
    for (index = 0; index < count; index++)
        envp [index] = environ [index];
    envp [count] = (char *) "PARALLEL_SHELL=/bin/sh";

    int in [2], out [2];
    ck_assert_int_eq (pipe2 (in, O_CLOEXEC), 0);
    ck_assert_int_eq (pipe2 (out, O_CLOEXEC), 0);
    ck_assert_int_eq (write (in [1], input, strlen (input)), (ssize_t) strlen (input));
    close (in [1]);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_adddup2 (&actions, in [0], 0);
    posix_spawn_file_actions_adddup2 (&actions, out [1], 1);
    pid_t pid;
    int rc = posix_spawnp (&pid, argv [0], &actions, NULL, argv, envp);
    posix_spawn_file_actions_destroy (&actions);
    free (envp);
    close (in [0]);
    close (out [1]);
    if (rc) {
        close (out [0]);
        return NULL;
    }
    ff_buf_t text = { NULL, 0, 0 };
    char chunk [4096];
    ssize_t got;
    while ((got = read (out [0], chunk, sizeof (chunk))) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        ck_assert_int_gt (got, 0);
        ck_assert_int_eq (ff_buf_append (&text, chunk, (size_t) got), 0);
    }
    close (out [0]);
    int status;
    ck_assert_int_eq (waitpid (pid, &status, 0), pid);
    ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 0,
                   "%s failed (status %d)", argv [0], status);
    ck_assert_int_eq (ff_buf_append (&text, "", 1), 0);
    return (char *) text.data;
}

/* Every argument of the tables above, once. */
static const char **
s_all_inputs (size_t *count)
{
    static const struct { const s_case_t *cases; size_t count; } tables [] = {
        { s_quoted, S_COUNT (s_quoted) },
        { s_noext, S_COUNT (s_noext) },
        { s_basename, S_COUNT (s_basename) },
        { s_dirname, S_COUNT (s_dirname) },
        { s_basename_noext, S_COUNT (s_basename_noext) },
    };
    static const char *inputs [128];
    size_t table, index;
    *count = 0;
    for (table = 0; table < S_COUNT (tables); table++)
        for (index = 0; index < tables [table].count; index++)
            inputs [(*count)++] = tables [table].cases [index].input;
    return inputs;
}

static const char *s_live_templates [] = {
    "echo {}",
    "echo \"{}\"",
    "echo '{}'",
    "echo {.} {/} {//} {/.} {#}",
    "echo",
    "",
    "{}",
    "./{/.}.sh --in={}",
    "x={} echo {{}} { } {=",
    "printf '%s|\\n' {} | rev",
    "echo\t{}{}\n{#}",
};

/* Fills args from a tuple case and returns how many. */
static size_t
s_tuple_args (const s_tuple_case_t *tuple, ff_exec_arg_t *args)
{
    size_t index;
    for (index = 0; index < tuple->nargs; index++)
        args [index] = (ff_exec_arg_t) { tuple->args [index],
                                         strlen (tuple->args [index]) };
    return tuple->nargs;
}

/* Sets (or with value NULL unsets) an environment variable for a test. */
static void
s_setenv (const char *name, const char *value)
{
    if (value)
        ck_assert_int_eq (setenv (name, value, 1), 0);
    else
        ck_assert_int_eq (unsetenv (name), 0);
}

/* ---------------------------------------------------- the command line */

START_TEST (test_exec_quote_matches_parallel_for_awkward_arguments)
{
    s_assert_cases ("{}", s_quoted, S_COUNT (s_quoted));
    ff_buf_t out = { NULL, 0, 0 };
    ck_assert_int_eq (ff_exec_quote (&out, "it's"), 0);
    ck_assert_int_eq (ff_exec_quote (&out, ""), 0);
    ck_assert_str_eq (s_text (&out), "'it'\"'\"'s'''");
    free (out.data);
}
END_TEST

START_TEST (test_exec_dot_drops_the_last_extension_of_the_last_name)
{
    s_assert_cases ("{.}", s_noext, S_COUNT (s_noext));
}
END_TEST

START_TEST (test_exec_slash_gives_the_basename)
{
    s_assert_cases ("{/}", s_basename, S_COUNT (s_basename));
}
END_TEST

START_TEST (test_exec_double_slash_gives_the_dirname)
{
    s_assert_cases ("{//}", s_dirname, S_COUNT (s_dirname));
}
END_TEST

START_TEST (test_exec_slash_dot_gives_the_basename_without_extension)
{
    s_assert_cases ("{/.}", s_basename_noext, S_COUNT (s_basename_noext));
}
END_TEST

START_TEST (test_exec_hash_gives_the_job_number_counted_from_one)
{
    char *line = s_expand ("echo {#} {#}{}", "x y", 41);
    ck_assert_str_eq (line, "echo 42 42'x y'");
    free (line);
    line = s_expand ("echo {#}", "x", UINT64_MAX - 1);
    ck_assert_str_eq (line, "echo 18446744073709551615");
    free (line);
}
END_TEST

START_TEST (test_exec_appends_the_quoted_argument_when_there_is_no_replacement_string)
{
    char *line = s_expand ("wc -c", "my file", 0);
    ck_assert_str_eq (line, "wc -c 'my file'");
    free (line);
    line = s_expand ("echo {x} { } {{", "a", 0);
    ck_assert_str_eq (line, "echo {x} { } {{ a");
    free (line);
    line = s_expand ("", "a b", 0);
    ck_assert_str_eq (line, " 'a b'");
    free (line);
}
END_TEST

START_TEST (test_exec_leaves_values_unquoted_in_the_command_word_as_parallel_does)
{
    char *line = s_expand ("{}", "echo a b", 0);
    ck_assert_str_eq (line, "echo a b");
    free (line);
    line = s_expand ("./{.}.sh {/}", "dir/my job.x", 0);
    ck_assert_str_eq (line, "./dir/my job.sh my job.x");
    free (line);
    /* a space or '=' before it: quoted again */
    line = s_expand ("X={} cmd {}", "a b", 0);
    ck_assert_str_eq (line, "X='a b' cmd 'a b'");
    free (line);
}
END_TEST

START_TEST (test_exec_pipe_mode_expands_from_the_empty_argument_and_appends_nothing)
{
    char *line = s_expand ("cat > part{#}", NULL, 6);
    ck_assert_str_eq (line, "cat > part7");
    free (line);
    line = s_expand ("echo {} {.} {/} {//} {/.}", NULL, 0);
    ck_assert_str_eq (line, "echo '' '' '' . ''");
    free (line);
    line = s_expand ("md5sum", NULL, 0);
    ck_assert_str_eq (line, "md5sum");
    free (line);
}
END_TEST

START_TEST (test_exec_expand_matches_gnu_parallel_dry_run)
{
    size_t count, index, tmpl;
    const char **inputs = s_all_inputs (&count);
    for (tmpl = 0; tmpl < S_COUNT (s_live_templates); tmpl++) {
        const char *argv [140];
        size_t argc = 0;
        argv [argc++] = "parallel";
        argv [argc++] = "-0";       /* keep newlines inside arguments */
        argv [argc++] = "-k";
        argv [argc++] = "-j1";
        argv [argc++] = "--dry-run";
        argv [argc++] = s_live_templates [tmpl];
        argv [argc++] = ":::";
        for (index = 0; index < count; index++)
            argv [argc++] = inputs [index];
        argv [argc] = NULL;
        char *theirs = s_capture ((char *const *) argv, "");
        if (!theirs) {
            fprintf (stderr, "check_exec: GNU parallel is not installed; "
                     "the golden tables stand in for it\n");
            return;
        }
        ff_buf_t ours = { NULL, 0, 0 };
        for (index = 0; index < count; index++) {
            ck_assert_int_eq (ff_exec_expand (&ours, s_live_templates [tmpl],
                                              inputs [index], index), 0);
            ck_assert_int_eq (ff_buf_puts (&ours, "\n"), 0);
        }
        ck_assert_msg (strcmp (s_text (&ours), theirs) == 0,
                       "template [%s]: ours\n%s\nparallel's\n%s",
                       s_live_templates [tmpl], s_text (&ours), theirs);
        free (ours.data);
        free (theirs);
    }
}
END_TEST

START_TEST (test_exec_pipe_mode_expand_matches_gnu_parallel_pipe_dry_run)
{
    size_t tmpl, index;
    for (tmpl = 0; tmpl < S_COUNT (s_live_templates); tmpl++) {
        char *line = s_expand (s_live_templates [tmpl], NULL, 0);
        int blank = strspn (line, " \t\n") == strlen (line);
        free (line);
        if (blank)
            continue;               /* parallel --pipe refuses no command */
        const char *argv [] = {
            "parallel", "--pipe", "-N1", "-k", "-j1", "--dry-run",
            s_live_templates [tmpl], NULL
        };
        char *theirs = s_capture ((char *const *) argv, "r\nr\nr\n");
        if (!theirs)
            return;                 /* not installed: said above */
        ff_buf_t ours = { NULL, 0, 0 };
        for (index = 0; index < 3; index++) {
            ck_assert_int_eq (ff_exec_expand (&ours, s_live_templates [tmpl],
                                              NULL, index), 0);
            ck_assert_int_eq (ff_buf_puts (&ours, "\n"), 0);
        }
        ck_assert_msg (strcmp (s_text (&ours), theirs) == 0,
                       "template [%s]: ours\n%s\nparallel's\n%s",
                       s_live_templates [tmpl], s_text (&ours), theirs);
        free (ours.data);
        free (theirs);
    }
}
END_TEST

START_TEST (test_exec_line_matches_parallel_for_argument_tuples)
{
    size_t index;
    for (index = 0; index < S_COUNT (s_tuples); index++) {
        ff_exec_arg_t args [3];
        size_t nargs = s_tuple_args (&s_tuples [index], args);
        ff_buf_t out = { NULL, 0, 0 };
        ck_assert_int_eq (ff_exec_line (&out, s_tuples [index].cmd, args, nargs,
                                        0, NULL, s_tuples [index].context), 0);
        ck_assert_msg (strcmp (s_text (&out), s_tuples [index].expected) == 0,
                       "template [%s] (context %d) on %zu arguments (first [%s]) "
                       "gave\n[%s]\nparallel gives\n[%s]", s_tuples [index].cmd,
                       s_tuples [index].context, nargs,
                       s_tuples [index].args [0], s_text (&out),
                       s_tuples [index].expected);
        free (out.data);
    }
}
END_TEST

START_TEST (test_exec_line_matches_live_parallel_for_argument_pairs)
{
    /* every pair of the table, for each of its templates: with --link
       (context 0) and -N2 (context 1), one run each */
    size_t index, tmpl;
    int context;
    for (tmpl = 0; tmpl < S_COUNT (s_tuples); tmpl++) {
        const char *cmd = s_tuples [tmpl].cmd;
        if (tmpl > 0 && strcmp (s_tuples [tmpl - 1].cmd, cmd) == 0)
            continue;               /* the table is grouped by template */
        for (context = 0; context <= 1; context++) {
            /* context 0: the first and the second arguments in two files,
               linked; context 1: both in one file, two by two */
            ff_buf_t firsts = { NULL, 0, 0 }, seconds = { NULL, 0, 0 };
            ff_buf_t ours = { NULL, 0, 0 };
            uint64_t seq = 0;
            for (index = tmpl; index < S_COUNT (s_tuples)
                 && strcmp (s_tuples [index].cmd, cmd) == 0; index++) {
                if (s_tuples [index].nargs != 2 || s_tuples [index].context != context)
                    continue;
                ff_exec_arg_t args [3];
                size_t nargs = s_tuple_args (&s_tuples [index], args);
                ck_assert_int_eq (ff_buf_append (&firsts, args [0].text, args [0].len + 1), 0);
                ck_assert_int_eq (ff_buf_append (context? &firsts: &seconds, args [1].text,
                                                 args [1].len + 1), 0);
                ck_assert_int_eq (ff_exec_line (&ours, cmd, args, nargs, seq++, "1",
                                                context), 0);
                ck_assert_int_eq (ff_buf_puts (&ours, "\n"), 0);
            }
            const char *script = context
                ? "parallel -0 -N2 -k -j1 --dry-run -a \"$1\" \"$0\""
                : "parallel -0 -k -j1 --link --dry-run \"$0\" :::: \"$1\" :::: \"$2\"";
            char first_path [] = "/tmp/check_exec_a.XXXXXX";
            char second_path [] = "/tmp/check_exec_b.XXXXXX";
            int first_fd = mkstemp (first_path), second_fd = mkstemp (second_path);
            ck_assert_int_ge (first_fd, 0);
            ck_assert_int_ge (second_fd, 0);
            ck_assert_int_eq (write (first_fd, firsts.data, firsts.size), (ssize_t) firsts.size);
            if (seconds.size)
                ck_assert_int_eq (write (second_fd, seconds.data, seconds.size),
                                  (ssize_t) seconds.size);
            close (first_fd);
            close (second_fd);
            const char *argv [] = { "sh", "-c", script, cmd, first_path, second_path, NULL };
            char *theirs = s_capture ((char *const *) argv, "");
            unlink (first_path);
            unlink (second_path);
            ck_assert_ptr_nonnull (theirs);
            int missing = !*theirs && ours.size;
            if (missing)
                fprintf (stderr, "check_exec: GNU parallel is not installed; "
                         "the golden tables stand in for it\n");
            else
                ck_assert_msg (strcmp (s_text (&ours), theirs) == 0,
                               "template [%s] context %d: ours\n%s\nparallel's\n%s",
                               cmd, context, s_text (&ours), theirs);
            free (theirs);
            free (firsts.data);
            free (seconds.data);
            free (ours.data);
            if (missing)
                return;
        }
    }
}
END_TEST

START_TEST (test_exec_line_gives_the_job_slot_once_for_any_number_of_arguments)
{
    ff_exec_arg_t args [] = { { "a", 1 }, { "b c", 3 } };
    ff_buf_t out = { NULL, 0, 0 };
    ck_assert_int_eq (ff_exec_line (&out, "echo {%}-{#} {}", args, 2, 6, "12", 0), 0);
    ck_assert_str_eq (s_text (&out), "echo 12-7 a 'b c'");
    out.size = 0;
    ck_assert_int_eq (ff_exec_line (&out, "echo {%}", NULL, 0, 0, NULL, 0), 0);
    ck_assert_str_eq (s_text (&out), "echo 1");
    free (out.data);
}
END_TEST

START_TEST (test_exec_line_leaves_what_only_looks_like_a_positional_string)
{
    ff_exec_arg_t args [] = { { "a", 1 }, { "b", 1 } };
    ff_buf_t out = { NULL, 0, 0 };
    ck_assert_int_eq (ff_exec_line (&out, "echo { 1} {1x} {-} {1#} {99999999999999999999}",
                                    args, 2, 0, NULL, 0), 0);
    ck_assert_str_eq (s_text (&out), "echo { 1} {1x} {-} {1#} ");
    free (out.data);
}
END_TEST

START_TEST (test_exec_shell_choose_takes_bash_zsh_and_ksh_from_shell)
{
    ck_assert_str_eq (ff_exec_shell_choose (NULL, "/bin/bash"), "/bin/bash");
    ck_assert_str_eq (ff_exec_shell_choose (NULL, "/usr/bin/zsh"), "/usr/bin/zsh");
    ck_assert_str_eq (ff_exec_shell_choose (NULL, "/bin/ksh"), "/bin/ksh");
    ck_assert_str_eq (ff_exec_shell_choose ("", "/opt/bin/mksh"), "/opt/bin/mksh");
    ck_assert_str_eq (ff_exec_shell_choose (NULL, "/usr/bin/ksh93"), "/usr/bin/ksh93");
}
END_TEST

START_TEST (test_exec_shell_choose_falls_back_to_bin_sh_for_any_other_shell)
{
    const char *others [] = {
        "/usr/bin/fish", "/bin/tcsh", "/bin/csh", "/bin/dash", "/bin/sh",
        "/usr/bin/bashful", "/bin/rbash", "bash", "", "/", "/bin/"
    };
    size_t index;
    for (index = 0; index < S_COUNT (others); index++)
        ck_assert_msg (strcmp (ff_exec_shell_choose (NULL, others [index]),
                               FF_EXEC_DEFAULT_SHELL) == 0,
                       "SHELL=%s was taken", others [index]);
    ck_assert_str_eq (ff_exec_shell_choose (NULL, NULL), "/bin/sh");
}
END_TEST

START_TEST (test_exec_shell_choose_lets_a_forced_shell_win)
{
    ck_assert_str_eq (ff_exec_shell_choose ("/usr/bin/fish", "/bin/bash"),
                      "/usr/bin/fish");
    ck_assert_str_eq (ff_exec_shell_choose ("/bin/dash", NULL), "/bin/dash");
}
END_TEST

/* ------------------------------------------------------------ commands */

START_TEST (test_exec_runs_the_command_with_the_argument_quoted)
{
    const char *params [] = { "cmd", "printf \"%s|\\n\" {} | rev" };
    const char *arg = "it's a $HOME `id` \"x\"";
    ff_result_t result;
    ck_assert_int_eq (s_run (params, 1, arg, strlen (arg), &result, NULL), 0);
    ck_assert_str_eq (s_text (&result.data), "|\"x\" `di` EMOH$ a s'ti\n");
    ck_assert_str_eq (s_text (&result.meta), "\"exit\":0");
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_result_is_stdout_byte_for_byte_without_stderr)
{
    const char *params [] = { "cmd", "printf 'a\\000b\\n\\377'; echo noise >&2; : {}" };
    ff_result_t result;
    /* the command's stderr is ours: keep it off the test output */
    int saved = dup (2), null = open ("/dev/null", O_WRONLY);
    ck_assert_int_ge (saved, 0);
    ck_assert_int_ge (null, 0);
    dup2 (null, 2);
    int rc = s_run (params, 1, "x", 1, &result, NULL);
    dup2 (saved, 2);
    close (saved);
    close (null);
    ck_assert_int_eq (rc, 0);
    ck_assert_uint_eq (result.data.size, 5);
    ck_assert_mem_eq (result.data.data, "a\0b\n\377", 5);
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_argument_mode_gives_the_command_an_empty_stdin)
{
    const char *params [] = { "cmd", "cat; echo {#}" };
    ff_result_t result;
    ck_assert_int_eq (s_run (params, 1, "x", 1, &result, NULL), 0);
    ck_assert_str_eq (s_text (&result.data), "1\n");
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_pipe_mode_feeds_a_megabyte_to_md5sum)
{
    const char *params [] = { "cmd", "md5sum", "pipe", "1" };
    uint8_t *payload = s_payload (1000000);
    ff_result_t result;
    ck_assert_int_eq (s_run (params, 2, payload, 1000000, &result, NULL), 0);
    ck_assert_str_eq (s_text (&result.data),
                      "1dfda79e960883c9a48527cb046dd651  -\n");
    s_result_free (&result);
    free (payload);
}
END_TEST

START_TEST (test_exec_pipe_mode_passes_every_byte_through_cat)
{
    const char *params [] = { "cmd", "cat", "pipe", "1" };
    uint8_t *payload = s_payload (3000000);
    ff_result_t result;
    ck_assert_int_eq (s_run (params, 2, payload, 3000000, &result, NULL), 0);
    ck_assert_uint_eq (result.data.size, 3000000);
    ck_assert_int_eq (memcmp (result.data.data, payload, 3000000), 0);
    s_result_free (&result);
    free (payload);
}
END_TEST

START_TEST (test_exec_keeps_twenty_megabytes_of_output)
{
    const char *params [] = { "cmd", "head -c 20000000 /dev/zero", "pipe", "1" };
    static const uint8_t zeros [4096];
    ff_result_t result;
    size_t at;
    ck_assert_int_eq (s_run (params, 2, NULL, 0, &result, NULL), 0);
    ck_assert_uint_eq (result.data.size, 20000000);
    for (at = 0; at < result.data.size; at += sizeof (zeros)) {
        size_t len = result.data.size - at < sizeof (zeros)
                   ? result.data.size - at: sizeof (zeros);
        ck_assert_int_eq (memcmp (result.data.data + at, zeros, len), 0);
    }
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_finishes_when_the_command_reads_no_stdin)
{
    const char *params [] = { "cmd", "true", "pipe", "1" };
    uint8_t *payload = s_payload (5000000);
    ff_result_t result;
    double ms;
    ck_assert_int_eq (s_run (params, 2, payload, 5000000, &result, &ms), 0);
    ck_assert_uint_eq (result.data.size, 0);
    ck_assert_double_lt (ms, 5000);
    s_result_free (&result);
    free (payload);
}
END_TEST

START_TEST (test_exec_finishes_when_the_command_closes_stdin_early_even_with_sigpipe_at_default)
{
    const char *params [] = { "cmd", "head -c 10", "pipe", "1" };
    uint8_t *payload = s_payload (5000000);
    struct sigaction fatal, old;
    memset (&fatal, 0, sizeof (fatal));
    fatal.sa_handler = SIG_DFL;
    sigaction (SIGPIPE, &fatal, &old);
    ff_result_t result;
    int rc = s_run (params, 2, payload, 5000000, &result, NULL);
    sigaction (SIGPIPE, &old, NULL);
    ck_assert_int_eq (rc, 0);
    ck_assert_uint_eq (result.data.size, 10);
    ck_assert_mem_eq (result.data.data, payload, 10);
    s_result_free (&result);
    free (payload);
}
END_TEST

static volatile sig_atomic_t s_sigterms;

static void
s_on_sigterm (int signum)
{
    (void) signum;
    s_sigterms++;
}

START_TEST (test_exec_finishes_the_task_when_the_host_gets_sigterm_without_sa_restart)
{
    /* the command signals its parent (us) twice while we wait to write */
    const char *params [] = {
        "cmd", "kill -TERM $PPID; sleep 0.2; kill -TERM $PPID; sleep 0.2; cat",
        "pipe", "1"
    };
    uint8_t *payload = s_payload (2000000);
    struct sigaction counting, old;
    memset (&counting, 0, sizeof (counting));
    counting.sa_handler = s_on_sigterm;
    counting.sa_flags = 0;                  /* no SA_RESTART */
    sigemptyset (&counting.sa_mask);
    s_sigterms = 0;
    sigaction (SIGTERM, &counting, &old);
    ff_result_t result;
    int rc = s_run (params, 2, payload, 2000000, &result, NULL);
    sigaction (SIGTERM, &old, NULL);
    ck_assert_int_eq (s_sigterms, 2);
    ck_assert_int_eq (rc, 0);
    ck_assert_uint_eq (result.data.size, 2000000);
    ck_assert_int_eq (memcmp (result.data.data, payload, 2000000), 0);
    s_result_free (&result);
    free (payload);
}
END_TEST

START_TEST (test_exec_does_not_wait_for_what_the_command_left_in_the_background)
{
    /* the background sleep holds stdout open; parallel does not wait */
    const char *params [] = { "cmd", "sleep 3 & echo {}" };
    ff_result_t result;
    double ms;
    ck_assert_int_eq (s_run (params, 1, "done", 4, &result, &ms), 0);
    ck_assert_str_eq (s_text (&result.data), "done\n");
    ck_assert_double_lt (ms, 2000);
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_cost_is_the_payload_size)
{
    ff_task_t task = { 0, "input", (const uint8_t *) "12345", 5, NULL, 0, NULL, 0 };
    ck_assert_double_eq (ff_kernel_exec.cost (&task), 5.0);
    ck_assert_double_eq (ff_exec_cost (&task), 5.0);
}
END_TEST

START_TEST (test_exec_is_a_builtin_kernel)
{
    const ff_kernel_t *kernel = ff_kernels_find ("exec");
    ck_assert_ptr_nonnull (kernel);
    ck_assert_uint_eq (kernel->abi, FF_KERNEL_ABI);
    ck_assert_ptr_eq (kernel->run, ff_exec_run);
    ck_assert_ptr_eq (ff_kernel_exec.run, ff_exec_run);
    ck_assert_str_eq (ff_kernel_exec.name, "exec");
}
END_TEST

START_TEST (test_exec_splits_a_nul_separated_payload_into_arguments)
{
    const char *params [] = { "cmd", "printf '%s|' {3} {1} {2}; echo", "args", "nul" };
    ff_result_t result;
    ck_assert_int_eq (s_run (params, 2, "a b\0\0c'd", 8, &result, NULL), 0);
    ck_assert_str_eq (s_text (&result.data), "c'd|a b||\n");
    s_result_free (&result);
    /* "a\0" is two arguments, the second empty; "" is one empty one */
    const char *count [] = { "cmd", "printf '%s|' {}; echo", "args", "nul" };
    ck_assert_int_eq (s_run (count, 2, "a\0", 2, &result, NULL), 0);
    ck_assert_str_eq (s_text (&result.data), "a||\n");
    s_result_free (&result);
    ck_assert_int_eq (s_run (count, 2, "", 0, &result, NULL), 0);
    ck_assert_str_eq (s_text (&result.data), "|\n");
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_appends_every_argument_of_a_tuple_when_there_is_no_replacement_string)
{
    const char *params [] = { "cmd", "printf '<%s>'", "args", "nul" };
    ff_result_t result;
    ck_assert_int_eq (s_run (params, 2, "x y\0$HOME\0-n", 12, &result, NULL), 0);
    ck_assert_str_eq (s_text (&result.data), "<x y><$HOME><-n>");
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_gives_each_command_its_seq_and_job_slot)
{
    const char *params [] = {
        "cmd", "echo {%} {#} $PARALLEL_SEQ $PARALLEL_JOBSLOT", "slot", "3"
    };
    ff_result_t result;
    /* values the worker itself has must not leak through */
    s_setenv ("PARALLEL_SEQ", "99");
    s_setenv ("PARALLEL_JOBSLOT", "98");
    ff_task_t task = { 6, "x", (const uint8_t *) "x", 1, params, 2, NULL, 0 };
    memset (&result, 0, sizeof (result));
    int rc = ff_kernels_run (&ff_kernel_exec, &task, &result);
    s_setenv ("PARALLEL_SEQ", NULL);
    s_setenv ("PARALLEL_JOBSLOT", NULL);
    ck_assert_int_eq (rc, 0);
    ck_assert_str_eq (s_text (&result.data), "3 7 7 3\n");
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_seq_and_slot_match_parallel_with_one_job_slot)
{
    const char *cmd = "echo {%} {#} $PARALLEL_SEQ $PARALLEL_JOBSLOT {}";
    const char *argv [] = { "parallel", "-k", "-j1", cmd, ":::", "a", "b", "c", NULL };
    char *theirs = s_capture ((char *const *) argv, "");
    if (!theirs)
        return;                     /* not installed: said above */
    const char *params [] = { "cmd", cmd, "slot", "1" };
    ff_buf_t ours = { NULL, 0, 0 };
    uint64_t seq;
    for (seq = 0; seq < 3; seq++) {
        char arg [2] = { (char) ('a' + seq), 0 };
        ff_task_t task = { seq, arg, (const uint8_t *) arg, 1, params, 2, NULL, 0 };
        ff_result_t result;
        memset (&result, 0, sizeof (result));
        ck_assert_int_eq (ff_kernels_run (&ff_kernel_exec, &task, &result), 0);
        ck_assert_int_eq (ff_buf_append (&ours, result.data.data, result.data.size), 0);
        s_result_free (&result);
    }
    ck_assert_str_eq (s_text (&ours), theirs);
    free (ours.data);
    free (theirs);
}
END_TEST

START_TEST (test_exec_runs_bash_isms_and_exported_functions_under_shell_bash)
{
    const char *params [] = {
        "cmd", "[[ {} == a* ]] && greet {}", "shell", "/bin/bash"
    };
    ff_result_t result;
    /* what `export -f greet` puts in the environment */
    s_setenv ("BASH_FUNC_greet%%", "() {  echo \"hello $1\"\n}");
    int rc = s_run (params, 2, "abc", 3, &result, NULL);
    s_setenv ("BASH_FUNC_greet%%", NULL);
    ck_assert_int_eq (rc, 0);
    ck_assert_str_eq (s_text (&result.data), "hello abc\n");
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_runs_under_bin_sh_without_a_shell_parameter)
{
    const char *params [] = { "cmd", "echo $0 {}" };
    ff_result_t result;
    ck_assert_int_eq (s_run (params, 1, "x", 1, &result, NULL), 0);
    ck_assert_str_eq (s_text (&result.data), "/bin/sh x\n");
    s_result_free (&result);
    const char *bash [] = { "cmd", "echo $0 $BASH_VERSION", "shell", "bash" };
    ck_assert_int_eq (s_run (bash, 2, "x", 1, &result, NULL), 0);
    ck_assert_ptr_nonnull (strstr (s_text (&result.data), "bash "));
    ck_assert_int_gt ((int) result.data.size, 7);   /* a version follows */
    s_result_free (&result);
}
END_TEST

/* -------------------------------------------------------------- limits */

START_TEST (test_exec_nonzero_exit_fails_with_the_status_in_meta)
{
    const char *params [] = { "cmd", "echo partial; exit 3", "pipe", "1" };
    ff_result_t result;
    ck_assert_int_eq (s_run (params, 2, NULL, 0, &result, NULL), -1);
    ck_assert_str_eq (s_text (&result.data), "command exited with status 3");
    ck_assert_str_eq (s_text (&result.meta), "\"exit\":3");
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_killed_command_fails_with_the_signal_in_meta)
{
    const char *params [] = { "cmd", "kill -9 $$", "pipe", "1" };
    ff_result_t result;
    ck_assert_int_eq (s_run (params, 2, NULL, 0, &result, NULL), -1);
    ck_assert_str_eq (s_text (&result.data), "command killed by signal 9");
    ck_assert_str_eq (s_text (&result.meta), "\"signal\":9");
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_missing_command_exits_127)
{
    const char *params [] = { "cmd", "no-such-command-ff 2>/dev/null", "pipe", "1" };
    ff_result_t result;
    ck_assert_int_eq (s_run (params, 2, NULL, 0, &result, NULL), -1);
    ck_assert_str_eq (s_text (&result.meta), "\"exit\":127");
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_timeout_kills_the_whole_process_group)
{
    char path [] = "/tmp/check_exec_pid.XXXXXX";
    int fd = mkstemp (path);
    ck_assert_int_ge (fd, 0);
    const char *params [] = {
        "cmd", "sleep 30 & echo $! > {}; sleep 30", "timeout", "0.3"
    };
    ff_result_t result;
    double ms;
    ck_assert_int_eq (s_run (params, 2, path, strlen (path), &result, &ms), -1);
    ck_assert_double_lt (ms, 2500);
    ck_assert_double_ge (ms, 290);
    ck_assert_str_eq (s_text (&result.data), "command timed out after 0.3 s");

    char text [32] = "";
    ssize_t got = read (fd, text, sizeof (text) - 1);
    close (fd);
    unlink (path);
    ck_assert_int_gt (got, 0);
    text [got] = 0;
    pid_t grandchild = (pid_t) atoi (text);
    ck_assert_int_gt (grandchild, 1);
    ck_assert_msg (s_process_gone (grandchild),
                   "the background sleep %d outlived the timeout", (int) grandchild);
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_timeout_reaches_a_command_that_ignores_sigterm)
{
    const char *params [] = {
        "cmd", "trap '' TERM; sleep 30 & wait", "timeout", "0.2", "pipe", "1"
    };
    ff_result_t result;
    double ms;
    ck_assert_int_eq (s_run (params, 3, NULL, 0, &result, &ms), -1);
    ck_assert_double_lt (ms, 4000);
    ck_assert_str_eq (s_text (&result.data), "command timed out after 0.2 s");
    ck_assert_str_eq (s_text (&result.meta), "\"signal\":9");
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_output_past_max_output_fails)
{
    const char *params [] = {
        "cmd", "head -c 100000 /dev/zero", "max_output", "1000", "pipe", "1"
    };
    ff_result_t result;
    ck_assert_int_eq (s_run (params, 3, NULL, 0, &result, NULL), -1);
    ck_assert_str_eq (s_text (&result.data),
                      "command output exceeded max_output=1000 bytes");
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_output_of_exactly_max_output_is_kept)
{
    const char *params [] = {
        "cmd", "head -c 1000 /dev/zero", "max_output", "1000", "pipe", "1"
    };
    ff_result_t result;
    ck_assert_int_eq (s_run (params, 3, NULL, 0, &result, NULL), 0);
    ck_assert_uint_eq (result.data.size, 1000);
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_endless_output_is_cut_at_max_output_promptly)
{
    const char *params [] = { "cmd", "yes", "max_output", "1000000", "pipe", "1" };
    ff_result_t result;
    double ms;
    ck_assert_int_eq (s_run (params, 3, NULL, 0, &result, &ms), -1);
    ck_assert_double_lt (ms, 5000);
    ck_assert_str_eq (s_text (&result.data),
                      "command output exceeded max_output=1000000 bytes");
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_refuses_a_task_without_cmd)
{
    ff_result_t result;
    ck_assert_int_eq (s_run (NULL, 0, "x", 1, &result, NULL), -1);
    ck_assert_str_eq (s_text (&result.data), "exec: parameter cmd is missing");
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_refuses_a_bad_timeout_or_max_output)
{
    const char *bad_timeout [] = { "cmd", "true", "timeout", "soon" };
    const char *bad_max [] = { "cmd", "true", "max_output", "-1" };
    ff_result_t result;
    ck_assert_int_eq (s_run (bad_timeout, 2, "x", 1, &result, NULL), -1);
    ck_assert_ptr_nonnull (strstr (s_text (&result.data), "timeout=soon"));
    s_result_free (&result);
    ck_assert_int_eq (s_run (bad_max, 2, "x", 1, &result, NULL), -1);
    ck_assert_ptr_nonnull (strstr (s_text (&result.data), "max_output=-1"));
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_refuses_an_argument_with_a_nul_byte)
{
    const char *params [] = { "cmd", "echo {}" };
    ff_result_t result;
    ck_assert_int_eq (s_run (params, 1, "a\0b", 3, &result, NULL), -1);
    ck_assert_ptr_nonnull (strstr (s_text (&result.data), "NUL"));
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_failed_output_keeps_the_stdout_of_a_failed_command)
{
    const char *params [] = { "cmd", "echo partial; echo err >&2; exit 3",
                              "failed_output", "1" };
    ff_result_t result;
    int saved = dup (2), null = open ("/dev/null", O_WRONLY);
    dup2 (null, 2);
    int rc = s_run (params, 2, "x", 1, &result, NULL);
    dup2 (saved, 2);
    close (saved);
    close (null);
    ck_assert_int_eq (rc, -1);
    ck_assert_str_eq (s_text (&result.data), "partial\n");
    ck_assert_str_eq (s_text (&result.meta),
                      "\"exit\":3,\"failed\":\"command exited with status 3\"");
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_failed_output_keeps_the_stdout_of_a_command_killed_by_a_signal)
{
    const char *params [] = { "cmd", "echo before; kill -9 $$", "failed_output", "1" };
    ff_result_t result;
    ck_assert_int_eq (s_run (params, 2, "x", 1, &result, NULL), -1);
    ck_assert_str_eq (s_text (&result.data), "before\n");
    ck_assert_str_eq (s_text (&result.meta),
                      "\"signal\":9,\"failed\":\"command killed by signal 9\"");
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_failed_output_changes_nothing_for_a_command_that_succeeds)
{
    const char *params [] = { "cmd", "echo fine", "failed_output", "1" };
    ff_result_t result;
    ck_assert_int_eq (s_run (params, 2, "x", 1, &result, NULL), 0);
    ck_assert_str_eq (s_text (&result.data), "fine x\n");
    ck_assert_str_eq (s_text (&result.meta), "\"exit\":0");
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_failed_output_leaves_a_timeout_a_fault_with_its_message)
{
    const char *params [] = { "cmd", ": {}; echo early; sleep 5", "failed_output", "1",
                              "timeout", "0.2" };
    ff_result_t result;
    ck_assert_int_eq (s_run (params, 3, "x", 1, &result, NULL), -1);
    ck_assert_str_eq (s_text (&result.data), "command timed out after 0.2 s");
    ck_assert_ptr_null (strstr (s_text (&result.meta), "failed"));
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_command_param_puts_the_command_line_in_the_meta)
{
    const char *params [] = { "cmd", "echo {} >/dev/null", "command", "1" };
    ff_result_t result;
    ck_assert_int_eq (s_run (params, 2, "a b", 3, &result, NULL), 0);
    ck_assert_str_eq (s_text (&result.meta),
                      "\"exit\":0,\"command\":\"echo 'a b' >/dev/null\"");
    s_result_free (&result);
    /* JSON whatever the bytes: quotes, control characters, bad UTF-8 */
    const char *odd = "\"\\\t\xff\xc3\xa9";
    ck_assert_int_eq (s_run (params, 2, odd, strlen (odd), &result, NULL), 0);
    ck_assert_str_eq (s_text (&result.meta), "\"exit\":0,\"command\":\"echo "
                      "'\\\"\\\\\\u0009\\u00ff\xc3\xa9' >/dev/null\"");
    s_result_free (&result);
    const char *fails [] = { "cmd", "exit 2", "command", "1", "failed_output", "1" };
    ck_assert_int_eq (s_run (fails, 3, "x", 1, &result, NULL), -1);
    ck_assert_str_eq (s_text (&result.meta), "\"exit\":2,\"command\":\"exit 2 x\","
                      "\"failed\":\"command exited with status 2\"");
    s_result_free (&result);
}
END_TEST

START_TEST (test_exec_refuses_a_bad_slot_args_or_shell)
{
    const char *zero [] = { "cmd", "true", "slot", "0" };
    const char *word [] = { "cmd", "true", "slot", "one" };
    const char *args [] = { "cmd", "true", "args", "tab" };
    const char *empty [] = { "cmd", "true", "shell", "" };
    const char *missing [] = { "cmd", "true", "shell", "/no/such/shell" };
    const char *const *runs [] = { zero, word, args, empty, missing };
    const char *says [] = { "slot=0", "slot=one", "args=tab", "shell is empty",
                            "cannot start /no/such/shell" };
    size_t index;
    for (index = 0; index < S_COUNT (runs); index++) {
        ff_result_t result;
        ck_assert_int_eq (s_run (runs [index], 2, "x", 1, &result, NULL), -1);
        ck_assert_msg (strstr (s_text (&result.data), says [index]) != NULL,
                       "run %zu said [%s]", index, s_text (&result.data));
        ck_assert_uint_eq (result.meta.size, 0);
        s_result_free (&result);
    }
}
END_TEST

START_TEST (test_exec_leaves_no_fd_open_and_no_child_unreaped_on_any_path)
{
    const char *ok [] = { "cmd", "cat", "pipe", "1" };
    const char *fails [] = { "cmd", "exit 4", "pipe", "1" };
    const char *slow [] = { "cmd", "sleep 5", "pipe", "1", "timeout", "0.05" };
    const char *big [] = { "cmd", "yes", "pipe", "1", "max_output", "10" };
    const char *closes [] = { "cmd", "head -c 1", "pipe", "1" };
    const char *const *runs [] = { ok, fails, slow, big, closes };
    const size_t counts [] = { 2, 2, 3, 3, 2 };
    uint8_t *payload = s_payload (300000);
    pid_t before [64], after [64];
    size_t had = s_children (before, 64), has, index, child, old;
    int fds = s_open_fds ();
    for (index = 0; index < 5; index++) {
        ff_result_t result;
        s_run (runs [index], counts [index], payload, 300000, &result, NULL);
        s_result_free (&result);
        ck_assert_int_eq (s_open_fds (), fds);
        /* (other suites may have children of their own with CK_FORK=no) */
        has = s_children (after, 64);
        for (child = 0; child < has; child++) {
            for (old = 0; old < had && before [old] != after [child]; old++)
                ;
            ck_assert_msg (old < had, "child %d left behind by run %zu",
                           (int) after [child], index);
        }
    }
    free (payload);
}
END_TEST

Suite *
exec_suite (void)
{
    Suite *suite = suite_create ("exec");

    TCase *tc = tcase_create ("command line");
    tcase_set_timeout (tc, 20);
    tcase_add_test (tc, test_exec_quote_matches_parallel_for_awkward_arguments);
    tcase_add_test (tc, test_exec_dot_drops_the_last_extension_of_the_last_name);
    tcase_add_test (tc, test_exec_slash_gives_the_basename);
    tcase_add_test (tc, test_exec_double_slash_gives_the_dirname);
    tcase_add_test (tc, test_exec_slash_dot_gives_the_basename_without_extension);
    tcase_add_test (tc, test_exec_hash_gives_the_job_number_counted_from_one);
    tcase_add_test (tc, test_exec_appends_the_quoted_argument_when_there_is_no_replacement_string);
    tcase_add_test (tc, test_exec_leaves_values_unquoted_in_the_command_word_as_parallel_does);
    tcase_add_test (tc, test_exec_pipe_mode_expands_from_the_empty_argument_and_appends_nothing);
    tcase_add_test (tc, test_exec_line_matches_parallel_for_argument_tuples);
    tcase_add_test (tc, test_exec_line_gives_the_job_slot_once_for_any_number_of_arguments);
    tcase_add_test (tc, test_exec_line_leaves_what_only_looks_like_a_positional_string);
    tcase_add_test (tc, test_exec_shell_choose_takes_bash_zsh_and_ksh_from_shell);
    tcase_add_test (tc, test_exec_shell_choose_falls_back_to_bin_sh_for_any_other_shell);
    tcase_add_test (tc, test_exec_shell_choose_lets_a_forced_shell_win);
    suite_add_tcase (suite, tc);

    /* each runs the real parallel some thirty times */
    tc = tcase_create ("live parallel");
    tcase_set_timeout (tc, 120);
    tcase_add_test (tc, test_exec_expand_matches_gnu_parallel_dry_run);
    tcase_add_test (tc, test_exec_pipe_mode_expand_matches_gnu_parallel_pipe_dry_run);
    tcase_add_test (tc, test_exec_line_matches_live_parallel_for_argument_pairs);
    tcase_add_test (tc, test_exec_seq_and_slot_match_parallel_with_one_job_slot);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("commands");
    tcase_set_timeout (tc, 20);
    tcase_add_test (tc, test_exec_runs_the_command_with_the_argument_quoted);
    tcase_add_test (tc, test_exec_result_is_stdout_byte_for_byte_without_stderr);
    tcase_add_test (tc, test_exec_argument_mode_gives_the_command_an_empty_stdin);
    tcase_add_test (tc, test_exec_pipe_mode_feeds_a_megabyte_to_md5sum);
    tcase_add_test (tc, test_exec_pipe_mode_passes_every_byte_through_cat);
    tcase_add_test (tc, test_exec_keeps_twenty_megabytes_of_output);
    tcase_add_test (tc, test_exec_finishes_when_the_command_reads_no_stdin);
    tcase_add_test (tc, test_exec_finishes_when_the_command_closes_stdin_early_even_with_sigpipe_at_default);
    tcase_add_test (tc, test_exec_finishes_the_task_when_the_host_gets_sigterm_without_sa_restart);
    tcase_add_test (tc, test_exec_does_not_wait_for_what_the_command_left_in_the_background);
    tcase_add_test (tc, test_exec_cost_is_the_payload_size);
    tcase_add_test (tc, test_exec_is_a_builtin_kernel);
    tcase_add_test (tc, test_exec_splits_a_nul_separated_payload_into_arguments);
    tcase_add_test (tc, test_exec_appends_every_argument_of_a_tuple_when_there_is_no_replacement_string);
    tcase_add_test (tc, test_exec_gives_each_command_its_seq_and_job_slot);
    tcase_add_test (tc, test_exec_runs_bash_isms_and_exported_functions_under_shell_bash);
    tcase_add_test (tc, test_exec_runs_under_bin_sh_without_a_shell_parameter);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("limits");
    tcase_set_timeout (tc, 20);
    tcase_add_test (tc, test_exec_nonzero_exit_fails_with_the_status_in_meta);
    tcase_add_test (tc, test_exec_killed_command_fails_with_the_signal_in_meta);
    tcase_add_test (tc, test_exec_missing_command_exits_127);
    tcase_add_test (tc, test_exec_timeout_kills_the_whole_process_group);
    tcase_add_test (tc, test_exec_timeout_reaches_a_command_that_ignores_sigterm);
    tcase_add_test (tc, test_exec_output_past_max_output_fails);
    tcase_add_test (tc, test_exec_output_of_exactly_max_output_is_kept);
    tcase_add_test (tc, test_exec_endless_output_is_cut_at_max_output_promptly);
    tcase_add_test (tc, test_exec_refuses_a_task_without_cmd);
    tcase_add_test (tc, test_exec_refuses_a_bad_timeout_or_max_output);
    tcase_add_test (tc, test_exec_refuses_an_argument_with_a_nul_byte);
    tcase_add_test (tc, test_exec_failed_output_keeps_the_stdout_of_a_failed_command);
    tcase_add_test (tc, test_exec_failed_output_keeps_the_stdout_of_a_command_killed_by_a_signal);
    tcase_add_test (tc, test_exec_failed_output_changes_nothing_for_a_command_that_succeeds);
    tcase_add_test (tc, test_exec_failed_output_leaves_a_timeout_a_fault_with_its_message);
    tcase_add_test (tc, test_exec_command_param_puts_the_command_line_in_the_meta);
    tcase_add_test (tc, test_exec_refuses_a_bad_slot_args_or_shell);
    tcase_add_test (tc, test_exec_leaves_no_fd_open_and_no_child_unreaped_on_any_path);
    suite_add_tcase (suite, tc);
    return suite;
}
