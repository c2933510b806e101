/*
 * sqlite.c: the embedded SQLite store. WAL mode with synchronous=FULL.
 *
 * Threads: one writer thread owns the write connection; it takes every queued write, applies
 * them in one transaction (each write inside its own SAVEPOINT, so one failing write does not
 * spoil the others), commits once, then calls each write's done callback (group commit).
 * Readers: every calling thread gets its own read connection (thread-local, created on first
 * use, closed when the store closes). The store must outlive every thread's last read.
 */
#include "store/store.h"
#include "store/migrations.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRITER_MAX_BATCH 4096

enum rstmt {
	R_PING,
	R_WS_GET,
	R_WS_COUNT,
	R_WS_LIST,
	R_PROJECT_GET,
	R_PROJECT_LIST,
	R_KEY_GET,
	R_KEY_LIST,
	R_KEY_AUTH,
	R_AGENT_GET,
	R_AGENT_GET_ANY,
	R_AGENT_LIST,
	R_AGENT_COUNT,
	R_REV_LIST,
	R_REV_GET,
	R_EXEC_GET,
	R_EXEC_LIST,
	R_EXEC_ACTIVE,
	R_EVENTS,
	R_STEPS,
	R_SESSION,
	R_IDEM_GET,
	R_FILE_GET,
	R__COUNT
};

#define WS_COLS "id, slug, name, kind, COALESCE(parent_id,''), created_at"
#define PROJECT_COLS "id, workspace_id, name, created_at"
#define KEY_COLS                                                                          \
	"id, kind, workspace_id, COALESCE(project_id,''), name, scopes, secret_sha256, "   \
	"rate_limit, created_at, COALESCE(last_used_at,0), COALESCE(expires_at,0), "       \
	"COALESCE(revoked_at,0), exec_quota, exec_used"

#define AGENT_COLS                                                                        \
	"id, workspace_id, COALESCE(project_id,''), slug, status, name, description, config, " \
	"exposed, deployed_revision, latest_revision, created_at, updated_at"
#define AGENT_WHERE                                                                       \
	"AND (?2 = 1 OR status = 'active') AND (?3 = 0 OR exposed = 1) AND "               \
	"(?4 IS NULL OR name LIKE ?4 ESCAPE '\\' OR description LIKE ?4 ESCAPE '\\' OR "  \
	"slug LIKE ?4 ESCAPE '\\')"
#define EXEC_COLS                                                                         \
	"id, agent_id, workspace_id, COALESCE(project_id,''), COALESCE(key_id,''), source, "  \
	"dialect, status, COALESCE(session_id,''), COALESCE(parent_id,''), "                  \
	"COALESCE(idempotency_key,''), COALESCE(model,''), COALESCE(error_code,''), "         \
	"priority, tool_started, cancel_requested, revision, tokens_in, tokens_out, steps, "  \
	"attempt, timeout_s, last_seq, created_at, COALESCE(started_at,0), "                  \
	"COALESCE(completed_at,0), cost_in, cost_out, input, metadata, output, error_message, " \
	"attachments"

static const char *const rstmt_sql[R__COUNT] = {
	[R_PING] = "SELECT 1",
	[R_WS_GET] = "SELECT " WS_COLS " FROM workspaces WHERE id = ?1 OR slug = ?1",
	[R_WS_COUNT] = "SELECT COUNT(*) FROM workspaces",
	[R_WS_LIST] = "SELECT " WS_COLS " FROM workspaces WHERE id = ?1 OR parent_id = ?1 "
		      "ORDER BY created_at, id",
	[R_PROJECT_GET] = "SELECT " PROJECT_COLS " FROM projects WHERE id = ?1",
	[R_PROJECT_LIST] = "SELECT " PROJECT_COLS " FROM projects WHERE workspace_id = ?1 "
			   "ORDER BY created_at, id",
	[R_KEY_GET] = "SELECT " KEY_COLS " FROM api_keys WHERE id = ?1",
	[R_KEY_LIST] = "SELECT " KEY_COLS " FROM api_keys WHERE workspace_id = ?1 "
		       "ORDER BY created_at, id",
	[R_KEY_AUTH] = "SELECT k.id, k.kind, k.workspace_id, COALESCE(k.project_id,''), k.name, "
		       "k.scopes, k.secret_sha256, k.rate_limit, k.created_at, "
		       "COALESCE(k.last_used_at,0), COALESCE(k.expires_at,0), "
		       "COALESCE(k.revoked_at,0), k.exec_quota, k.exec_used, w.id, w.slug, w.name, w.kind, "
		       "COALESCE(w.parent_id,''), w.created_at "
		       "FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id WHERE k.id = ?1",
	[R_AGENT_GET] = "SELECT " AGENT_COLS " FROM agents WHERE workspace_id = ?1 AND "
			"(id = ?2 OR slug = ?2)",
	[R_AGENT_GET_ANY] = "SELECT " AGENT_COLS " FROM agents WHERE id = ?1",
	[R_AGENT_LIST] = "SELECT " AGENT_COLS " FROM agents WHERE workspace_id = ?1 " AGENT_WHERE
			 " ORDER BY created_at DESC, id DESC LIMIT ?5 OFFSET ?6",
	[R_AGENT_COUNT] = "SELECT COUNT(*) FROM agents WHERE workspace_id = ?1 " AGENT_WHERE,
	[R_REV_LIST] = "SELECT revision, created_at, config FROM agent_revisions "
		       "WHERE agent_id = ?1 ORDER BY revision DESC",
	[R_REV_GET] = "SELECT revision, created_at, config FROM agent_revisions "
		      "WHERE agent_id = ?1 AND revision = ?2",
	[R_EXEC_GET] = "SELECT " EXEC_COLS " FROM executions WHERE id = ?1",
	[R_EXEC_LIST] = "SELECT " EXEC_COLS " FROM executions WHERE workspace_id = ?1 "
			"AND (?2 IS NULL OR agent_id = ?2) AND (?3 IS NULL OR status = ?3) "
			"AND (?4 = 0 OR created_at >= ?4) AND (?5 = 0 OR created_at < ?5) "
			"AND (?6 IS NULL OR id < ?6) ORDER BY id DESC LIMIT ?7",
	[R_EXEC_ACTIVE] = "SELECT " EXEC_COLS " FROM executions "
			  "WHERE status IN ('queued','running','waiting') ORDER BY id",
	[R_EVENTS] = "SELECT execution_id, seq, created_at, type, data FROM events "
		     "WHERE execution_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
	[R_STEPS] = "SELECT execution_id, seq, data FROM steps WHERE execution_id = ?1 ORDER BY seq",
	[R_SESSION] = "SELECT * FROM (SELECT workspace_id, agent_id, session_id, execution_id, seq, "
		      "created_at, role, content FROM session_messages WHERE workspace_id = ?1 AND "
		      "agent_id = ?2 AND session_id = ?3 ORDER BY seq DESC LIMIT ?4) ORDER BY seq",
	[R_IDEM_GET] = "SELECT workspace_id, agent_id, key, fingerprint, execution_id, expires_at "
		       "FROM idempotency WHERE workspace_id = ?1 AND agent_id = ?2 AND key = ?3",
	[R_FILE_GET] = "SELECT id, workspace_id, name, mime_type, sha256, size, created_at FROM files "
		       "WHERE id = ?1",
};

