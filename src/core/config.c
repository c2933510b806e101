/*
 * config.c: defaults, JSON config file, environment. Main thread, at start-up only.
 */
#include "core/config.h"
#include "core/keys.h"
#include "util/json.h"
#include "util/log.h"
#include "util/strutil.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->data_dir, sizeof(c->data_dir), "./data");
	snprintf(c->listen_host, sizeof(c->listen_host), "127.0.0.1");
	c->listen_port = 8080;
	c->threads = 0;
	c->rate_limit = 60;
	c->max_body_bytes = 1 << 20;
	c->max_header_bytes = 16 << 10;
	c->max_json_depth = 64;
	c->connection_timeout_s = 60;
	c->max_connections = 10000;
	c->shutdown_grace_s = 10;
	snprintf(c->access_log, sizeof(c->access_log), "-");
	snprintf(c->log_level, sizeof(c->log_level), "info");
	c->engine_workers = 2;
	c->max_inflight = 20000;
	c->default_timeout_s = 300;
	c->default_max_steps = 10;
	c->max_model_response_bytes = 8u << 20;
	c->max_upload_bytes = 20u << 20;
	/* the two built-in providers; base URLs and keys come from the environment */
	struct provider_conf *p = &c->providers[c->n_providers++];
	snprintf(p->name, sizeof(p->name), "openai");
	snprintf(p->kind, sizeof(p->kind), "openai");
	snprintf(p->base_url, sizeof(p->base_url), "https://api.openai.com/v1");
	p->stream = 1;
	p->timeout_s = 600;
	p->idle_timeout_s = 120;
	p->max_retries = 3;
	p = &c->providers[c->n_providers++];
	snprintf(p->name, sizeof(p->name), "anthropic");
	snprintf(p->kind, sizeof(p->kind), "anthropic");
	snprintf(p->base_url, sizeof(p->base_url), "https://api.anthropic.com");
	p->stream = 1;
	p->timeout_s = 600;
	p->idle_timeout_s = 120;
	p->max_retries = 3;
}

const struct provider_conf *config_provider(const struct config *c, const char *name)
{
	for (int i = 0; i < c->n_providers; i++)
		if (strcmp(c->providers[i].name, name) == 0)
			return &c->providers[i];
	return NULL;
}

const struct custom_conf *config_custom(const struct config *c, const char *name)
{
	for (int i = 0; i < c->n_customs; i++)
		if (strcmp(c->customs[i].name, name) == 0)
			return &c->customs[i];
	return NULL;
}

void config_free(struct config *c)
{
	for (int i = 0; i < c->n_customs; i++)
		for (int j = 0; c->customs[i].argv[j]; j++) {
			free(c->customs[i].argv[j]);
			c->customs[i].argv[j] = NULL;
		}
	c->n_customs = 0;
}

/* Resolves a path from the config file relative to the file's directory. */
static void resolve_path(char *out, size_t n, const char *cfg_path, const char *p)
{
	const char *slash = strrchr(cfg_path, '/');
	if (p[0] == '/' || !slash)
		snprintf(out, n, "%s", p);
	else
		snprintf(out, n, "%.*s/%s", (int)(slash - cfg_path), cfg_path, p);
}

