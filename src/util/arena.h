/*
 * arena.h: a request-scoped bump allocator. Everything allocated from an arena dies with
 * arena_free. Not thread-safe; an arena belongs to one request.
 */
#ifndef AGD_ARENA_H
#define AGD_ARENA_H

#include <stddef.h>

struct arena_chunk;
struct arena {
	struct arena_chunk *head;
	size_t used;       /* bytes handed out, for caps and metrics */
	size_t max;        /* cap on used; allocations past it fail (return NULL) */
};

void arena_init(struct arena *a, size_t max);
void arena_free(struct arena *a);
/* Returns 16-byte aligned zeroed memory, or NULL when out of memory or over the cap. */
void *arena_alloc(struct arena *a, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
