/*
 * agents.c: agent definition validation, normalisation, slugs and the input-to-prompt rule.
 */
#include "core/agents.h"
#include "core/config.h"
#include "core/schema.h"
#include "util/buf.h"
#include "util/ids.h"
#include "util/timeutil.h"
#include "store/store.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const def_fields[] = {
	"name", "slug", "description", "type", "model", "command", "system_prompt",
	"temperature", "max_tokens", "tools", "input_schema", "input_template",
	"execution_mode", "visibility", "limits", "template", "extras", NULL};

static int listed(const char *k, const char *const *list)
{
	for (; list && *list; list++)
		if (strcmp(*list, k) == 0)
			return 1;
	return 0;
}

void agent_slugify(const char *name, char *out, size_t n)
{
	size_t o = 0;
	int dash = 0;
	for (const char *p = name; *p && o + 1 < n && o < 63; p++) {
		unsigned char c = (unsigned char)*p;
		if (isalnum(c)) {
			if (dash && o > 0)
				out[o++] = '-';
			dash = 0;
			if (o + 1 < n)
				out[o++] = (char)tolower(c);
		} else {
			dash = 1;
		}
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, n, "agent");
}

int agent_slug_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
			return 0;
	return 1;
}

static const char *const priority_names[] = {"LOW", "NORMAL", "HIGH", "CRITICAL"};

int priority_from_name(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, priority_names[i]) == 0)
			return i;
	return -1;
}

const char *priority_name(int p)
{
	return p >= 0 && p < 4 ? priority_names[p] : "NORMAL";
}

static int str_field(json_t *def, const char *k, size_t max, int required, const char **out,
		     agd_errbuf *eb)
{
	json_t *v = json_object_get(def, k);
	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return agd_fail(eb, AGD_EINVAL, "field '%s' is required", k);
		return 0;
	}
	if (!json_is_string(v))
		return agd_fail(eb, AGD_EINVAL, "field '%s' must be a string", k);
	if (json_string_length(v) > max)
		return agd_fail(eb, AGD_EINVAL, "field '%s' must be at most %zu characters", k, max);
	if (required && json_string_length(v) == 0)
		return agd_fail(eb, AGD_EINVAL, "field '%s' must not be empty", k);
	*out = json_string_value(v);
	return 0;
}

