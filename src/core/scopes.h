/*
 * scopes.h: API key scopes as a bitmask with one name table. `admin` grants every scope.
 * Thread-safe (pure functions).
 */
#ifndef AGD_SCOPES_H
#define AGD_SCOPES_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum scope {
	SCOPE_AGENTS_READ = 1u << 0,
	SCOPE_AGENTS_EXECUTE = 1u << 1,
	SCOPE_AGENTS_STREAM = 1u << 2,
	SCOPE_AGENTS_WRITE = 1u << 3,
	SCOPE_EXECUTIONS_CANCEL = 1u << 4,
	SCOPE_APPROVALS_WRITE = 1u << 5,
	SCOPE_TRIGGERS_WRITE = 1u << 6,
	SCOPE_ADMIN = 1u << 7,
};
#define SCOPE_COUNT 8

/* Name of a single scope bit ("agents:read"), or NULL. */
const char *scope_name(uint32_t bit);
/* Parses one name; 0 when unknown. */
uint32_t scope_from_name(const char *name, size_t len);
/* Parses "a,b,c" (spaces allowed); unknown names fail with a message naming them. */
int scopes_parse_csv(const char *csv, uint32_t *mask, agd_errbuf *eb);
/* Writes the canonical comma-separated form; returns 0 or AGD_ETOOBIG. */
int scopes_format(uint32_t mask, char *out, size_t n);
/* 1 when `have` grants every bit of `need`. */
int scopes_allow(uint32_t have, uint32_t need);
/* Name of the first scope in need that have lacks (for 403 messages). */
const char *scopes_first_missing(uint32_t have, uint32_t need);

#endif