enum wstmt {
	W_BEGIN,
	W_COMMIT,
	W_ROLLBACK,
	W_SAVEPOINT,
	W_RELEASE,
	W_ROLLBACK_TO,
	W_WS_INSERT,
	W_PROJECT_INSERT,
	W_KEY_INSERT,
	W_KEY_REVOKE,
	W_KEY_TOUCH,
	W_NOOP,
	W_AGENT_INSERT,
	W_REV_INSERT,
	W_AGENT_REVISE,
	W_AGENT_FLAGS,
	W_AGENT_DEPLOY,
	W_EXEC_INSERT,
	W_EXEC_UPDATE,
	W_EXEC_CANCEL,
	W_EVENT_INSERT,
	W_STEP_PUT,
	W_SESSION_APPEND,
	W_IDEM_INSERT,
	W_IDEM_PURGE,
	W_FILE_INSERT,
	W_QUOTA_TAKE,
	W_KEY_UPDATE,
	W__COUNT
};

static const char *const wstmt_sql[W__COUNT] = {
	[W_BEGIN] = "BEGIN IMMEDIATE",
	[W_COMMIT] = "COMMIT",
	[W_ROLLBACK] = "ROLLBACK",
	[W_SAVEPOINT] = "SAVEPOINT w",
	[W_RELEASE] = "RELEASE w",
	[W_ROLLBACK_TO] = "ROLLBACK TO w",
	[W_WS_INSERT] = "INSERT INTO workspaces (id, slug, name, kind, parent_id, created_at) "
			"VALUES (?1, ?2, ?3, ?4, NULLIF(?5,''), ?6)",
	[W_PROJECT_INSERT] = "INSERT INTO projects (id, workspace_id, name, created_at) "
			     "VALUES (?1, ?2, ?3, ?4)",
	[W_KEY_INSERT] = "INSERT INTO api_keys (id, kind, workspace_id, project_id, name, scopes, "
			 "secret_sha256, rate_limit, created_at, expires_at, exec_quota) VALUES (?1, "
			 "?2, ?3, NULLIF(?4,''), ?5, ?6, ?7, ?8, ?9, NULLIF(?10,0), ?11)",
	[W_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) "
			 "WHERE id = ?1 AND workspace_id = ?3",
	[W_KEY_TOUCH] = "UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at,0), ?2) "
			"WHERE id = ?1",
	[W_NOOP] = "INSERT INTO bench_writes (created_at) VALUES (?1)",
	[W_AGENT_INSERT] = "INSERT INTO agents (id, workspace_id, project_id, slug, status, name, "
			   "description, config, exposed, deployed_revision, latest_revision, "
			   "created_at, updated_at) VALUES (?1, ?2, NULLIF(?3,''), ?4, ?5, ?6, ?7, "
			   "?8, ?9, ?10, ?11, ?12, ?13)",
	[W_REV_INSERT] = "INSERT INTO agent_revisions (agent_id, revision, config, created_at) "
			 "VALUES (?1, ?2, ?3, ?4)",
	[W_AGENT_REVISE] = "UPDATE agents SET slug = ?2, name = ?3, description = ?4, "
			   "latest_revision = ?5, updated_at = ?6, "
			   "deployed_revision = CASE WHEN ?7 THEN ?5 ELSE deployed_revision END, "
			   "config = CASE WHEN ?7 THEN ?8 ELSE config END WHERE id = ?1",
	[W_AGENT_FLAGS] = "UPDATE agents SET status = ?2, exposed = ?3, updated_at = ?4 WHERE id = ?1",
	[W_AGENT_DEPLOY] = "UPDATE agents SET deployed_revision = ?2, updated_at = ?3, config = "
			   "(SELECT config FROM agent_revisions WHERE agent_id = ?1 AND revision = ?2) "
			   "WHERE id = ?1 AND EXISTS (SELECT 1 FROM agent_revisions WHERE "
			   "agent_id = ?1 AND revision = ?2)",
	[W_EXEC_INSERT] = "INSERT INTO executions (id, agent_id, revision, workspace_id, project_id, "
			  "key_id, source, dialect, status, priority, input, metadata, session_id, "
			  "parent_id, idempotency_key, timeout_s, attempt, last_seq, created_at, "
			  "attachments) VALUES "
			  "(?1, ?2, ?3, ?4, NULLIF(?5,''), NULLIF(?6,''), ?7, ?8, ?9, ?10, ?11, ?12, "
			  "NULLIF(?13,''), NULLIF(?14,''), NULLIF(?15,''), ?16, ?17, ?18, ?19, ?20)",
	[W_EXEC_UPDATE] = "UPDATE executions SET status = ?2, output = ?3, error_code = NULLIF(?4,''), "
			  "error_message = ?5, model = NULLIF(?6,''), tokens_in = ?7, tokens_out = ?8, "
			  "cost_in = ?9, cost_out = ?10, steps = ?11, attempt = ?12, tool_started = ?13, "
			  "last_seq = ?14, started_at = NULLIF(?15,0), completed_at = NULLIF(?16,0) "
			  "WHERE id = ?1",
	[W_EXEC_CANCEL] = "UPDATE executions SET cancel_requested = 1 WHERE id = ?1",
	[W_EVENT_INSERT] = "INSERT INTO events (execution_id, seq, type, data, created_at) "
			   "VALUES (?1, ?2, ?3, ?4, ?5)",
	[W_STEP_PUT] = "INSERT OR REPLACE INTO steps (execution_id, seq, data) VALUES (?1, ?2, ?3)",
	[W_SESSION_APPEND] = "INSERT INTO session_messages (workspace_id, agent_id, session_id, seq, "
			     "role, content, execution_id, created_at) VALUES (?1, ?2, ?3, "
			     "(SELECT COALESCE(MAX(seq),0) + 1 FROM session_messages WHERE "
			     "workspace_id = ?1 AND agent_id = ?2 AND session_id = ?3), ?4, ?5, ?6, ?7)",
	[W_IDEM_INSERT] = "INSERT INTO idempotency (workspace_id, agent_id, key, fingerprint, "
			  "execution_id, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
			  "ON CONFLICT (workspace_id, agent_id, key) DO UPDATE SET "
			  "fingerprint = excluded.fingerprint, execution_id = excluded.execution_id, "
			  "expires_at = excluded.expires_at WHERE idempotency.expires_at <= ?7",
	[W_IDEM_PURGE] = "DELETE FROM idempotency WHERE expires_at <= ?1",
	[W_FILE_INSERT] = "INSERT INTO files (id, workspace_id, name, mime_type, size, sha256, "
			  "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[W_QUOTA_TAKE] = "UPDATE api_keys SET exec_used = exec_used + 1 WHERE id = ?1 AND "
			 "(exec_quota = 0 OR exec_used < exec_quota)",
	[W_KEY_UPDATE] = "UPDATE api_keys SET name = ?2, scopes = ?3, rate_limit = ?4, exec_quota = ?5, "
			 "expires_at = NULLIF(?6,0) WHERE id = ?1 AND workspace_id = ?7",
};

struct reader {
	struct reader *next;
	sqlite3 *db;
	sqlite3_stmt *stmt[R__COUNT];
};

struct sqlite_store {
	struct store base;
	uint64_t gen;
	sqlite3 *wdb;
	sqlite3_stmt *wstmt[W__COUNT];
	pthread_t writer;
	int writer_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct store_write *head, *tail;
	size_t depth;
	int stop, hold;
	_Atomic uint64_t writes, commits, batch_hist[8];
	pthread_mutex_t rmu;
	struct reader *readers;
};

