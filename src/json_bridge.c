/*
 * json_bridge.c
 *		Conversions between the codec's JSON trees, compact JSON text and
 *		PostgreSQL's jsonb.
 *
 * Tokens carry UTF-8.  When the database encoding is something else,
 * strings are converted at this boundary and nowhere else.
 */
#include "jwt_pg.h"

#include "miscadmin.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

static void *
palloc_for_codec(void *arg, size_t size)
{
	return palloc(size);
}

static const codec_allocator palloc_codec_allocator = {palloc_for_codec, NULL};

const codec_allocator *
palloc_allocator(void)
{
	return &palloc_codec_allocator;
}

json_node *
parse_json_or_null(const char *src, size_t len, json_parse_result *result)
{
	json_limits limits = {jwt_max_json_depth, jwt_max_json_members};

	return json_parse(src, len, &limits, &palloc_codec_allocator, result);
}

/*
 * Convert UTF-8 bytes to the database encoding.  The conversion functions
 * return their input unchanged, and then not NUL-terminated, when there is
 * nothing to convert (an empty string, or a SQL_ASCII database), so the
 * length comes back separately.
 */
const char *
utf8_to_server(const char *utf8, size_t len, size_t *server_len)
{
	char	   *converted;

	*server_len = len;
	if (GetDatabaseEncoding() == PG_UTF8)
		return utf8;
	converted = pg_any_to_server(utf8, (int) len, PG_UTF8);
	if (converted != utf8)
		*server_len = strlen(converted);
	return converted;
}

/* Convert text in the database encoding to UTF-8, like utf8_to_server. */
const char *
server_to_utf8(const char *server, size_t len, size_t *utf8_len)
{
	char	   *converted;

	*utf8_len = len;
	if (GetDatabaseEncoding() == PG_UTF8)
		return server;
	converted = pg_server_to_any(server, (int) len, PG_UTF8);
	if (converted != server)
		*utf8_len = strlen(converted);
	return converted;
}

/* Make a jsonb string value from UTF-8 bytes. */
static void
set_string_value(JsonbValue *value, const char *utf8, size_t len)
{
	size_t		server_len;

	value->type = jbvString;
	value->val.string.val = (char *) utf8_to_server(utf8, len, &server_len);
	value->val.string.len = (int) server_len;
}

