/*
 * keys.c: API key format, generation, verification and creation rules.
 */
#include "core/keys.h"
#include "core/scopes.h"
#include "util/crypto.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <string.h>

static int is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int key_parse(const char *s, const char **kind, char id[KEY_ID_LEN + 1])
{
	if (strlen(s) != KEY_STR_LEN)
		return AGD_EINVAL;
	if (memcmp(s, "fab_", 4) == 0)
		*kind = "personal";
	else if (memcmp(s, "org_", 4) == 0)
		*kind = "org";
	else
		return AGD_EINVAL;
	if (s[4 + KEY_ID_LEN] != '_')
		return AGD_EINVAL;
	for (int i = 4; i < KEY_STR_LEN; i++)
		if (i != 4 + KEY_ID_LEN && !is_key_char(s[i]))
			return AGD_EINVAL;
	memcpy(id, s + 4, KEY_ID_LEN);
	id[KEY_ID_LEN] = '\0';
	return 0;
}

int key_generate(const char *kind, char full[KEY_STR_LEN + 1], char id[KEY_ID_LEN + 1])
{
	char secret[KEY_SECRET_LEN + 1];
	if (crypto_random_alnum(id, KEY_ID_LEN) || crypto_random_alnum(secret, KEY_SECRET_LEN))
		return AGD_EIO;
	snprintf(full, KEY_STR_LEN + 1, "%s_%s_%s", strcmp(kind, "personal") == 0 ? "fab" : "org",
		 id, secret);
	return 0;
}

int key_verify(const struct key_rec *k, const char *full)
{
	char h[SHA256_HEX_LEN + 1];
	crypto_sha256_hex(full, strlen(full), h);
	if (strlen(k->secret_sha256) != SHA256_HEX_LEN)
		return 0;
	return crypto_equal(h, k->secret_sha256, SHA256_HEX_LEN);
}

int keys_prepare(struct store *st, const struct workspace_rec *ws, const struct key_spec *spec,
		 int64_t now_ms, struct key_rec *out, char full[KEY_STR_LEN + 1], agd_errbuf *eb)
{
	memset(out, 0, sizeof(*out));
	if (!spec->name || !spec->name[0])
		return agd_fail(eb, AGD_EINVAL, "field 'name' is required");
	if (strlen(spec->name) >= sizeof(out->name))
		return agd_fail(eb, AGD_EINVAL, "field 'name' must be at most %zu characters",
				sizeof(out->name) - 1);
	uint32_t mask = spec->scopes_mask;
	if (!spec->scopes_given) {
		if (!spec->scopes_csv)
			return agd_fail(eb, AGD_EINVAL, "field 'scopes' is required");
		int rc = scopes_parse_csv(spec->scopes_csv, &mask, eb);
		if (rc)
			return rc;
	}
	if (!mask)
		return agd_fail(eb, AGD_EINVAL, "field 'scopes' must name at least one scope");
	scopes_format(mask, out->scopes, sizeof(out->scopes));

	const char *kind = spec->kind && spec->kind[0] ? spec->kind : ws->kind;
	if (strcmp(kind, "org") != 0 && strcmp(kind, "personal") != 0)
		return agd_fail(eb, AGD_EINVAL, "field 'kind' must be 'org' or 'personal'");
	if (strcmp(kind, ws->kind) != 0)
		return agd_fail(eb, AGD_EINVAL,
				"field 'kind': a %s key cannot belong to workspace '%s', which is "
				"a%s %s workspace",
				kind, ws->slug, strcmp(ws->kind, "org") == 0 ? "n" : "", ws->kind);
	snprintf(out->kind, sizeof(out->kind), "%s", kind);

	if (spec->project_id && spec->project_id[0]) {
		struct project_rec p;
		if (store_project_get(st, spec->project_id, &p) != 0 ||
		    strcmp(p.workspace_id, ws->id) != 0)
			return agd_fail(eb, AGD_ENOTFOUND, "field 'project_id': no project %s in "
					"workspace '%s'", spec->project_id, ws->slug);
		snprintf(out->project_id, sizeof(out->project_id), "%s", p.id);
	}
	if (spec->expires && spec->expires[0]) {
		if (time_parse_rfc3339(spec->expires, &out->expires_at))
			return agd_fail(eb, AGD_EINVAL, "field 'expires_at' must be an RFC 3339 "
					"date-time such as 2027-01-31T00:00:00Z");
		if (out->expires_at <= now_ms)
			return agd_fail(eb, AGD_EINVAL, "field 'expires_at' is in the past");
	}
	if (spec->rate_limit < 0 || spec->rate_limit > KEY_RATE_LIMIT_MAX)
		return agd_fail(eb, AGD_EINVAL, "field 'rate_limit' must be between 1 and %lld "
				"requests per minute (0 or absent: the server default)",
				KEY_RATE_LIMIT_MAX);
	out->rate_limit = spec->rate_limit;
	if (spec->exec_quota < 0)
		return agd_fail(eb, AGD_EINVAL, "field 'execution_quota' must be 0 (unlimited) or "
				"more");
	out->exec_quota = spec->exec_quota;
	snprintf(out->name, sizeof(out->name), "%s", spec->name);
	snprintf(out->workspace_id, sizeof(out->workspace_id), "%s", ws->id);
	out->created_at = now_ms;
	if (key_generate(out->kind, full, out->id))
		return agd_fail(eb, AGD_EIO, "cannot generate random bytes");
	crypto_sha256_hex(full, strlen(full), out->secret_sha256);
	return 0;
}