static _Atomic uint64_t next_gen = 1;

#define TL_SLOTS 4
static _Thread_local struct {
	uint64_t gen;
	struct reader *r;
} tl_readers[TL_SLOTS];
static _Thread_local unsigned tl_next_slot;

static int map_rc(sqlite3 *db, int rc, agd_errbuf *eb)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_CONSTRAINT:
		return agd_fail(eb, AGD_ECONFLICT, "%s", sqlite3_errmsg(db));
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return agd_fail(eb, AGD_EBUSY, "database busy: %s", sqlite3_errmsg(db));
	case SQLITE_NOMEM:
		return agd_fail(eb, AGD_ENOMEM, "database out of memory");
	default:
		return agd_fail(eb, AGD_EIO, "database error: %s", sqlite3_errmsg(db));
	}
}

static int exec_sql(sqlite3 *db, const char *sql, agd_errbuf *eb)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		agd_fail(eb, AGD_EIO, "%s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return AGD_EIO;
	}
	return 0;
}

static int open_conn(const char *path, int readonly, sqlite3 **out, agd_errbuf *eb)
{
	sqlite3 *db = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	int rc = sqlite3_open_v2(path, &db, flags, NULL);
	if (rc != SQLITE_OK) {
		agd_fail(eb, AGD_EIO, "cannot open %s: %s", path,
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return AGD_EIO;
	}
	sqlite3_busy_timeout(db, 10000);
	const char *pragmas = readonly ? "PRAGMA query_only = ON;"
				       : "PRAGMA journal_mode = WAL;"
					 "PRAGMA synchronous = FULL;"
					 "PRAGMA foreign_keys = ON;";
	if (exec_sql(db, pragmas, eb)) {
		sqlite3_close(db);
		return AGD_EIO;
	}
	*out = db;
	return 0;
}

static int migrate(sqlite3 *db, agd_errbuf *eb)
{
	int rc = exec_sql(db,
			  "CREATE TABLE IF NOT EXISTS schema_migrations ("
			  " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
			  " applied_at INTEGER NOT NULL)",
			  eb);
	if (rc)
		return rc;
	for (size_t i = 0; i < sqlite_migrations_count; i++) {
		const struct migration *m = &sqlite_migrations[i];
		if ((rc = exec_sql(db, "BEGIN IMMEDIATE", eb)))
			return rc;
		sqlite3_stmt *st = NULL;
		sqlite3_prepare_v2(db, "SELECT 1 FROM schema_migrations WHERE version = ?1", -1,
				   &st, NULL);
		sqlite3_bind_int(st, 1, m->version);
		int have = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
		if (!have) {
			rc = exec_sql(db, m->sql, eb);
			if (!rc) {
				sqlite3_prepare_v2(db,
						   "INSERT INTO schema_migrations (version, name, "
						   "applied_at) VALUES (?1, ?2, ?3)",
						   -1, &st, NULL);
				sqlite3_bind_int(st, 1, m->version);
				sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
				sqlite3_bind_int64(st, 3, time_now_ms());
				rc = sqlite3_step(st) == SQLITE_DONE ? 0 : map_rc(db, SQLITE_ERROR, eb);
				sqlite3_finalize(st);
			}
			if (rc) {
				char msg[AGD_ERRBUF];
				snprintf(msg, sizeof(msg), "%s", eb ? eb->msg : "");
				exec_sql(db, "ROLLBACK", NULL);
				return agd_fail(eb, AGD_EIO, "migration %d (%s) failed: %s",
						m->version, m->name, msg);
			}
		}
		if ((rc = exec_sql(db, "COMMIT", eb)))
			return rc;
	}
	return 0;
}

/* ---- reading ---- */

static struct reader *reader_get(struct sqlite_store *s, agd_errbuf *eb)
{
	for (int i = 0; i < TL_SLOTS; i++)
		if (tl_readers[i].gen == s->gen)
			return tl_readers[i].r;
	struct reader *r = calloc(1, sizeof(*r));
	if (!r) {
		agd_fail(eb, AGD_ENOMEM, "out of memory");
		return NULL;
	}
	if (open_conn(s->base.path, 1, &r->db, eb)) {
		free(r);
		return NULL;
	}
	for (int i = 0; i < R__COUNT; i++) {
		if (sqlite3_prepare_v3(r->db, rstmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &r->stmt[i], NULL) != SQLITE_OK) {
			agd_fail(eb, AGD_EINTERNAL, "prepare failed: %s", sqlite3_errmsg(r->db));
			for (int j = 0; j < i; j++)
				sqlite3_finalize(r->stmt[j]);
			sqlite3_close(r->db);
			free(r);
			return NULL;
		}
	}
	pthread_mutex_lock(&s->rmu);
	r->next = s->readers;
	s->readers = r;
	pthread_mutex_unlock(&s->rmu);
	unsigned slot = tl_next_slot++ % TL_SLOTS;
	tl_readers[slot].gen = s->gen;
	tl_readers[slot].r = r;
	return r;
}

static sqlite3_stmt *rstmt(struct sqlite_store *s, enum rstmt which)
{
	struct reader *r = reader_get(s, NULL);
	if (!r)
		return NULL;
	sqlite3_stmt *st = r->stmt[which];
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t n)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	size_t len = t ? (size_t)sqlite3_column_bytes(st, i) : 0;
	if (len >= n)
		len = n - 1;   /* inserts are validated to fit; this only guards the copy */
	if (len)
		memcpy(out, t, len);
	out[len] = '\0';
}

static void row_workspace_at(sqlite3_stmt *st, int c, struct workspace_rec *w)
{
	col_text(st, c + 0, w->id, sizeof(w->id));
	col_text(st, c + 1, w->slug, sizeof(w->slug));
	col_text(st, c + 2, w->name, sizeof(w->name));
	col_text(st, c + 3, w->kind, sizeof(w->kind));
	col_text(st, c + 4, w->parent_id, sizeof(w->parent_id));
	w->created_at = sqlite3_column_int64(st, c + 5);
}

static void row_workspace(sqlite3_stmt *st, struct workspace_rec *w)
{
	row_workspace_at(st, 0, w);
}

static void row_project(sqlite3_stmt *st, struct project_rec *p)
{
	col_text(st, 0, p->id, sizeof(p->id));
	col_text(st, 1, p->workspace_id, sizeof(p->workspace_id));
	col_text(st, 2, p->name, sizeof(p->name));
	p->created_at = sqlite3_column_int64(st, 3);
}

static void row_key(sqlite3_stmt *st, struct key_rec *k)
{
	col_text(st, 0, k->id, sizeof(k->id));
	col_text(st, 1, k->kind, sizeof(k->kind));
	col_text(st, 2, k->workspace_id, sizeof(k->workspace_id));
	col_text(st, 3, k->project_id, sizeof(k->project_id));
	col_text(st, 4, k->name, sizeof(k->name));
	col_text(st, 5, k->scopes, sizeof(k->scopes));
	col_text(st, 6, k->secret_sha256, sizeof(k->secret_sha256));
	k->rate_limit = sqlite3_column_int64(st, 7);
	k->created_at = sqlite3_column_int64(st, 8);
	k->last_used_at = sqlite3_column_int64(st, 9);
	k->expires_at = sqlite3_column_int64(st, 10);
	k->revoked_at = sqlite3_column_int64(st, 11);
	k->exec_quota = sqlite3_column_int64(st, 12);
	k->exec_used = sqlite3_column_int64(st, 13);
}

