/* libFuzzer target: the route matcher over the real route tables of every dialect. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "http/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct router *rt;
	static struct route_match m;
	if (!rt) {
		agd_errbuf eb;
		rt = router_create();
		api_register_all(rt, &eb);
	}
	char path[ROUTER_MAX_PATH + 64];
	size_t l = size < sizeof(path) - 1 ? size : sizeof(path) - 1;
	memcpy(path, data, l);
	path[l] = '\0';
	static const char *const methods[] = {"GET", "POST", "PATCH", "DELETE", "HEAD"};
	router_match(rt, methods[size % 5], path, &m);
	return 0;
}
