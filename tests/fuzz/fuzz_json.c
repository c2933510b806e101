/* libFuzzer target: request-body JSON parsing with the nesting cap, and the schema checker
 * and validator on whatever parses. */
#include <stddef.h>
#include <stdint.h>

#include "core/schema.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *v;
	agd_errbuf eb;
	if (json_parse((const char *)data, size, 64, &v, &eb) == 0) {
		if (schema_check(v, "s", &eb) == 0)
			schema_validate(v, v, "input", &eb);
		json_decref(v);
	}
	return 0;
}