typedef void (*row_fn)(sqlite3_stmt *st, void *out);

/* Steps a prepared, bound statement into a malloc'd array of elem-sized rows. */
static int collect(sqlite3_stmt *st, row_fn fn, size_t elem, void **out, size_t *n)
{
	size_t cap = 0, cnt = 0;
	char *arr = NULL;
	int rc;
	*out = NULL;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			char *na = realloc(arr, cap * elem);
			if (!na) {
				free(arr);
				sqlite3_reset(st);
				return AGD_ENOMEM;
			}
			arr = na;
		}
		memset(arr + cnt * elem, 0, elem);
		fn(st, arr + cnt * elem);
		cnt++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(arr);
		return AGD_EIO;
	}
	*out = arr;
	*n = cnt;
	return 0;
}

/* Steps a prepared, bound statement for exactly one row. */
static int collect_one(sqlite3_stmt *st, row_fn fn, void *out)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		fn(st, out);
		sqlite3_reset(st);
		return 0;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? AGD_ENOTFOUND : AGD_EIO;
}

/* Runs a prepared single-row query bound to one text parameter. */
static int get_one(struct sqlite_store *s, enum rstmt which, const char *arg, row_fn fn,
		   void *out)
{
	sqlite3_stmt *st = rstmt(s, which);
	if (!st)
		return AGD_EIO;
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	return collect_one(st, fn, out);
}

/* Runs a list query bound to one text parameter. */
static int get_many(struct sqlite_store *s, enum rstmt which, const char *arg, row_fn fn,
		    size_t elem, void **out, size_t *n)
{
	sqlite3_stmt *st = rstmt(s, which);
	*out = NULL;
	*n = 0;
	if (!st)
		return AGD_EIO;
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	return collect(st, fn, elem, out, n);
}

static int sq_ping(struct store *st)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	sqlite3_stmt *q = rstmt(s, R_PING);
	if (!q)
		return AGD_EIO;
	int rc = sqlite3_step(q);
	sqlite3_reset(q);
	return rc == SQLITE_ROW ? 0 : AGD_EIO;
}

static int sq_workspace_get(struct store *st, const char *id, struct workspace_rec *out)
{
	return get_one((struct sqlite_store *)st, R_WS_GET, id, (row_fn)row_workspace, out);
}

static void row_int(sqlite3_stmt *st, void *out)
{
	*(int64_t *)out = sqlite3_column_int64(st, 0);
}

static int sq_workspace_count(struct store *st, int64_t *n)
{
	return get_one((struct sqlite_store *)st, R_WS_COUNT, NULL, row_int, n);
}

static int sq_workspace_list(struct store *st, const char *id, struct workspace_rec **out,
			     size_t *n)
{
	return get_many((struct sqlite_store *)st, R_WS_LIST, id, (row_fn)row_workspace,
			sizeof(**out), (void **)out, n);
}

static int sq_project_get(struct store *st, const char *id, struct project_rec *out)
{
	return get_one((struct sqlite_store *)st, R_PROJECT_GET, id, (row_fn)row_project, out);
}

static int sq_project_list(struct store *st, const char *ws, struct project_rec **out, size_t *n)
{
	return get_many((struct sqlite_store *)st, R_PROJECT_LIST, ws, (row_fn)row_project,
			sizeof(**out), (void **)out, n);
}

static int sq_key_get(struct store *st, const char *id, struct key_rec *out)
{
	return get_one((struct sqlite_store *)st, R_KEY_GET, id, (row_fn)row_key, out);
}


static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	if (!t)
		return NULL;
	size_t n = (size_t)sqlite3_column_bytes(st, i);
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, t, n);
		p[n] = '\0';
	}
	return p;
}

static void row_agent(sqlite3_stmt *st, void *out)
{
	struct agent_rec *a = out;
	col_text(st, 0, a->id, sizeof(a->id));
	col_text(st, 1, a->workspace_id, sizeof(a->workspace_id));
	col_text(st, 2, a->project_id, sizeof(a->project_id));
	col_text(st, 3, a->slug, sizeof(a->slug));
	col_text(st, 4, a->status, sizeof(a->status));
	a->name = col_dup(st, 5);
	a->description = col_dup(st, 6);
	a->config = col_dup(st, 7);
	a->exposed = sqlite3_column_int(st, 8);
	a->deployed_revision = sqlite3_column_int64(st, 9);
	a->latest_revision = sqlite3_column_int64(st, 10);
	a->created_at = sqlite3_column_int64(st, 11);
	a->updated_at = sqlite3_column_int64(st, 12);
}

static void row_revision(sqlite3_stmt *st, void *out)
{
	struct revision_rec *r = out;
	r->revision = sqlite3_column_int64(st, 0);
	r->created_at = sqlite3_column_int64(st, 1);
	r->config = col_dup(st, 2);
}

static void row_exec(sqlite3_stmt *st, void *out)
{
	struct exec_rec *e = out;
	col_text(st, 0, e->id, sizeof(e->id));
	col_text(st, 1, e->agent_id, sizeof(e->agent_id));
	col_text(st, 2, e->workspace_id, sizeof(e->workspace_id));
	col_text(st, 3, e->project_id, sizeof(e->project_id));
	col_text(st, 4, e->key_id, sizeof(e->key_id));
	col_text(st, 5, e->source, sizeof(e->source));
	col_text(st, 6, e->dialect, sizeof(e->dialect));
	col_text(st, 7, e->status, sizeof(e->status));
	col_text(st, 8, e->session_id, sizeof(e->session_id));
	col_text(st, 9, e->parent_id, sizeof(e->parent_id));
	col_text(st, 10, e->idempotency_key, sizeof(e->idempotency_key));
	col_text(st, 11, e->model, sizeof(e->model));
	col_text(st, 12, e->error_code, sizeof(e->error_code));
	e->priority = sqlite3_column_int(st, 13);
	e->tool_started = sqlite3_column_int(st, 14);
	e->cancel_requested = sqlite3_column_int(st, 15);
	e->revision = sqlite3_column_int64(st, 16);
	e->tokens_in = sqlite3_column_int64(st, 17);
	e->tokens_out = sqlite3_column_int64(st, 18);
	e->steps = sqlite3_column_int64(st, 19);
	e->attempt = sqlite3_column_int64(st, 20);
	e->timeout_s = sqlite3_column_int64(st, 21);
	e->last_seq = sqlite3_column_int64(st, 22);
	e->created_at = sqlite3_column_int64(st, 23);
	e->started_at = sqlite3_column_int64(st, 24);
	e->completed_at = sqlite3_column_int64(st, 25);
	e->cost_in = sqlite3_column_double(st, 26);
	e->cost_out = sqlite3_column_double(st, 27);
	e->input = col_dup(st, 28);
	e->metadata = col_dup(st, 29);
	e->output = col_dup(st, 30);
	e->error_message = col_dup(st, 31);
	e->attachments = col_dup(st, 32);
}

static void row_event(sqlite3_stmt *st, void *out)
{
	struct event_rec *e = out;
	col_text(st, 0, e->execution_id, sizeof(e->execution_id));
	e->seq = sqlite3_column_int64(st, 1);
	e->created_at = sqlite3_column_int64(st, 2);
	col_text(st, 3, e->type, sizeof(e->type));
	e->data = col_dup(st, 4);
}

static void row_step(sqlite3_stmt *st, void *out)
{
	struct step_rec *s = out;
	col_text(st, 0, s->execution_id, sizeof(s->execution_id));
	s->seq = sqlite3_column_int64(st, 1);
	s->data = col_dup(st, 2);
}

