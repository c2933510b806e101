/*
 * schema.c: the JSON Schema subset used for agent input schemas: checking schemas when agents
 * are saved, validating inputs on every execution. Recursion is bounded by the JSON nesting
 * cap of the request that brought the document.
 */
#include "core/schema.h"

#include <math.h>
#include <stdlib.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#define PATH_MAX_LEN 256

static const char *const known_types[] = {"string", "number", "integer", "boolean",
					  "object", "array", "null", NULL};

static const char *const known_keywords[] = {
	"type", "enum", "const", "required", "properties", "additionalProperties", "items",
	"minItems", "maxItems", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
	"minLength", "maxLength", "pattern", "description", "title", "default", "format",
	"examples", "$schema", "$id", NULL};

static int in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/* Joins base.key into out (PATH_MAX_LEN bytes); a very long path is cut with "...". */
static void path_join(char *out, const char *base, const char *key)
{
	size_t bl = strlen(base), kl = strlen(key);
	if (bl + kl + 2 > PATH_MAX_LEN) {
		memcpy(out, "...", 4);
		if (kl > PATH_MAX_LEN - 8)
			kl = PATH_MAX_LEN - 8;
		out[3] = '.';
		memcpy(out + 4, key, kl);
		out[4 + kl] = '\0';
		return;
	}
	memcpy(out, base, bl);
	out[bl] = '.';
	memcpy(out + bl + 1, key, kl + 1);
}

static int check_type_value(json_t *t, const char *path, agd_errbuf *eb)
{
	if (json_is_string(t)) {
		if (!in_list(json_string_value(t), known_types))
			return agd_fail(eb, AGD_EINVAL, "%s: unknown type '%s' (known: string, "
					"number, integer, boolean, object, array, null)", path,
					json_string_value(t));
		return 0;
	}
	if (json_is_array(t) && json_array_size(t) > 0) {
		size_t i;
		json_t *v;
		json_array_foreach(t, i, v) {
			if (!json_is_string(v) || !in_list(json_string_value(v), known_types))
				return agd_fail(eb, AGD_EINVAL, "%s[%zu]: must be a known type name",
						path, i);
		}
		return 0;
	}
	return agd_fail(eb, AGD_EINVAL, "%s: must be a type name or a list of them", path);
}

int schema_check(json_t *schema, const char *root, agd_errbuf *eb)
{
	char p[PATH_MAX_LEN];
	if (!json_is_object(schema))
		return agd_fail(eb, AGD_EINVAL, "%s: must be a JSON Schema object", root);
	const char *k;
	json_t *v;
	json_object_foreach(schema, k, v) {
		path_join(p, root, k);
		if (!in_list(k, known_keywords))
			return agd_fail(eb, AGD_EINVAL, "%s: unsupported keyword", p);
		int rc = 0;
		if (strcmp(k, "type") == 0) {
			rc = check_type_value(v, p, eb);
		} else if (strcmp(k, "enum") == 0) {
			if (!json_is_array(v) || json_array_size(v) == 0)
				rc = agd_fail(eb, AGD_EINVAL, "%s: must be a non-empty array", p);
		} else if (strcmp(k, "required") == 0) {
			size_t i;
			json_t *x;
			if (!json_is_array(v))
				return agd_fail(eb, AGD_EINVAL, "%s: must be an array of names", p);
			json_array_foreach(v, i, x) {
				if (!json_is_string(x))
					return agd_fail(eb, AGD_EINVAL, "%s[%zu]: must be a string", p,
							i);
			}
		} else if (strcmp(k, "properties") == 0) {
			const char *pk;
			json_t *pv;
			if (!json_is_object(v))
				return agd_fail(eb, AGD_EINVAL, "%s: must be an object", p);
			json_object_foreach(v, pk, pv) {
				char pp[PATH_MAX_LEN];
				path_join(pp, p, pk);
				if ((rc = schema_check(pv, pp, eb)))
					return rc;
			}
		} else if (strcmp(k, "additionalProperties") == 0) {
			if (!json_is_boolean(v))
				rc = schema_check(v, p, eb);
		} else if (strcmp(k, "items") == 0) {
			rc = schema_check(v, p, eb);
		} else if (strcmp(k, "minimum") == 0 || strcmp(k, "maximum") == 0 ||
			   strcmp(k, "exclusiveMinimum") == 0 || strcmp(k, "exclusiveMaximum") == 0) {
			if (!json_is_number(v))
				rc = agd_fail(eb, AGD_EINVAL, "%s: must be a number", p);
		} else if (strcmp(k, "minLength") == 0 || strcmp(k, "maxLength") == 0 ||
			   strcmp(k, "minItems") == 0 || strcmp(k, "maxItems") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 0)
				rc = agd_fail(eb, AGD_EINVAL, "%s: must be a non-negative integer", p);
		} else if (strcmp(k, "pattern") == 0) {
			regex_t re;
			if (!json_is_string(v) ||
			    regcomp(&re, json_string_value(v), REG_EXTENDED | REG_NOSUB) != 0)
				rc = agd_fail(eb, AGD_EINVAL, "%s: must be a valid regular expression",
					      p);
			else
				regfree(&re);
		}
		if (rc)
			return rc;
	}
	return 0;
}

