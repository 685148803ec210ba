/*
 * jwt_pg.h
 *		Declarations shared by the backend parts of jwt_pg.
 */
#ifndef JWT_PG_H
#define JWT_PG_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/snapshot.h"

#include "claims.h"
#include "codec.h"
#include "crypto.h"

/* Settings (jwt_pg.c). */
extern int	jwt_leeway_seconds;
extern int	jwt_max_token_bytes;
extern int	jwt_max_json_depth;
extern int	jwt_max_json_members;
extern char *jwt_default_algorithm;
extern int	jwt_refresh_reuse_interval;
extern int	jwt_max_access_ttl;

/* Maximum jwt_pg.refresh_reuse_interval, in seconds. */
#define JWT_MAX_REUSE_INTERVAL_SECONDS 60

/* Largest jwt_pg.max_access_ttl, in seconds: ten years. */
#define JWT_MAX_ACCESS_TTL_LIMIT (3650 * 86400)

/* Maximum leeway that a setting or an argument may request, in seconds. */
#define JWT_MAX_LEEWAY_SECONDS 300

/* Maximum length of a header's kid, in bytes. */
#define JWT_MAX_KID_LEN 256

/* Bytes of random data in a generated jti (128 bits). */
#define JWT_JTI_BYTES 16

/* Schema that contains the extension's tables. */
#define JWT_STATE_SCHEMA "jwt_pg"

/*
 * Why a token was rejected.  Each reason has one stable message (see
 * token_failure_message) and raises SQLSTATE 28000.
 */
typedef enum token_failure
{
	TOKEN_OK,
	TOKEN_TOO_LARGE,
	TOKEN_MALFORMED,
	TOKEN_MALFORMED_HEADER,
	TOKEN_MALFORMED_CLAIMS,
	TOKEN_ALG_NOT_ALLOWED,
	TOKEN_INVALID_SIGNATURE,
	TOKEN_EXPIRED,
	TOKEN_NOT_YET_VALID,
	TOKEN_ISSUED_IN_FUTURE,
	TOKEN_AUDIENCE_MISMATCH,
	TOKEN_ISSUER_MISMATCH,
	TOKEN_REVOKED,
	TOKEN_KEY_NOT_FOUND
} token_failure;

/* A compact JWS, split and decoded (token.c). */
typedef struct jws_token
{
	const char *text;			/* the compact serialization */
	size_t		len;
	size_t		signing_input_len;	/* bytes before the second dot */
	char	   *header_json;
	size_t		header_json_len;
	char	   *payload;
	size_t		payload_len;
	unsigned char *signature;
	size_t		signature_len;
	json_node  *header;
	jwt_alg		alg;
	json_node  *claims_root;	/* set by token_read_claims */
	jwt_claims	claims;

	/* Set when a step fails. */
	token_failure failure;
	char	   *detail;
} jws_token;

/* What a verification accepts. */
typedef struct verify_options
{
	bool		allowed[JWT_ALG_COUNT];
	double		leeway;
	const char *audience;
	size_t		audience_len;
	const char *issuer;
	size_t		issuer_len;
} verify_options;

/*
 * A key to sign with: an HMAC secret, or a key from the key store.  kid,
 * when set, goes into the header.
 */
typedef struct signing_key
{
	jwt_alg		alg;
	const unsigned char *secret;	/* HMAC secret, else NULL */
	size_t		secret_len;
	const crypto_prepared_key *key;	/* RSA, EC or Ed25519 private key, else NULL */
	const char *kid;			/* UTF-8, or NULL */
	size_t		kid_len;
} signing_key;

/* token.c */
extern const char *token_failure_message(token_failure failure);
extern void token_raise(const jws_token *token) pg_attribute_noreturn();
extern double token_now(void);
extern bool token_decode(jws_token *token, const char *text, size_t len);
extern bool token_read_header(jws_token *token);
extern bool token_check_alg(jws_token *token, const verify_options *options);
extern bool token_check_signature(jws_token *token, const unsigned char *key, size_t key_len);
extern bool token_check_signature_jwks(jws_token *token, const json_node *jwks);
extern bool token_check_signature_store(jws_token *token);
extern bool token_read_claims(jws_token *token);
extern bool token_check_claims(jws_token *token, const verify_options *options, double now);
extern bool token_check_revoked(jws_token *token);
extern void token_blacklist_key(const jws_token *token, const char **jti, size_t *jti_len,
								unsigned char *hash);
extern void check_secret_length(jwt_alg alg, size_t key_len);
extern void check_token_lifetime(double exp);
extern char *jws_sign_compact(const char *header_json, size_t header_len,
							  const char *payload, size_t payload_len,
							  const signing_key *key);
extern void jws_build_header(StringInfo out, const signing_key *key, Jsonb *header,
							 const char *default_typ);
extern json_node *claims_for_signing(Jsonb *claims_jsonb, jwt_claims *claims,
									 const char **json, size_t *json_len);
extern char *jwt_sign_claims(Jsonb *claims, const signing_key *key,
							 const Interval *expires_in, Jsonb *header);
extern jwt_alg algorithm_from_text(text *name);
extern jwt_alg signing_algorithm_from_text(text *name);
extern const char *printable_excerpt(const char *s, size_t len);
extern char *random_base64url(size_t nbytes);
extern const char *printable_kid(const char *s, size_t len);

/* jwt_pg.c */
extern const char *text_to_utf8(text *value, size_t *len);

/* json_bridge.c */
extern const codec_allocator *palloc_allocator(void);
extern const char *utf8_to_server(const char *utf8, size_t len, size_t *server_len);
extern const char *server_to_utf8(const char *server, size_t len, size_t *utf8_len);
extern json_node *parse_json_or_null(const char *src, size_t len, json_parse_result *result);
extern Jsonb *json_node_to_jsonb(const json_node *node);
extern void jsonb_to_compact_json(StringInfo out, Jsonb *jsonb);
extern void append_json_string(StringInfo out, const char *s, size_t len);
extern void append_json_node(StringInfo out, const json_node *node);

/* state.c */
extern bool state_blacklist_contains(const char *jti, size_t jti_len,
									 const unsigned char *hash);
extern bool state_subject_cutoff(const char *subject, size_t len,
								 TimestampTz *revoked_before);
extern Datum utf8_text_datum(const char *s, size_t len);
extern Datum bytea_datum(const unsigned char *bytes, size_t len);
extern Oid	state_relation(const char *name);
extern Snapshot state_snapshot(void);

/* refresh_worker.c */
extern void revoke_family_in_own_transaction(const char *family_id, const char *reason);

#endif							/* JWT_PG_H */
