/*
 * migrations.h: the versioned schema of the SQLite store. Migration i (1-based) is applied
 * once, in its own transaction, and recorded in schema_migrations. Append only: a shipped
 * migration is never edited.
 */
#ifndef AGD_MIGRATIONS_H
#define AGD_MIGRATIONS_H

#include <stddef.h>

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration sqlite_migrations[];
extern const size_t sqlite_migrations_count;

#endif
