/* Unit tests for the SQLite store: migrations, group commit, per-write atomicity, reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/migrations.h"
#include "store/store.h"
#include "util/ids.h"
#include "util/timeutil.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/agentd-unit-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct store *open_store(void)
{
	struct store *st = NULL;
	agd_errbuf eb;
	int rc = store_open(dir, &st, &eb);
	if (rc)
		fail_msg("store_open: %s", eb.msg);
	return st;
}

static int count_rows(const char *sql)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/agentd.db", dir);
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void test_migrations_apply_once(void **state)
{
	(void)state;
	struct store *st = open_store();
	store_close(st);
	assert_int_equal(count_rows("SELECT COUNT(*) FROM schema_migrations"),
			 (int)sqlite_migrations_count);
	st = open_store();   /* reopening applies nothing twice */
	store_close(st);
	assert_int_equal(count_rows("SELECT COUNT(*) FROM schema_migrations"),
			 (int)sqlite_migrations_count);
	assert_int_equal(count_rows("SELECT MAX(version) FROM schema_migrations"),
			 sqlite_migrations[sqlite_migrations_count - 1].version);
	assert_int_equal(count_rows("SELECT COUNT(*) FROM sqlite_master WHERE name='api_keys'"), 1);
	assert_int_equal(count_rows("PRAGMA journal_mode='wal'") >= 0, 1);
}

static void make_ws(struct store_op *op, const char *slug, const char *parent)
{
	memset(op, 0, sizeof(*op));
	op->kind = STORE_OP_WORKSPACE_INSERT;
	id_uuid7(op->u.workspace.id);
	snprintf(op->u.workspace.slug, sizeof(op->u.workspace.slug), "%s", slug);
	snprintf(op->u.workspace.name, sizeof(op->u.workspace.name), "%s", slug);
	snprintf(op->u.workspace.kind, sizeof(op->u.workspace.kind), "org");
	snprintf(op->u.workspace.parent_id, sizeof(op->u.workspace.parent_id), "%s",
		 parent ? parent : "");
	op->u.workspace.created_at = time_now_ms();
}

struct counter {
	pthread_mutex_t mu;
	int done, failed;
};

static void count_done(struct store_write *w)
{
	struct counter *c = w->arg;
	pthread_mutex_lock(&c->mu);
	c->done++;
	if (w->rc)
		c->failed++;
	pthread_mutex_unlock(&c->mu);
}

static void wait_for(struct counter *c, int n)
{
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&c->mu);
		int d = c->done;
		pthread_mutex_unlock(&c->mu);
		if (d >= n)
			return;
		usleep(5000);
	}
	fail_msg("writes did not complete");
}

static void test_group_commit(void **state)
{
	(void)state;
	struct store *st = open_store();
	struct store_stats before, after;
	store_stats(st, &before);
	enum { N = 200 };
	static struct store_op ops[N];
	static struct store_write ws[N];
	struct counter c = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
	store_sqlite_hold(st, 1);
	for (int i = 0; i < N; i++) {
		ops[i].kind = STORE_OP_NOOP_ROW;
		ws[i] = (struct store_write){.ops = &ops[i], .nops = 1, .done = count_done, .arg = &c};
		assert_int_equal(store_submit(st, &ws[i]), 0);
	}
	store_stats(st, &after);
	assert_int_equal(after.queue_depth, N);
	store_sqlite_hold(st, 0);
	wait_for(&c, N);
	store_stats(st, &after);
	assert_int_equal(c.failed, 0);
	assert_int_equal(after.writes - before.writes, N);
	assert_int_equal(after.commits - before.commits, 1);   /* one transaction for all */
	assert_int_equal(after.batch_hist[4] - before.batch_hist[4], 1); /* 65-256 bucket */
	assert_int_equal(after.queue_depth, 0);
	store_close(st);
	assert_int_equal(count_rows("SELECT COUNT(*) FROM bench_writes"), N);
}

