/*
 * commands.c: `agentd agents list|get|apply|expose` and `agentd run`, clients of a running
 * server (--url / AGENTD_URL, --key / AGENTD_KEY). CLI thread only.
 */
#include "cli/commands.h"
#include "cli/client.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0;
}

/* Takes "--name V" or "--name=V" at argv[*i]. */
static int opt(int argc, char **argv, int *i, const char *name, const char **val)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n) != 0)
		return 0;
	if (argv[*i][n] == '=') {
		*val = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n] != '\0')
		return 0;
	if (*i + 1 >= argc) {
		fprintf(stderr, "agentd: %s needs a value\n", name);
		exit(RUN_USAGE);
	}
	*val = argv[++*i];
	return 1;
}

static int exit_for_status(long status)
{
	if (status == 401 || status == 403)
		return RUN_AUTH;
	return RUN_ERROR;
}

static int report(const char *cmd, struct client *c, long status, json_t *body)
{
	if (status == 0)
		fprintf(stderr, "agentd %s: %s\n", cmd, c->err);
	else
		fprintf(stderr, "agentd %s: server answered %ld: %s\n", cmd, status,
			client_error_text(body));
	return exit_for_status(status);
}

static void url_escape(const char *in, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < n; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '_' || *p == '.') {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
}

/* ---- agents ---- */

static const char agents_help[] =
	"usage: agentd agents list [--url URL] [--key KEY]\n"
	"       agentd agents get ID [--url URL] [--key KEY]\n"
	"       agentd agents apply -f FILE.json [--url URL] [--key KEY]\n"
	"       agentd agents expose ID [--off] [--url URL] [--key KEY]\n"
	"\n"
	"Talks to a running server: --url (or AGENTD_URL, default http://127.0.0.1:8080) and\n"
	"--key (or AGENTD_KEY). `apply` creates the agent, or updates it by slug (a new revision,\n"
	"deployed), so agent definitions can live in git; FILE may hold one definition or an\n"
	"array of them. `expose` turns \"Expose via API\" on (or off with --off).\n";

static int agents_list(struct client *c)
{
	json_t *b;
	long st = client_request(c, "GET", "/agentd/v1/agents?limit=1000", NULL, NULL, &b);
	if (st != 200) {
		int rc = report("agents list", c, st, b);
		json_decref(b);
		return rc;
	}
	printf("%-36s  %-24s  %-7s  %-28s  %-4s  %-7s  %s\n", "ID", "SLUG", "TYPE", "MODEL", "REV",
	       "EXPOSED", "NAME");
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(b, "agents"), i, a) {
		const char *type = json_string_value(json_object_get(a, "type"));
		const char *model = json_string_value(json_object_get(a, "model"));
		if (!model)
			model = json_string_value(json_object_get(a, "command"));
		printf("%-36s  %-24.24s  %-7s  %-28.28s  %-4lld  %-7s  %s\n",
		       json_string_value(json_object_get(a, "id")),
		       json_string_value(json_object_get(a, "slug")), type ? type : "",
		       model ? model : "", (long long)json_integer_value(json_object_get(a, "revision")),
		       json_is_true(json_object_get(a, "exposed")) ? "yes" : "no",
		       json_string_value(json_object_get(a, "name")));
	}
	json_decref(b);
	return 0;
}