/* Make a numeric from JSON number text, which the codec has range-checked. */
static Numeric
number_to_numeric(const char *text, size_t len)
{
	/* Most numbers in tokens are NumericDates: take a shortcut for them. */
	if (len > 0 && len <= 18)
	{
		int64		value = 0;
		size_t		i = (text[0] == '-') ? 1 : 0;
		bool		plain = (i < len);

		for (; i < len && plain; i++)
		{
			if (text[i] < '0' || text[i] > '9')
				plain = false;
			else
				value = value * 10 + (text[i] - '0');
		}
		if (plain)
		{
			if (text[0] == '-')
				value = -value;
#if PG_VERSION_NUM >= 140000
			return int64_to_numeric(value);
#else
			return DatumGetNumeric(DirectFunctionCall1(int8_numeric, Int64GetDatum(value)));
#endif
		}
	}

	return DatumGetNumeric(DirectFunctionCall3(numeric_in,
											   CStringGetDatum(pnstrdup(text, len)),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
}

/* jsonb's order of object keys: shorter first, then bytewise. */
static int
compare_pairs(const void *a, const void *b)
{
	const JsonbValue *x = &((const JsonbPair *) a)->key;
	const JsonbValue *y = &((const JsonbPair *) b)->key;

	if (x->val.string.len != y->val.string.len)
		return x->val.string.len < y->val.string.len ? -1 : 1;
	return memcmp(x->val.string.val, y->val.string.val, x->val.string.len);
}

/* Sort object members into jsonb's key order. */
static void
sort_pairs(JsonbPair *pairs, size_t count)
{
	/* Insertion sort for the small objects that tokens carry, else qsort. */
	if (count > 16)
	{
		qsort(pairs, count, sizeof(JsonbPair), compare_pairs);
		return;
	}
	for (size_t i = 1; i < count; i++)
	{
		JsonbPair	pair = pairs[i];
		size_t		j = i;

		for (; j > 0 && compare_pairs(&pairs[j - 1], &pair) > 0; j--)
			pairs[j] = pairs[j - 1];
		pairs[j] = pair;
	}
}

static void
node_to_value(const json_node *node, JsonbValue *value)
{
	const json_node *child;
	int			i;

	switch (node->kind)
	{
		case JSON_OBJECT:
			/* A large token takes a while to convert: let a cancel request in. */
			CHECK_FOR_INTERRUPTS();
			check_stack_depth();

			value->type = jbvObject;
			value->val.object.nPairs = (int) node->count;
			value->val.object.pairs = palloc(sizeof(JsonbPair) * Max(node->count, 1));
			for (i = 0, child = node->first_child; child; child = child->next, i++)
			{
				JsonbPair  *pair = &value->val.object.pairs[i];

				set_string_value(&pair->key, child->key, child->key_len);
				pair->order = i;
				node_to_value(child, &pair->value);
			}

			/* The codec has already rejected duplicate names. */
			sort_pairs(value->val.object.pairs, node->count);
			break;

		case JSON_ARRAY:
			CHECK_FOR_INTERRUPTS();
			check_stack_depth();

			value->type = jbvArray;
			value->val.array.rawScalar = false;
			value->val.array.nElems = (int) node->count;
			value->val.array.elems = palloc(sizeof(JsonbValue) * Max(node->count, 1));
			for (i = 0, child = node->first_child; child; child = child->next, i++)
				node_to_value(child, &value->val.array.elems[i]);
			break;

		case JSON_STRING:
			set_string_value(value, node->text, node->text_len);
			break;

		case JSON_NUMBER:
			value->type = jbvNumeric;
			value->val.numeric = number_to_numeric(node->text, node->text_len);
			break;

		case JSON_TRUE:
		case JSON_FALSE:
			value->type = jbvBool;
			value->val.boolean = (node->kind == JSON_TRUE);
			break;

		case JSON_NULL:
			value->type = jbvNull;
			break;
	}
}

Jsonb *
json_node_to_jsonb(const json_node *node)
{
	JsonbValue	value;

	node_to_value(node, &value);
	if (value.type != jbvObject && value.type != jbvArray)
	{
		/* jsonb stores a lone scalar as a one-element "raw scalar" array. */
		JsonbValue	array;

		array.type = jbvArray;
		array.val.array.rawScalar = true;
		array.val.array.nElems = 1;
		array.val.array.elems = &value;
		return JsonbValueToJsonb(&array);
	}
	return JsonbValueToJsonb(&value);
}

/* Append a JSON string literal, escaping as RFC 8259 section 7 requires. */
void
append_json_string(StringInfo out, const char *s, size_t len)
{
	appendStringInfoCharMacro(out, '"');
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		switch (c)
		{
			case '"':
				appendBinaryStringInfo(out, "\\\"", 2);
				break;
			case '\\':
				appendBinaryStringInfo(out, "\\\\", 2);
				break;
			case '\b':
				appendBinaryStringInfo(out, "\\b", 2);
				break;
			case '\f':
				appendBinaryStringInfo(out, "\\f", 2);
				break;
			case '\n':
				appendBinaryStringInfo(out, "\\n", 2);
				break;
			case '\r':
				appendBinaryStringInfo(out, "\\r", 2);
				break;
			case '\t':
				appendBinaryStringInfo(out, "\\t", 2);
				break;
			default:
				if (c < 0x20)
					appendStringInfo(out, "\\u%04x", c);
				else
					appendStringInfoCharMacro(out, (char) c);
		}
	}
	appendStringInfoCharMacro(out, '"');
}

/* Append a parsed JSON value as compact JSON text (UTF-8). */
void
append_json_node(StringInfo out, const json_node *node)
{
	switch (node->kind)
	{
		case JSON_OBJECT:
		case JSON_ARRAY:
			appendStringInfoChar(out, node->kind == JSON_OBJECT ? '{' : '[');
			for (const json_node *child = node->first_child; child; child = child->next)
			{
				if (child != node->first_child)
					appendStringInfoChar(out, ',');
				if (node->kind == JSON_OBJECT)
				{
					append_json_string(out, child->key, child->key_len);
					appendStringInfoChar(out, ':');
				}
				append_json_node(out, child);
			}
			appendStringInfoChar(out, node->kind == JSON_OBJECT ? '}' : ']');
			break;
		case JSON_STRING:
			append_json_string(out, node->text, node->text_len);
			break;
		case JSON_NUMBER:
			appendBinaryStringInfo(out, node->text, (int) node->text_len);
			break;
		case JSON_TRUE:
			appendStringInfoString(out, "true");
			break;
		case JSON_FALSE:
			appendStringInfoString(out, "false");
			break;
		case JSON_NULL:
			appendStringInfoString(out, "null");
			break;
	}
}

static void
append_scalar(StringInfo out, const JsonbValue *value)
{
	switch (value->type)
	{
		case jbvNull:
			appendBinaryStringInfo(out, "null", 4);
			break;
		case jbvBool:
			if (value->val.boolean)
				appendBinaryStringInfo(out, "true", 4);
			else
				appendBinaryStringInfo(out, "false", 5);
			break;
		case jbvNumeric:
			appendStringInfoString(out,
								   DatumGetCString(DirectFunctionCall1(numeric_out,
																	   NumericGetDatum(value->val.numeric))));
			break;
		case jbvString:
			append_json_string(out, value->val.string.val, value->val.string.len);
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) value->type);
	}
}

/*
 * Append jsonb as compact JSON (no white space), in jsonb's member order.
 * The output is in the database encoding; callers convert it to UTF-8.
 */
void
jsonb_to_compact_json(StringInfo out, Jsonb *jsonb)
{
	JsonbIterator *it = JsonbIteratorInit(&jsonb->root);
	JsonbValue	value;
	JsonbIteratorToken token;
	bool		need_comma = false;
	bool		raw_scalar = false;

	while ((token = JsonbIteratorNext(&it, &value, false)) != WJB_DONE)
	{
		switch (token)
		{
			case WJB_BEGIN_ARRAY:
				if (value.val.array.rawScalar)
				{
					raw_scalar = true;
					break;
				}
				/* FALLTHROUGH */
			case WJB_BEGIN_OBJECT:
				if (need_comma)
					appendStringInfoCharMacro(out, ',');
				appendStringInfoCharMacro(out, token == WJB_BEGIN_OBJECT ? '{' : '[');
				need_comma = false;
				break;
			case WJB_KEY:
				if (need_comma)
					appendStringInfoCharMacro(out, ',');
				append_json_string(out, value.val.string.val, value.val.string.len);
				appendStringInfoCharMacro(out, ':');
				need_comma = false;
				break;
			case WJB_ELEM:
			case WJB_VALUE:
				if (need_comma)
					appendStringInfoCharMacro(out, ',');
				append_scalar(out, &value);
				need_comma = true;
				break;
			case WJB_END_ARRAY:
				if (raw_scalar)
					break;
				appendStringInfoCharMacro(out, ']');
				need_comma = true;
				break;
			case WJB_END_OBJECT:
				appendStringInfoCharMacro(out, '}');
				need_comma = true;
				break;
			case WJB_DONE:
				break;
		}
	}
}
