/*
 * agents.h: the rules of agent definitions, shared by every API and the CLI. A definition is
 * validated and normalised into the config JSON that a revision stores and an execution runs.
 * Thread-safe (pure functions over their arguments and the read-only config).
 */
#ifndef AGD_AGENTS_H
#define AGD_AGENTS_H

#include <jansson.h>

#include "util/err.h"

struct config;

/* Fields of a definition that are not part of a revision's config. */
#define AGENT_MAX_NAME 200
#define AGENT_MAX_DESCRIPTION 4000
#define AGENT_MAX_PROMPT (256u << 10)
#define AGENT_MAX_TOOLS 64

/*
 * Validates `def` (an object as sent by a client: name, slug, description, type, model,
 * command, system_prompt, temperature, max_tokens, tools, input_schema, input_template,
 * execution_mode, visibility, limits, template, extras) and returns the normalised config
 * (a new reference, defaults filled in) in *out. Unknown fields are errors unless listed in
 * `also_allowed` (e.g. "exposed", "project_id"). The message names the field and the rule;
 * the returned code is AGD_EINVAL.
 */
int agent_config_build(const struct config *cfg, json_t *def, const char *const *also_allowed,
		       json_t **out, agd_errbuf *eb);

/* A slug from a name: lowercase letters, digits and single '-' (at most 63 characters). */
void agent_slugify(const char *name, char *out, size_t n);
int agent_slug_ok(const char *s);

/* Canonical priority names <-> numbers (LOW 0 ... CRITICAL 3); -1 when unknown. */
int priority_from_name(const char *s);
const char *priority_name(int p);

/*
 * The user message for an input, by the documented rule: the agent's input_template with
 * {{field}} placeholders when it has one; else the input's `message`, `prompt`, `query` or
 * `text` when exactly one of them is present and a string; else the input as JSON.
 * Returns a malloc'd string.
 */
char *agent_render_input(json_t *config, json_t *input);

struct store;
struct workspace_rec;
struct agent_rec;

/*
 * Prepares a new agent (revision 1, deployed) from a definition; `exposed` and `project_id`
 * are read from def too. Checks that agent tools name agents of the workspace. out's heap
 * strings belong to the caller (agent_rec_clear).
 */
int agent_prepare_create(struct store *st, const struct config *cfg,
			 const struct workspace_rec *ws, json_t *def, struct agent_rec *out,
			 agd_errbuf *eb);
/*
 * Prepares the next revision of cur: the fields in patch replace the current ones (null
 * removes an optional field). Sets out->deploy from `deploy`. `exposed` in the patch is
 * returned in *exposed (-1 when absent).
 */
int agent_prepare_revise(struct store *st, const struct config *cfg, const struct agent_rec *cur,
			 json_t *patch, int deploy, struct agent_rec *out, int *exposed,
			 agd_errbuf *eb);
/* Creates or updates (by slug, or by name's slug) synchronously: for start-up and the CLI. */
int agent_apply_sync(struct store *st, const struct config *cfg, const struct workspace_rec *ws,
		     json_t *def, struct agent_rec *out, int *created, agd_errbuf *eb);

#endif