static int agents_get(struct client *c, const char *id)
{
	char path[512], esc[256];
	url_escape(id, esc, sizeof(esc));
	snprintf(path, sizeof(path), "/agentd/v1/agents/%s", esc);
	json_t *b;
	long st = client_request(c, "GET", path, NULL, NULL, &b);
	if (st != 200) {
		int rc = report("agents get", c, st, b);
		json_decref(b);
		return rc;
	}
	char *s = json_dumps(b, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	puts(s ? s : "{}");
	free(s);
	json_decref(b);
	return 0;
}

static int apply_one(struct client *c, json_t *def)
{
	const char *slug = json_string_value(json_object_get(def, "slug"));
	const char *name = json_string_value(json_object_get(def, "name"));
	if (!slug && !name) {
		fprintf(stderr, "agentd agents apply: a definition needs 'slug' or 'name'\n");
		return RUN_USAGE;
	}
	char derived[64];
	if (!slug) {   /* the server derives slugs from names the same way */
		size_t o = 0;
		int dash = 0;
		for (const char *p = name; *p && o < 63; p++) {
			if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			    (*p >= 'A' && *p <= 'Z')) {
				if (dash && o)
					derived[o++] = '-';
				dash = 0;
				if (o < 63)
					derived[o++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
			} else {
				dash = 1;
			}
		}
		derived[o] = '\0';
		slug = derived;
	}
	char path[512], esc[256];
	url_escape(slug, esc, sizeof(esc));
	snprintf(path, sizeof(path), "/agentd/v1/agents/%s", esc);
	json_t *b;
	long st = client_request(c, "GET", path, NULL, NULL, &b);
	json_decref(b);
	int create = st == 404;
	if (!create && st != 200)
		return report("agents apply", c, st, NULL);
	st = create ? client_request(c, "POST", "/agentd/v1/agents", def, NULL, &b)
		    : client_request(c, "PATCH", path, def, NULL, &b);
	if (st != 200 && st != 201) {
		int rc = report("agents apply", c, st, b);
		json_decref(b);
		return rc;
	}
	printf("%s agent %s (revision %lld, id %s)\n", create ? "created" : "updated",
	       json_string_value(json_object_get(b, "slug")),
	       (long long)json_integer_value(json_object_get(b, "revision")),
	       json_string_value(json_object_get(b, "id")));
	json_decref(b);
	return 0;
}

static int agents_apply(struct client *c, const char *file)
{
	json_error_t je;
	json_t *doc = json_load_file(file, 0, &je);
	if (!doc) {
		fprintf(stderr, "agentd agents apply: %s: line %d, column %d: %s\n", file, je.line,
			je.column, je.text);
		return RUN_USAGE;
	}
	int rc = 0;
	if (json_is_array(doc)) {
		size_t i;
		json_t *d;
		json_array_foreach(doc, i, d) if (!rc) rc = apply_one(c, d);
	} else {
		rc = apply_one(c, doc);
	}
	json_decref(doc);
	return rc;
}

static int agents_expose(struct client *c, const char *id, int on)
{
	char path[512], esc[256];
	url_escape(id, esc, sizeof(esc));
	snprintf(path, sizeof(path), "/agentd/v1/agents/%s", esc);
	json_t *body = json_pack("{s:b}", "exposed", on), *b;
	long st = client_request(c, "PATCH", path, body, NULL, &b);
	json_decref(body);
	if (st != 200) {
		int rc = report("agents expose", c, st, b);
		json_decref(b);
		return rc;
	}
	printf("agent %s is %s\n", json_string_value(json_object_get(b, "slug")),
	       on ? "exposed via the API" : "no longer exposed");
	json_decref(b);
	return 0;
}

int cmd_agents(int argc, char **argv)
{
	if (argc < 1 || is_help(argv[0])) {
		fputs(agents_help, argc < 1 ? stderr : stdout);
		return argc < 1 ? RUN_USAGE : 0;
	}
	const char *sub = argv[0], *url = NULL, *key = NULL, *file = NULL, *id = NULL;
	int off = 0;
	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			fputs(agents_help, stdout);
			return 0;
		}
		if (opt(argc, argv, &i, "--url", &url) || opt(argc, argv, &i, "--key", &key) ||
		    opt(argc, argv, &i, "-f", &file) || opt(argc, argv, &i, "--file", &file))
			continue;
		if (strcmp(argv[i], "--off") == 0) {
			off = 1;
			continue;
		}
		if (argv[i][0] != '-' && !id) {
			id = argv[i];
			continue;
		}
		fprintf(stderr, "agentd agents: unexpected argument '%s'\n%s", argv[i], agents_help);
		return RUN_USAGE;
	}
	struct client c;
	client_init(&c, url, key);
	if (strcmp(sub, "list") == 0)
		return agents_list(&c);
	if ((strcmp(sub, "get") == 0 || strcmp(sub, "expose") == 0) && !id) {
		fprintf(stderr, "agentd agents %s: the agent ID (or slug) is required\n", sub);
		return RUN_USAGE;
	}
	if (strcmp(sub, "get") == 0)
		return agents_get(&c, id);
	if (strcmp(sub, "expose") == 0)
		return agents_expose(&c, id, !off);
	if (strcmp(sub, "apply") == 0) {
		if (!file) {
			fprintf(stderr, "agentd agents apply: -f FILE.json is required\n");
			return RUN_USAGE;
		}
		return agents_apply(&c, file);
	}
	fprintf(stderr, "agentd agents: unknown subcommand '%s'\n%s", sub, agents_help);
	return RUN_USAGE;
}