static int tool_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static int build_tools(json_t *tools, json_t *out, agd_errbuf *eb)
{
	if (!json_is_array(tools))
		return agd_fail(eb, AGD_EINVAL, "field 'tools' must be an array");
	if (json_array_size(tools) > AGENT_MAX_TOOLS)
		return agd_fail(eb, AGD_EINVAL, "field 'tools' may hold at most %d tools",
				AGENT_MAX_TOOLS);
	size_t i;
	json_t *t;
	json_array_foreach(tools, i, t) {
		if (!json_is_object(t))
			return agd_fail(eb, AGD_EINVAL, "tools[%zu] must be an object", i);
		const char *type = json_string_value(json_object_get(t, "type"));
		const char *name = json_string_value(json_object_get(t, "name"));
		const char *desc = json_string_value(json_object_get(t, "description"));
		if (!type || (strcmp(type, "http") != 0 && strcmp(type, "agent") != 0))
			return agd_fail(eb, AGD_EINVAL, "tools[%zu].type must be 'http' or 'agent'",
					i);
		if (!name || !tool_name_ok(name))
			return agd_fail(eb, AGD_EINVAL, "tools[%zu].name must be 1-64 characters of "
					"letters, digits, '_' and '-'", i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(json_string_value(json_object_get(json_array_get(out, j), "name")),
				   name) == 0)
				return agd_fail(eb, AGD_EINVAL, "tools[%zu].name '%s' is used twice",
						i, name);
		json_t *nt = json_pack("{s:s, s:s, s:s}", "type", type, "name", name,
				       "description", desc ? desc : "");
		const char *k;
		json_t *v;
		json_object_foreach(t, k, v) {
			if (strcmp(k, "type") == 0 || strcmp(k, "name") == 0 ||
			    strcmp(k, "description") == 0)
				continue;
			int ok = 0;
			if (strcmp(type, "http") == 0) {
				if (strcmp(k, "url") == 0)
					ok = json_is_string(v) &&
					     (strncmp(json_string_value(v), "http://", 7) == 0 ||
					      strncmp(json_string_value(v), "https://", 8) == 0);
				else if (strcmp(k, "parameters") == 0)
					ok = schema_check(v, "parameters", NULL) == 0;
				else if (strcmp(k, "timeout_s") == 0)
					ok = json_is_integer(v) && json_integer_value(v) >= 1 &&
					     json_integer_value(v) <= 300;
				else if (strcmp(k, "max_bytes") == 0)
					ok = json_is_integer(v) && json_integer_value(v) >= 1 &&
					     json_integer_value(v) <= (10 << 20);
				else if (strcmp(k, "headers") == 0) {
					ok = json_is_object(v);
					const char *hk;
					json_t *hv;
					json_object_foreach(v, hk, hv) ok &= json_is_string(hv);
				}
			} else {
				if (strcmp(k, "agent") == 0)
					ok = json_is_string(v) && json_string_length(v) > 0;
			}
			if (!ok) {
				json_decref(nt);
				return agd_fail(eb, AGD_EINVAL,
						"tools[%zu].%s is unknown or invalid for a%s %s tool "
						"(http: url, parameters, timeout_s 1-300, max_bytes, "
						"headers; agent: agent)",
						i, k, strcmp(type, "agent") == 0 ? "n" : "", type);
			}
			json_object_set(nt, k, v);
		}
		if (strcmp(type, "http") == 0) {
			if (!json_object_get(nt, "url")) {
				json_decref(nt);
				return agd_fail(eb, AGD_EINVAL, "tools[%zu].url is required for an "
						"http tool", i);
			}
			if (!json_object_get(nt, "parameters"))
				json_object_set_new(nt, "parameters", json_pack("{s:s}", "type",
										"object"));
			if (!json_object_get(nt, "timeout_s"))
				json_object_set_new(nt, "timeout_s", json_integer(30));
			if (!json_object_get(nt, "max_bytes"))
				json_object_set_new(nt, "max_bytes", json_integer(65536));
		} else if (!json_object_get(nt, "agent")) {
			json_decref(nt);
			return agd_fail(eb, AGD_EINVAL, "tools[%zu].agent (id or slug) is required for "
					"an agent tool", i);
		}
		json_array_append_new(out, nt);
	}
	return 0;
}

static int build_limits(const struct config *cfg, json_t *lim, json_t *out, agd_errbuf *eb)
{
	json_int_t conc = 0, timeout = cfg->default_timeout_s, steps = cfg->default_max_steps;
	double max_cost = 0;
	if (lim && !json_is_null(lim)) {
		if (!json_is_object(lim))
			return agd_fail(eb, AGD_EINVAL, "field 'limits' must be an object");
		const char *k;
		json_t *v;
		json_object_foreach(lim, k, v) {
			if (strcmp(k, "max_concurrency") == 0 && json_is_integer(v) &&
			    json_integer_value(v) >= 0 && json_integer_value(v) <= 100000)
				conc = json_integer_value(v);
			else if (strcmp(k, "timeout_s") == 0 && json_is_integer(v) &&
				 json_integer_value(v) >= 1 && json_integer_value(v) <= 86400)
				timeout = json_integer_value(v);
			else if (strcmp(k, "max_steps") == 0 && json_is_integer(v) &&
				 json_integer_value(v) >= 1 && json_integer_value(v) <= 100)
				steps = json_integer_value(v);
			else if (strcmp(k, "max_cost") == 0 && json_is_number(v) &&
				 json_number_value(v) >= 0)
				max_cost = json_number_value(v);
			else
				return agd_fail(eb, AGD_EINVAL,
						"limits.%s is unknown or out of range (max_concurrency "
						"0-100000, 0 = unlimited; timeout_s 1-86400; max_steps "
						"1-100; max_cost >= 0)", k);
		}
	}
	json_object_set_new(out, "limits", json_pack("{s:I, s:I, s:I, s:f}", "max_concurrency",
						     conc, "timeout_s", timeout, "max_steps", steps,
						     "max_cost", max_cost));
	return 0;
}

