/*
 * metrics.c: Prometheus counters and their text rendering. Observed on http threads,
 * rendered on the thread serving /metrics.
 */
#include "http/metrics.h"
#include "http/router.h"
#include "store/store.h"
#include "core/app.h"
#include "engine/engine.h"
#include "engine/hub.h"
#include "util/buf.h"

#include <stdatomic.h>
#include <stdlib.h>

static const int tracked_status[] = {200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 413,
				     414, 415, 422, 429, 431, 500, 502, 503, 504};
#define NSTATUS (sizeof(tracked_status) / sizeof(tracked_status[0]) + 1) /* + "other" */

static const double latency_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
					0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NLAT (sizeof(latency_bounds) / sizeof(latency_bounds[0]))

struct metrics {
	const struct router *rt;
	size_t nroutes;                  /* + 1 slot for unmatched */
	_Atomic uint64_t *requests;      /* [(nroutes + 1) * NSTATUS] */
	_Atomic uint64_t other_status[1];
	_Atomic uint64_t lat_buckets[NLAT + 1];
	_Atomic uint64_t lat_count;
	_Atomic uint64_t lat_sum_us;
	_Atomic int64_t inflight;
};

struct metrics *metrics_create(const struct router *rt)
{
	struct metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->rt = rt;
	m->nroutes = router_count(rt);
	m->requests = calloc((m->nroutes + 1) * NSTATUS, sizeof(*m->requests));
	if (!m->requests) {
		free(m);
		return NULL;
	}
	return m;
}

void metrics_destroy(struct metrics *m)
{
	if (m) {
		free(m->requests);
		free(m);
	}
}

static size_t status_slot(int status)
{
	for (size_t i = 0; i < NSTATUS - 1; i++)
		if (tracked_status[i] == status)
			return i;
	return NSTATUS - 1;
}

void metrics_observe(struct metrics *m, size_t route_index, int status, int64_t dur_us)
{
	if (route_index > m->nroutes)
		route_index = m->nroutes;
	atomic_fetch_add_explicit(&m->requests[route_index * NSTATUS + status_slot(status)], 1,
				  memory_order_relaxed);
	double secs = (double)dur_us / 1e6;
	size_t b = 0;
	while (b < NLAT && secs > latency_bounds[b])
		b++;
	atomic_fetch_add_explicit(&m->lat_buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->lat_count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->lat_sum_us, (uint64_t)(dur_us > 0 ? dur_us : 0),
				  memory_order_relaxed);
}

void metrics_inflight(struct metrics *m, int delta)
{
	atomic_fetch_add_explicit(&m->inflight, delta, memory_order_relaxed);
}

void metrics_render_engine(struct app *app, struct buf *out)
{
	struct engine_stats es;
	engine_stats(app->engine, &es);
	buf_printf(out, "# HELP agentd_executions_queued Executions waiting for a worker.\n"
			"# TYPE agentd_executions_queued gauge\n"
			"agentd_executions_queued %llu\n"
			"# HELP agentd_executions_running Executions in flight.\n"
			"# TYPE agentd_executions_running gauge\n"
			"agentd_executions_running %llu\n"
			"# HELP agentd_executions_finished_total Executions that ended, by status.\n"
			"# TYPE agentd_executions_finished_total counter\n"
			"agentd_executions_finished_total{status=\"completed\"} %llu\n"
			"agentd_executions_finished_total{status=\"failed\"} %llu\n"
			"agentd_executions_finished_total{status=\"cancelled\"} %llu\n"
			"# HELP agentd_stream_subscribers Open event streams and waiters.\n"
			"# TYPE agentd_stream_subscribers gauge\n"
			"agentd_stream_subscribers %zu\n",
		   (unsigned long long)es.queued, (unsigned long long)es.running,
		   (unsigned long long)es.completed, (unsigned long long)es.failed,
		   (unsigned long long)es.cancelled, hub_count(app->hub));
}

void metrics_render(struct metrics *m, struct store *st, struct buf *out)
{
	buf_puts(out, "# HELP agentd_http_requests_total HTTP requests by route and status.\n"
		      "# TYPE agentd_http_requests_total counter\n");
	for (size_t r = 0; r <= m->nroutes; r++) {
		for (size_t s = 0; s < NSTATUS; s++) {
			uint64_t v = atomic_load(&m->requests[r * NSTATUS + s]);
			if (!v)
				continue;
			buf_puts(out, "agentd_http_requests_total{route=");
			buf_json_str(out, router_route_label(m->rt, r));
			if (s < NSTATUS - 1)
				buf_printf(out, ",status=\"%d\"} %llu\n", tracked_status[s],
					   (unsigned long long)v);
			else
				buf_printf(out, ",status=\"other\"} %llu\n", (unsigned long long)v);
		}
	}
	buf_puts(out, "# HELP agentd_http_request_duration_seconds Time from the first byte of "
		      "a request to its completion.\n"
		      "# TYPE agentd_http_request_duration_seconds histogram\n");
	uint64_t cum = 0;
	for (size_t b = 0; b <= NLAT; b++) {
		cum += atomic_load(&m->lat_buckets[b]);
		if (b < NLAT)
			buf_printf(out, "agentd_http_request_duration_seconds_bucket{le=\"%g\"} "
				   "%llu\n", latency_bounds[b], (unsigned long long)cum);
		else
			buf_printf(out, "agentd_http_request_duration_seconds_bucket{le=\"+Inf\"} "
				   "%llu\n", (unsigned long long)cum);
	}
	buf_printf(out, "agentd_http_request_duration_seconds_sum %.6f\n",
		   (double)atomic_load(&m->lat_sum_us) / 1e6);
	buf_printf(out, "agentd_http_request_duration_seconds_count %llu\n",
		   (unsigned long long)atomic_load(&m->lat_count));
	buf_printf(out, "# HELP agentd_http_requests_in_flight Requests being served now.\n"
			"# TYPE agentd_http_requests_in_flight gauge\n"
			"agentd_http_requests_in_flight %lld\n",
		   (long long)atomic_load(&m->inflight));
	struct store_stats ss;
	store_stats(st, &ss);
	buf_printf(out, "# HELP agentd_store_queue_depth Writes waiting for the store writer.\n"
			"# TYPE agentd_store_queue_depth gauge\n"
			"agentd_store_queue_depth %llu\n",
		   (unsigned long long)ss.queue_depth);
	buf_printf(out, "# HELP agentd_store_writes_total Writes processed by the store writer.\n"
			"# TYPE agentd_store_writes_total counter\n"
			"agentd_store_writes_total %llu\n",
		   (unsigned long long)ss.writes);
	buf_puts(out, "# HELP agentd_store_commit_batch_size Writes per committed transaction "
		      "(group commit).\n"
		      "# TYPE agentd_store_commit_batch_size histogram\n");
	cum = 0;
	for (int b = 0; b < 8; b++) {
		cum += ss.batch_hist[b];
		buf_printf(out, "agentd_store_commit_batch_size_bucket{le=\"%s\"} %llu\n",
			   store_batch_bucket_names[b], (unsigned long long)cum);
	}
	buf_printf(out, "agentd_store_commit_batch_size_sum %llu\n",
		   (unsigned long long)ss.writes);
	buf_printf(out, "agentd_store_commit_batch_size_count %llu\n",
		   (unsigned long long)ss.commits);
}
