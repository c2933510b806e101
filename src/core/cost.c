/*
 * cost.c: the shipped price table and lookups.
 */
#include "core/cost.h"
#include "core/config.h"

#include <string.h>

static const struct {
	const char *model;
	double input, output;
} shipped[] = {
	{"gpt-4o", 2.50, 10.00},
	{"gpt-4o-mini", 0.15, 0.60},
	{"gpt-4.1", 2.00, 8.00},
	{"gpt-4.1-mini", 0.40, 1.60},
	{"gpt-4.1-nano", 0.10, 0.40},
	{"o3-mini", 1.10, 4.40},
	{"claude-3-5-haiku-latest", 0.80, 4.00},
	{"claude-3-5-sonnet-latest", 3.00, 15.00},
	{"claude-3-7-sonnet-latest", 3.00, 15.00},
	{"claude-sonnet-4-0", 3.00, 15.00},
	{"claude-opus-4-0", 15.00, 75.00},
};

void cost_compute(const struct config *cfg, const char *model, int64_t tin, int64_t tout,
		  double *cin, double *cout)
{
	double pin = 0, pout = 0;
	int found = 0;
	for (int i = 0; i < cfg->n_prices && !found; i++) {
		if (strcmp(cfg->prices[i].model, model) == 0) {
			pin = cfg->prices[i].input;
			pout = cfg->prices[i].output;
			found = 1;
		}
	}
	const char *slash = strchr(model, '/');
	const char *name = slash ? slash + 1 : model;
	for (size_t i = 0; !found && i < sizeof(shipped) / sizeof(shipped[0]); i++) {
		if (strcmp(shipped[i].model, name) == 0) {
			pin = shipped[i].input;
			pout = shipped[i].output;
			found = 1;
		}
	}
	*cin = (double)tin * pin / 1e6;
	*cout = (double)tout * pout / 1e6;
}
