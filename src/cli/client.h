/*
 * client.h: the HTTP client side of the command line (`agentd agents`, `agentd run`):
 * requests to a running server with an API key, and reading an SSE stream. Blocking, one
 * thread (the CLI's).
 */
#ifndef AGD_CLIENT_H
#define AGD_CLIENT_H

#include <jansson.h>
#include <stddef.h>

struct client {
	const char *url;     /* base URL, e.g. http://127.0.0.1:8080 */
	const char *key;
	char err[512];       /* transport error, when status is 0 */
};

/* Finds --url/--key (or AGENTD_URL/AGENTD_KEY; the URL defaults to http://127.0.0.1:8080). */
void client_init(struct client *c, const char *url, const char *key);

/* Sends a request (body may be NULL) and returns the HTTP status (0 on a transport error).
 * *out receives the parsed JSON body (or NULL); extra_header may be NULL. */
long client_request(struct client *c, const char *method, const char *path, json_t *body,
		    const char *extra_header, json_t **out);

/* Reads an SSE stream; fn is called per event; returning non-zero stops. Returns the HTTP
 * status (0 on a transport error). */
typedef int (*client_event_fn)(void *arg, const char *event, const char *data, size_t len);
long client_stream(struct client *c, const char *path, client_event_fn fn, void *arg);

/* The human message of an error body (problem+json detail, or the raw text). */
const char *client_error_text(json_t *body);

#endif