static void test_failed_write_does_not_spoil_batch(void **state)
{
	(void)state;
	struct store *st = open_store();
	struct store_op a, dup, b;
	make_ws(&a, "alpha", NULL);
	dup = a;                       /* same id and slug: fails */
	make_ws(&b, "beta", NULL);
	struct store_op pair[2];
	make_ws(&pair[0], "gamma", NULL);
	pair[1] = a;                   /* second op fails: the whole write rolls back */
	struct counter c = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
	struct store_write w[4] = {
		{.ops = &a, .nops = 1, .done = count_done, .arg = &c},
		{.ops = &dup, .nops = 1, .done = count_done, .arg = &c},
		{.ops = &b, .nops = 1, .done = count_done, .arg = &c},
		{.ops = pair, .nops = 2, .done = count_done, .arg = &c},
	};
	store_sqlite_hold(st, 1);
	for (int i = 0; i < 4; i++)
		store_submit(st, &w[i]);
	store_sqlite_hold(st, 0);
	wait_for(&c, 4);
	assert_int_equal(w[0].rc, 0);
	assert_int_equal(w[1].rc, AGD_ECONFLICT);
	assert_non_null(strstr(w[1].err.msg, "UNIQUE"));
	assert_int_equal(w[2].rc, 0);
	assert_int_equal(w[3].rc, AGD_ECONFLICT);
	struct workspace_rec got;
	assert_int_equal(store_workspace_get(st, "alpha", &got), 0);
	assert_int_equal(store_workspace_get(st, "beta", &got), 0);
	assert_int_equal(store_workspace_get(st, "gamma", &got), AGD_ENOTFOUND);
	store_close(st);
}

static void test_keys_roundtrip(void **state)
{
	(void)state;
	struct store *st = open_store();
	struct store_op ws;
	make_ws(&ws, "keys-ws", NULL);
	struct store_write w = {.ops = &ws, .nops = 1};
	assert_int_equal(store_write_sync(st, &w), 0);
	struct store_op k = {.kind = STORE_OP_KEY_INSERT};
	snprintf(k.u.key.id, sizeof(k.u.key.id), "abcd1234");
	snprintf(k.u.key.kind, sizeof(k.u.key.kind), "org");
	snprintf(k.u.key.workspace_id, sizeof(k.u.key.workspace_id), "%s", ws.u.workspace.id);
	snprintf(k.u.key.name, sizeof(k.u.key.name), "ci");
	snprintf(k.u.key.scopes, sizeof(k.u.key.scopes), "agents:read");
	snprintf(k.u.key.secret_sha256, sizeof(k.u.key.secret_sha256), "%064d", 7);
	k.u.key.rate_limit = 5;
	k.u.key.created_at = 1000;
	w = (struct store_write){.ops = &k, .nops = 1};
	assert_int_equal(store_write_sync(st, &w), 0);
	struct key_rec got;
	assert_int_equal(store_key_get(st, "abcd1234", &got), 0);
	assert_string_equal(got.name, "ci");
	assert_int_equal(got.rate_limit, 5);
	assert_int_equal(got.revoked_at, 0);
	assert_string_equal(got.project_id, "");
	/* revoke within another workspace: not found */
	struct store_op rv = {.kind = STORE_OP_KEY_REVOKE};
	rv.u.key = got;
	rv.u.key.revoked_at = 2000;
	snprintf(rv.u.key.workspace_id, sizeof(rv.u.key.workspace_id), "other");
	w = (struct store_write){.ops = &rv, .nops = 1};
	assert_int_equal(store_write_sync(st, &w), AGD_ENOTFOUND);
	rv.u.key = got;
	rv.u.key.revoked_at = 2000;
	w = (struct store_write){.ops = &rv, .nops = 1};
	assert_int_equal(store_write_sync(st, &w), 0);
	assert_int_equal(store_key_get(st, "abcd1234", &got), 0);
	assert_int_equal(got.revoked_at, 2000);
	struct key_touch t = {"abcd1234", 5000};
	struct store_op touch = {.kind = STORE_OP_KEY_TOUCH};
	touch.u.touch.items = &t;
	touch.u.touch.n = 1;
	w = (struct store_write){.ops = &touch, .nops = 1};
	assert_int_equal(store_write_sync(st, &w), 0);
	struct key_rec *list;
	size_t n;
	assert_int_equal(store_key_list(st, ws.u.workspace.id, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].last_used_at, 5000);
	free(list);
	assert_int_equal(store_key_get(st, "nokey000", &got), AGD_ENOTFOUND);
	store_close(st);
}

