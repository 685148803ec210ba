/*
 * state.h
 *		The extension's tables: the blacklist and refresh tokens.
 */
#ifndef JWT_PG_STATE_H
#define JWT_PG_STATE_H

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

/* Random bytes in a refresh token (256 bits). */
#define REFRESH_TOKEN_BYTES 32

extern void state_blacklist_add(const char *jti, size_t jti_len, const unsigned char *hash,
								bool has_exp, double exp, text *reason);
extern char *state_refresh_generate(text *subject, Interval *lifetime, Jsonb *claims);
extern bool state_refresh_valid(const char *token, size_t len);
extern char *state_refresh_rotate(const char *token, size_t len, Jsonb **claims);
extern bool state_refresh_revoke(const char *token, size_t len);
extern int64 state_purge(void);

#endif							/* JWT_PG_STATE_H */