int agent_config_build(const struct config *cfg, json_t *def, const char *const *also_allowed,
		       json_t **out, agd_errbuf *eb)
{
	*out = NULL;
	if (!json_is_object(def))
		return agd_fail(eb, AGD_EINVAL, "an agent definition must be a JSON object");
	const char *k;
	json_t *v;
	json_object_foreach(def, k, v) {
		if (!listed(k, def_fields) && !listed(k, also_allowed))
			return agd_fail(eb, AGD_EINVAL, "unknown field '%s'", k);
	}
	const char *name, *desc, *type, *model, *command, *prompt, *tmpl, *mode, *vis, *slug;
	int rc;
	if ((rc = str_field(def, "name", AGENT_MAX_NAME, 1, &name, eb)) ||
	    (rc = str_field(def, "slug", 63, 0, &slug, eb)) ||
	    (rc = str_field(def, "description", AGENT_MAX_DESCRIPTION, 0, &desc, eb)) ||
	    (rc = str_field(def, "type", 16, 0, &type, eb)) ||
	    (rc = str_field(def, "model", 200, 0, &model, eb)) ||
	    (rc = str_field(def, "command", 63, 0, &command, eb)) ||
	    (rc = str_field(def, "system_prompt", AGENT_MAX_PROMPT, 0, &prompt, eb)) ||
	    (rc = str_field(def, "input_template", AGENT_MAX_PROMPT, 0, &tmpl, eb)) ||
	    (rc = str_field(def, "execution_mode", 16, 0, &mode, eb)) ||
	    (rc = str_field(def, "visibility", 16, 0, &vis, eb)))
		return rc;
	if (slug && !agent_slug_ok(slug))
		return agd_fail(eb, AGD_EINVAL, "field 'slug' must be 1-63 characters of a-z, 0-9 "
				"and '-', not starting or ending with '-'");
	if (!type)
		type = "llm";
	if (strcmp(type, "llm") != 0 && strcmp(type, "custom") != 0)
		return agd_fail(eb, AGD_EINVAL, "field 'type' must be 'llm' or 'custom'");
	if (!mode)
		mode = "single_turn";
	if (strcmp(mode, "single_turn") != 0 && strcmp(mode, "multi_turn") != 0)
		return agd_fail(eb, AGD_EINVAL, "field 'execution_mode' must be 'single_turn' or "
				"'multi_turn'");
	if (!vis)
		vis = "private";
	if (strcmp(vis, "private") != 0 && strcmp(vis, "public") != 0)
		return agd_fail(eb, AGD_EINVAL, "field 'visibility' must be 'private' or 'public'");

	json_t *c = json_object();
	json_object_set_new(c, "name", json_string(name));
	json_object_set_new(c, "description", json_string(desc ? desc : ""));
	json_object_set_new(c, "type", json_string(type));
	json_object_set_new(c, "execution_mode", json_string(mode));
	json_object_set_new(c, "visibility", json_string(vis));

	if (strcmp(type, "llm") == 0) {
		if (command) {
			json_decref(c);
			return agd_fail(eb, AGD_EINVAL, "field 'command' is only for custom agents");
		}
		const char *slash = model ? strchr(model, '/') : NULL;
		if (!model || !slash || slash == model || !slash[1]) {
			json_decref(c);
			return agd_fail(eb, AGD_EINVAL, "field 'model' is required for an llm agent, "
					"as 'provider/model' (e.g. 'openai/gpt-4o-mini')");
		}
		char prov[64];
		snprintf(prov, sizeof(prov), "%.*s", (int)(slash - model), model);
		if (!config_provider(cfg, prov)) {
			struct buf list;
			buf_init(&list, 1024);
			for (int i = 0; i < cfg->n_providers; i++)
				buf_printf(&list, "%s%s", i ? ", " : "", cfg->providers[i].name);
			agd_fail(eb, AGD_EINVAL, "field 'model': no provider '%s' is configured "
				 "(configured: %s)", prov, buf_cstr(&list));
			buf_free(&list);
			json_decref(c);
			return AGD_EINVAL;
		}
		json_object_set_new(c, "model", json_string(model));
	} else {
		if (!command || !config_custom(cfg, command)) {
			struct buf list;
			buf_init(&list, 2048);
			for (int i = 0; i < cfg->n_customs; i++)
				buf_printf(&list, "%s%s", i ? ", " : "", cfg->customs[i].name);
			agd_fail(eb, AGD_EINVAL, "field 'command' must name a command the operator "
				 "configured under custom_agents (configured: %s)",
				 list.len ? buf_cstr(&list) : "none");
			buf_free(&list);
			json_decref(c);
			return AGD_EINVAL;
		}
		json_object_set_new(c, "command", json_string(command));
	}
	if (prompt)
		json_object_set_new(c, "system_prompt", json_string(prompt));
	if (tmpl)
		json_object_set_new(c, "input_template", json_string(tmpl));
	json_t *t = json_object_get(def, "temperature");
	if (t && !json_is_null(t)) {
		if (!json_is_number(t) || json_number_value(t) < 0 || json_number_value(t) > 2) {
			json_decref(c);
			return agd_fail(eb, AGD_EINVAL, "field 'temperature' must be a number from 0 "
					"to 2");
		}
		json_object_set_new(c, "temperature", json_real(json_number_value(t)));
	}
	t = json_object_get(def, "max_tokens");
	if (t && !json_is_null(t)) {
		if (!json_is_integer(t) || json_integer_value(t) < 1 ||
		    json_integer_value(t) > 1000000) {
			json_decref(c);
			return agd_fail(eb, AGD_EINVAL, "field 'max_tokens' must be an integer from 1 "
					"to 1000000");
		}
		json_object_set(c, "max_tokens", t);
	}
	json_t *tools = json_array();
	json_object_set_new(c, "tools", tools);
	t = json_object_get(def, "tools");
	if (t && !json_is_null(t) && (rc = build_tools(t, tools, eb))) {
		json_decref(c);
		return rc;
	}
	t = json_object_get(def, "input_schema");
	if (t && !json_is_null(t)) {
		if ((rc = schema_check(t, "input_schema", eb))) {
			json_decref(c);
			return rc;
		}
		json_object_set(c, "input_schema", t);
	}
	if ((rc = build_limits(cfg, json_object_get(def, "limits"), c, eb))) {
		json_decref(c);
		return rc;
	}
	t = json_object_get(def, "template");
	if (t && !json_is_null(t)) {
		if (!json_is_object(t)) {
			json_decref(c);
			return agd_fail(eb, AGD_EINVAL, "field 'template' must be an object "
					"{slug, displayName, category}");
		}
		json_object_set(c, "template", t);
	}
	t = json_object_get(def, "extras");
	if (t && !json_is_null(t)) {
		if (!json_is_object(t)) {
			json_decref(c);
			return agd_fail(eb, AGD_EINVAL, "field 'extras' must be an object");
		}
		json_object_set(c, "extras", t);
	}
	*out = c;
	return 0;
}

