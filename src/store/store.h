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
	int64_t exec_quota, exec_used; /* executions this key may start; 0 = unlimited */
	int64_t created_at, last_used_at, expires_at, revoked_at; /* 0 = never */
};

struct agent_rec {
	char id[STORE_ID_LEN];
	char workspace_id[STORE_ID_LEN];
	char project_id[STORE_ID_LEN];
	char slug[STORE_SLUG_LEN];
	char status[16];               /* "active" | "archived" */
	char *name, *description;      /* heap; agent_rec_clear frees */
	char *config;                  /* heap: JSON of the deployed revision */
	int exposed;
	int64_t deployed_revision, latest_revision, created_at, updated_at;
	int deploy;                    /* STORE_OP_AGENT_REVISE: deploy the new revision */
};

struct revision_rec {
	int64_t revision, created_at;
	char *config;                  /* heap */
};

struct exec_rec {
	char id[STORE_ID_LEN];
	char agent_id[STORE_ID_LEN];
	char workspace_id[STORE_ID_LEN];
	char project_id[STORE_ID_LEN];
	char key_id[16];
	char source[16];               /* api, subagent, ... */
	char dialect[16];              /* native, fabric, ... */
	char status[16];               /* queued running waiting completed failed cancelled rejected */
	char session_id[STORE_NAME_LEN];
	char parent_id[STORE_ID_LEN];
	char idempotency_key[256];
	char model[STORE_NAME_LEN];
	char error_code[64];
	int priority;                  /* 0 LOW, 1 NORMAL, 2 HIGH, 3 CRITICAL */
	int tool_started, cancel_requested;
	int64_t revision, tokens_in, tokens_out, steps, attempt, timeout_s, last_seq;
	int64_t created_at, started_at, completed_at;
	double cost_in, cost_out;
	char *input, *metadata, *output, *error_message;  /* heap; exec_rec_clear frees */
	char *attachments;             /* heap JSON array of {file_id, mime_type, name}, or NULL */
};

struct file_rec {
	char id[STORE_ID_LEN];
	char workspace_id[STORE_ID_LEN];
	char name[256];
	char mime_type[64];
	char sha256[65];
	int64_t size, created_at;
};

struct event_rec {
	char execution_id[STORE_ID_LEN];
	int64_t seq, created_at;
	char type[32];
	char *data;                    /* heap JSON */
};

struct step_rec {
	char execution_id[STORE_ID_LEN];
	int64_t seq;
	char *data;                    /* heap JSON */
};

struct session_msg {
	char workspace_id[STORE_ID_LEN];
	char agent_id[STORE_ID_LEN];
	char session_id[STORE_NAME_LEN];
	char execution_id[STORE_ID_LEN];
	int64_t seq, created_at;
	char role[16];
	char *content;                 /* heap */
};

struct idem_rec {
	char workspace_id[STORE_ID_LEN];
	char agent_id[STORE_ID_LEN];
	char key[256];
	char fingerprint[65];
	char execution_id[STORE_ID_LEN];
	int64_t expires_at;
};

struct exec_filter {
	const char *workspace_id;      /* required */
	const char *agent_id;          /* optional */
	const char *status;            /* optional canonical status */
	int64_t since, until;          /* created_at bounds (ms), 0 = none */
	const char *before_id;         /* keyset cursor: ids below this (newest first) */
	int limit;
};

void agent_rec_clear(struct agent_rec *a);
void exec_rec_clear(struct exec_rec *e);
void revision_rec_clear(struct revision_rec *r);
void event_rec_clear(struct event_rec *e);
void session_msg_clear(struct session_msg *m);
/* Frees arrays returned by list reads, clearing each element. */
void agent_recs_free(struct agent_rec *a, size_t n);
void exec_recs_free(struct exec_rec *e, size_t n);
void revision_recs_free(struct revision_rec *r, size_t n);
void event_recs_free(struct event_rec *e, size_t n);
void session_msgs_free(struct session_msg *m, size_t n);
void step_recs_free(struct step_rec *s, size_t n);

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
	STORE_OP_AGENT_INSERT,   /* the agent row and its revision 1 (u.agent) */
	STORE_OP_AGENT_REVISE,   /* a new revision latest_revision (+ deploy when u.agent.deploy) */
	STORE_OP_AGENT_FLAGS,    /* status, exposed, updated_at */
	STORE_OP_AGENT_DEPLOY,   /* deployed_revision; NOTFOUND when that revision does not exist */
	STORE_OP_EXEC_INSERT,
	STORE_OP_EXEC_UPDATE,    /* every mutable field of u.exec */
	STORE_OP_EXEC_CANCEL,    /* cancel_requested = 1 */
	STORE_OP_EVENT_INSERT,
	STORE_OP_STEP_PUT,       /* insert or replace */
	STORE_OP_SESSION_APPEND,
	STORE_OP_IDEM_INSERT,    /* CONFLICT when the key is taken and not expired */
	STORE_OP_IDEM_PURGE,     /* deletes idempotency records expired before u.idem.expires_at */
	STORE_OP_FILE_INSERT,
	STORE_OP_KEY_QUOTA_TAKE, /* counts one execution against u.key.id; EQUOTA when spent */
	STORE_OP_KEY_UPDATE,     /* name, scopes, rate_limit, exec_quota, expires_at of u.key */
};

