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
	R__COUNT
};

#define WS_COLS "id, slug, name, kind, COALESCE(parent_id,''), created_at"
#define PROJECT_COLS "id, workspace_id, name, created_at"
#define KEY_COLS                                                                          \
	"id, kind, workspace_id, COALESCE(project_id,''), name, scopes, secret_sha256, "   \
	"rate_limit, created_at, COALESCE(last_used_at,0), COALESCE(expires_at,0), "       \
	"COALESCE(revoked_at,0)"

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
		       "COALESCE(k.revoked_at,0), w.id, w.slug, w.name, w.kind, "
		       "COALESCE(w.parent_id,''), w.created_at "
		       "FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id WHERE k.id = ?1",
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
			 "secret_sha256, rate_limit, created_at, expires_at) VALUES (?1, ?2, ?3, "
			 "NULLIF(?4,''), ?5, ?6, ?7, ?8, ?9, NULLIF(?10,0))",
	[W_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) "
			 "WHERE id = ?1 AND workspace_id = ?3",
	[W_KEY_TOUCH] = "UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at,0), ?2) "
			"WHERE id = ?1",
	[W_NOOP] = "INSERT INTO bench_writes (created_at) VALUES (?1)",
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
}

typedef void (*row_fn)(sqlite3_stmt *st, void *out);

/* Runs a prepared single-row query bound to one text parameter. */
static int get_one(struct sqlite_store *s, enum rstmt which, const char *arg, row_fn fn,
		   void *out)
{
	sqlite3_stmt *st = rstmt(s, which);
	if (!st)
		return AGD_EIO;
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		fn(st, out);
		sqlite3_reset(st);
		return 0;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? AGD_ENOTFOUND : AGD_EIO;
}

/* Runs a list query bound to one text parameter into a malloc'd array of elem-sized rows. */
static int get_many(struct sqlite_store *s, enum rstmt which, const char *arg, row_fn fn,
		    size_t elem, void **out, size_t *n)
{
	sqlite3_stmt *st = rstmt(s, which);
	*out = NULL;
	*n = 0;
	if (!st)
		return AGD_EIO;
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	size_t cap = 0, cnt = 0;
	char *arr = NULL;
	int rc;
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

struct key_and_ws {
	struct key_rec *k;
	struct workspace_rec *w;
};

static void row_key_auth(sqlite3_stmt *st, void *out)
{
	struct key_and_ws *kw = out;
	row_key(st, kw->k);
	row_workspace_at(st, 12, kw->w);
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
