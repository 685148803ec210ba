# PGXS build for jwt_pg: `make`, `make install`, `make installcheck`.

EXTENSION = jwt_pg
MODULE_big = jwt_pg
OBJS = \
	src/jwt_pg.o \
	src/codec.o \
	src/claims.o \
	src/json_bridge.o \
	src/token.o \
	src/crypto.o \
	src/state.o \
	src/refresh_worker.o \
	src/jwk.o src/keystore.o src/request.o

DATA = jwt_pg--0.1.0.sql jwt_pg--0.1.0--0.2.0.sql jwt_pg--0.2.0--0.3.0.sql
PGFILEDESC = "jwt_pg - JSON Web Tokens for PostgreSQL"

PG_CPPFLAGS = -I$(srcdir)/src
SHLIB_LINK = -lcrypto

# Regression tests run in this order; setup creates the extension and roles.
REGRESS = setup create verify cases jws jwks keystore keystore_vectors decode refresh blacklist sessions request privileges

ISOLATION = refresh_race purge_race revoke_blocked key_rotation revocation_visibility
ISOLATION_OPTS = --load-extension=jwt_pg

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