struct store_op {
	enum store_op_kind kind;
	union {
		struct workspace_rec workspace;
		struct project_rec project;
		struct key_rec key;
		struct agent_rec agent;
		struct exec_rec exec;
		struct event_rec event;
		struct step_rec step;
		struct session_msg msg;
		struct idem_rec idem;
		struct file_rec file;
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

	/* agents: get by id or slug within a workspace (ws NULL: by id in any workspace) */
	int (*agent_get)(struct store *st, const char *ws, const char *id_or_slug,
			 struct agent_rec *out);
	int (*agent_list)(struct store *st, const char *ws, const char *search, int archived,
			  int exposed_only, int limit, int offset, struct agent_rec **out,
			  size_t *n, int64_t *total);
	int (*revision_list)(struct store *st, const char *agent_id, struct revision_rec **out,
			     size_t *n);
	int (*revision_get)(struct store *st, const char *agent_id, int64_t rev,
			    struct revision_rec *out);
	/* executions */
	int (*exec_get)(struct store *st, const char *id, struct exec_rec *out);
	int (*exec_list)(struct store *st, const struct exec_filter *f, struct exec_rec **out,
			 size_t *n);
	int (*exec_active)(struct store *st, struct exec_rec **out, size_t *n);
	int (*events_list)(struct store *st, const char *exec_id, int64_t after, int limit,
			   struct event_rec **out, size_t *n);
	int (*steps_list)(struct store *st, const char *exec_id, struct step_rec **out,
			  size_t *n);
	int (*session_history)(struct store *st, const char *ws, const char *agent_id,
			       const char *session_id, int limit, struct session_msg **out,
			       size_t *n);
	int (*idem_get)(struct store *st, const char *ws, const char *agent_id, const char *key,
			struct idem_rec *out);
	int (*file_get)(struct store *st, const char *id, struct file_rec *out);
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

static inline int store_agent_get(struct store *st, const char *ws, const char *id,
				  struct agent_rec *o)
{ return st->ops->agent_get(st, ws, id, o); }
static inline int store_agent_list(struct store *st, const char *ws, const char *search,
				   int archived, int exposed_only, int limit, int offset,
				   struct agent_rec **o, size_t *n, int64_t *total)
{ return st->ops->agent_list(st, ws, search, archived, exposed_only, limit, offset, o, n, total); }
static inline int store_revision_list(struct store *st, const char *agent, struct revision_rec **o,
				      size_t *n)
{ return st->ops->revision_list(st, agent, o, n); }
static inline int store_revision_get(struct store *st, const char *agent, int64_t rev,
				     struct revision_rec *o)
{ return st->ops->revision_get(st, agent, rev, o); }
static inline int store_exec_get(struct store *st, const char *id, struct exec_rec *o)
{ return st->ops->exec_get(st, id, o); }
static inline int store_exec_list(struct store *st, const struct exec_filter *f,
				  struct exec_rec **o, size_t *n)
{ return st->ops->exec_list(st, f, o, n); }
static inline int store_exec_active(struct store *st, struct exec_rec **o, size_t *n)
{ return st->ops->exec_active(st, o, n); }
static inline int store_events_list(struct store *st, const char *id, int64_t after, int limit,
				    struct event_rec **o, size_t *n)
{ return st->ops->events_list(st, id, after, limit, o, n); }
static inline int store_steps_list(struct store *st, const char *id, struct step_rec **o,
				   size_t *n)
{ return st->ops->steps_list(st, id, o, n); }
static inline int store_session_history(struct store *st, const char *ws, const char *agent,
					const char *session, int limit, struct session_msg **o,
					size_t *n)
{ return st->ops->session_history(st, ws, agent, session, limit, o, n); }
static inline int store_idem_get(struct store *st, const char *ws, const char *agent,
				 const char *key, struct idem_rec *o)
{ return st->ops->idem_get(st, ws, agent, key, o); }

static inline int store_file_get(struct store *st, const char *id, struct file_rec *o)
{ return st->ops->file_get(st, id, o); }

/* Submits w and blocks until it is committed; returns w->rc. For the CLI and start-up. */
int store_write_sync(struct store *st, struct store_write *w);

/* The SQLite backend (store/sqlite.c). */
int store_sqlite_open(const char *path, struct store **out, agd_errbuf *eb);
/* Test hook: while held, the writer takes nothing from its queue, so a test can queue many
 * writes and watch them commit as one batch. */
void store_sqlite_hold(struct store *st, int hold);

#endif
