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
#define CONFIG_MAX_PROVIDERS 16
#define CONFIG_MAX_CUSTOM 32
#define CONFIG_MAX_PRICES 64
#define CONFIG_MAX_ARGS 32

/* A model server: "openai" kind speaks OpenAI chat completions (OpenAI, vLLM, llama.cpp,
 * Ollama, ...); "anthropic" kind speaks the Anthropic Messages API. */
struct provider_conf {
	char name[64];
	char kind[16];
	char base_url[512];
	char api_key[512];
	int stream;                   /* 1: stream responses (default); 0: one JSON response */
	int timeout_s;                /* whole-request timeout for one model call */
	int idle_timeout_s;           /* no byte from the server for this long aborts the call */
	int max_retries;              /* on 429, 5xx, timeouts */
};

/* A command an operator allows custom agents to run, by name. */
struct custom_conf {
	char name[64];
	char *argv[CONFIG_MAX_ARGS + 1];  /* heap strings, NULL-terminated */
	char cwd[512];
	int timeout_s;
	size_t max_output_bytes;
};

struct price_conf {
	char model[160];              /* "provider/model" */
	double input, output;         /* per million tokens */
};

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

	struct provider_conf providers[CONFIG_MAX_PROVIDERS];
	int n_providers;
	struct custom_conf customs[CONFIG_MAX_CUSTOM];
	int n_customs;
	struct price_conf prices[CONFIG_MAX_PRICES];
	int n_prices;
	int engine_workers;           /* engine threads */
	int max_inflight;             /* executions running at once, all agents */
	int default_timeout_s;        /* per execution, unless the agent or request says */
	int default_max_steps;
	size_t max_model_response_bytes;
	size_t max_upload_bytes;      /* files uploaded for executions (images) */
	char agents_dir[512];         /* agent definitions applied at start ("" = none) */
};

/* Provider and custom-command lookups (NULL when not configured). */
const struct provider_conf *config_provider(const struct config *c, const char *name);
const struct custom_conf *config_custom(const struct config *c, const char *name);
/* Frees what config_load_file allocated. */
void config_free(struct config *c);

void config_defaults(struct config *c);
/* Reads a JSON config file; unknown keys and wrong types are errors naming the key. */
int config_load_file(struct config *c, const char *path, agd_errbuf *eb);
/* Applies AGENTD_* environment variables. */
int config_load_env(struct config *c, agd_errbuf *eb);
/* Parses "HOST:PORT" (or ":PORT", or "[v6]:PORT") into the config. */
int config_set_listen(struct config *c, const char *s, agd_errbuf *eb);
int config_set_cors(struct config *c, const char *csv, agd_errbuf *eb);

#endif