static int load_providers(struct config *c, json_t *v, agd_errbuf *eb)
{
	const char *name;
	json_t *pv;
	if (!json_is_object(v))
		return agd_fail(eb, AGD_EINVAL, "config key 'providers' must be an object of "
				"name: {kind, base_url, api_key | api_key_env, stream, timeout_s, "
				"max_retries}");
	json_object_foreach(v, name, pv) {
		struct provider_conf *p = (struct provider_conf *)config_provider(c, name);
		if (!p) {
			if (c->n_providers == CONFIG_MAX_PROVIDERS)
				return agd_fail(eb, AGD_EINVAL, "at most %d providers",
						CONFIG_MAX_PROVIDERS);
			if (strlen(name) >= sizeof(p->name) || !name[0] || strchr(name, '/'))
				return agd_fail(eb, AGD_EINVAL, "provider name '%s' must be 1-63 "
						"characters without '/'", name);
			p = &c->providers[c->n_providers++];
			memset(p, 0, sizeof(*p));
			snprintf(p->name, sizeof(p->name), "%s", name);
			snprintf(p->kind, sizeof(p->kind), "openai");
			p->stream = 1;
			p->timeout_s = 600;
			p->idle_timeout_s = 120;
			p->max_retries = 3;
		}
		if (!json_is_object(pv))
			return agd_fail(eb, AGD_EINVAL, "providers.%s must be an object", name);
		const char *k;
		json_t *x;
		json_object_foreach(pv, k, x) {
			if (strcmp(k, "kind") == 0 && json_is_string(x) &&
			    (strcmp(json_string_value(x), "openai") == 0 ||
			     strcmp(json_string_value(x), "anthropic") == 0)) {
				snprintf(p->kind, sizeof(p->kind), "%s", json_string_value(x));
			} else if (strcmp(k, "base_url") == 0 && json_is_string(x) &&
				   json_string_length(x) < sizeof(p->base_url)) {
				snprintf(p->base_url, sizeof(p->base_url), "%s", json_string_value(x));
			} else if (strcmp(k, "api_key") == 0 && json_is_string(x) &&
				   json_string_length(x) < sizeof(p->api_key)) {
				snprintf(p->api_key, sizeof(p->api_key), "%s", json_string_value(x));
			} else if (strcmp(k, "api_key_env") == 0 && json_is_string(x)) {
				const char *e = getenv(json_string_value(x));
				snprintf(p->api_key, sizeof(p->api_key), "%s", e ? e : "");
			} else if (strcmp(k, "stream") == 0 && json_is_boolean(x)) {
				p->stream = json_is_true(x);
			} else if (strcmp(k, "timeout_s") == 0 && json_is_integer(x) &&
				   json_integer_value(x) > 0 && json_integer_value(x) <= 86400) {
				p->timeout_s = (int)json_integer_value(x);
			} else if (strcmp(k, "idle_timeout_s") == 0 && json_is_integer(x) &&
				   json_integer_value(x) > 0 && json_integer_value(x) <= 86400) {
				p->idle_timeout_s = (int)json_integer_value(x);
			} else if (strcmp(k, "max_retries") == 0 && json_is_integer(x) &&
				   json_integer_value(x) >= 0 && json_integer_value(x) <= 10) {
				p->max_retries = (int)json_integer_value(x);
			} else {
				return agd_fail(eb, AGD_EINVAL, "providers.%s.%s: unknown key or bad "
						"value (kind: openai|anthropic, base_url, api_key, "
						"api_key_env, stream: bool, timeout_s: 1-86400, "
						"idle_timeout_s: 1-86400, max_retries: 0-10)", name, k);
			}
		}
	}
	return 0;
}

static int load_customs(struct config *c, const char *path, json_t *v, agd_errbuf *eb)
{
	const char *name;
	json_t *cv;
	if (!json_is_object(v))
		return agd_fail(eb, AGD_EINVAL, "config key 'custom_agents' must be an object of "
				"name: {command: [argv...], cwd, timeout_s, max_output_bytes}");
	json_object_foreach(v, name, cv) {
		if (c->n_customs == CONFIG_MAX_CUSTOM)
			return agd_fail(eb, AGD_EINVAL, "at most %d custom agent commands",
					CONFIG_MAX_CUSTOM);
		struct custom_conf *cc = &c->customs[c->n_customs];
		memset(cc, 0, sizeof(*cc));
		if (strlen(name) >= sizeof(cc->name) || !name[0])
			return agd_fail(eb, AGD_EINVAL, "custom command name '%s' too long", name);
		snprintf(cc->name, sizeof(cc->name), "%s", name);
		cc->timeout_s = 60;
		cc->max_output_bytes = 1u << 20;
		resolve_path(cc->cwd, sizeof(cc->cwd), path, ".");
		json_t *cmd = json_object_get(cv, "command");
		if (!json_is_array(cmd) || json_array_size(cmd) == 0 ||
		    json_array_size(cmd) > CONFIG_MAX_ARGS)
			return agd_fail(eb, AGD_EINVAL, "custom_agents.%s.command must be a "
					"non-empty array of at most %d strings", name,
					CONFIG_MAX_ARGS);
		c->n_customs++;
		size_t i;
		json_t *a;
		json_array_foreach(cmd, i, a) {
			if (!json_is_string(a))
				return agd_fail(eb, AGD_EINVAL, "custom_agents.%s.command[%zu] must "
						"be a string", name, i);
			cc->argv[i] = strdup(json_string_value(a));
		}
		const char *k;
		json_t *x;
		json_object_foreach(cv, k, x) {
			if (strcmp(k, "command") == 0)
				continue;
			if (strcmp(k, "cwd") == 0 && json_is_string(x))
				resolve_path(cc->cwd, sizeof(cc->cwd), path, json_string_value(x));
			else if (strcmp(k, "timeout_s") == 0 && json_is_integer(x) &&
				 json_integer_value(x) > 0 && json_integer_value(x) <= 86400)
				cc->timeout_s = (int)json_integer_value(x);
			else if (strcmp(k, "max_output_bytes") == 0 && json_is_integer(x) &&
				 json_integer_value(x) >= 1024 &&
				 json_integer_value(x) <= (1 << 30))
				cc->max_output_bytes = (size_t)json_integer_value(x);
			else
				return agd_fail(eb, AGD_EINVAL, "custom_agents.%s.%s: unknown key or "
						"bad value", name, k);
		}
	}
	return 0;
}

