/*
 * executions.h: admission of executions, shared by every API and by sub-agent tools:
 * input validation against the revision's input schema, idempotency, the durable insert and
 * the hand-off to the engine. Status names and the execution's JSON summary live here too.
 * Thread-safe; completion callbacks run on the store writer thread.
 */
#ifndef AGD_EXECUTIONS_H
#define AGD_EXECUTIONS_H

#include <jansson.h>

#include "store/store.h"
#include "util/err.h"

struct app;

struct submit_req {
	const struct agent_rec *agent;   /* resolved, active */
	json_t *input;                   /* object; borrowed */
	int priority;                    /* 0-3 */
	const char *session_id;
	const char *idempotency_key;
	const char *fingerprint_extra;   /* dialect-specific fields that make a request distinct */
	int64_t revision;                /* 0: the deployed revision */
	int64_t timeout_s;               /* 0: the agent's */
	json_t *metadata;                /* borrowed; may be NULL */
	const char *source;              /* "api", "subagent", ... */
	const char *dialect;
	const char *key_id;
	const char *parent_id;
	json_t *attachments;             /* borrowed; [{file_id, mime_type, name}] or NULL */
	/* Called with the new execution's id before it is inserted (may be NULL). */
	void (*on_id)(void *arg, const char *id);
	void *on_id_arg;
};

enum submit_outcome {
	SUBMIT_CREATED,       /* a new execution was committed and queued */
	SUBMIT_REPLAYED,      /* the idempotency key matched: the original execution */
};

/* Called once, on the store writer thread (or the caller's thread for early errors).
 * On success e is the execution (valid during the call). On error status is the HTTP status
 * (400 input, 404 revision, 409 idempotency conflict, 429 quota, 503 store) and message says why. */
typedef void (*submit_done_fn)(void *arg, int status, enum submit_outcome outcome,
			       const struct exec_rec *e, const char *message);

/* Validates and submits. The new execution's id is written to id_out (may be NULL) before
 * anything else happens, so a caller can subscribe to its events first. */
void exec_submit(struct app *app, const struct submit_req *rq, char id_out[STORE_ID_LEN],
		 submit_done_fn done, void *arg);

/* Canonical status helpers. */
int exec_status_terminal(const char *status);

#endif
