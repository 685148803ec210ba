/*
 * request.h
 *		The current request's claims and cookies (request.c).
 */
#ifndef JWT_PG_REQUEST_H
#define JWT_PG_REQUEST_H

/* Settings of request.c, defined by request_define_settings. */
extern char *jwt_session_token;
extern char *jwt_cookie_name;
extern char *jwt_refresh_cookie_name;
extern char *jwt_role_claim;
extern bool jwt_trust_request_claims;

extern void request_define_settings(void);

/*
 * Verify a token as jwt_verify(token) does: the key store and the default
 * options.  The parsed token is kept for the rest of the transaction, so
 * verifying it again skips its signature, and the whole result is kept
 * for the rest of the statement.  Returns false with the reason in
 * *result; the token's memory belongs to the cache.
 */
extern bool verify_with_store_defaults(const char *text, size_t len, struct jws_token *result);

/*
 * The refresh token in the cookie named by jwt_pg.refresh_cookie_name in
 * request.cookies, or NULL.  Not NUL-terminated.
 */
extern const char *request_refresh_cookie(size_t *len);

#endif							/* JWT_PG_REQUEST_H */