static const char *const input_fields[] = {"message", "prompt", "query", "text"};

char *agent_render_input(json_t *config, json_t *input)
{
	const char *tmpl = json_string_value(json_object_get(config, "input_template"));
	if (tmpl) {
		struct buf b;
		buf_init(&b, 4u << 20);
		const char *p = tmpl;
		while (*p) {
			const char *open = strstr(p, "{{");
			const char *close = open ? strstr(open + 2, "}}") : NULL;
			if (!open || !close) {
				buf_puts(&b, p);
				break;
			}
			buf_append(&b, p, (size_t)(open - p));
			char field[128];
			const char *f = open + 2;
			while (f < close && *f == ' ')
				f++;
			const char *fe = close;
			while (fe > f && fe[-1] == ' ')
				fe--;
			snprintf(field, sizeof(field), "%.*s", (int)(fe - f), f);
			json_t *v = json_object_get(input, field);
			if (json_is_string(v)) {
				buf_puts(&b, json_string_value(v));
			} else if (v) {
				char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
				if (s)
					buf_puts(&b, s);
				free(s);
			}
			p = close + 2;
		}
		char *s = buf_steal(&b, NULL);
		return s ? s : strdup("");
	}
	const char *only = NULL;
	int count = 0;
	for (size_t i = 0; i < sizeof(input_fields) / sizeof(input_fields[0]); i++) {
		json_t *v = json_object_get(input, input_fields[i]);
		if (v) {
			count++;
			if (json_is_string(v))
				only = json_string_value(v);
		}
	}
	if (count == 1 && only)
		return strdup(only);
	char *s = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
	return s ? s : strdup("{}");
}

