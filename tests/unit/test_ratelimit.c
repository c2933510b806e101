/* Unit tests for the token bucket: burst, refill, Retry-After and reset arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/ratelimit.h"

#define SEC 1000000LL

static void test_burst_then_refuse(void **state)
{
	(void)state;
	struct token_bucket b = {0};
	struct rl_result r;
	for (int i = 0; i < 60; i++) {
		token_bucket_take(&b, 60, 1000 * SEC, &r);
		assert_true(r.allowed);
		assert_int_equal(r.limit, 60);
		assert_int_equal(r.remaining, 59 - i);
	}
	token_bucket_take(&b, 60, 1000 * SEC, &r);
	assert_false(r.allowed);
	assert_int_equal(r.remaining, 0);
	assert_int_equal(r.retry_after, 1);   /* 60/min refills one token per second */
	assert_int_equal(r.reset_s, 60);
}

static void test_refill_over_time(void **state)
{
	(void)state;
	struct token_bucket b = {0};
	struct rl_result r;
	for (int i = 0; i < 6; i++)
		token_bucket_take(&b, 6, 0, &r);   /* 6/min: one token per 10 s */
	token_bucket_take(&b, 6, 0, &r);
	assert_false(r.allowed);
	assert_int_equal(r.retry_after, 10);
	token_bucket_take(&b, 6, 5 * SEC, &r);
	assert_false(r.allowed);
	assert_int_equal(r.retry_after, 5);
	token_bucket_take(&b, 6, 10 * SEC, &r);
	assert_true(r.allowed);
	assert_int_equal(r.remaining, 0);
	/* a long pause refills to capacity, never above */
	token_bucket_take(&b, 6, 3600 * SEC, &r);
	assert_true(r.allowed);
	assert_int_equal(r.remaining, 5);
}

static void test_limit_change_resets(void **state)
{
	(void)state;
	struct token_bucket b = {0};
	struct rl_result r;
	token_bucket_take(&b, 2, 0, &r);
	token_bucket_take(&b, 2, 0, &r);
	token_bucket_take(&b, 2, 0, &r);
	assert_false(r.allowed);
	token_bucket_take(&b, 100, 0, &r);
	assert_true(r.allowed);
	assert_int_equal(r.remaining, 99);
}

static void test_table_keeps_keys_apart(void **state)
{
	(void)state;
	struct ratelimit *rl = ratelimit_create();
	struct rl_result r;
	ratelimit_take(rl, "aaaaaaaa", 1, 0, &r);
	assert_true(r.allowed);
	ratelimit_take(rl, "aaaaaaaa", 1, 0, &r);
	assert_false(r.allowed);
	ratelimit_take(rl, "bbbbbbbb", 1, 0, &r);
	assert_true(r.allowed);
	ratelimit_destroy(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_refuse),
		cmocka_unit_test(test_refill_over_time),
		cmocka_unit_test(test_limit_change_resets),
		cmocka_unit_test(test_table_keeps_keys_apart),
	};
	return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
