/*
 * store.h: the persistence interface of agentd, a vtable so that SQLite (embedded default)
 * and PostgreSQL (multi-node) swap without #ifdef.
 *
 * Reads are synchronous and may be called from any thread; each backend gives every thread
 * its own connection. Writes are asynchronous: a `struct store_write` holds one or more ops
 * applied atomically; the backend commits many writes together (group commit) and then calls
 * each write's `done` callback on its writer thread. Nothing is acknowledged before it is
 * durable: `done` runs after the commit that made the write durable returned.
 */
#ifndef AGD_STORE_H
#define AGD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define STORE_ID_LEN 40
#define STORE_SLUG_LEN 64
#define STORE_NAME_LEN 128
#define STORE_SCOPES_LEN 256

struct workspace_rec {
	char id[STORE_ID_LEN];
	char slug[STORE_SLUG_LEN];
	char name[STORE_NAME_LEN];
	char kind[16];                 /* "org" | "personal" */
	char parent_id[STORE_ID_LEN];  /* workspace that created it; "" for a root */
	int64_t created_at;            /* ms since the epoch */
};

struct project_rec {
	char id[STORE_ID_LEN];
	char workspace_id[STORE_ID_LEN];
	char name[STORE_NAME_LEN];
	int64_t created_at;
};

struct key_rec {
	char id[16];                   /* public id: the 8 characters after the prefix */
	char kind[16];                 /* "org" | "personal" */
	char workspace_id[STORE_ID_LEN];
	char project_id[STORE_ID_LEN]; /* "" when not restricted */
	char name[STORE_NAME_LEN];
	char scopes[STORE_SCOPES_LEN]; /* comma-separated scope names */
	char secret_sha256[65];        /* hex SHA-256 of the whole key string */
	int64_t rate_limit;            /* requests per minute; 0 = the server default */
	int64_t created_at, last_used_at, expires_at, revoked_at; /* 0 = never */
};

struct key_touch {
	char id[16];
	int64_t at;
};

enum store_op_kind {
	STORE_OP_WORKSPACE_INSERT,
	STORE_OP_PROJECT_INSERT,
	STORE_OP_KEY_INSERT,
	STORE_OP_KEY_REVOKE,     /* sets revoked_at on key.id within key.workspace_id */
	STORE_OP_KEY_TOUCH,      /* last_used_at for many keys */
	STORE_OP_NOOP_ROW,       /* appends one row to bench_writes: the benchmark's write path */
};

struct store_op {
	enum store_op_kind kind;
	union {
		struct workspace_rec workspace;
		struct project_rec project;
		struct key_rec key;
		struct {
			const struct key_touch *items; /* borrowed until done */
			size_t n;
		} touch;
	} u;
};

struct store_write;
typedef void (*store_done_fn)(struct store_write *w);

struct store_write {
	struct store_op *ops;     /* borrowed until done runs */
	size_t nops;
	store_done_fn done;       /* called once, on the writer thread, after commit or failure */
	void *arg;
	int rc;                   /* 0 or AGD_E*; set before done */
	agd_errbuf err;
	struct store_write *next; /* owned by the store while queued */
};

struct store_stats {
	uint64_t writes;          /* writes committed or failed */
	uint64_t commits;         /* transactions committed */
	uint64_t queue_depth;     /* writes waiting now */
	uint64_t batch_hist[8];   /* commits by batch size: 1, 2-4, 5-16, 17-64, 65-256, 257-1024, ... */
};
extern const char *const store_batch_bucket_names[8];

struct store;

struct store_ops {
	const char *name;
	void (*close)(struct store *st);
	int (*submit)(struct store *st, struct store_write *w);
	int (*ping)(struct store *st);
	int (*workspace_get)(struct store *st, const char *id_or_slug, struct workspace_rec *out);
	int (*workspace_count)(struct store *st, int64_t *n);
	/* The workspace id and the ones it created; *out is malloc'd. */
	int (*workspace_list)(struct store *st, const char *id, struct workspace_rec **out,
			      size_t *n);
	int (*project_get)(struct store *st, const char *id, struct project_rec *out);
	int (*project_list)(struct store *st, const char *workspace_id, struct project_rec **out,
			    size_t *n);
	int (*key_get)(struct store *st, const char *id, struct key_rec *out);
	int (*key_list)(struct store *st, const char *workspace_id, struct key_rec **out,
			size_t *n);
	/* A key and its workspace in one read (the authentication hot path). */
	int (*key_auth)(struct store *st, const char *id, struct key_rec *k,
			struct workspace_rec *w);
	void (*stats)(struct store *st, struct store_stats *out);
};

struct store {
	const struct store_ops *ops;
	char path[512];
};

/* Opens the store for a data directory (creating it), applying migrations. */
int store_open(const char *data_dir, struct store **out, agd_errbuf *eb);

static inline void store_close(struct store *st) { if (st) st->ops->close(st); }
static inline int store_submit(struct store *st, struct store_write *w)
{ return st->ops->submit(st, w); }
static inline int store_ping(struct store *st) { return st->ops->ping(st); }
static inline int store_workspace_get(struct store *st, const char *id, struct workspace_rec *o)
{ return st->ops->workspace_get(st, id, o); }
static inline int store_workspace_count(struct store *st, int64_t *n)
{ return st->ops->workspace_count(st, n); }
static inline int store_workspace_list(struct store *st, const char *id,
				       struct workspace_rec **o, size_t *n)
{ return st->ops->workspace_list(st, id, o, n); }
static inline int store_project_get(struct store *st, const char *id, struct project_rec *o)
{ return st->ops->project_get(st, id, o); }
static inline int store_project_list(struct store *st, const char *ws, struct project_rec **o,
				     size_t *n)
{ return st->ops->project_list(st, ws, o, n); }
static inline int store_key_get(struct store *st, const char *id, struct key_rec *o)
{ return st->ops->key_get(st, id, o); }
static inline int store_key_list(struct store *st, const char *ws, struct key_rec **o, size_t *n)
{ return st->ops->key_list(st, ws, o, n); }
static inline int store_key_auth(struct store *st, const char *id, struct key_rec *k,
				 struct workspace_rec *w)
{ return st->ops->key_auth(st, id, k, w); }
static inline void store_stats(struct store *st, struct store_stats *o) { st->ops->stats(st, o); }

/* Submits w and blocks until it is committed; returns w->rc. For the CLI and start-up. */
int store_write_sync(struct store *st, struct store_write *w);

/* The SQLite backend (store/sqlite.c). */
int store_sqlite_open(const char *path, struct store **out, agd_errbuf *eb);
/* Test hook: while held, the writer takes nothing from its queue, so a test can queue many
 * writes and watch them commit as one batch. */
void store_sqlite_hold(struct store *st, int hold);

#endif
