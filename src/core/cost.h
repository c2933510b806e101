/*
 * cost.h: the price table (US dollars per million tokens, input and output) and cost
 * arithmetic. Shipped defaults for common models; the config's `prices` override and extend
 * them. An unknown model costs 0. Thread-safe (read-only data).
 */
#ifndef AGD_COST_H
#define AGD_COST_H

#include <stdint.h>

struct config;

/* model is "provider/model"; a configured price for it wins, then a shipped one (matched on
 * the model name, any provider), else 0. */
void cost_compute(const struct config *cfg, const char *model, int64_t tokens_in,
		  int64_t tokens_out, double *cost_in, double *cost_out);

#endif