static void test_workspace_children(void **state)
{
	(void)state;
	struct store *st = open_store();
	struct store_op p, c1, c2, other;
	make_ws(&p, "parent", NULL);
	make_ws(&c1, "child-1", p.u.workspace.id);
	make_ws(&c2, "child-2", p.u.workspace.id);
	make_ws(&other, "unrelated", NULL);
	struct store_op all[4] = {p, c1, c2, other};
	struct store_write w = {.ops = all, .nops = 4};
	assert_int_equal(store_write_sync(st, &w), 0);
	struct workspace_rec *list;
	size_t n;
	assert_int_equal(store_workspace_list(st, p.u.workspace.id, &list, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_string_not_equal(list[i].slug, "unrelated");
	free(list);
	int64_t cnt;
	assert_int_equal(store_workspace_count(st, &cnt), 0);
	assert_true(cnt >= 4);
	assert_int_equal(store_ping(st), 0);
	store_close(st);
}

static void test_idempotency_expiry_and_purge(void **state)
{
	(void)state;
	struct store *st = open_store();
	struct store_op op = {.kind = STORE_OP_IDEM_INSERT};
	struct idem_rec *r = &op.u.idem;
	snprintf(r->workspace_id, sizeof(r->workspace_id), "w");
	snprintf(r->agent_id, sizeof(r->agent_id), "a");
	snprintf(r->key, sizeof(r->key), "k");
	snprintf(r->fingerprint, sizeof(r->fingerprint), "f1");
	snprintf(r->execution_id, sizeof(r->execution_id), "e1");
	r->expires_at = time_now_ms() + 100000;
	struct store_write w = {.ops = &op, .nops = 1};
	assert_int_equal(store_write_sync(st, &w), 0);
	/* taken and live: conflict */
	snprintf(r->execution_id, sizeof(r->execution_id), "e2");
	w = (struct store_write){.ops = &op, .nops = 1};
	assert_int_equal(store_write_sync(st, &w), AGD_ECONFLICT);
	/* an expired record is replaced */
	struct store_op old = op;
	snprintf(old.u.idem.key, sizeof(old.u.idem.key), "k2");
	old.u.idem.expires_at = 1;
	w = (struct store_write){.ops = &old, .nops = 1};
	assert_int_equal(store_write_sync(st, &w), 0);
	snprintf(old.u.idem.execution_id, sizeof(old.u.idem.execution_id), "e3");
	old.u.idem.expires_at = time_now_ms() + 100000;
	w = (struct store_write){.ops = &old, .nops = 1};
	assert_int_equal(store_write_sync(st, &w), 0);
	struct idem_rec got;
	assert_int_equal(store_idem_get(st, "w", "a", "k2", &got), 0);
	assert_string_equal(got.execution_id, "e3");
	/* purge removes what expired */
	struct store_op purge = {.kind = STORE_OP_IDEM_PURGE};
	purge.u.idem.expires_at = time_now_ms() + 200000;
	w = (struct store_write){.ops = &purge, .nops = 1};
	assert_int_equal(store_write_sync(st, &w), 0);
	assert_int_equal(store_idem_get(st, "w", "a", "k", &got), AGD_ENOTFOUND);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrations_apply_once),
		cmocka_unit_test(test_group_commit),
		cmocka_unit_test(test_failed_write_does_not_spoil_batch),
		cmocka_unit_test(test_keys_roundtrip),
		cmocka_unit_test(test_workspace_children),
		cmocka_unit_test(test_idempotency_expiry_and_purge),
	};
	return cmocka_run_group_tests_name("store", tests, setup, teardown);
}