static const char *const create_extra[] = {"exposed", "project_id", NULL};
static const char *const revise_extra[] = {"exposed", "deploy", NULL};

static int check_agent_tools(struct store *st, const char *ws, json_t *config, agd_errbuf *eb)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(config, "tools"), i, t) {
		if (strcmp(json_string_value(json_object_get(t, "type")), "agent") != 0)
			continue;
		struct agent_rec a;
		const char *ref = json_string_value(json_object_get(t, "agent"));
		if (store_agent_get(st, ws, ref, &a) != 0)
			return agd_fail(eb, AGD_EINVAL, "tools[%zu].agent: no agent '%s' in this "
					"workspace", i, ref);
		agent_rec_clear(&a);
	}
	return 0;
}

static int bool_field(json_t *def, const char *k, int *out, agd_errbuf *eb)
{
	json_t *v = json_object_get(def, k);
	*out = -1;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return agd_fail(eb, AGD_EINVAL, "field '%s' must be true or false", k);
	*out = json_is_true(v);
	return 0;
}

int agent_prepare_create(struct store *st, const struct config *cfg,
			 const struct workspace_rec *ws, json_t *def, struct agent_rec *out,
			 agd_errbuf *eb)
{
	memset(out, 0, sizeof(*out));
	json_t *config;
	int exposed, rc;
	if ((rc = agent_config_build(cfg, def, create_extra, &config, eb)) ||
	    (rc = bool_field(def, "exposed", &exposed, eb)))
		return rc;
	if ((rc = check_agent_tools(st, ws->id, config, eb))) {
		json_decref(config);
		return rc;
	}
	const char *pid = json_string_value(json_object_get(def, "project_id"));
	if (pid && pid[0]) {
		struct project_rec p;
		if (store_project_get(st, pid, &p) != 0 || strcmp(p.workspace_id, ws->id) != 0) {
			json_decref(config);
			return agd_fail(eb, AGD_EINVAL, "field 'project_id': no project %s in this "
					"workspace", pid);
		}
		snprintf(out->project_id, sizeof(out->project_id), "%s", pid);
	}
	id_uuid7(out->id);
	snprintf(out->workspace_id, sizeof(out->workspace_id), "%s", ws->id);
	const char *slug = json_string_value(json_object_get(def, "slug"));
	if (slug)
		snprintf(out->slug, sizeof(out->slug), "%s", slug);
	else
		agent_slugify(json_string_value(json_object_get(config, "name")), out->slug,
			      sizeof(out->slug));
	snprintf(out->status, sizeof(out->status), "active");
	out->name = strdup(json_string_value(json_object_get(config, "name")));
	out->description = strdup(json_string_value(json_object_get(config, "description")));
	out->config = json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(config);
	out->exposed = exposed == 1;
	out->deployed_revision = out->latest_revision = 1;
	out->created_at = out->updated_at = time_now_ms();
	out->deploy = 1;
	return 0;
}

