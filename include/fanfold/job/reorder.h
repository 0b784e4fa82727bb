/*  fanfold reorder buffer: holds results that arrive out of order in a ring
    of window slots and hands them back strictly by seq. A seq already
    released or already held is a duplicate; a seq at or past next + window
    does not fit. Both are refused, and the caller keeps the item. */

#ifndef FANFOLD_REORDER_H
#define FANFOLD_REORDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct ff_reorder ff_reorder_t;

/* Outcome of ff_reorder_put. */
typedef enum {
    FF_REORDER_STORED = 0,          /* kept; the buffer owns the item now */
    FF_REORDER_DUPLICATE,           /* seq seen before; caller keeps item */
    FF_REORDER_OUT_OF_WINDOW        /* seq too far ahead; caller keeps item */
} ff_reorder_rc_t;

/* Frees one item; called for items still held at destroy. */
typedef void (ff_reorder_free_fn) (void *item);

/* Creates a buffer for window slots, releasing from seq first. Returns
   NULL when window is 0 or memory runs out. */
ff_reorder_t *
    ff_reorder_new (size_t window, uint64_t first, ff_reorder_free_fn *free_fn);

/* Destroys the buffer and every item still held; NULLs the pointer. */
void
    ff_reorder_destroy (ff_reorder_t **self_p);

/* Offers item for seq. */
ff_reorder_rc_t
    ff_reorder_put (ff_reorder_t *self, uint64_t seq, void *item);

/* When seq is the next one due and no item is held for it, moves past it
   and returns 1: the caller writes that result at once, without storing
   it. Otherwise returns 0 (offer it with ff_reorder_put). */
int
    ff_reorder_claim (ff_reorder_t *self, uint64_t seq);

/* Returns the item for the next seq and advances, or NULL when it has not
   arrived. The caller owns the returned item. */
void *
    ff_reorder_pop (ff_reorder_t *self);

/* Returns the next seq to be released (every seq below it is released). */
uint64_t
    ff_reorder_next (ff_reorder_t *self);

/* Returns the number of items held. */
size_t
    ff_reorder_held (ff_reorder_t *self);

/* Returns 1 when the item for the next seq is held (a pop would return
   it), else 0. */
int
    ff_reorder_due (ff_reorder_t *self);

/* Returns the window, in slots. */
size_t
    ff_reorder_window (ff_reorder_t *self);

/* Returns the seq of a held item (for ff_reorder_check). */
typedef uint64_t (ff_reorder_seq_fn) (const void *item);

/* Asserts the buffer's invariants: held equals the occupied slots, and
   (with seq_of) every held item's seq lies in [next, next + window) at
   slot seq % window. A programmer's check, for tests and debug builds. */
void
    ff_reorder_check (ff_reorder_t *self, ff_reorder_seq_fn *seq_of);

#endif
