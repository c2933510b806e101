/*
 * auth.h: authentication of a presented API key, and the batched last-used bookkeeping.
 * auth_check reads the key row (each thread has its own read connection) so revocations,
 * expiries and keys created by another process take effect at once. Thread-safe.
 */
#ifndef AGD_AUTH_H
#define AGD_AUTH_H

#include <stdint.h>

#include "store/store.h"

enum auth_result {
	AUTH_OK = 0,
	AUTH_MISSING,      /* no key presented */
	AUTH_MALFORMED,    /* not in the key format */
	AUTH_UNKNOWN,      /* no such key, or the secret does not match */
	AUTH_REVOKED,
	AUTH_EXPIRED,
	AUTH_STORE_ERROR,  /* the store could not be read: 503, not 401 */
};

struct auth {
	struct key_rec key;
	uint32_t scopes;
	struct workspace_rec workspace;
};

/* 1 when the key may see a resource of workspace ws and project (its own workspace, and its
 * project when the key is restricted to one). */
int auth_sees(const struct auth *a, const char *ws, const char *project);

/* A human message for a failed result ("API key has been revoked"). */
const char *auth_result_message(enum auth_result r);

/* Picks the presented key from the header values (any may be NULL): `Authorization: Bearer`,
 * then `X-API-KEY`/`X-Api-Key` (header names are case-insensitive). Returns NULL if none. */
const char *auth_extract(const char *authorization, const char *x_api_key);

enum auth_result auth_check(struct store *st, const char *token, int64_t now_ms,
			    struct auth *out);

/* Last-used times are noted in memory and written in one batch by auth_flush_last_used. */
struct keyuse;
struct keyuse *keyuse_create(void);
void keyuse_destroy(struct keyuse *ku);
void keyuse_note(struct keyuse *ku, const char *key_id, int64_t now_ms);
/* Submits one store write with every noted key; returns how many were written (or < 0). */
int keyuse_flush(struct keyuse *ku, struct store *st, int wait);

#endif