static void row_session(sqlite3_stmt *st, void *out)
{
	struct session_msg *m = out;
	col_text(st, 0, m->workspace_id, sizeof(m->workspace_id));
	col_text(st, 1, m->agent_id, sizeof(m->agent_id));
	col_text(st, 2, m->session_id, sizeof(m->session_id));
	col_text(st, 3, m->execution_id, sizeof(m->execution_id));
	m->seq = sqlite3_column_int64(st, 4);
	m->created_at = sqlite3_column_int64(st, 5);
	col_text(st, 6, m->role, sizeof(m->role));
	m->content = col_dup(st, 7);
}

static void row_idem(sqlite3_stmt *st, void *out)
{
	struct idem_rec *r = out;
	col_text(st, 0, r->workspace_id, sizeof(r->workspace_id));
	col_text(st, 1, r->agent_id, sizeof(r->agent_id));
	col_text(st, 2, r->key, sizeof(r->key));
	col_text(st, 3, r->fingerprint, sizeof(r->fingerprint));
	col_text(st, 4, r->execution_id, sizeof(r->execution_id));
	r->expires_at = sqlite3_column_int64(st, 5);
}

/* Binds text or NULL (for NULL/empty). */
static void bind_opt(sqlite3_stmt *st, int i, const char *v)
{
	if (v && v[0])
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static int sq_agent_get(struct store *stp, const char *ws, const char *id, struct agent_rec *out)
{
	struct sqlite_store *s = (struct sqlite_store *)stp;
	memset(out, 0, sizeof(*out));
	sqlite3_stmt *st = rstmt(s, ws ? R_AGENT_GET : R_AGENT_GET_ANY);
	if (!st)
		return AGD_EIO;
	if (ws) {
		bind_opt(st, 1, ws);
		bind_opt(st, 2, id);
	} else {
		bind_opt(st, 1, id);
	}
	return collect_one(st, row_agent, out);
}

static void like_pattern(const char *search, char *out, size_t n)
{
	size_t o = 0;
	out[o++] = '%';
	for (const char *p = search; *p && o + 3 < n; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			out[o++] = '\\';
		out[o++] = *p;
	}
	out[o++] = '%';
	out[o] = '\0';
}

static int sq_agent_list(struct store *stp, const char *ws, const char *search, int archived,
			 int exposed_only, int limit, int offset, struct agent_rec **out,
			 size_t *n, int64_t *total)
{
	struct sqlite_store *s = (struct sqlite_store *)stp;
	char pat[600];
	if (search && search[0])
		like_pattern(search, pat, sizeof(pat));
	for (int pass = 0; pass < 2; pass++) {
		sqlite3_stmt *st = rstmt(s, pass ? R_AGENT_COUNT : R_AGENT_LIST);
		if (!st)
			return AGD_EIO;
		bind_opt(st, 1, ws);
		sqlite3_bind_int(st, 2, archived);
		sqlite3_bind_int(st, 3, exposed_only);
		bind_opt(st, 4, search && search[0] ? pat : NULL);
		if (!pass) {
			sqlite3_bind_int(st, 5, limit);
			sqlite3_bind_int(st, 6, offset);
			int rc = collect(st, row_agent, sizeof(**out), (void **)out, n);
			if (rc)
				return rc;
		} else {
			int rc = collect_one(st, row_int, total);
			if (rc) {
				agent_recs_free(*out, *n);
				return AGD_EIO;
			}
		}
	}
	return 0;
}

static int sq_revision_list(struct store *stp, const char *agent, struct revision_rec **out,
			    size_t *n)
{
	sqlite3_stmt *st = rstmt((struct sqlite_store *)stp, R_REV_LIST);
	if (!st)
		return AGD_EIO;
	bind_opt(st, 1, agent);
	return collect(st, row_revision, sizeof(**out), (void **)out, n);
}

static int sq_revision_get(struct store *stp, const char *agent, int64_t rev,
			   struct revision_rec *out)
{
	memset(out, 0, sizeof(*out));
	sqlite3_stmt *st = rstmt((struct sqlite_store *)stp, R_REV_GET);
	if (!st)
		return AGD_EIO;
	bind_opt(st, 1, agent);
	sqlite3_bind_int64(st, 2, rev);
	return collect_one(st, row_revision, out);
}

static int sq_exec_get(struct store *stp, const char *id, struct exec_rec *out)
{
	memset(out, 0, sizeof(*out));
	sqlite3_stmt *st = rstmt((struct sqlite_store *)stp, R_EXEC_GET);
	if (!st)
		return AGD_EIO;
	bind_opt(st, 1, id);
	return collect_one(st, row_exec, out);
}

static int sq_exec_list(struct store *stp, const struct exec_filter *f, struct exec_rec **out,
			size_t *n)
{
	sqlite3_stmt *st = rstmt((struct sqlite_store *)stp, R_EXEC_LIST);
	if (!st)
		return AGD_EIO;
	bind_opt(st, 1, f->workspace_id);
	bind_opt(st, 2, f->agent_id);
	bind_opt(st, 3, f->status);
	sqlite3_bind_int64(st, 4, f->since);
	sqlite3_bind_int64(st, 5, f->until);
	bind_opt(st, 6, f->before_id);
	sqlite3_bind_int(st, 7, f->limit);
	return collect(st, row_exec, sizeof(**out), (void **)out, n);
}

static int sq_exec_active(struct store *stp, struct exec_rec **out, size_t *n)
{
	sqlite3_stmt *st = rstmt((struct sqlite_store *)stp, R_EXEC_ACTIVE);
	if (!st)
		return AGD_EIO;
	return collect(st, row_exec, sizeof(**out), (void **)out, n);
}

static int sq_events_list(struct store *stp, const char *id, int64_t after, int limit,
			  struct event_rec **out, size_t *n)
{
	sqlite3_stmt *st = rstmt((struct sqlite_store *)stp, R_EVENTS);
	if (!st)
		return AGD_EIO;
	bind_opt(st, 1, id);
	sqlite3_bind_int64(st, 2, after);
	sqlite3_bind_int(st, 3, limit);
	return collect(st, row_event, sizeof(**out), (void **)out, n);
}

static int sq_steps_list(struct store *stp, const char *id, struct step_rec **out, size_t *n)
{
	sqlite3_stmt *st = rstmt((struct sqlite_store *)stp, R_STEPS);
	if (!st)
		return AGD_EIO;
	bind_opt(st, 1, id);
	return collect(st, row_step, sizeof(**out), (void **)out, n);
}

static int sq_session_history(struct store *stp, const char *ws, const char *agent,
			      const char *session, int limit, struct session_msg **out, size_t *n)
{
	sqlite3_stmt *st = rstmt((struct sqlite_store *)stp, R_SESSION);
	if (!st)
		return AGD_EIO;
	bind_opt(st, 1, ws);
	bind_opt(st, 2, agent);
	bind_opt(st, 3, session);
	sqlite3_bind_int(st, 4, limit);
	return collect(st, row_session, sizeof(**out), (void **)out, n);
}

static int sq_idem_get(struct store *stp, const char *ws, const char *agent, const char *key,
		       struct idem_rec *out)
{
	memset(out, 0, sizeof(*out));
	sqlite3_stmt *st = rstmt((struct sqlite_store *)stp, R_IDEM_GET);
	if (!st)
		return AGD_EIO;
	bind_opt(st, 1, ws);
	bind_opt(st, 2, agent);
	bind_opt(st, 3, key);
	return collect_one(st, row_idem, out);
}

static void row_file(sqlite3_stmt *st, void *out)
{
	struct file_rec *f = out;
	col_text(st, 0, f->id, sizeof(f->id));
	col_text(st, 1, f->workspace_id, sizeof(f->workspace_id));
	col_text(st, 2, f->name, sizeof(f->name));
	col_text(st, 3, f->mime_type, sizeof(f->mime_type));
	col_text(st, 4, f->sha256, sizeof(f->sha256));
	f->size = sqlite3_column_int64(st, 5);
	f->created_at = sqlite3_column_int64(st, 6);
}

static int sq_file_get(struct store *stp, const char *id, struct file_rec *out)
{
	memset(out, 0, sizeof(*out));
	return get_one((struct sqlite_store *)stp, R_FILE_GET, id, row_file, out);
}

struct key_and_ws {
	struct key_rec *k;
	struct workspace_rec *w;
};

static void row_key_auth(sqlite3_stmt *st, void *out)
{
	struct key_and_ws *kw = out;
	row_key(st, kw->k);
	row_workspace_at(st, 14, kw->w);
}

static int sq_key_auth(struct store *st, const char *id, struct key_rec *k,
		       struct workspace_rec *w)
{
	struct key_and_ws kw = {k, w};
	return get_one((struct sqlite_store *)st, R_KEY_AUTH, id, row_key_auth, &kw);
}

static int sq_key_list(struct store *st, const char *ws, struct key_rec **out, size_t *n)
{
	return get_many((struct sqlite_store *)st, R_KEY_LIST, ws, (row_fn)row_key, sizeof(**out),
			(void **)out, n);
}

/* ---- writing (writer thread only) ---- */

static int wstep(struct sqlite_store *s, enum wstmt which, agd_errbuf *eb)
{
	sqlite3_stmt *st = s->wstmt[which];
	int rc = sqlite3_step(st);
	int r = map_rc(s->wdb, rc, eb);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}

static sqlite3_stmt *wbind(struct sqlite_store *s, enum wstmt which)
{
	return s->wstmt[which];
}

static void bind_txt(sqlite3_stmt *st, int i, const char *v)
{
	sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static int apply_op(struct sqlite_store *s, const struct store_op *op, agd_errbuf *eb)
{
	sqlite3_stmt *st;
	int rc;
	switch (op->kind) {
	case STORE_OP_WORKSPACE_INSERT: {
		const struct workspace_rec *w = &op->u.workspace;
		st = wbind(s, W_WS_INSERT);
		bind_txt(st, 1, w->id);
		bind_txt(st, 2, w->slug);
		bind_txt(st, 3, w->name);
		bind_txt(st, 4, w->kind);
		bind_txt(st, 5, w->parent_id);
		sqlite3_bind_int64(st, 6, w->created_at);
		return wstep(s, W_WS_INSERT, eb);
	}
	case STORE_OP_PROJECT_INSERT: {
		const struct project_rec *p = &op->u.project;
		st = wbind(s, W_PROJECT_INSERT);
		bind_txt(st, 1, p->id);
		bind_txt(st, 2, p->workspace_id);
		bind_txt(st, 3, p->name);
		sqlite3_bind_int64(st, 4, p->created_at);
		return wstep(s, W_PROJECT_INSERT, eb);
	}
	case STORE_OP_KEY_INSERT: {
		const struct key_rec *k = &op->u.key;
		st = wbind(s, W_KEY_INSERT);
		bind_txt(st, 1, k->id);
		bind_txt(st, 2, k->kind);
		bind_txt(st, 3, k->workspace_id);
		bind_txt(st, 4, k->project_id);
		bind_txt(st, 5, k->name);
		bind_txt(st, 6, k->scopes);
		bind_txt(st, 7, k->secret_sha256);
		sqlite3_bind_int64(st, 8, k->rate_limit);
		sqlite3_bind_int64(st, 9, k->created_at);
		sqlite3_bind_int64(st, 10, k->expires_at);
		sqlite3_bind_int64(st, 11, k->exec_quota);
		return wstep(s, W_KEY_INSERT, eb);
	}
	case STORE_OP_KEY_REVOKE: {
		const struct key_rec *k = &op->u.key;
		st = wbind(s, W_KEY_REVOKE);
		bind_txt(st, 1, k->id);
		sqlite3_bind_int64(st, 2, k->revoked_at);
		bind_txt(st, 3, k->workspace_id);
		rc = wstep(s, W_KEY_REVOKE, eb);
		if (!rc && sqlite3_changes(s->wdb) == 0)
			rc = agd_fail(eb, AGD_ENOTFOUND, "no key %s in this workspace", k->id);
		return rc;
	}
	case STORE_OP_KEY_TOUCH:
		for (size_t i = 0; i < op->u.touch.n; i++) {
			st = wbind(s, W_KEY_TOUCH);
			bind_txt(st, 1, op->u.touch.items[i].id);
			sqlite3_bind_int64(st, 2, op->u.touch.items[i].at);
			if ((rc = wstep(s, W_KEY_TOUCH, eb)))
				return rc;
		}
		return 0;
	case STORE_OP_AGENT_INSERT: {
		const struct agent_rec *a = &op->u.agent;
		st = wbind(s, W_AGENT_INSERT);
		bind_txt(st, 1, a->id);
		bind_txt(st, 2, a->workspace_id);
		bind_txt(st, 3, a->project_id);
		bind_txt(st, 4, a->slug);
		bind_txt(st, 5, a->status);
		bind_txt(st, 6, a->name);
		bind_txt(st, 7, a->description ? a->description : "");
		bind_txt(st, 8, a->config);
		sqlite3_bind_int(st, 9, a->exposed);
		sqlite3_bind_int64(st, 10, 1);
		sqlite3_bind_int64(st, 11, 1);
		sqlite3_bind_int64(st, 12, a->created_at);
		sqlite3_bind_int64(st, 13, a->updated_at);
		if ((rc = wstep(s, W_AGENT_INSERT, eb)))
			return rc;
		st = wbind(s, W_REV_INSERT);
		bind_txt(st, 1, a->id);
		sqlite3_bind_int64(st, 2, 1);
		bind_txt(st, 3, a->config);
		sqlite3_bind_int64(st, 4, a->created_at);
		return wstep(s, W_REV_INSERT, eb);
	}
	case STORE_OP_AGENT_REVISE: {
		const struct agent_rec *a = &op->u.agent;
		st = wbind(s, W_REV_INSERT);
		bind_txt(st, 1, a->id);
		sqlite3_bind_int64(st, 2, a->latest_revision);
		bind_txt(st, 3, a->config);
		sqlite3_bind_int64(st, 4, a->updated_at);
		if ((rc = wstep(s, W_REV_INSERT, eb)))
			return rc;
		st = wbind(s, W_AGENT_REVISE);
		bind_txt(st, 1, a->id);
		bind_txt(st, 2, a->slug);
		bind_txt(st, 3, a->name);
		bind_txt(st, 4, a->description ? a->description : "");
		sqlite3_bind_int64(st, 5, a->latest_revision);
		sqlite3_bind_int64(st, 6, a->updated_at);
		sqlite3_bind_int(st, 7, a->deploy);
		bind_txt(st, 8, a->config);
		return wstep(s, W_AGENT_REVISE, eb);
	}
	case STORE_OP_AGENT_FLAGS: {
		const struct agent_rec *a = &op->u.agent;
		st = wbind(s, W_AGENT_FLAGS);
		bind_txt(st, 1, a->id);
		bind_txt(st, 2, a->status);
		sqlite3_bind_int(st, 3, a->exposed);
		sqlite3_bind_int64(st, 4, a->updated_at);
		return wstep(s, W_AGENT_FLAGS, eb);
	}
	case STORE_OP_AGENT_DEPLOY: {
		const struct agent_rec *a = &op->u.agent;
		st = wbind(s, W_AGENT_DEPLOY);
		bind_txt(st, 1, a->id);
		sqlite3_bind_int64(st, 2, a->deployed_revision);
		sqlite3_bind_int64(st, 3, a->updated_at);
		rc = wstep(s, W_AGENT_DEPLOY, eb);
		if (!rc && sqlite3_changes(s->wdb) == 0)
			rc = agd_fail(eb, AGD_ENOTFOUND, "agent %s has no revision %lld", a->id,
				      (long long)a->deployed_revision);
		return rc;
	}
	case STORE_OP_EXEC_INSERT: {
		const struct exec_rec *e = &op->u.exec;
		st = wbind(s, W_EXEC_INSERT);
		bind_txt(st, 1, e->id);
		bind_txt(st, 2, e->agent_id);
		sqlite3_bind_int64(st, 3, e->revision);
		bind_txt(st, 4, e->workspace_id);
		bind_txt(st, 5, e->project_id);
		bind_txt(st, 6, e->key_id);
		bind_txt(st, 7, e->source);
		bind_txt(st, 8, e->dialect);
		bind_txt(st, 9, e->status);
		sqlite3_bind_int(st, 10, e->priority);
		bind_txt(st, 11, e->input ? e->input : "{}");
		if (e->metadata)
			bind_txt(st, 12, e->metadata);
		bind_txt(st, 13, e->session_id);
		bind_txt(st, 14, e->parent_id);
		bind_txt(st, 15, e->idempotency_key);
		sqlite3_bind_int64(st, 16, e->timeout_s);
		sqlite3_bind_int64(st, 17, e->attempt ? e->attempt : 1);
		sqlite3_bind_int64(st, 18, e->last_seq);
		sqlite3_bind_int64(st, 19, e->created_at);
		if (e->attachments)
			bind_txt(st, 20, e->attachments);
		return wstep(s, W_EXEC_INSERT, eb);
	}
	case STORE_OP_EXEC_UPDATE: {
		const struct exec_rec *e = &op->u.exec;
		st = wbind(s, W_EXEC_UPDATE);
		bind_txt(st, 1, e->id);
		bind_txt(st, 2, e->status);
		if (e->output)
			bind_txt(st, 3, e->output);
		bind_txt(st, 4, e->error_code);
		if (e->error_message)
			bind_txt(st, 5, e->error_message);
		bind_txt(st, 6, e->model);
		sqlite3_bind_int64(st, 7, e->tokens_in);
		sqlite3_bind_int64(st, 8, e->tokens_out);
		sqlite3_bind_double(st, 9, e->cost_in);
		sqlite3_bind_double(st, 10, e->cost_out);
		sqlite3_bind_int64(st, 11, e->steps);
		sqlite3_bind_int64(st, 12, e->attempt);
		sqlite3_bind_int(st, 13, e->tool_started);
		sqlite3_bind_int64(st, 14, e->last_seq);
		sqlite3_bind_int64(st, 15, e->started_at);
		sqlite3_bind_int64(st, 16, e->completed_at);
		return wstep(s, W_EXEC_UPDATE, eb);
	}
	case STORE_OP_EXEC_CANCEL:
		st = wbind(s, W_EXEC_CANCEL);
		bind_txt(st, 1, op->u.exec.id);
		return wstep(s, W_EXEC_CANCEL, eb);
	case STORE_OP_EVENT_INSERT: {
		const struct event_rec *e = &op->u.event;
		st = wbind(s, W_EVENT_INSERT);
		bind_txt(st, 1, e->execution_id);
		sqlite3_bind_int64(st, 2, e->seq);
		bind_txt(st, 3, e->type);
		bind_txt(st, 4, e->data ? e->data : "{}");
		sqlite3_bind_int64(st, 5, e->created_at);
		return wstep(s, W_EVENT_INSERT, eb);
	}
	case STORE_OP_STEP_PUT: {
		const struct step_rec *sp = &op->u.step;
		st = wbind(s, W_STEP_PUT);
		bind_txt(st, 1, sp->execution_id);
		sqlite3_bind_int64(st, 2, sp->seq);
		bind_txt(st, 3, sp->data ? sp->data : "{}");
		return wstep(s, W_STEP_PUT, eb);
	}
	case STORE_OP_SESSION_APPEND: {
		const struct session_msg *m = &op->u.msg;
		st = wbind(s, W_SESSION_APPEND);
		bind_txt(st, 1, m->workspace_id);
		bind_txt(st, 2, m->agent_id);
		bind_txt(st, 3, m->session_id);
		bind_txt(st, 4, m->role);
		bind_txt(st, 5, m->content ? m->content : "");
		bind_txt(st, 6, m->execution_id);
		sqlite3_bind_int64(st, 7, m->created_at);
		return wstep(s, W_SESSION_APPEND, eb);
	}
	case STORE_OP_IDEM_INSERT: {
		const struct idem_rec *r = &op->u.idem;
		st = wbind(s, W_IDEM_INSERT);
		bind_txt(st, 1, r->workspace_id);
		bind_txt(st, 2, r->agent_id);
		bind_txt(st, 3, r->key);
		bind_txt(st, 4, r->fingerprint);
		bind_txt(st, 5, r->execution_id);
		sqlite3_bind_int64(st, 6, r->expires_at);
		sqlite3_bind_int64(st, 7, time_now_ms());
		rc = wstep(s, W_IDEM_INSERT, eb);
		if (!rc && sqlite3_changes(s->wdb) == 0)
			rc = agd_fail(eb, AGD_ECONFLICT, "idempotency key '%s' is taken", r->key);
		return rc;
	}
	case STORE_OP_IDEM_PURGE:
		st = wbind(s, W_IDEM_PURGE);
		sqlite3_bind_int64(st, 1, op->u.idem.expires_at);
		return wstep(s, W_IDEM_PURGE, eb);
	case STORE_OP_FILE_INSERT: {
		const struct file_rec *f = &op->u.file;
		st = wbind(s, W_FILE_INSERT);
		bind_txt(st, 1, f->id);
		bind_txt(st, 2, f->workspace_id);
		bind_txt(st, 3, f->name);
		bind_txt(st, 4, f->mime_type);
		sqlite3_bind_int64(st, 5, f->size);
		bind_txt(st, 6, f->sha256);
		sqlite3_bind_int64(st, 7, f->created_at);
		return wstep(s, W_FILE_INSERT, eb);
	}
	case STORE_OP_KEY_UPDATE: {
		const struct key_rec *k = &op->u.key;
		st = wbind(s, W_KEY_UPDATE);
		bind_txt(st, 1, k->id);
		bind_txt(st, 2, k->name);
		bind_txt(st, 3, k->scopes);
		sqlite3_bind_int64(st, 4, k->rate_limit);
		sqlite3_bind_int64(st, 5, k->exec_quota);
		sqlite3_bind_int64(st, 6, k->expires_at);
		bind_txt(st, 7, k->workspace_id);
		rc = wstep(s, W_KEY_UPDATE, eb);
		if (!rc && sqlite3_changes(s->wdb) == 0)
			rc = agd_fail(eb, AGD_ENOTFOUND, "no key %s in this workspace", k->id);
		return rc;
	}
	case STORE_OP_KEY_QUOTA_TAKE:
		st = wbind(s, W_QUOTA_TAKE);
		bind_txt(st, 1, op->u.key.id);
		rc = wstep(s, W_QUOTA_TAKE, eb);
		if (!rc && sqlite3_changes(s->wdb) == 0)
			rc = agd_fail(eb, AGD_EQUOTA, "the execution quota of API key %s is spent",
				      op->u.key.id);
		return rc;
	case STORE_OP_NOOP_ROW:
		st = wbind(s, W_NOOP);
		sqlite3_bind_int64(st, 1, time_now_ms());
		return wstep(s, W_NOOP, eb);
	}
	return agd_fail(eb, AGD_EINTERNAL, "unknown store op %d", (int)op->kind);
}

static int apply_write(struct sqlite_store *s, struct store_write *w)
{
	int rc = wstep(s, W_SAVEPOINT, &w->err);
	if (rc)
		return rc;
	for (size_t i = 0; i < w->nops && !rc; i++)
		rc = apply_op(s, &w->ops[i], &w->err);
	if (rc)
		wstep(s, W_ROLLBACK_TO, NULL);
	wstep(s, W_RELEASE, NULL);
	return rc;
}

static unsigned batch_bucket(size_t n)
{
	static const size_t bounds[7] = {1, 4, 16, 64, 256, 1024, 4096};
	for (unsigned i = 0; i < 7; i++)
		if (n <= bounds[i])
			return i;
	return 7;
}

static void process_batch(struct sqlite_store *s, struct store_write *batch, size_t n)
{
	agd_errbuf eb;
	int rc = wstep(s, W_BEGIN, &eb);
	if (!rc) {
		for (struct store_write *w = batch; w; w = w->next)
			w->rc = apply_write(s, w);
		rc = wstep(s, W_COMMIT, &eb);
		if (rc) {
			wstep(s, W_ROLLBACK, NULL);
			log_error("store: commit of %zu writes failed: %s", n, eb.msg);
		} else {
			atomic_fetch_add(&s->commits, 1);
			atomic_fetch_add(&s->batch_hist[batch_bucket(n)], 1);
		}
	} else {
		log_error("store: cannot begin a transaction: %s", eb.msg);
	}
	atomic_fetch_add(&s->writes, n);
	struct store_write *w = batch;
	while (w) {
		struct store_write *next = w->next;
		w->next = NULL;
		if (rc) {
			w->rc = rc;
			snprintf(w->err.msg, sizeof(w->err.msg), "%s", eb.msg);
		}
		w->done(w);  /* may free w */
		w = next;
	}
}

static void *writer_main(void *arg)
{
	struct sqlite_store *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while ((!s->head || s->hold) && !(s->stop && !s->hold))
			pthread_cond_wait(&s->cv, &s->mu);
		if (!s->head && s->stop)
			break;
		if (!s->head)
			continue;
		struct store_write *batch = s->head, *last = s->head;
		size_t n = 1;
		while (last->next && n < WRITER_MAX_BATCH) {
			last = last->next;
			n++;
		}
		s->head = last->next;
		if (!s->head)
			s->tail = NULL;
		last->next = NULL;
		s->depth -= n;
		pthread_mutex_unlock(&s->mu);
		process_batch(s, batch, n);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static int sq_submit(struct store *st, struct store_write *w)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	w->next = NULL;
	w->rc = 0;
	w->err.msg[0] = '\0';
	pthread_mutex_lock(&s->mu);
	if (s->stop) {
		pthread_mutex_unlock(&s->mu);
		return AGD_ESHUTDOWN;
	}
	if (s->tail)
		s->tail->next = w;
	else
		s->head = w;
	s->tail = w;
	s->depth++;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void store_sqlite_hold(struct store *st, int hold)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	pthread_mutex_lock(&s->mu);
	s->hold = hold;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void sq_stats(struct store *st, struct store_stats *out)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	out->writes = atomic_load(&s->writes);
	out->commits = atomic_load(&s->commits);
	for (int i = 0; i < 8; i++)
		out->batch_hist[i] = atomic_load(&s->batch_hist[i]);
	pthread_mutex_lock(&s->mu);
	out->queue_depth = s->depth;
	pthread_mutex_unlock(&s->mu);
}

static void sq_close(struct store *st)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	if (s->writer_started) {
		pthread_mutex_lock(&s->mu);
		s->stop = 1;
		s->hold = 0;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->writer, NULL);
	}
	for (int i = 0; i < W__COUNT; i++)
		sqlite3_finalize(s->wstmt[i]);
	struct reader *r = s->readers;
	while (r) {
		struct reader *n = r->next;
		for (int i = 0; i < R__COUNT; i++)
			sqlite3_finalize(r->stmt[i]);
		sqlite3_close(r->db);
		free(r);
		r = n;
	}
	for (int i = 0; i < TL_SLOTS; i++)
		if (tl_readers[i].gen == s->gen)
			tl_readers[i].gen = 0;
	sqlite3_close(s->wdb);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->rmu);
	free(s);
}

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.submit = sq_submit,
	.ping = sq_ping,
	.workspace_get = sq_workspace_get,
	.workspace_count = sq_workspace_count,
	.workspace_list = sq_workspace_list,
	.project_get = sq_project_get,
	.project_list = sq_project_list,
	.key_get = sq_key_get,
	.key_list = sq_key_list,
	.key_auth = sq_key_auth,
	.agent_get = sq_agent_get,
	.agent_list = sq_agent_list,
	.revision_list = sq_revision_list,
	.revision_get = sq_revision_get,
	.exec_get = sq_exec_get,
	.exec_list = sq_exec_list,
	.exec_active = sq_exec_active,
	.events_list = sq_events_list,
	.steps_list = sq_steps_list,
	.session_history = sq_session_history,
	.idem_get = sq_idem_get,
	.file_get = sq_file_get,
	.stats = sq_stats,
};

