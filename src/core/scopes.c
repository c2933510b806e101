/*
 * scopes.c: the scope name table and parsing.
 */
#include "core/scopes.h"
#include "util/strutil.h"

#include <stdio.h>
#include <string.h>

static const char *const scope_names[SCOPE_COUNT] = {
	"agents:read",     "agents:execute",  "agents:stream",   "agents:write",
	"executions:cancel", "approvals:write", "triggers:write", "admin",
};

const char *scope_name(uint32_t bit)
{
	for (int i = 0; i < SCOPE_COUNT; i++)
		if (bit == (1u << i))
			return scope_names[i];
	return NULL;
}

uint32_t scope_from_name(const char *name, size_t len)
{
	for (int i = 0; i < SCOPE_COUNT; i++)
		if (strlen(scope_names[i]) == len && memcmp(scope_names[i], name, len) == 0)
			return 1u << i;
	return 0;
}

int scopes_parse_csv(const char *csv, uint32_t *mask, agd_errbuf *eb)
{
	uint32_t m = 0;
	const char *p = csv, *tok;
	size_t len;
	while (csv_next(&p, &tok, &len)) {
		uint32_t bit = scope_from_name(tok, len);
		if (!bit)
			return agd_fail(eb, AGD_EINVAL,
					"unknown scope '%.*s' (known: agents:read, agents:execute, "
					"agents:stream, agents:write, executions:cancel, "
					"approvals:write, triggers:write, admin)",
					(int)(len > 64 ? 64 : len), tok);
		m |= bit;
	}
	*mask = m;
	return 0;
}

int scopes_format(uint32_t mask, char *out, size_t n)
{
	size_t off = 0;
	if (n == 0)
		return AGD_ETOOBIG;
	out[0] = '\0';
	for (int i = 0; i < SCOPE_COUNT; i++) {
		if (!(mask & (1u << i)))
			continue;
		int w = snprintf(out + off, n - off, "%s%s", off ? "," : "", scope_names[i]);
		if (w < 0 || (size_t)w >= n - off)
			return AGD_ETOOBIG;
		off += (size_t)w;
	}
	return 0;
}

int scopes_allow(uint32_t have, uint32_t need)
{
	if (have & SCOPE_ADMIN)
		return 1;
	return (have & need) == need;
}

const char *scopes_first_missing(uint32_t have, uint32_t need)
{
	for (int i = 0; i < SCOPE_COUNT; i++)
		if ((need & (1u << i)) && !(have & (1u << i)))
			return scope_names[i];
	return NULL;
}