/* ---- run ---- */

static const char run_help[] =
	"usage: agentd run AGENT [--message TEXT | --input JSON] [--stream] [--wait N] [--json]\n"
	"                  [--session ID] [--priority LOW|NORMAL|HIGH|CRITICAL]\n"
	"                  [--url URL] [--key KEY]\n"
	"\n"
	"Executes an agent on a running server and prints its answer. --stream prints text as it\n"
	"arrives. --wait N gives up waiting after N seconds (default 600; the execution goes on).\n"
	"--json prints the whole execution as JSON.\n"
	"Exit status: 0 completed, 1 failed, 2 usage error, 3 cancelled, 4 timed out (the\n"
	"execution's deadline, or --wait), 5 authentication or permission error, 6 any other\n"
	"error (unknown agent, server unreachable, ...).\n";

struct run_stream {
	int printed;
	int ended;
	char status[32];
	json_t *done;
};

static int on_run_event(void *arg, const char *event, const char *data, size_t len)
{
	struct run_stream *rs = arg;
	if (strcmp(event, "text.delta") == 0) {
		json_t *d = json_loadb(data, len, 0, NULL);
		const char *t = json_string_value(json_object_get(d, "text"));
		if (t) {
			fputs(t, stdout);
			fflush(stdout);
			rs->printed = 1;
		}
		json_decref(d);
	} else if (strcmp(event, "done") == 0) {
		rs->done = json_loadb(data, len, 0, NULL);
		rs->ended = 1;
		return 1;
	}
	return 0;
}

static void print_output(json_t *output)
{
	const char *resp = json_string_value(json_object_get(output, "response"));
	if (resp && json_object_size(output) == 1) {
		puts(resp);
		return;
	}
	char *s = json_dumps(output ? output : json_null(), JSON_INDENT(2) | JSON_ENCODE_ANY);
	puts(s ? s : "null");
	free(s);
}

static int exit_for_execution(json_t *e)
{
	const char *st = json_string_value(json_object_get(e, "status"));
	const char *code = json_string_value(json_object_get(json_object_get(e, "error"), "code"));
	const char *msg = json_string_value(json_object_get(json_object_get(e, "error"), "message"));
	if (st && strcmp(st, "completed") == 0)
		return RUN_OK;
	if (st && strcmp(st, "cancelled") == 0) {
		fprintf(stderr, "agentd run: the execution was cancelled\n");
		return RUN_CANCELLED;
	}
	fprintf(stderr, "agentd run: the execution %s (%s): %s\n", st ? st : "ended",
		code ? code : "no code", msg ? msg : "no message");
	return code && strcmp(code, "timeout") == 0 ? RUN_TIMEOUT : RUN_FAILED;
}

