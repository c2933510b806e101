/*
 * api.c: the list of dialects mounted by the server. Main thread, start-up only.
 */
#include "api/api.h"

static const struct dialect *const dialects[] = {
	&ops_dialect,
	&native_dialect,
	&fabric_dialect,
};

int api_register_all(struct router *rt, agd_errbuf *eb)
{
	for (size_t i = 0; i < sizeof(dialects) / sizeof(dialects[0]); i++) {
		int rc = router_add_dialect(rt, dialects[i], eb);
		if (rc)
			return rc;
	}
	return 0;
}
