/*
 * arena.h
 *		A bump allocator for the fuzzing harnesses: the codec never frees,
 *		so each input's allocations are released at once afterwards.
 */
#ifndef JWT_PG_FUZZ_ARENA_H
#define JWT_PG_FUZZ_ARENA_H

#include <stddef.h>
#include <stdlib.h>

#include "codec.h"

typedef struct arena_block
{
	struct arena_block *next;
	max_align_t data[];
} arena_block;

static void *
arena_alloc(void *arg, size_t size)
{
	arena_block **blocks = arg;
	arena_block *block = malloc(sizeof(arena_block) + size);

	if (block == NULL)
		abort();
	block->next = *blocks;
	*blocks = block;
	return block->data;
}

static void
arena_free(arena_block **blocks)
{
	while (*blocks)
	{
		arena_block *next = (*blocks)->next;

		free(*blocks);
		*blocks = next;
	}
}

#endif							/* JWT_PG_FUZZ_ARENA_H */
