/*  fanfold reorder buffer: a ring of window slots indexed by seq % window.
    Slot occupancy is the item pointer itself; next is the lowest seq not
    yet released. */

#include "fanfold/job/reorder.h"

#include <assert.h>
#include <stdlib.h>

struct ff_reorder {
    void **slots;                   /* window slots, NULL when empty */
    size_t window;                  /* number of slots */
    uint64_t next;                  /* next seq to release */
    size_t held;                    /* items held */
    ff_reorder_free_fn *free_fn;    /* frees items at destroy, or NULL */
};

ff_reorder_t *
ff_reorder_new (size_t window, uint64_t first, ff_reorder_free_fn *free_fn)
{
    if (window == 0)
        return NULL;
    ff_reorder_t *self = (ff_reorder_t *) calloc (1, sizeof (ff_reorder_t));
    if (!self)
        return NULL;
    self->slots = (void **) calloc (window, sizeof (void *));
    if (!self->slots) {
        free (self);
        return NULL;
    }
    self->window = window;
    self->next = first;
    self->free_fn = free_fn;
    return self;
}

void
ff_reorder_destroy (ff_reorder_t **self_p)
{
    if (self_p && *self_p) {
        ff_reorder_t *self = *self_p;
        /* the held items lie in [next, next + window): a walk from next
           that stops at the last of them touches no other page of the
           ring (a large window's pages stay untouched) */
        size_t left = self->free_fn? self->held: 0;
        uint64_t seq;
        for (seq = self->next; left > 0 && seq < self->next + self->window; seq++) {
            void *item = self->slots [seq % self->window];
            if (item) {
                self->free_fn (item);
                left--;
            }
        }
        free (self->slots);
        free (self);
        *self_p = NULL;
    }
}

ff_reorder_rc_t
ff_reorder_put (ff_reorder_t *self, uint64_t seq, void *item)
{
    assert (self && item);
    if (seq < self->next)
        return FF_REORDER_DUPLICATE;
    if (seq - self->next >= self->window)
        return FF_REORDER_OUT_OF_WINDOW;
    void **slot = &self->slots [seq % self->window];
    if (*slot)
        return FF_REORDER_DUPLICATE;
    *slot = item;
    self->held++;
    return FF_REORDER_STORED;
}

int
ff_reorder_claim (ff_reorder_t *self, uint64_t seq)
{
    assert (self);
    if (seq != self->next || self->slots [seq % self->window])
        return 0;
    self->next++;
    return 1;
}

void *
ff_reorder_pop (ff_reorder_t *self)
{
    void **slot = &self->slots [self->next % self->window];
    void *item = *slot;
    if (item) {
        *slot = NULL;
        self->next++;
        self->held--;
    }
    return item;
}

uint64_t
ff_reorder_next (ff_reorder_t *self)
{
    return self->next;
}

size_t
ff_reorder_held (ff_reorder_t *self)
{
    return self->held;
}

int
ff_reorder_due (ff_reorder_t *self)
{
    return self->slots [self->next % self->window] != NULL;
}

size_t
ff_reorder_window (ff_reorder_t *self)
{
    return self->window;
}

void
ff_reorder_check (ff_reorder_t *self, ff_reorder_seq_fn *seq_of)
{
    size_t index, occupied = 0;
    assert (self && self->slots && self->window > 0);
    for (index = 0; index < self->window; index++) {
        const void *item = self->slots [index];
        if (!item)
            continue;
        occupied++;
        if (seq_of) {
            uint64_t seq = seq_of (item);
            assert (seq >= self->next && seq - self->next < self->window);
            assert (seq % self->window == index);
        }
    }
    assert (occupied == self->held);
    (void) occupied;
}
