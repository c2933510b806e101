/*
 * api.h: the dialects agentd serves. Each is one route table plus its JSON mapping; the
 * server registers every dialect listed in api_dialects.
 */
#ifndef AGD_API_H
#define AGD_API_H

#include "http/router.h"

extern const struct dialect native_dialect;
extern const struct dialect ops_dialect;
extern const struct dialect fabric_dialect;

/* Registers every dialect with the router. */
int api_register_all(struct router *rt, agd_errbuf *eb);

#endif