int cmd_run(int argc, char **argv)
{
	const char *agent = NULL, *message = NULL, *input = NULL, *url = NULL, *key = NULL,
		   *wait_s = NULL, *session = NULL, *priority = NULL;
	int stream = 0, as_json = 0;
	for (int i = 0; i < argc; i++) {
		if (is_help(argv[i])) {
			fputs(run_help, stdout);
			return 0;
		}
		if (opt(argc, argv, &i, "--message", &message) ||
		    opt(argc, argv, &i, "--input", &input) || opt(argc, argv, &i, "--url", &url) ||
		    opt(argc, argv, &i, "--key", &key) || opt(argc, argv, &i, "--wait", &wait_s) ||
		    opt(argc, argv, &i, "--session", &session) ||
		    opt(argc, argv, &i, "--priority", &priority))
			continue;
		if (strcmp(argv[i], "--stream") == 0) {
			stream = 1;
			continue;
		}
		if (strcmp(argv[i], "--json") == 0) {
			as_json = 1;
			continue;
		}
		if (argv[i][0] != '-' && !agent) {
			agent = argv[i];
			continue;
		}
		fprintf(stderr, "agentd run: unexpected argument '%s'\n%s", argv[i], run_help);
		return RUN_USAGE;
	}
	if (!agent || (message && input)) {
		fprintf(stderr, "agentd run: %s\n%s",
			agent ? "give --message or --input, not both" : "the AGENT is required",
			run_help);
		return RUN_USAGE;
	}
	long wait = 600;
	if (wait_s) {
		char *end;
		wait = strtol(wait_s, &end, 10);
		if (*end || wait < 0) {
			fprintf(stderr, "agentd run: --wait takes a number of seconds\n");
			return RUN_USAGE;
		}
	}
	json_t *in;
	if (input) {
		json_error_t je;
		in = json_loads(input, 0, &je);
		if (!json_is_object(in)) {
			fprintf(stderr, "agentd run: --input must be a JSON object (%s)\n",
				in ? "not an object" : je.text);
			json_decref(in);
			return RUN_USAGE;
		}
	} else {
		in = json_pack("{s:s}", "message", message ? message : "");
	}
	json_t *body = json_pack("{s:o}", "input", in);
	if (session)
		json_object_set_new(body, "session_id", json_string(session));
	if (priority)
		json_object_set_new(body, "priority", json_string(priority));
	struct client c;
	client_init(&c, url, key);
	char path[512], esc[256], prefer[64];
	url_escape(agent, esc, sizeof(esc));
	snprintf(path, sizeof(path), "/agentd/v1/agents/%s/executions", esc);
	snprintf(prefer, sizeof(prefer), "Prefer: wait=%ld", stream ? 0 : (wait > 300 ? 300 : wait));
	json_t *e;
	long st = client_request(&c, "POST", path, body, prefer, &e);
	json_decref(body);
	if (st != 200 && st != 202) {
		int rc = report("run", &c, st, e);
		json_decref(e);
		return rc;
	}
	char id[64];
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(e, "id")));
	char epath[256];
	snprintf(epath, sizeof(epath), "/agentd/v1/executions/%s", id);
	time_t deadline = time(NULL) + wait;
	struct run_stream rs = {0};
	if (stream) {
		char spath[300];
		snprintf(spath, sizeof(spath), "%s/events", epath);
		st = client_stream(&c, spath, on_run_event, &rs);
		if (rs.printed)
			putchar('\n');
		if (!rs.ended) {
			fprintf(stderr, "agentd run: the stream ended early: %s\n",
				st ? "the server closed it" : c.err);
			json_decref(e);
			return RUN_ERROR;
		}
	}
	/* poll until the end (a wait longer than the server's 300 s, or after a stream) */
	for (;;) {
		const char *status = json_string_value(json_object_get(e, "status"));
		if (status && (strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0 ||
			       strcmp(status, "cancelled") == 0 || strcmp(status, "rejected") == 0))
			break;
		if (time(NULL) >= deadline) {
			fprintf(stderr, "agentd run: gave up waiting after %ld s; execution %s goes "
				"on (status %s)\n", wait, id, status ? status : "unknown");
			json_decref(e);
			json_decref(rs.done);
			return RUN_TIMEOUT;
		}
		json_decref(e);
		st = client_request(&c, "GET", epath, NULL, NULL, &e);
		if (st != 200) {
			int rc = report("run", &c, st, e);
			json_decref(e);
			json_decref(rs.done);
			return rc;
		}
		status = json_string_value(json_object_get(e, "status"));
		if (status && (strcmp(status, "queued") == 0 || strcmp(status, "running") == 0))
			usleep(200 * 1000);
	}
	if (as_json) {
		char *s = json_dumps(e, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		puts(s ? s : "{}");
		free(s);
	} else if (!rs.printed || json_object_size(json_object_get(e, "output")) > 1) {
		if (strcmp(json_string_value(json_object_get(e, "status")), "completed") == 0)
			print_output(json_object_get(e, "output"));
	}
	int rc = exit_for_execution(e);
	json_decref(e);
	json_decref(rs.done);
	return rc;
}
