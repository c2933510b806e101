/*
 * config.h: server configuration. Precedence, lowest first: built-in defaults, the config
 * file (JSON), AGENTD_* environment variables, command-line flags. Read once at start-up on
 * the main thread; read-only afterwards.
 */
#ifndef AGD_CONFIG_H
#define AGD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CONFIG_MAX_ORIGINS 32

struct config {
	char data_dir[512];
	char listen_host[256];
	int listen_port;
	int threads;                  /* http threads; 0 = number of cores */
	int64_t rate_limit;           /* default requests per minute per key */
	size_t max_body_bytes;        /* default per-route body cap */
	size_t max_header_bytes;      /* request line + headers */
	int max_json_depth;
	int connection_timeout_s;     /* idle connection timeout */
	int max_connections;
	int shutdown_grace_s;         /* how long shutdown waits for in-flight requests */
	char access_log[512];         /* "-" (stderr), "off", or a file */
	char log_level[16];
	char cors_origins[CONFIG_MAX_ORIGINS][256];  /* "*" allows any origin */
	int n_cors_origins;
};

void config_defaults(struct config *c);
/* Reads a JSON config file; unknown keys and wrong types are errors naming the key. */
int config_load_file(struct config *c, const char *path, agd_errbuf *eb);
/* Applies AGENTD_* environment variables. */
int config_load_env(struct config *c, agd_errbuf *eb);
/* Parses "HOST:PORT" (or ":PORT", or "[v6]:PORT") into the config. */
int config_set_listen(struct config *c, const char *s, agd_errbuf *eb);
int config_set_cors(struct config *c, const char *csv, agd_errbuf *eb);

#endif
