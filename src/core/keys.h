/*
 * keys.h: API keys. Format `fab_<8>_<32>` (personal) and `org_<8>_<32>` (organization), from
 * [a-z0-9]. The 8 characters are the key's public id; the store keeps only the SHA-256 of
 * the whole key. Creation rules are here, shared by the CLI and the native API.
 * Thread-safe.
 */
#ifndef AGD_KEYS_H
#define AGD_KEYS_H

#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

#define KEY_ID_LEN 8
#define KEY_SECRET_LEN 32
#define KEY_STR_LEN (4 + KEY_ID_LEN + 1 + KEY_SECRET_LEN)
#define KEY_RATE_LIMIT_MAX 1000000000LL   /* requests per minute */

/* Parses a presented key. Returns 0 and fills kind ("org"/"personal") and the public id, or
 * AGD_EINVAL when the string is not in the key format. */
int key_parse(const char *s, const char **kind, char id[KEY_ID_LEN + 1]);
/* Generates a new key of kind into full (KEY_STR_LEN + 1 bytes) and its id. */
int key_generate(const char *kind, char full[KEY_STR_LEN + 1], char id[KEY_ID_LEN + 1]);
/* 1 when full hashes to k->secret_sha256 (constant-time comparison). */
int key_verify(const struct key_rec *k, const char *full);

/* What a caller asks for when creating a key. Strings may be NULL/empty when not given. */
struct key_spec {
	const char *name;
	const char *scopes_csv;       /* one of scopes_csv / scopes_mask */
	uint32_t scopes_mask;
	int scopes_given;             /* scopes_mask is meaningful */
	const char *kind;             /* "org" | "personal"; default: the workspace's kind */
	const char *project_id;
	const char *expires;          /* RFC 3339 */
	int64_t rate_limit;           /* per minute; 0 = server default */
	int64_t exec_quota;           /* executions the key may start; 0 = unlimited */
};

/*
 * Validates spec against the target workspace (already resolved) and fills out (a record ready
 * for STORE_OP_KEY_INSERT) and full (the key to show once). Reads the store to check the
 * project. Errors are AGD_EINVAL/AGD_ENOTFOUND with a message naming the field.
 */
int keys_prepare(struct store *st, const struct workspace_rec *ws, const struct key_spec *spec,
		 int64_t now_ms, struct key_rec *out, char full[KEY_STR_LEN + 1], agd_errbuf *eb);

#endif