static const char *type_of(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

static int type_matches(const char *t, json_t *v)
{
	if (strcmp(t, "number") == 0)
		return json_is_number(v);
	if (strcmp(t, "integer") == 0)
		return json_is_integer(v) ||
		       (json_is_real(v) && floor(json_real_value(v)) == json_real_value(v));
	return strcmp(t, type_of(v)) == 0;
}

static size_t utf8_len(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

int schema_validate(json_t *schema, json_t *value, const char *path, agd_errbuf *eb)
{
	if (!json_is_object(schema))
		return 0;
	json_t *t = json_object_get(schema, "type");
	if (t) {
		int ok = 0;
		if (json_is_string(t)) {
			ok = type_matches(json_string_value(t), value);
		} else {
			size_t i;
			json_t *x;
			json_array_foreach(t, i, x) ok |= type_matches(json_string_value(x), value);
		}
		if (!ok) {
			char want[128] = "";
			if (json_is_string(t))
				snprintf(want, sizeof(want), "%s", json_string_value(t));
			else
				snprintf(want, sizeof(want), "one of the listed types");
			return agd_fail(eb, AGD_EINVAL, "%s: must be of type %s, not %s", path, want,
					type_of(value));
		}
	}
	json_t *en = json_object_get(schema, "enum");
	if (json_is_array(en)) {
		size_t i;
		json_t *x;
		int found = 0;
		json_array_foreach(en, i, x) found |= json_equal(x, value);
		if (!found) {
			char *list = json_dumps(en, JSON_COMPACT);
			int rc = agd_fail(eb, AGD_EINVAL, "%s: must be one of %s", path,
					  list ? list : "the enum");
			free(list);
			return rc;
		}
	}
	json_t *cn = json_object_get(schema, "const");
	if (cn && !json_equal(cn, value))
		return agd_fail(eb, AGD_EINVAL, "%s: must equal the schema's const value", path);

	if (json_is_number(value)) {
		double d = json_number_value(value);
		json_t *m;
		if ((m = json_object_get(schema, "minimum")) && d < json_number_value(m))
			return agd_fail(eb, AGD_EINVAL, "%s: must be at least %g", path,
					json_number_value(m));
		if ((m = json_object_get(schema, "maximum")) && d > json_number_value(m))
			return agd_fail(eb, AGD_EINVAL, "%s: must be at most %g", path,
					json_number_value(m));
		if ((m = json_object_get(schema, "exclusiveMinimum")) && d <= json_number_value(m))
			return agd_fail(eb, AGD_EINVAL, "%s: must be greater than %g", path,
					json_number_value(m));
		if ((m = json_object_get(schema, "exclusiveMaximum")) && d >= json_number_value(m))
			return agd_fail(eb, AGD_EINVAL, "%s: must be less than %g", path,
					json_number_value(m));
	}
	if (json_is_string(value)) {
		size_t n = utf8_len(json_string_value(value));
		json_t *m;
		if ((m = json_object_get(schema, "minLength")) && (json_int_t)n < json_integer_value(m))
			return agd_fail(eb, AGD_EINVAL, "%s: must be at least %lld characters long",
					path, (long long)json_integer_value(m));
		if ((m = json_object_get(schema, "maxLength")) && (json_int_t)n > json_integer_value(m))
			return agd_fail(eb, AGD_EINVAL, "%s: must be at most %lld characters long",
					path, (long long)json_integer_value(m));
		if ((m = json_object_get(schema, "pattern")) && json_is_string(m)) {
			regex_t re;
			if (regcomp(&re, json_string_value(m), REG_EXTENDED | REG_NOSUB) == 0) {
				int nomatch = regexec(&re, json_string_value(value), 0, NULL, 0);
				regfree(&re);
				if (nomatch)
					return agd_fail(eb, AGD_EINVAL, "%s: must match the pattern %s",
							path, json_string_value(m));
			}
		}
	}
	if (json_is_object(value)) {
		json_t *req = json_object_get(schema, "required");
		size_t i;
		json_t *x;
		json_array_foreach(req, i, x) {
			if (json_is_string(x) && !json_object_get(value, json_string_value(x)))
				return agd_fail(eb, AGD_EINVAL, "%s.%s: is required", path,
						json_string_value(x));
		}
		json_t *props = json_object_get(schema, "properties");
		json_t *addl = json_object_get(schema, "additionalProperties");
		const char *k;
		json_t *v;
		json_object_foreach(value, k, v) {
			char p[PATH_MAX_LEN];
			path_join(p, path, k);
			json_t *ps = json_object_get(props, k);
			int rc = 0;
			if (ps)
				rc = schema_validate(ps, v, p, eb);
			else if (json_is_false(addl))
				rc = agd_fail(eb, AGD_EINVAL, "%s: is not an allowed property", p);
			else if (json_is_object(addl))
				rc = schema_validate(addl, v, p, eb);
			if (rc)
				return rc;
		}
	}
	if (json_is_array(value)) {
		json_t *m;
		size_t n = json_array_size(value);
		if ((m = json_object_get(schema, "minItems")) && (json_int_t)n < json_integer_value(m))
			return agd_fail(eb, AGD_EINVAL, "%s: must have at least %lld items", path,
					(long long)json_integer_value(m));
		if ((m = json_object_get(schema, "maxItems")) && (json_int_t)n > json_integer_value(m))
			return agd_fail(eb, AGD_EINVAL, "%s: must have at most %lld items", path,
					(long long)json_integer_value(m));
		json_t *items = json_object_get(schema, "items");
		if (json_is_object(items)) {
			size_t i;
			json_t *v;
			json_array_foreach(value, i, v) {
				char p[PATH_MAX_LEN];
				snprintf(p, sizeof(p), "%s[%zu]", path, i);
				int rc = schema_validate(items, v, p, eb);
				if (rc)
					return rc;
			}
		}
	}
	return 0;
}
