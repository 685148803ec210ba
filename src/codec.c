/*
 * codec.c
 *		Strict base64url and JSON decoding for JOSE tokens.
 *
 * A verifier that accepts two encodings of the same bytes, or two readings
 * of the same JSON, lets an attacker present a token that different parties
 * understand differently.  So this decoder accepts exactly one form: the
 * canonical base64url alphabet without padding, and RFC 8259 JSON in valid
 * UTF-8 with no duplicate member names.  It also rejects what PostgreSQL
 * cannot store (\u0000, numbers outside numeric's range), so that a parsed
 * tree always converts to jsonb without an error.
 *
 * This file must not include postgres.h: fuzzing harnesses link it alone.
 */
#include "codec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Limits of numeric input in PostgreSQL 15 (checked against numeric_in): at
 * most 131072 digits before the decimal point and 16383 after it, counted
 * after applying the exponent.  Exponents are also kept within 1000 in
 * absolute value: no token needs more, and it bounds the arithmetic below.
 */
#define NUMERIC_MAX_EXPONENT 1000
#define NUMERIC_MAX_SCALE 16383
#define NUMERIC_MAX_INTEGER_DIGITS 131072

/* Objects with more members than this find duplicates by sorting. */
#define SMALL_OBJECT_MEMBERS 8

static const char base64url_alphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of each base64url character plus one, or 0 outside the alphabet. */
static const unsigned char base64url_values[256] = {
	['A'] = 1,['B'] = 2,['C'] = 3,['D'] = 4,['E'] = 5,['F'] = 6,['G'] = 7,
	['H'] = 8,['I'] = 9,['J'] = 10,['K'] = 11,['L'] = 12,['M'] = 13,
	['N'] = 14,['O'] = 15,['P'] = 16,['Q'] = 17,['R'] = 18,['S'] = 19,
	['T'] = 20,['U'] = 21,['V'] = 22,['W'] = 23,['X'] = 24,['Y'] = 25,
	['Z'] = 26,['a'] = 27,['b'] = 28,['c'] = 29,['d'] = 30,['e'] = 31,
	['f'] = 32,['g'] = 33,['h'] = 34,['i'] = 35,['j'] = 36,['k'] = 37,
	['l'] = 38,['m'] = 39,['n'] = 40,['o'] = 41,['p'] = 42,['q'] = 43,
	['r'] = 44,['s'] = 45,['t'] = 46,['u'] = 47,['v'] = 48,['w'] = 49,
	['x'] = 50,['y'] = 51,['z'] = 52,['0'] = 53,['1'] = 54,['2'] = 55,
	['3'] = 56,['4'] = 57,['5'] = 58,['6'] = 59,['7'] = 60,['8'] = 61,
	['9'] = 62,['-'] = 63,['_'] = 64,
};

size_t
base64url_encode(const unsigned char *src, size_t len, char *dst)
{
	size_t		out = 0;
	size_t		i = 0;

	for (; i + 3 <= len; i += 3)
	{
		uint32_t	v = ((uint32_t) src[i] << 16) | ((uint32_t) src[i + 1] << 8) | src[i + 2];

		dst[out++] = base64url_alphabet[(v >> 18) & 63];
		dst[out++] = base64url_alphabet[(v >> 12) & 63];
		dst[out++] = base64url_alphabet[(v >> 6) & 63];
		dst[out++] = base64url_alphabet[v & 63];
	}

	if (len - i == 1)
	{
		uint32_t	v = (uint32_t) src[i] << 16;

		dst[out++] = base64url_alphabet[(v >> 18) & 63];
		dst[out++] = base64url_alphabet[(v >> 12) & 63];
	}
	else if (len - i == 2)
	{
		uint32_t	v = ((uint32_t) src[i] << 16) | ((uint32_t) src[i + 1] << 8);

		dst[out++] = base64url_alphabet[(v >> 18) & 63];
		dst[out++] = base64url_alphabet[(v >> 12) & 63];
		dst[out++] = base64url_alphabet[(v >> 6) & 63];
	}

	return out;
}

