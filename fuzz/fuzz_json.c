/*
 * fuzz_json.c
 *		libFuzzer harness for the strict JSON parser.
 *
 * Properties checked beyond memory safety: a parsed tree respects the
 * depth and member limits, its counts match its children, and its strings
 * and member names are valid UTF-8 without NUL bytes, so that they always
 * convert to PostgreSQL text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "codec.h"

#define MAX_DEPTH 16
#define MAX_MEMBERS 64

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Independent UTF-8 check: well-formed per RFC 3629, no NUL. */
static int
valid_text(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = p[i];
		uint32_t	cp;
		size_t		n;

		if (c == 0)
			return 0;
		if (c < 0x80)
		{
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0)
			n = 2, cp = c & 0x1F;
		else if ((c & 0xF0) == 0xE0)
			n = 3, cp = c & 0x0F;
		else if ((c & 0xF8) == 0xF0)
			n = 4, cp = c & 0x07;
		else
			return 0;
		if (i + n > len)
			return 0;
		for (size_t k = 1; k < n; k++)
		{
			if ((p[i + k] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3F);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
			cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += n;
	}
	return 1;
}

static void
check_node(const json_node *node, int depth)
{
	size_t		children = 0;

	if (node->key != NULL && !valid_text(node->key, node->key_len))
		abort();

	switch (node->kind)
	{
		case JSON_STRING:
			if (!valid_text(node->text, node->text_len))
				abort();
			break;
		case JSON_NUMBER:
			if (node->text_len == 0)
				abort();
			break;
		case JSON_OBJECT:
		case JSON_ARRAY:
			if (depth > MAX_DEPTH)
				abort();
			for (const json_node *child = node->first_child; child; child = child->next)
			{
				if ((node->kind == JSON_OBJECT) != (child->key != NULL))
					abort();
				check_node(child, depth + 1);
				children++;
			}
			if (children != node->count ||
				(node->kind == JSON_OBJECT && children > MAX_MEMBERS))
				abort();
			break;
		default:
			break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	arena_block *blocks = NULL;
	codec_allocator allocator = {arena_alloc, &blocks};
	json_limits limits = {MAX_DEPTH, MAX_MEMBERS};
	json_parse_result result;
	json_node  *root = json_parse((const char *) data, size, &limits, &allocator, &result);

	if (root != NULL)
	{
		if (result.error != JSON_OK)
			abort();
		check_node(root, root->kind == JSON_OBJECT || root->kind == JSON_ARRAY ? 1 : 0);
	}
	else if (result.error == JSON_OK || result.offset > size)
		abort();

	arena_free(&blocks);
	return 0;
}
