/*
 * auth.c: API key authentication for every dialect, and batched last-used writes.
 * auth_check runs on http threads; keyuse_flush on the housekeeping (main) thread.
 */
#include "core/auth.h"
#include "core/keys.h"
#include "core/scopes.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const auth_messages[] = {
	[AUTH_OK] = "ok",
	[AUTH_MISSING] = "missing API key: send it as 'Authorization: Bearer <key>' or "
			 "'X-API-KEY: <key>'",
	[AUTH_MALFORMED] = "malformed API key: expected fab_<8>_<32> or org_<8>_<32>",
	[AUTH_UNKNOWN] = "invalid API key",
	[AUTH_REVOKED] = "API key has been revoked",
	[AUTH_EXPIRED] = "API key has expired",
	[AUTH_STORE_ERROR] = "key store unavailable",
};

int auth_sees(const struct auth *a, const char *ws, const char *project)
{
	if (strcmp(ws, a->workspace.id) != 0)
		return 0;
	return !a->key.project_id[0] || strcmp(a->key.project_id, project ? project : "") == 0;
}

const char *auth_result_message(enum auth_result r)
{
	return auth_messages[r];
}

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

const char *auth_extract(const char *authorization, const char *x_api_key)
{
	if (authorization && authorization[0]) {
		const char *p = skip_ws(authorization);
		if (strncasecmp(p, "Bearer", 6) == 0 && (p[6] == ' ' || p[6] == '\t'))
			return skip_ws(p + 6);
		return p;  /* not a bearer token: validated (and refused) as a key */
	}
	if (x_api_key && x_api_key[0])
		return skip_ws(x_api_key);
	return NULL;
}

enum auth_result auth_check(struct store *st, const char *token, int64_t now_ms,
			    struct auth *out)
{
	const char *kind;
	char id[KEY_ID_LEN + 1];
	if (!token || !token[0])
		return AUTH_MISSING;
	/* trailing whitespace is tolerated; anything else must be the key exactly */
	char tok[KEY_STR_LEN + 1];
	size_t n = strlen(token);
	while (n > 0 && isspace((unsigned char)token[n - 1]))
		n--;
	if (n != KEY_STR_LEN)
		return AUTH_MALFORMED;
	memcpy(tok, token, n);
	tok[n] = '\0';
	if (key_parse(tok, &kind, id))
		return AUTH_MALFORMED;
	int rc = store_key_auth(st, id, &out->key, &out->workspace);
	if (rc == AGD_ENOTFOUND)
		return AUTH_UNKNOWN;
	if (rc)
		return AUTH_STORE_ERROR;
	if (strcmp(out->key.kind, kind) != 0 || !key_verify(&out->key, tok))
		return AUTH_UNKNOWN;
	if (out->key.revoked_at)
		return AUTH_REVOKED;
	if (out->key.expires_at && out->key.expires_at <= now_ms)
		return AUTH_EXPIRED;
	if (scopes_parse_csv(out->key.scopes, &out->scopes, NULL))
		out->scopes = 0;
	return AUTH_OK;
}

/* ---- last-used batching ---- */

#define KEYUSE_MAX 4096

struct keyuse {
	pthread_mutex_t mu;
	struct key_touch *items;
	size_t n;
};

struct keyuse *keyuse_create(void)
{
	struct keyuse *ku = calloc(1, sizeof(*ku));
	if (!ku)
		return NULL;
	ku->items = calloc(KEYUSE_MAX, sizeof(*ku->items));
	if (!ku->items) {
		free(ku);
		return NULL;
	}
	pthread_mutex_init(&ku->mu, NULL);
	return ku;
}

void keyuse_destroy(struct keyuse *ku)
{
	if (!ku)
		return;
	pthread_mutex_destroy(&ku->mu);
	free(ku->items);
	free(ku);
}

void keyuse_note(struct keyuse *ku, const char *key_id, int64_t now_ms)
{
	/* A thread that noted the same key less than a second ago skips the shared table:
	 * last-used times are kept to the second. */
	static _Thread_local char last_id[16];
	static _Thread_local int64_t last_at;
	if (now_ms - last_at < 1000 && strcmp(last_id, key_id) == 0)
		return;
	strncpy(last_id, key_id, sizeof(last_id) - 1);
	last_at = now_ms;
	pthread_mutex_lock(&ku->mu);
	size_t i;
	for (i = 0; i < ku->n; i++)
		if (strcmp(ku->items[i].id, key_id) == 0)
			break;
	if (i == ku->n) {
		if (ku->n == KEYUSE_MAX) {   /* full until the next flush: keep the newest time */
			pthread_mutex_unlock(&ku->mu);
			return;
		}
		strncpy(ku->items[i].id, key_id, sizeof(ku->items[i].id) - 1);
		ku->n++;
	}
	ku->items[i].at = now_ms;
	pthread_mutex_unlock(&ku->mu);
}

struct touch_write {
	struct store_write w;
	struct store_op op;
	size_t n;
	struct key_touch items[];
};

static void touch_done(struct store_write *w)
{
	free(w->arg);
}

int keyuse_flush(struct keyuse *ku, struct store *st, int wait)
{
	pthread_mutex_lock(&ku->mu);
	size_t n = ku->n;
	if (n == 0) {
		pthread_mutex_unlock(&ku->mu);
		return 0;
	}
	struct touch_write *tw = malloc(sizeof(*tw) + n * sizeof(struct key_touch));
	if (!tw) {
		pthread_mutex_unlock(&ku->mu);
		return AGD_ENOMEM;
	}
	memcpy(tw->items, ku->items, n * sizeof(struct key_touch));
	ku->n = 0;
	pthread_mutex_unlock(&ku->mu);
	memset(&tw->w, 0, sizeof(tw->w));
	tw->n = n;
	tw->op.kind = STORE_OP_KEY_TOUCH;
	tw->op.u.touch.items = tw->items;
	tw->op.u.touch.n = n;
	tw->w.ops = &tw->op;
	tw->w.nops = 1;
	int rc;
	if (wait) {
		rc = store_write_sync(st, &tw->w);
		free(tw);
	} else {
		tw->w.done = touch_done;
		tw->w.arg = tw;
		rc = store_submit(st, &tw->w);
		if (rc)
			free(tw);
	}
	return rc ? rc : (int)n;
}