bool
base64url_decode(const char *src, size_t len, unsigned char *dst,
				 size_t *dst_len, size_t *bad_offset)
{
	const unsigned char *in = (const unsigned char *) src;
	size_t		full = len - len % 4;
	size_t		out = 0;
	size_t		i;
	uint32_t	acc = 0;
	int			bits = 0;

	/* Whole groups of four characters make three bytes. */
	for (i = 0; i < full; i += 4)
	{
		unsigned int a = base64url_values[in[i]];
		unsigned int b = base64url_values[in[i + 1]];
		unsigned int c = base64url_values[in[i + 2]];
		unsigned int d = base64url_values[in[i + 3]];
		uint32_t	v;

		if (a == 0 || b == 0 || c == 0 || d == 0)
			break;
		v = ((a - 1) << 18) | ((b - 1) << 12) | ((c - 1) << 6) | (d - 1);
		dst[out++] = (unsigned char) (v >> 16);
		dst[out++] = (unsigned char) (v >> 8);
		dst[out++] = (unsigned char) v;
	}

	/* The rest, one character at a time, finds the offset of a bad one. */
	for (; i < len; i++)
	{
		unsigned int v = base64url_values[in[i]];

		if (v == 0)
		{
			*bad_offset = i;
			return false;
		}
		acc = (acc << 6) | (v - 1);
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			dst[out++] = (unsigned char) (acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}

	/*
	 * A single character left over encodes fewer than 8 bits, and the bits
	 * left over must be zero, or two strings would decode alike.
	 */
	if (len % 4 == 1 || acc != 0)
	{
		*bad_offset = len - 1;
		return false;
	}

	*dst_len = out;
	return true;
}

bool
jws_split(const char *text, size_t len, jws_segments *segments, int *segment_count)
{
	const char *dots[2] = {NULL, NULL};
	int			count = 1;

	for (size_t i = 0; i < len; i++)
	{
		if (text[i] != '.')
			continue;
		if (count <= 2)
			dots[count - 1] = text + i;
		count++;
	}
	*segment_count = count;
	if (count != 3)
		return false;

	segments->header = text;
	segments->header_len = dots[0] - text;
	segments->payload = dots[0] + 1;
	segments->payload_len = dots[1] - dots[0] - 1;
	segments->signature = dots[1] + 1;
	segments->signature_len = text + len - dots[1] - 1;
	segments->signing_input_len = dots[1] - text;
	return true;
}

/* JSON parser state. */
typedef struct json_parser
{
	const unsigned char *src;
	size_t		len;
	size_t		pos;
	int			depth;
	int			max_depth;
	size_t		max_members;
	const codec_allocator *allocator;
	json_parse_result *result;
} json_parser;

static json_node *parse_value(json_parser *p);

static void *
parser_alloc(json_parser *p, size_t size)
{
	return p->allocator->alloc(p->allocator->arg, size);
}

static bool
fail(json_parser *p, json_error error, size_t offset)
{
	p->result->error = error;
	p->result->offset = offset;
	return false;
}

static void
skip_whitespace(json_parser *p)
{
	while (p->pos < p->len)
	{
		unsigned char c = p->src[p->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static json_node *
new_node(json_parser *p, json_kind kind)
{
	json_node  *node = parser_alloc(p, sizeof(json_node));

	memset(node, 0, sizeof(json_node));
	node->kind = kind;
	return node;
}

/*
 * Length of the valid UTF-8 sequence at s (at most avail bytes), or 0 when
 * it is invalid: overlong forms, surrogates and values past U+10FFFF are
 * invalid (RFC 3629).
 */
static size_t
utf8_sequence_length(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return (avail >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF)
	{
		unsigned char lo = (c == 0xE0) ? 0xA0 : 0x80;
		unsigned char hi = (c == 0xED) ? 0x9F : 0xBF;

		if (avail < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
			return 0;
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4)
	{
		unsigned char lo = (c == 0xF0) ? 0x90 : 0x80;
		unsigned char hi = (c == 0xF4) ? 0x8F : 0xBF;

		if (avail < 4 || s[1] < lo || s[1] > hi ||
			(s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Read the four hex digits of a \u escape starting at pos. */
static bool
read_hex4(json_parser *p, size_t pos, uint32_t *value)
{
	uint32_t	v = 0;
	int			i;

	if (pos + 4 > p->len)
		return false;
	for (i = 0; i < 4; i++)
	{
		int			d = hex_value(p->src[pos + i]);

		if (d < 0)
			return false;
		v = (v << 4) | (uint32_t) d;
	}
	*value = v;
	return true;
}

static size_t
utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80)
	{
		out[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (char) (0xC0 | (cp >> 6));
		out[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (char) (0xE0 | (cp >> 12));
		out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char) (0xF0 | (cp >> 18));
	out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Parse a string starting at the opening quote.  Strings without escapes
 * point into the source; others are unescaped into a new buffer, which is
 * never longer than the source text.
 */
static bool
parse_string(json_parser *p, const char **text, size_t *text_len)
{
	size_t		start = p->pos + 1;
	size_t		i = start;
	bool		has_escape = false;
	char	   *buf;
	size_t		out;

	/* First pass: find the closing quote and validate. */
	for (;;)
	{
		unsigned char c;

		if (i >= p->len)
			return fail(p, JSON_ERR_SYNTAX, i);
		c = p->src[i];
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(p, JSON_ERR_SYNTAX, i);
		if (c == '\\')
		{
			unsigned char e;

			has_escape = true;
			if (i + 1 >= p->len)
				return fail(p, JSON_ERR_SYNTAX, i);
			e = p->src[i + 1];
			if (e == 'u')
			{
				uint32_t	cp;

				if (!read_hex4(p, i + 2, &cp))
					return fail(p, JSON_ERR_ESCAPE, i);
				if (cp == 0)
					return fail(p, JSON_ERR_NUL, i);
				if (cp >= 0xDC00 && cp <= 0xDFFF)
					return fail(p, JSON_ERR_ESCAPE, i);
				if (cp >= 0xD800 && cp <= 0xDBFF)
				{
					uint32_t	low;

					if (i + 12 > p->len ||
						p->src[i + 6] != '\\' || p->src[i + 7] != 'u' ||
						!read_hex4(p, i + 8, &low) ||
						low < 0xDC00 || low > 0xDFFF)
						return fail(p, JSON_ERR_ESCAPE, i);
					i += 12;
				}
				else
					i += 6;
				continue;
			}
			if (e != '"' && e != '\\' && e != '/' && e != 'b' &&
				e != 'f' && e != 'n' && e != 'r' && e != 't')
				return fail(p, JSON_ERR_ESCAPE, i);
			i += 2;
			continue;
		}
		if (c >= 0x80)
		{
			size_t		n = utf8_sequence_length(p->src + i, p->len - i);

			if (n == 0)
				return fail(p, JSON_ERR_UTF8, i);
			i += n;
			continue;
		}
		i++;
	}

	p->pos = i + 1;
	if (!has_escape)
	{
		*text = (const char *) p->src + start;
		*text_len = i - start;
		return true;
	}

	/* Second pass: unescape what the first pass validated. */
	buf = parser_alloc(p, i - start);
	out = 0;
	for (size_t j = start; j < i;)
	{
		unsigned char c = p->src[j];

		if (c != '\\')
		{
			buf[out++] = (char) c;
			j++;
			continue;
		}
		switch (p->src[j + 1])
		{
			case '"':
				buf[out++] = '"';
				break;
			case '\\':
				buf[out++] = '\\';
				break;
			case '/':
				buf[out++] = '/';
				break;
			case 'b':
				buf[out++] = '\b';
				break;
			case 'f':
				buf[out++] = '\f';
				break;
			case 'n':
				buf[out++] = '\n';
				break;
			case 'r':
				buf[out++] = '\r';
				break;
			case 't':
				buf[out++] = '\t';
				break;
			case 'u':
				{
					uint32_t	cp;

					read_hex4(p, j + 2, &cp);
					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						uint32_t	low;

						read_hex4(p, j + 8, &low);
						cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
						j += 6;
					}
					out += utf8_encode(cp, buf + out);
					j += 6;
					continue;
				}
		}
		j += 2;
	}

	*text = buf;
	*text_len = out;
	return true;
}

/* Parse a number per RFC 8259 and check that numeric can hold it. */
static bool
parse_number(json_parser *p, json_node *node)
{
	size_t		start = p->pos;
	size_t		i = start;
	long		integer_digits = 0;
	long		fraction_digits = 0;
	long		exponent = 0;
	bool		exponent_negative = false;

	if (i < p->len && p->src[i] == '-')
		i++;
	if (i >= p->len)
		return fail(p, JSON_ERR_SYNTAX, i);
	if (p->src[i] == '0')
	{
		i++;
		integer_digits = 1;
	}
	else if (p->src[i] >= '1' && p->src[i] <= '9')
	{
		while (i < p->len && p->src[i] >= '0' && p->src[i] <= '9')
		{
			i++;
			integer_digits++;
		}
	}
	else
		return fail(p, JSON_ERR_SYNTAX, i);

	if (i < p->len && p->src[i] == '.')
	{
		i++;
		if (i >= p->len || p->src[i] < '0' || p->src[i] > '9')
			return fail(p, JSON_ERR_SYNTAX, i);
		while (i < p->len && p->src[i] >= '0' && p->src[i] <= '9')
		{
			i++;
			fraction_digits++;
		}
	}

	if (i < p->len && (p->src[i] == 'e' || p->src[i] == 'E'))
	{
		i++;
		if (i < p->len && (p->src[i] == '+' || p->src[i] == '-'))
		{
			exponent_negative = (p->src[i] == '-');
			i++;
		}
		if (i >= p->len || p->src[i] < '0' || p->src[i] > '9')
			return fail(p, JSON_ERR_SYNTAX, i);
		while (i < p->len && p->src[i] >= '0' && p->src[i] <= '9')
		{
			/* Saturate: anything past the limit is rejected below. */
			if (exponent <= NUMERIC_MAX_EXPONENT)
				exponent = exponent * 10 + (p->src[i] - '0');
			i++;
		}
		if (exponent_negative)
			exponent = -exponent;
	}

	if (exponent > NUMERIC_MAX_EXPONENT || exponent < -NUMERIC_MAX_EXPONENT ||
		fraction_digits - exponent > NUMERIC_MAX_SCALE ||
		integer_digits + exponent > NUMERIC_MAX_INTEGER_DIGITS)
		return fail(p, JSON_ERR_NUMBER_RANGE, start);

	node->text = (const char *) p->src + start;
	node->text_len = i - start;
	p->pos = i;
	return true;
}

static int
compare_keys(const void *a, const void *b)
{
	const json_node *x = *(const json_node *const *) a;
	const json_node *y = *(const json_node *const *) b;
	size_t		n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int			c = memcmp(x->key, y->key, n);

	if (c != 0)
		return c;
	return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static bool
keys_equal(const json_node *x, const json_node *y)
{
	return x->key_len == y->key_len && memcmp(x->key, y->key, x->key_len) == 0;
}

/* Reject an object that names a member twice. */
static bool
check_duplicate_keys(json_parser *p, json_node *object, size_t offset)
{
	const json_node *dup = NULL;

	if (object->count <= SMALL_OBJECT_MEMBERS)
	{
		for (const json_node *a = object->first_child; a && !dup; a = a->next)
			for (const json_node *b = a->next; b; b = b->next)
				if (keys_equal(a, b))
				{
					dup = a;
					break;
				}
	}
	else
	{
		const json_node **sorted = parser_alloc(p, object->count * sizeof(json_node *));
		size_t		n = 0;

		for (const json_node *a = object->first_child; a; a = a->next)
			sorted[n++] = a;
		qsort(sorted, n, sizeof(json_node *), compare_keys);
		for (size_t i = 1; i < n; i++)
			if (keys_equal(sorted[i - 1], sorted[i]))
			{
				dup = sorted[i];
				break;
			}
	}

	if (dup)
	{
		p->result->key = dup->key;
		p->result->key_len = dup->key_len;
		return fail(p, JSON_ERR_DUPLICATE_KEY, offset);
	}
	return true;
}

/* Parse an array or object whose opening bracket is at pos. */
static json_node *
parse_container(json_parser *p, bool is_object)
{
	size_t		open = p->pos;
	char		close = is_object ? '}' : ']';
	json_node  *node = new_node(p, is_object ? JSON_OBJECT : JSON_ARRAY);
	json_node  *last = NULL;

	if (++p->depth > p->max_depth)
	{
		fail(p, JSON_ERR_TOO_DEEP, open);
		return NULL;
	}

	p->pos++;
	skip_whitespace(p);
	if (p->pos < p->len && p->src[p->pos] == close)
	{
		p->pos++;
		p->depth--;
		return node;
	}

	for (;;)
	{
		const char *key = NULL;
		size_t		key_len = 0;
		json_node  *child;

		if (is_object)
		{
			if (p->pos >= p->len || p->src[p->pos] != '"')
			{
				fail(p, JSON_ERR_SYNTAX, p->pos);
				return NULL;
			}
			if (!parse_string(p, &key, &key_len))
				return NULL;
			skip_whitespace(p);
			if (p->pos >= p->len || p->src[p->pos] != ':')
			{
				fail(p, JSON_ERR_SYNTAX, p->pos);
				return NULL;
			}
			p->pos++;
			skip_whitespace(p);
		}

		child = parse_value(p);
		if (child == NULL)
			return NULL;
		child->key = key;
		child->key_len = key_len;
		if (last)
			last->next = child;
		else
			node->first_child = child;
		last = child;
		if (++node->count > p->max_members && is_object)
		{
			fail(p, JSON_ERR_TOO_MANY_MEMBERS, open);
			return NULL;
		}

		skip_whitespace(p);
		if (p->pos >= p->len)
		{
			fail(p, JSON_ERR_SYNTAX, p->pos);
			return NULL;
		}
		if (p->src[p->pos] == ',')
		{
			p->pos++;
			skip_whitespace(p);
			continue;
		}
		if (p->src[p->pos] == close)
		{
			p->pos++;
			break;
		}
		fail(p, JSON_ERR_SYNTAX, p->pos);
		return NULL;
	}

	if (is_object && !check_duplicate_keys(p, node, open))
		return NULL;
	p->depth--;
	return node;
}

static bool
match_literal(json_parser *p, const char *literal)
{
	size_t		n = strlen(literal);

	if (p->len - p->pos < n || memcmp(p->src + p->pos, literal, n) != 0)
		return fail(p, JSON_ERR_SYNTAX, p->pos);
	p->pos += n;
	return true;
}

static json_node *
parse_value(json_parser *p)
{
	json_node  *node;

	if (p->pos >= p->len)
	{
		fail(p, JSON_ERR_SYNTAX, p->pos);
		return NULL;
	}

	switch (p->src[p->pos])
	{
		case '{':
			return parse_container(p, true);
		case '[':
			return parse_container(p, false);
		case '"':
			node = new_node(p, JSON_STRING);
			if (!parse_string(p, &node->text, &node->text_len))
				return NULL;
			return node;
		case 't':
			node = new_node(p, JSON_TRUE);
			return match_literal(p, "true") ? node : NULL;
		case 'f':
			node = new_node(p, JSON_FALSE);
			return match_literal(p, "false") ? node : NULL;
		case 'n':
			node = new_node(p, JSON_NULL);
			return match_literal(p, "null") ? node : NULL;
		default:
			node = new_node(p, JSON_NUMBER);
			return parse_number(p, node) ? node : NULL;
	}
}

json_node *
json_parse(const char *src, size_t len, const json_limits *limits,
		   const codec_allocator *allocator, json_parse_result *result)
{
	json_parser p;
	json_node  *root;

	memset(result, 0, sizeof(*result));
	p.src = (const unsigned char *) src;
	p.len = len;
	p.pos = 0;
	p.depth = 0;
	p.max_depth = limits->max_depth;
	p.max_members = (size_t) limits->max_members;
	p.allocator = allocator;
	p.result = result;

	skip_whitespace(&p);
	root = parse_value(&p);
	if (root == NULL)
		return NULL;
	skip_whitespace(&p);
	if (p.pos != p.len)
	{
		fail(&p, JSON_ERR_SYNTAX, p.pos);
		return NULL;
	}
	return root;
}

const char *
json_error_text(json_error error)
{
	switch (error)
	{
		case JSON_OK:
			return "no error";
		case JSON_ERR_SYNTAX:
			return "invalid JSON syntax";
		case JSON_ERR_UTF8:
			return "invalid UTF-8";
		case JSON_ERR_ESCAPE:
			return "invalid escape sequence";
		case JSON_ERR_NUL:
			return "\\u0000 is not allowed";
		case JSON_ERR_NUMBER_RANGE:
			return "number out of range";
		case JSON_ERR_DUPLICATE_KEY:
			return "duplicate member name";
		case JSON_ERR_TOO_DEEP:
			return "nesting too deep";
		case JSON_ERR_TOO_MANY_MEMBERS:
			return "too many members in an object";
	}
	return "unknown error";
}

const json_node *
json_object_get(const json_node *object, const char *name)
{
	size_t		n = strlen(name);

	if (object == NULL || object->kind != JSON_OBJECT)
		return NULL;
	for (const json_node *child = object->first_child; child; child = child->next)
		if (child->key_len == n && memcmp(child->key, name, n) == 0)
			return child;
	return NULL;
}

bool
json_string_equals(const json_node *node, const char *value)
{
	size_t		n = strlen(value);

	return node != NULL && node->kind == JSON_STRING &&
		node->text_len == n && memcmp(node->text, value, n) == 0;
}
