/*
 * schema.h: a JSON Schema subset for agents' input schemas. Supported keywords: type (one or a
 * list), enum, const, required, properties, additionalProperties (bool or schema), items,
 * minItems, maxItems, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength,
 * maxLength (in characters), pattern (POSIX extended regex), description, title, default,
 * format (accepted, not enforced). Thread-safe (no state).
 */
#ifndef AGD_SCHEMA_H
#define AGD_SCHEMA_H

#include <jansson.h>

#include "util/err.h"

/* Checks that schema is a usable schema of the subset; the message names the path
 * ("input_schema.properties.age.minimum: must be a number"). */
int schema_check(json_t *schema, const char *root, agd_errbuf *eb);

/* Validates value against schema; the message names the path of the first violation
 * ("input.customer.age: must be at least 18"). */
int schema_validate(json_t *schema, json_t *value, const char *root, agd_errbuf *eb);

#endif
