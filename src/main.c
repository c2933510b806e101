/*
 * main.c: the agentd command line: serve, keys, migrate, version. `serve` wires the long-lived
 * objects together (config, store, router, rate limiter, http server), bootstraps an empty
 * data directory, and runs housekeeping and signal handling on the main thread.
 */
#include "api/api.h"
#include "cli/commands.h"
#include "core/app.h"
#include "core/agents.h"
#include "core/auth.h"
#include "core/config.h"
#include "core/keys.h"
#include "core/ratelimit.h"
#include "core/scopes.h"
#include "engine/engine.h"
#include "engine/hub.h"
#include "http/http.h"
#include "http/metrics.h"
#include "store/store.h"
#include "util/ids.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "version.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE 2

/* ---- option parsing ---- */

struct opts {
	int argc;
	char **argv;
	int i;
	const char *cmd;   /* for messages */
};

/* Returns 1 when argv[i] is --name (taking a value as --name V or --name=V). */
static int opt_take(struct opts *o, const char *name, const char **val)
{
	const char *a = o->argv[o->i];
	size_t n = strlen(name);
	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=') {
		*val = a + n + 1;
		return 1;
	}
	if (a[n] != '\0')
		return 0;
	if (o->i + 1 >= o->argc) {
		fprintf(stderr, "agentd %s: %s needs a value\n", o->cmd, name);
		exit(EXIT_USAGE);
	}
	*val = o->argv[++o->i];
	return 1;
}

static int is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0;
}

static void usage_error(const char *cmd, const char *arg, const char *hint)
{
	fprintf(stderr, "agentd %s: unexpected argument '%s'\n%s", cmd, arg, hint);
	exit(EXIT_USAGE);
}

static const char *default_data_dir(void)
{
	const char *v = getenv("AGENTD_DATA_DIR");
	return v && *v ? v : "./data";
}

static long long parse_ll(const char *cmd, const char *name, const char *v, long long min,
			  long long max)
{
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || *end || end == v || n < min || n > max) {
		fprintf(stderr, "agentd %s: %s must be an integer from %lld to %lld\n", cmd, name,
			min, max);
		exit(EXIT_USAGE);
	}
	return n;
}

/* ---- shared with keys create and bootstrap ---- */

static int open_store(const char *dir, struct store **st)
{
	agd_errbuf eb;
	if (store_open(dir, st, &eb)) {
		fprintf(stderr, "agentd: %s\n", eb.msg);
		return -1;
	}
	return 0;
}

/* Creates the default organization workspace and an admin key; prints the key. */
static int bootstrap(struct store *st, FILE *out)
{
	int64_t n = 0;
	if (store_workspace_count(st, &n) || n > 0)
		return 0;
	struct store_op ops[2];
	memset(ops, 0, sizeof(ops));
	struct workspace_rec *w = &ops[0].u.workspace;
	ops[0].kind = STORE_OP_WORKSPACE_INSERT;
	id_uuid7(w->id);
	snprintf(w->slug, sizeof(w->slug), "default");
	snprintf(w->name, sizeof(w->name), "Default");
	snprintf(w->kind, sizeof(w->kind), "org");
	w->created_at = time_now_ms();
	struct key_spec spec = {.name = "admin", .scopes_mask = SCOPE_ADMIN, .scopes_given = 1};
	char full[KEY_STR_LEN + 1];
	agd_errbuf eb;
	ops[1].kind = STORE_OP_KEY_INSERT;
	if (keys_prepare(st, w, &spec, time_now_ms(), &ops[1].u.key, full, &eb)) {
		fprintf(stderr, "agentd: bootstrap: %s\n", eb.msg);
		return -1;
	}
	struct store_write wr = {.ops = ops, .nops = 2};
	if (store_write_sync(st, &wr)) {
		if (wr.rc == AGD_ECONFLICT)  /* another process bootstrapped first */
			return 0;
		fprintf(stderr, "agentd: bootstrap failed: %s\n", wr.err.msg);
		return -1;
	}
	fprintf(out, "agentd: created workspace 'default' and its admin key; the key is shown "
		     "only this once:\n");
	fprintf(out, "admin key: %s\n", full);
	fflush(out);
	return 0;
}

