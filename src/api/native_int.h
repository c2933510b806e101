/*
 * native_int.h: handlers of the native API shared between native.c (route table, keys,
 * workspaces) and native_agents.c (agents, executions, events). Internal to src/api/.
 */
#ifndef AGD_NATIVE_INT_H
#define AGD_NATIVE_INT_H

struct req;

void h_agents_create(struct req *r);
void h_agents_list(struct req *r);
void h_agents_get(struct req *r);
void h_agents_patch(struct req *r);
void h_agents_archive(struct req *r);
void h_agents_revisions(struct req *r);
void h_agents_deploy(struct req *r);
void h_executions_create(struct req *r);
void h_executions_get(struct req *r);
void h_executions_list(struct req *r);
void h_executions_cancel(struct req *r);
void h_executions_events(struct req *r);

#endif
