/*
 * config.c: defaults, JSON config file, environment. Main thread, at start-up only.
 */
#include "core/config.h"
#include "core/keys.h"
#include "util/json.h"
#include "util/log.h"
#include "util/strutil.h"

#include <errno.h>
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

int config_load_env(struct config *c, agd_errbuf *eb)
{
	const char *v;
	long long n;
	int rc;
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