static int load_prices(struct config *c, json_t *v, agd_errbuf *eb)
{
	const char *model;
	json_t *pv;
	if (!json_is_object(v))
		return agd_fail(eb, AGD_EINVAL, "config key 'prices' must be an object of "
				"\"provider/model\": {\"input\": N, \"output\": N} (per million "
				"tokens)");
	json_object_foreach(v, model, pv) {
		json_t *in = json_object_get(pv, "input"), *out = json_object_get(pv, "output");
		if (!json_is_number(in) || !json_is_number(out) || json_number_value(in) < 0 ||
		    json_number_value(out) < 0 || strlen(model) >= sizeof(c->prices[0].model))
			return agd_fail(eb, AGD_EINVAL, "prices.%s must be {\"input\": N, "
					"\"output\": N} with N >= 0", model);
		if (c->n_prices == CONFIG_MAX_PRICES)
			return agd_fail(eb, AGD_EINVAL, "at most %d prices", CONFIG_MAX_PRICES);
		struct price_conf *p = &c->prices[c->n_prices++];
		snprintf(p->model, sizeof(p->model), "%s", model);
		p->input = json_number_value(in);
		p->output = json_number_value(out);
	}
	return 0;
}

int config_set_listen(struct config *c, const char *s, agd_errbuf *eb)
{
	const char *colon = strrchr(s, ':');
	if (!colon)
		return agd_fail(eb, AGD_EINVAL, "listen address '%s' must be HOST:PORT", s);
	char *end;
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
		return agd_fail(eb, AGD_EINVAL, "listen address '%s': port must be 0-65535", s);
	size_t hl = (size_t)(colon - s);
	const char *h = s;
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= sizeof(c->listen_host))
		return agd_fail(eb, AGD_EINVAL, "listen host is too long");
	if (hl == 0) {
		snprintf(c->listen_host, sizeof(c->listen_host), "0.0.0.0");
	} else {
		memcpy(c->listen_host, h, hl);
		c->listen_host[hl] = '\0';
	}
	c->listen_port = (int)port;
	return 0;
}

int config_set_cors(struct config *c, const char *csv, agd_errbuf *eb)
{
	const char *p = csv, *tok;
	size_t n;
	c->n_cors_origins = 0;
	while (csv_next(&p, &tok, &n)) {
		if (c->n_cors_origins == CONFIG_MAX_ORIGINS)
			return agd_fail(eb, AGD_EINVAL, "at most %d CORS origins",
					CONFIG_MAX_ORIGINS);
		if (n >= sizeof(c->cors_origins[0]))
			return agd_fail(eb, AGD_EINVAL, "CORS origin is too long");
		memcpy(c->cors_origins[c->n_cors_origins], tok, n);
		c->cors_origins[c->n_cors_origins][n] = '\0';
		c->n_cors_origins++;
	}
	return 0;
}

static int set_str(char *dst, size_t n, const char *key, json_t *v, agd_errbuf *eb)
{
	if (!json_is_string(v))
		return agd_fail(eb, AGD_EINVAL, "config key '%s' must be a string", key);
	if (strlen(json_string_value(v)) >= n)
		return agd_fail(eb, AGD_EINVAL, "config key '%s' is too long", key);
	snprintf(dst, n, "%s", json_string_value(v));
	return 0;
}

static int set_int(long long *dst, const char *key, json_t *v, long long min, long long max,
		   agd_errbuf *eb)
{
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return agd_fail(eb, AGD_EINVAL, "config key '%s' must be an integer from %lld to "
				"%lld", key, min, max);
	*dst = json_integer_value(v);
	return 0;
}