int store_sqlite_open(const char *path, struct store **out, agd_errbuf *eb)
{
	struct sqlite_store *s = calloc(1, sizeof(*s));
	if (!s)
		return agd_fail(eb, AGD_ENOMEM, "out of memory");
	s->base.ops = &sqlite_ops;
	snprintf(s->base.path, sizeof(s->base.path), "%s", path);
	s->gen = atomic_fetch_add(&next_gen, 1);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_mutex_init(&s->rmu, NULL);
	int rc = open_conn(path, 0, &s->wdb, eb);
	if (!rc)
		rc = migrate(s->wdb, eb);
	for (int i = 0; !rc && i < W__COUNT; i++) {
		if (sqlite3_prepare_v3(s->wdb, wstmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &s->wstmt[i], NULL) != SQLITE_OK)
			rc = agd_fail(eb, AGD_EINTERNAL, "prepare failed: %s",
				      sqlite3_errmsg(s->wdb));
	}
	if (!rc) {
		if (pthread_create(&s->writer, NULL, writer_main, s) != 0)
			rc = agd_fail(eb, AGD_EINTERNAL, "cannot start the store writer thread");
		else
			s->writer_started = 1;
	}
	if (rc) {
		sq_close(&s->base);
		return rc;
	}
	*out = &s->base;
	return 0;
}
