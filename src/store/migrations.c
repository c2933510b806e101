/*
 * migrations.c: the SQLite schema, one migration per entry. Applied by store/sqlite.c at
 * open, on the opening thread, before any other access.
 */
#include "store/migrations.h"

const struct migration sqlite_migrations[] = {
	{1, "workspaces, projects, api keys",
	 "CREATE TABLE workspaces ("
	 " id TEXT PRIMARY KEY,"
	 " slug TEXT NOT NULL UNIQUE,"
	 " name TEXT NOT NULL,"
	 " kind TEXT NOT NULL CHECK (kind IN ('org','personal')),"
	 " parent_id TEXT REFERENCES workspaces(id),"
	 " created_at INTEGER NOT NULL);"
	 "CREATE INDEX workspaces_parent ON workspaces(parent_id);"
	 "CREATE TABLE projects ("
	 " id TEXT PRIMARY KEY,"
	 " workspace_id TEXT NOT NULL REFERENCES workspaces(id),"
	 " name TEXT NOT NULL,"
	 " created_at INTEGER NOT NULL,"
	 " UNIQUE (workspace_id, name));"
	 "CREATE TABLE api_keys ("
	 " id TEXT PRIMARY KEY,"
	 " kind TEXT NOT NULL CHECK (kind IN ('org','personal')),"
	 " workspace_id TEXT NOT NULL REFERENCES workspaces(id),"
	 " project_id TEXT REFERENCES projects(id),"
	 " name TEXT NOT NULL,"
	 " scopes TEXT NOT NULL,"
	 " secret_sha256 TEXT NOT NULL,"
	 " rate_limit INTEGER NOT NULL DEFAULT 0,"
	 " created_at INTEGER NOT NULL,"
	 " last_used_at INTEGER,"
	 " expires_at INTEGER,"
	 " revoked_at INTEGER);"
	 "CREATE INDEX api_keys_workspace ON api_keys(workspace_id, created_at);"
	 "CREATE TABLE bench_writes ("
	 " id INTEGER PRIMARY KEY,"
	 " created_at INTEGER NOT NULL);"},
};

const size_t sqlite_migrations_count = sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0]);