int config_load_file(struct config *c, const char *path, agd_errbuf *eb)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return agd_fail(eb, AGD_EIO, "cannot open config file %s: %s", path,
				strerror(errno));
	char data[65536];
	size_t n = fread(data, 1, sizeof(data), f);
	int toobig = !feof(f);
	fclose(f);
	if (toobig)
		return agd_fail(eb, AGD_ETOOBIG, "config file %s is larger than 64 KiB", path);
	json_t *root;
	agd_errbuf jeb;
	if (json_parse(data, n, 32, &root, &jeb))
		return agd_fail(eb, AGD_EINVAL, "config file %s: %s", path, jeb.msg);
	if (!json_is_object(root)) {
		json_decref(root);
		return agd_fail(eb, AGD_EINVAL, "config file %s must hold a JSON object", path);
	}
	int rc = 0;
	const char *key;
	json_t *v;
	long long iv;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "data_dir") == 0) {
			rc = set_str(c->data_dir, sizeof(c->data_dir), key, v, eb);
		} else if (strcmp(key, "listen") == 0) {
			rc = json_is_string(v) ? config_set_listen(c, json_string_value(v), eb)
					       : agd_fail(eb, AGD_EINVAL, "config key 'listen' "
							  "must be a string");
		} else if (strcmp(key, "threads") == 0) {
			if (!(rc = set_int(&iv, key, v, 0, 256, eb)))
				c->threads = (int)iv;
		} else if (strcmp(key, "rate_limit_per_minute") == 0) {
			if (!(rc = set_int(&iv, key, v, 1, KEY_RATE_LIMIT_MAX, eb)))
				c->rate_limit = iv;
		} else if (strcmp(key, "max_body_bytes") == 0) {
			if (!(rc = set_int(&iv, key, v, 1024, 1LL << 30, eb)))
				c->max_body_bytes = (size_t)iv;
		} else if (strcmp(key, "max_header_bytes") == 0) {
			if (!(rc = set_int(&iv, key, v, 1024, 1 << 20, eb)))
				c->max_header_bytes = (size_t)iv;
		} else if (strcmp(key, "max_json_depth") == 0) {
			if (!(rc = set_int(&iv, key, v, 2, 1000, eb)))
				c->max_json_depth = (int)iv;
		} else if (strcmp(key, "connection_timeout_s") == 0) {
			if (!(rc = set_int(&iv, key, v, 1, 86400, eb)))
				c->connection_timeout_s = (int)iv;
		} else if (strcmp(key, "max_connections") == 0) {
			if (!(rc = set_int(&iv, key, v, 1, 1000000, eb)))
				c->max_connections = (int)iv;
		} else if (strcmp(key, "shutdown_grace_s") == 0) {
			if (!(rc = set_int(&iv, key, v, 0, 3600, eb)))
				c->shutdown_grace_s = (int)iv;
		} else if (strcmp(key, "providers") == 0) {
			rc = load_providers(c, v, eb);
		} else if (strcmp(key, "custom_agents") == 0) {
			rc = load_customs(c, path, v, eb);
		} else if (strcmp(key, "prices") == 0) {
			rc = load_prices(c, v, eb);
		} else if (strcmp(key, "agents_dir") == 0) {
			if (!json_is_string(v))
				rc = agd_fail(eb, AGD_EINVAL, "config key 'agents_dir' must be a string");
			else
				resolve_path(c->agents_dir, sizeof(c->agents_dir), path,
					     json_string_value(v));
		} else if (strcmp(key, "engine_workers") == 0) {
			if (!(rc = set_int(&iv, key, v, 1, 64, eb)))
				c->engine_workers = (int)iv;
		} else if (strcmp(key, "max_inflight") == 0) {
			if (!(rc = set_int(&iv, key, v, 1, 1000000, eb)))
				c->max_inflight = (int)iv;
		} else if (strcmp(key, "default_timeout_s") == 0) {
			if (!(rc = set_int(&iv, key, v, 1, 86400, eb)))
				c->default_timeout_s = (int)iv;
		} else if (strcmp(key, "default_max_steps") == 0) {
			if (!(rc = set_int(&iv, key, v, 1, 100, eb)))
				c->default_max_steps = (int)iv;
		} else if (strcmp(key, "max_model_response_bytes") == 0) {
			if (!(rc = set_int(&iv, key, v, 4096, 1LL << 30, eb)))
				c->max_model_response_bytes = (size_t)iv;
		} else if (strcmp(key, "max_upload_bytes") == 0) {
			if (!(rc = set_int(&iv, key, v, 1024, 1LL << 30, eb)))
				c->max_upload_bytes = (size_t)iv;
		} else if (strcmp(key, "access_log") == 0) {
			rc = set_str(c->access_log, sizeof(c->access_log), key, v, eb);
		} else if (strcmp(key, "log_level") == 0) {
			rc = set_str(c->log_level, sizeof(c->log_level), key, v, eb);
		} else if (strcmp(key, "cors_origins") == 0) {
			if (!json_is_array(v)) {
				rc = agd_fail(eb, AGD_EINVAL, "config key 'cors_origins' must be "
					      "an array of strings");
			} else {
				size_t i;
				json_t *o;
				c->n_cors_origins = 0;
				json_array_foreach(v, i, o) {
					if (c->n_cors_origins == CONFIG_MAX_ORIGINS ||
					    !json_is_string(o) ||
					    strlen(json_string_value(o)) >= 256) {
						rc = agd_fail(eb, AGD_EINVAL, "config key "
							      "'cors_origins': at most %d strings "
							      "of under 256 characters",
							      CONFIG_MAX_ORIGINS);
						break;
					}
					snprintf(c->cors_origins[c->n_cors_origins++], 256, "%s",
						 json_string_value(o));
				}
			}
		} else {
			rc = agd_fail(eb, AGD_EINVAL, "config file %s: unknown key '%s'", path,
				      key);
		}
		if (rc)
			break;
	}
	json_decref(root);
	return rc;
}

