/*  An example fanfold plugin: two kernels built against an installed
    fanfold (`pkg-config fanfold`), loaded with `fanfold run --plugin`.
    upper   the payload with ASCII letters in upper case (bytes result)
    words   {"lines":L,"words":W,"bytes":B} of the payload (JSON result) */

#include <fanfold/kernel.h>

#include <stdio.h>

static int
s_upper_run (const ff_task_t *task, ff_result_t *result)
{
    size_t index;
    if (ff_buf_append (&result->data, task->data, task->size))
        return -1;
    for (index = 0; index < task->size; index++)
        if (result->data.data [index] >= 'a' && result->data.data [index] <= 'z')
            result->data.data [index] -= 'a' - 'A';
    return 0;
}

static int
s_words_run (const ff_task_t *task, ff_result_t *result)
{
    size_t index, lines = 0, words = 0;
    int in_word = 0;
    for (index = 0; index < task->size; index++) {
        int space = task->data [index] == ' ' || task->data [index] == '\n'
                 || task->data [index] == '\t';
        lines += task->data [index] == '\n';
        words += !space && !in_word;
        in_word = !space;
    }
    char text [96];
    snprintf (text, sizeof (text), "{\"lines\":%zu,\"words\":%zu,\"bytes\":%zu}",
              lines, words, task->size);
    return ff_buf_puts (&result->data, text);
}

static double
s_cost (const ff_task_t *task)
{
    return (double) task->size;
}

static const ff_kernel_t s_kernels [] = {
    { FF_KERNEL_ABI, 0, "upper", s_cost, s_upper_run, NULL },
    { FF_KERNEL_ABI, FF_KERNEL_JSON, "words", s_cost, s_words_run, NULL },
};

const ff_kernel_t *
ff_plugin_kernels (size_t *count)
{
    *count = sizeof (s_kernels) / sizeof (s_kernels [0]);
    return s_kernels;
}