/* Applies every *.json agent definition in cfg->agents_dir (in name order) to the default
 * workspace: created when its slug is new, else updated (a new revision when it changed). */
static int apply_agents_dir(struct app *app)
{
	const struct config *cfg = app->cfg;
	if (!cfg->agents_dir[0])
		return 0;
	struct dirent **names;
	int n = scandir(cfg->agents_dir, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "agentd serve: cannot read agents_dir %s: %s\n", cfg->agents_dir,
			strerror(errno));
		return -1;
	}
	struct workspace_rec ws;
	int rc = 0;
	if (store_workspace_get(app->store, "default", &ws) != 0) {
		fprintf(stderr, "agentd serve: agents_dir needs the 'default' workspace\n");
		rc = -1;
	}
	for (int i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		size_t l = strlen(nm);
		if (!rc && l > 5 && strcmp(nm + l - 5, ".json") == 0) {
			char path[1024];
			snprintf(path, sizeof(path), "%s/%s", cfg->agents_dir, nm);
			json_error_t je;
			json_t *def = json_load_file(path, 0, &je);
			agd_errbuf eb;
			struct agent_rec a;
			int created;
			if (!def) {
				fprintf(stderr, "agentd serve: %s: line %d, column %d: %s\n", path,
					je.line, je.column, je.text);
				rc = -1;
			} else if (agent_apply_sync(app->store, cfg, &ws, def, &a, &created, &eb)) {
				fprintf(stderr, "agentd serve: %s: %s\n", path, eb.msg);
				rc = -1;
			} else {
				log_info("agent '%s' %s from %s (revision %lld)", a.slug,
					 created ? "created" : "applied", nm,
					 (long long)a.latest_revision);
				agent_rec_clear(&a);
			}
			json_decref(def);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

/* ---- serve ---- */

static const char serve_help[] =
	"usage: agentd serve [--data-dir DIR] [--listen HOST:PORT] [--config FILE]\n"
	"                    [--threads N] [--access-log -|off|FILE] [--log-level LEVEL]\n"
	"\n"
	"Starts the server. On first start with an empty data directory it creates the\n"
	"organization workspace 'default' and an admin key, and prints the key once.\n"
	"Defaults: --data-dir ./data, --listen 127.0.0.1:8080. A port of 0 picks a free port.\n"
	"Environment: AGENTD_DATA_DIR, AGENTD_LISTEN, AGENTD_THREADS, AGENTD_RATE_LIMIT,\n"
	"AGENTD_ACCESS_LOG, AGENTD_LOG_LEVEL, AGENTD_CORS_ORIGINS, AGENTD_MAX_BODY_BYTES.\n";

static int cmd_serve(int argc, char **argv)
{
	struct config cfg;
	agd_errbuf eb;
	const char *config_file = NULL, *data_dir = NULL, *listen = NULL, *threads = NULL,
		   *access = NULL, *level = NULL;
	struct opts o = {argc, argv, 0, "serve"};
	for (o.i = 0; o.i < argc; o.i++) {
		if (is_help(argv[o.i])) {
			fputs(serve_help, stdout);
			return 0;
		}
		if (!opt_take(&o, "--config", &config_file) &&
		    !opt_take(&o, "--data-dir", &data_dir) && !opt_take(&o, "--listen", &listen) &&
		    !opt_take(&o, "--threads", &threads) &&
		    !opt_take(&o, "--access-log", &access) &&
		    !opt_take(&o, "--log-level", &level))
			usage_error("serve", argv[o.i], serve_help);
	}
	config_defaults(&cfg);
	if ((config_file && config_load_file(&cfg, config_file, &eb)) ||
	    config_load_env(&cfg, &eb) || (listen && config_set_listen(&cfg, listen, &eb))) {
		fprintf(stderr, "agentd serve: %s\n", eb.msg);
		return EXIT_USAGE;
	}
	if (data_dir)
		snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", data_dir);
	if (threads)
		cfg.threads = (int)parse_ll("serve", "--threads", threads, 0, 256);
	if (access)
		snprintf(cfg.access_log, sizeof(cfg.access_log), "%s", access);
	if (level)
		snprintf(cfg.log_level, sizeof(cfg.log_level), "%s", level);
	enum log_level lvl;
	if (log_parse_level(cfg.log_level, &lvl)) {
		fprintf(stderr, "agentd serve: log level must be debug, info, warn or error\n");
		return EXIT_USAGE;
	}
	log_set_level(lvl);
	if (log_access_open(cfg.access_log)) {
		fprintf(stderr, "agentd serve: cannot open access log %s: %s\n", cfg.access_log,
			strerror(errno));
		return 1;
	}
	if (cfg.threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		cfg.threads = n > 0 ? (int)n : 2;
	}

	/* Signals are taken synchronously by the main thread; every other thread inherits the
	 * mask and never sees them. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct store *st;
	if (open_store(cfg.data_dir, &st))
		return 1;
	if (bootstrap(st, stdout)) {
		store_close(st);
		return 1;
	}
	struct app app = {0};
	app.cfg = &cfg;
	app.store = st;
	app.started_ms = time_now_ms();
	app.router = router_create();
	app.rl = ratelimit_create();
	app.keyuse = keyuse_create();
	if (!app.router || !app.rl || !app.keyuse || api_register_all(app.router, &eb)) {
		fprintf(stderr, "agentd serve: cannot build routes: %s\n", eb.msg);
		return 1;
	}
	app.metrics = metrics_create(app.router);
	app.hub = hub_create();
	if (!app.hub || engine_create(&app, &app.engine, &eb)) {
		fprintf(stderr, "agentd serve: cannot create the engine: %s\n", eb.msg);
		return 1;
	}
	if (apply_agents_dir(&app))
		return 1;
	if (engine_start(app.engine, &eb)) {
		fprintf(stderr, "agentd serve: %s\n", eb.msg);
		return 1;
	}
	struct http_server_opts ho = {
		.host = cfg.listen_host,
		.port = cfg.listen_port,
		.threads = cfg.threads,
		.max_connections = cfg.max_connections,
		.connection_timeout_s = cfg.connection_timeout_s,
		.max_header_bytes = cfg.max_header_bytes,
		.max_json_depth = cfg.max_json_depth,
		.cors_origins = (const char(*)[256])cfg.cors_origins,
		.n_cors_origins = cfg.n_cors_origins,
		.router = app.router,
		.app = &app,
	};
	struct http_server *hs;
	if (http_server_start(&ho, &hs, &eb)) {
		fprintf(stderr, "agentd serve: %s\n", eb.msg);
		store_close(st);
		return 1;
	}
	const char *shown_host = strchr(cfg.listen_host, ':') ? NULL : cfg.listen_host;
	if (shown_host)
		printf("agentd %s listening on http://%s:%d (data: %s, %d threads)\n",
		       AGENTD_VERSION, shown_host, http_server_port(hs), cfg.data_dir,
		       cfg.threads);
	else
		printf("agentd %s listening on http://[%s]:%d (data: %s, %d threads)\n",
		       AGENTD_VERSION, cfg.listen_host, http_server_port(hs), cfg.data_dir,
		       cfg.threads);
	fflush(stdout);
	log_info("listening on %s:%d", cfg.listen_host, http_server_port(hs));

	/* Housekeeping every second until a signal arrives. */
	struct timespec tick = {1, 0};
	int sig;
	int64_t next_purge = 0;
	for (;;) {
		sig = sigtimedwait(&sigs, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		keyuse_flush(app.keyuse, st, 0);
		if (time_now_ms() >= next_purge) {   /* expired idempotency records, hourly */
			struct store_op op = {.kind = STORE_OP_IDEM_PURGE};
			op.u.idem.expires_at = time_now_ms();
			struct store_write w = {.ops = &op, .nops = 1};
			if (store_write_sync(st, &w))
				log_warn("purging idempotency records failed: %s", w.err.msg);
			next_purge = time_now_ms() + 3600 * 1000;
		}
	}
	log_info("received signal %d: draining", sig);
	app.draining = 1;
	http_server_quiesce(hs);
	/* running executions get the grace period to finish; then streams and waiters end */
	engine_stop(app.engine, cfg.shutdown_grace_s);
	hub_close_all(app.hub);
	int64_t deadline = time_mono_us() + (int64_t)cfg.shutdown_grace_s * 1000000;
	while (http_server_inflight(hs) > 0 && time_mono_us() < deadline) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (http_server_inflight(hs) > 0)
		log_warn("%d requests still in flight after %d s; closing them",
			 http_server_inflight(hs), cfg.shutdown_grace_s);
	http_server_stop(hs);
	keyuse_flush(app.keyuse, st, 1);
	store_close(st);
	engine_destroy(app.engine);
	hub_destroy(app.hub);
	config_free(&cfg);
	metrics_destroy(app.metrics);
	keyuse_destroy(app.keyuse);
	ratelimit_destroy(app.rl);
	router_destroy(app.router);
	log_info("stopped");
	return 0;
}

/* ---- keys ---- */

static const char keys_help[] =
	"usage: agentd keys create --name NAME --scopes a,b [--kind org|personal]\n"
	"                          [--workspace SLUG] [--project ID] [--expires RFC3339]\n"
	"                          [--rate-limit N] [--quota N] [--data-dir DIR]\n"
	"       agentd keys list [--workspace SLUG] [--data-dir DIR]\n"
	"       agentd keys revoke ID [--data-dir DIR]\n"
	"\n"
	"Works on the data directory directly, whether or not a server runs on it.\n"
	"`create` prints the new key alone on the last line of stdout; it is shown only once.\n"
	"Scopes: agents:read agents:execute agents:stream agents:write executions:cancel\n"
	"        approvals:write triggers:write admin (admin grants every scope).\n"
	"--rate-limit is in requests per minute (default: the server's, 60 unless configured).\n"
	"--quota is the number of executions the key may start (default: unlimited).\n";

static int resolve_workspace(struct store *st, const char *slug, struct workspace_rec *w)
{
	if (store_workspace_get(st, slug ? slug : "default", w)) {
		fprintf(stderr, "agentd keys: no workspace '%s'\n", slug ? slug : "default");
		return -1;
	}
	return 0;
}

static int keys_create(int argc, char **argv)
{
	const char *dir = default_data_dir(), *ws_slug = NULL, *rl = NULL, *quota = NULL;
	struct key_spec spec = {0};
	struct opts o = {argc, argv, 0, "keys create"};
	for (o.i = 0; o.i < argc; o.i++) {
		if (is_help(argv[o.i])) {
			fputs(keys_help, stdout);
			return 0;
		}
		if (!opt_take(&o, "--data-dir", &dir) && !opt_take(&o, "--name", &spec.name) &&
		    !opt_take(&o, "--scopes", &spec.scopes_csv) &&
		    !opt_take(&o, "--kind", &spec.kind) && !opt_take(&o, "--workspace", &ws_slug) &&
		    !opt_take(&o, "--project", &spec.project_id) &&
		    !opt_take(&o, "--expires", &spec.expires) && !opt_take(&o, "--rate-limit", &rl) &&
		    !opt_take(&o, "--quota", &quota))
			usage_error("keys create", argv[o.i], keys_help);
	}
	if (!spec.name || !spec.scopes_csv) {
		fprintf(stderr, "agentd keys create: --name and --scopes are required\n%s",
			keys_help);
		return EXIT_USAGE;
	}
	if (rl)
		spec.rate_limit = parse_ll("keys create", "--rate-limit", rl, 1,
					   KEY_RATE_LIMIT_MAX);
	if (quota)
		spec.exec_quota = parse_ll("keys create", "--quota", quota, 0, 1LL << 50);
	struct store *st;
	if (open_store(dir, &st))
		return 1;
	int rc = 1;
	struct workspace_rec w;
	struct store_op op = {.kind = STORE_OP_KEY_INSERT};
	char full[KEY_STR_LEN + 1];
	agd_errbuf eb;
	if (bootstrap(st, stderr) || resolve_workspace(st, ws_slug, &w))
		goto out;
	if (keys_prepare(st, &w, &spec, time_now_ms(), &op.u.key, full, &eb)) {
		fprintf(stderr, "agentd keys create: %s\n", eb.msg);
		rc = EXIT_USAGE;
		goto out;
	}
	struct store_write wr = {.ops = &op, .nops = 1};
	if (store_write_sync(st, &wr)) {
		fprintf(stderr, "agentd keys create: %s\n", wr.err.msg);
		goto out;
	}
	fprintf(stderr, "created %s key %s '%s' in workspace '%s' with scopes %s\n", op.u.key.kind,
		op.u.key.id, op.u.key.name, w.slug, op.u.key.scopes);
	printf("%s\n", full);
	rc = 0;
out:
	store_close(st);
	return rc;
}

static int keys_list(int argc, char **argv)
{
	const char *dir = default_data_dir(), *ws_slug = NULL;
	struct opts o = {argc, argv, 0, "keys list"};
	for (o.i = 0; o.i < argc; o.i++) {
		if (is_help(argv[o.i])) {
			fputs(keys_help, stdout);
			return 0;
		}
		if (!opt_take(&o, "--data-dir", &dir) && !opt_take(&o, "--workspace", &ws_slug))
			usage_error("keys list", argv[o.i], keys_help);
	}
	struct store *st;
	if (open_store(dir, &st))
		return 1;
	struct workspace_rec w;
	struct key_rec *keys = NULL;
	size_t n = 0;
	int rc = 1;
	if (resolve_workspace(st, ws_slug, &w))
		goto out;
	if (store_key_list(st, w.id, &keys, &n)) {
		fprintf(stderr, "agentd keys list: cannot read keys\n");
		goto out;
	}
	printf("%-8s  %-8s  %-8s  %-24s  %-20s  %-20s  %s\n", "ID", "KIND", "STATUS", "NAME",
	       "CREATED", "LAST USED", "SCOPES");
	int64_t now = time_now_ms();
	for (size_t i = 0; i < n; i++) {
		char c[40], u[40];
		time_format_rfc3339(keys[i].created_at, c, sizeof(c));
		c[19] = '\0';
		if (keys[i].last_used_at) {
			time_format_rfc3339(keys[i].last_used_at, u, sizeof(u));
			u[19] = '\0';
		} else {
			snprintf(u, sizeof(u), "never");
		}
		const char *status = keys[i].revoked_at ? "revoked"
				     : keys[i].expires_at && keys[i].expires_at <= now ? "expired"
											: "active";
		printf("%-8s  %-8s  %-8s  %-24.24s  %-20s  %-20s  %s\n", keys[i].id, keys[i].kind,
		       status, keys[i].name, c, u, keys[i].scopes);
	}
	rc = 0;
out:
	free(keys);
	store_close(st);
	return rc;
}

static int keys_revoke(int argc, char **argv)
{
	const char *dir = default_data_dir(), *id = NULL;
	struct opts o = {argc, argv, 0, "keys revoke"};
	for (o.i = 0; o.i < argc; o.i++) {
		if (is_help(argv[o.i])) {
			fputs(keys_help, stdout);
			return 0;
		}
		if (opt_take(&o, "--data-dir", &dir))
			continue;
		if (argv[o.i][0] == '-' || id)
			usage_error("keys revoke", argv[o.i], keys_help);
		id = argv[o.i];
	}
	if (!id) {
		fprintf(stderr, "agentd keys revoke: the key ID is required\n%s", keys_help);
		return EXIT_USAGE;
	}
	struct store *st;
	if (open_store(dir, &st))
		return 1;
	int rc = 1;
	struct store_op op = {.kind = STORE_OP_KEY_REVOKE};
	if (store_key_get(st, id, &op.u.key)) {
		fprintf(stderr, "agentd keys revoke: no key '%s'\n", id);
		goto out;
	}
	if (!op.u.key.revoked_at)
		op.u.key.revoked_at = time_now_ms();
	struct store_write wr = {.ops = &op, .nops = 1};
	if (store_write_sync(st, &wr)) {
		fprintf(stderr, "agentd keys revoke: %s\n", wr.err.msg);
		goto out;
	}
	printf("revoked key %s\n", id);
	rc = 0;
out:
	store_close(st);
	return rc;
}

static int cmd_keys(int argc, char **argv)
{
	if (argc < 1 || is_help(argv[0])) {
		fputs(keys_help, argc < 1 ? stderr : stdout);
		return argc < 1 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[0], "create") == 0)
		return keys_create(argc - 1, argv + 1);
	if (strcmp(argv[0], "list") == 0)
		return keys_list(argc - 1, argv + 1);
	if (strcmp(argv[0], "revoke") == 0)
		return keys_revoke(argc - 1, argv + 1);
	fprintf(stderr, "agentd keys: unknown subcommand '%s'\n%s", argv[0], keys_help);
	return EXIT_USAGE;
}

/* ---- migrate, version, help ---- */

static const char migrate_help[] =
	"usage: agentd migrate [--data-dir DIR]\n"
	"\n"
	"Creates the data directory if needed and applies pending schema migrations. `serve`\n"
	"does this too at start; this command lets a deployment do it ahead of time.\n";

static int cmd_migrate(int argc, char **argv)
{
	const char *dir = default_data_dir();
	struct opts o = {argc, argv, 0, "migrate"};
	for (o.i = 0; o.i < argc; o.i++) {
		if (is_help(argv[o.i])) {
			fputs(migrate_help, stdout);
			return 0;
		}
		if (!opt_take(&o, "--data-dir", &dir))
			usage_error("migrate", argv[o.i], migrate_help);
	}
	struct store *st;
	if (open_store(dir, &st))
		return 1;
	store_close(st);
	printf("schema of %s is up to date\n", dir);
	return 0;
}

static const char main_help[] =
	"agentd: a self-hosted agent execution server\n"
	"\n"
	"usage: agentd <command> [options]\n"
	"\n"
	"commands:\n"
	"  serve     start the server (agentd serve --help)\n"
	"  keys      create, list and revoke API keys (agentd keys --help)\n"
	"  agents    list, get, apply and expose agents on a running server\n"
	"  run       execute an agent on a running server (agentd run --help)\n"
	"  migrate   apply schema migrations to a data directory\n"
	"  version   print the version\n"
	"\n"
	"Documentation: docs/ in the source tree, starting with docs/README.md.\n";

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(main_help, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (is_help(cmd)) {
		fputs(main_help, stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("agentd %s\n", AGENTD_VERSION);
		return 0;
	}
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc - 2, argv + 2);
	if (strcmp(cmd, "keys") == 0)
		return cmd_keys(argc - 2, argv + 2);
	if (strcmp(cmd, "migrate") == 0)
		return cmd_migrate(argc - 2, argv + 2);
	if (strcmp(cmd, "agents") == 0)
		return cmd_agents(argc - 2, argv + 2);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 2, argv + 2);
	fprintf(stderr, "agentd: unknown command '%s'\n\n%s", cmd, main_help);
	return EXIT_USAGE;
}