static int env_int(const char *name, long long min, long long max, long long *out,
		   agd_errbuf *eb)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return 1;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || *end || n < min || n > max)
		return agd_fail(eb, AGD_EINVAL, "%s must be an integer from %lld to %lld", name,
				min, max);
	*out = n;
	return 0;
}

static const char *env2(const char *a, const char *b)
{
	const char *v = getenv(a);
	if (v && *v)
		return v;
	v = getenv(b);
	return v && *v ? v : NULL;
}

int config_load_env(struct config *c, agd_errbuf *eb)
{
	const char *v;
	long long n;
	int rc;
	struct provider_conf *op = (struct provider_conf *)config_provider(c, "openai");
	struct provider_conf *ap = (struct provider_conf *)config_provider(c, "anthropic");
	if (op && (v = env2("AGENTD_OPENAI_BASE_URL", "OPENAI_BASE_URL")))
		snprintf(op->base_url, sizeof(op->base_url), "%s", v);
	if (op && (v = env2("AGENTD_OPENAI_API_KEY", "OPENAI_API_KEY")))
		snprintf(op->api_key, sizeof(op->api_key), "%s", v);
	if (ap && (v = env2("AGENTD_ANTHROPIC_BASE_URL", "ANTHROPIC_BASE_URL")))
		snprintf(ap->base_url, sizeof(ap->base_url), "%s", v);
	if (ap && (v = env2("AGENTD_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY")))
		snprintf(ap->api_key, sizeof(ap->api_key), "%s", v);
	if ((v = getenv("AGENTD_DATA_DIR")) && *v)
		snprintf(c->data_dir, sizeof(c->data_dir), "%s", v);
	if ((v = getenv("AGENTD_LISTEN")) && *v && (rc = config_set_listen(c, v, eb)))
		return rc;
	if ((v = getenv("AGENTD_ACCESS_LOG")) && *v)
		snprintf(c->access_log, sizeof(c->access_log), "%s", v);
	if ((v = getenv("AGENTD_LOG_LEVEL")) && *v)
		snprintf(c->log_level, sizeof(c->log_level), "%s", v);
	if ((v = getenv("AGENTD_CORS_ORIGINS")) && *v && (rc = config_set_cors(c, v, eb)))
		return rc;
	if ((rc = env_int("AGENTD_THREADS", 0, 256, &n, eb)) < 0)
		return rc;
	if (rc == 0)
		c->threads = (int)n;
	if ((rc = env_int("AGENTD_RATE_LIMIT", 1, KEY_RATE_LIMIT_MAX, &n, eb)) < 0)
		return rc;
	if (rc == 0)
		c->rate_limit = n;
	if ((rc = env_int("AGENTD_MAX_BODY_BYTES", 1024, 1LL << 30, &n, eb)) < 0)
		return rc;
	if (rc == 0)
		c->max_body_bytes = (size_t)n;
	return 0;
}
