/* libFuzzer target: multipart/form-data splitting and boundary extraction. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct multipart_part parts[MULTIPART_MAX_PARTS];
	size_t n;
	agd_errbuf eb;
	char ct[256], b[80];
	size_t l = size < sizeof(ct) - 1 ? size : sizeof(ct) - 1;
	memcpy(ct, data, l);
	ct[l] = '\0';
	multipart_boundary(ct, b, sizeof(b));
	multipart_parse((const char *)data, size, "B0und", parts, &n, &eb);
	return 0;
}
