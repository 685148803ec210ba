/*
 * codec.h
 *		Strict base64url and JSON decoding for JOSE tokens.
 *
 * Nothing here depends on the PostgreSQL backend, so the same code runs in
 * the server and in fuzzing harnesses.  Memory comes from a caller-supplied
 * allocator; the codec never frees, so an arena (a memory context in the
 * server) releases everything at once.
 */
#ifndef JWT_PG_CODEC_H
#define JWT_PG_CODEC_H

#include <stdbool.h>
#include <stddef.h>

typedef void *(*codec_alloc_fn) (void *arg, size_t size);

typedef struct codec_allocator
{
	codec_alloc_fn alloc;
	void	   *arg;
} codec_allocator;

/* base64url (RFC 4648 section 5) without padding, as JOSE uses it. */

/* Number of characters that base64url_encode writes for len bytes. */
#define BASE64URL_ENCODED_LEN(len) (((len) * 4 + 2) / 3)

/* Upper bound of bytes that base64url_decode writes for len characters. */
#define BASE64URL_DECODED_MAX(len) (((len) * 3) / 4 + 1)

extern size_t base64url_encode(const unsigned char *src, size_t len, char *dst);

/*
 * Decode strictly: only A-Z a-z 0-9 - _, no padding, no white space, no
 * length that leaves a single character over, and zero unused bits in the
 * last character, so that each byte string has exactly one encoding.
 * Returns false on any violation and sets *bad_offset to its position.
 */
extern bool base64url_decode(const char *src, size_t len, unsigned char *dst,
							 size_t *dst_len, size_t *bad_offset);

/* The three segments of a compact JWS (RFC 7515 section 7.1). */
typedef struct jws_segments
{
	const char *header;			/* base64url text of each segment */
	size_t		header_len;
	const char *payload;
	size_t		payload_len;
	const char *signature;
	size_t		signature_len;
	size_t		signing_input_len;	/* header.payload, before the second dot */
} jws_segments;

/*
 * Split a compact JWS at its dots.  Returns false unless there are exactly
 * three segments, and sets *segment_count either way.
 */
extern bool jws_split(const char *text, size_t len, jws_segments *segments,
					  int *segment_count);

/* JSON (RFC 8259), parsed into a tree. */

typedef enum json_kind
{
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT
} json_kind;

typedef struct json_node
{
	json_kind	kind;
	/* Member name when the node is a value inside an object, else NULL. */
	const char *key;
	size_t		key_len;
	/* Unescaped UTF-8 of a string, or the source text of a number. */
	const char *text;
	size_t		text_len;
	/* Children of an array or object, in source order. */
	struct json_node *first_child;
	struct json_node *next;
	size_t		count;
} json_node;

typedef enum json_error
{
	JSON_OK,
	JSON_ERR_SYNTAX,			/* not JSON at the offset */
	JSON_ERR_UTF8,				/* invalid UTF-8 byte sequence */
	JSON_ERR_ESCAPE,			/* bad \u escape or lone surrogate */
	JSON_ERR_NUL,				/* \u0000, which PostgreSQL text cannot hold */
	JSON_ERR_NUMBER_RANGE,		/* number outside PostgreSQL numeric's range */
	JSON_ERR_DUPLICATE_KEY,		/* a member name appears twice in one object */
	JSON_ERR_TOO_DEEP,			/* nesting deeper than the limit */
	JSON_ERR_TOO_MANY_MEMBERS	/* an object with more members than the limit */
} json_error;

/* Limits on a JSON text beyond its length. */
typedef struct json_limits
{
	int			max_depth;		/* levels of nested arrays and objects */
	int			max_members;	/* members of any one object */
} json_limits;

typedef struct json_parse_result
{
	json_error	error;
	size_t		offset;			/* byte offset of the error in the input */
	const char *key;			/* the duplicated name, for JSON_ERR_DUPLICATE_KEY */
	size_t		key_len;
} json_parse_result;

/*
 * Parse one JSON text of len bytes (not NUL-terminated) within the limits.
 * Returns the root, or NULL with *result saying why.  Strings in the tree
 * may point into src, which must outlive the tree.
 */
extern json_node *json_parse(const char *src, size_t len, const json_limits *limits,
							 const codec_allocator *allocator,
							 json_parse_result *result);

/* Short English description of a parse error, for error details. */
extern const char *json_error_text(json_error error);

/* Find a member of an object by name, or NULL. */
extern const json_node *json_object_get(const json_node *object, const char *name);

/* True when a string node equals the NUL-terminated name. */
extern bool json_string_equals(const json_node *node, const char *value);

#endif							/* JWT_PG_CODEC_H */