int agent_prepare_revise(struct store *st, const struct config *cfg, const struct agent_rec *cur,
			 json_t *patch, int deploy, struct agent_rec *out, int *exposed,
			 agd_errbuf *eb)
{
	memset(out, 0, sizeof(*out));
	if (!json_is_object(patch))
		return agd_fail(eb, AGD_EINVAL, "the request body must be a JSON object");
	int rc;
	if ((rc = bool_field(patch, "exposed", exposed, eb)))
		return rc;
	/* the latest revision is the base, so undeployed edits are not lost */
	struct revision_rec latest;
	json_t *merged = NULL;
	if (store_revision_get(st, cur->id, cur->latest_revision, &latest) == 0) {
		merged = json_loads(latest.config, 0, NULL);
		revision_rec_clear(&latest);
	}
	if (!merged)
		merged = json_loads(cur->config ? cur->config : "{}", 0, NULL);
	if (!merged)
		return agd_fail(eb, AGD_EINTERNAL, "the stored agent config is not valid JSON");
	json_object_set_new(merged, "slug", json_string(cur->slug));
	const char *k;
	json_t *v;
	json_object_foreach(patch, k, v) {
		if (strcmp(k, "exposed") == 0 || strcmp(k, "deploy") == 0)
			continue;
		if (json_is_null(v))
			json_object_del(merged, k);
		else
			json_object_set(merged, k, v);
	}
	json_t *config;
	rc = agent_config_build(cfg, merged, revise_extra, &config, eb);
	const char *slug = json_string_value(json_object_get(merged, "slug"));
	if (!rc && (rc = check_agent_tools(st, cur->workspace_id, config, eb)))
		json_decref(config);
	if (rc) {
		json_decref(merged);
		return rc;
	}
	*out = *cur;
	snprintf(out->slug, sizeof(out->slug), "%s", slug ? slug : cur->slug);
	json_decref(merged);
	out->name = strdup(json_string_value(json_object_get(config, "name")));
	out->description = strdup(json_string_value(json_object_get(config, "description")));
	out->config = json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(config);
	out->latest_revision = cur->latest_revision + 1;
	out->deploy = deploy;
	if (deploy)
		out->deployed_revision = out->latest_revision;
	out->updated_at = time_now_ms();
	return 0;
}

int agent_apply_sync(struct store *st, const struct config *cfg, const struct workspace_rec *ws,
		     json_t *def, struct agent_rec *out, int *created, agd_errbuf *eb)
{
	char slug[64];
	const char *s = json_string_value(json_object_get(def, "slug"));
	const char *name = json_string_value(json_object_get(def, "name"));
	if (s)
		snprintf(slug, sizeof(slug), "%s", s);
	else if (name)
		agent_slugify(name, slug, sizeof(slug));
	else
		return agd_fail(eb, AGD_EINVAL, "field 'name' is required");
	struct agent_rec cur;
	struct store_op ops[2];
	memset(ops, 0, sizeof(ops));
	size_t nops = 1;
	int rc;
	if (store_agent_get(st, ws->id, slug, &cur) == 0) {
		int exposed;
		json_t *patch = json_deep_copy(def);
		json_object_del(patch, "project_id");
		rc = agent_prepare_revise(st, cfg, &cur, patch, 1, &ops[0].u.agent, &exposed, eb);
		json_decref(patch);
		ops[0].kind = STORE_OP_AGENT_REVISE;
		if (!rc && exposed >= 0) {
			ops[1].kind = STORE_OP_AGENT_FLAGS;
			ops[1].u.agent = ops[0].u.agent;
			ops[1].u.agent.exposed = exposed;
			nops = 2;
		}
		*created = 0;
		agent_rec_clear(&cur);
	} else {
		rc = agent_prepare_create(st, cfg, ws, def, &ops[0].u.agent, eb);
		ops[0].kind = STORE_OP_AGENT_INSERT;
		*created = 1;
	}
	if (rc)
		return rc;
	struct store_write w = {.ops = ops, .nops = nops};
	if (store_write_sync(st, &w)) {
		agent_rec_clear(&ops[0].u.agent);
		return agd_fail(eb, w.rc, "%s", w.err.msg);
	}
	if (nops == 2)
		ops[0].u.agent.exposed = ops[1].u.agent.exposed;
	*out = ops[0].u.agent;
	return 0;
}
