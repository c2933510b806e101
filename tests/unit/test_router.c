/* Unit tests for http/router.c: patterns, suffix parameters, precedence, 404/405/414. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "http/router.h"

static void h_a(struct req *r) { (void)r; }
static void h_b(struct req *r) { (void)r; }
static void h_c(struct req *r) { (void)r; }
static void h_d(struct req *r) { (void)r; }
static void h_e(struct req *r) { (void)r; }
static void h_f(struct req *r) { (void)r; }

static const struct route fruxon_routes[] = {
	{"POST", "/agents/{agent}:execute", h_a, 0, 1024, 0},
	{"GET", "/agents/{agent}", h_b, 0, 0, 0},
	{"GET", "/agents/special", h_c, 0, 0, 0},
	{"DELETE", "/agents/{agent}", h_d, 0, 0, 0},
	{"GET", "/agents/{agent}/runs/{run}", h_e, 0, 0, 0},
	{"GET", "/files/v{version}.json", h_f, 0, 0, 0},
};
static const struct dialect fruxon = {"fruxon", "/v1/tenants/{tenant}", fruxon_routes, 6, NULL};

static const struct route native_routes[] = {
	{"GET", "/me", h_a, 0, 0, 0},
	{"POST", "/keys", h_b, 0, 0, 0},
};
static const struct dialect native = {"native", "/agentd/v1", native_routes, 2, NULL};

static const struct route root_routes[] = {
	{"GET", "/healthz", h_c, 0, 0, 0},
};
static const struct dialect root = {"ops", "", root_routes, 1, NULL};

static struct router *rt;
static struct route_match m;

static int setup(void **state)
{
	(void)state;
	agd_errbuf eb;
	rt = router_create();
	assert_int_equal(router_add_dialect(rt, &root, &eb), 0);
	assert_int_equal(router_add_dialect(rt, &native, &eb), 0);
	assert_int_equal(router_add_dialect(rt, &fruxon, &eb), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	router_destroy(rt);
	return 0;
}

static void test_literal_routes(void **state)
{
	(void)state;
	assert_int_equal(router_match(rt, "GET", "/agentd/v1/me", &m), ROUTER_FOUND);
	assert_ptr_equal(m.route->handler, h_a);
	assert_string_equal(m.dialect->name, "native");
	assert_int_equal(m.nparams, 0);
	assert_int_equal(router_match(rt, "GET", "/healthz", &m), ROUTER_FOUND);
	assert_ptr_equal(m.route->handler, h_c);
}

static void test_suffix_parameter(void **state)
{
	(void)state;
	assert_int_equal(router_match(rt, "POST", "/v1/tenants/acme/agents/bot-1:execute", &m),
			 ROUTER_FOUND);
	assert_ptr_equal(m.route->handler, h_a);
	assert_int_equal(m.nparams, 2);
	assert_string_equal(m.param_names[0], "tenant");
	assert_string_equal(m.param_values[0], "acme");
	assert_string_equal(m.param_names[1], "agent");
	assert_string_equal(m.param_values[1], "bot-1");
	/* the parameter before the suffix must not be empty */
	assert_int_equal(router_match(rt, "POST", "/v1/tenants/acme/agents/:execute", &m),
			 ROUTER_METHOD_NOT_ALLOWED);
}

static void test_prefix_and_suffix(void **state)
{
	(void)state;
	assert_int_equal(router_match(rt, "GET", "/v1/tenants/t/files/v12.json", &m),
			 ROUTER_FOUND);
	assert_string_equal(m.param_values[1], "12");
	assert_int_equal(router_match(rt, "GET", "/v1/tenants/t/files/x12.json", &m),
			 ROUTER_NOT_FOUND);
}

static void test_literal_beats_parameter(void **state)
{
	(void)state;
	assert_int_equal(router_match(rt, "GET", "/v1/tenants/t/agents/special", &m),
			 ROUTER_FOUND);
	assert_ptr_equal(m.route->handler, h_c);
	assert_int_equal(router_match(rt, "GET", "/v1/tenants/t/agents/other", &m), ROUTER_FOUND);
	assert_ptr_equal(m.route->handler, h_b);
	assert_string_equal(m.param_values[1], "other");
}

static void test_multiple_params(void **state)
{
	(void)state;
	assert_int_equal(router_match(rt, "GET", "/v1/tenants/t1/agents/a1/runs/r1", &m),
			 ROUTER_FOUND);
	assert_int_equal(m.nparams, 3);
	assert_string_equal(m.param_values[0], "t1");
	assert_string_equal(m.param_values[1], "a1");
	assert_string_equal(m.param_values[2], "r1");
}

static void test_405_lists_allowed_methods(void **state)
{
	(void)state;
	assert_int_equal(router_match(rt, "PUT", "/v1/tenants/t/agents/x", &m),
			 ROUTER_METHOD_NOT_ALLOWED);
	assert_string_equal(m.allow, "GET, DELETE");
	assert_int_equal(router_match(rt, "GET", "/agentd/v1/keys", &m),
			 ROUTER_METHOD_NOT_ALLOWED);
	assert_string_equal(m.allow, "POST");
	assert_string_equal(m.dialect->name, "native");
}

static void test_404_and_dialect_for_errors(void **state)
{
	(void)state;
	assert_int_equal(router_match(rt, "GET", "/agentd/v1/nope", &m), ROUTER_NOT_FOUND);
	assert_string_equal(m.dialect->name, "native");
	assert_int_equal(router_match(rt, "GET", "/v1/tenants/x/nope", &m), ROUTER_NOT_FOUND);
	assert_string_equal(m.dialect->name, "fruxon");
	assert_int_equal(router_match(rt, "GET", "/elsewhere", &m), ROUTER_NOT_FOUND);
	assert_string_equal(m.dialect->name, "ops");
	assert_int_equal(router_match(rt, "GET", "", &m), ROUTER_NOT_FOUND);
	assert_int_equal(router_match(rt, "GET", "/agentd//v1/me", &m), ROUTER_NOT_FOUND);
}

static void test_head_and_trailing_slash(void **state)
{
	(void)state;
	assert_int_equal(router_match(rt, "HEAD", "/healthz", &m), ROUTER_FOUND);
	assert_int_equal(router_match(rt, "GET", "/agentd/v1/me/", &m), ROUTER_FOUND);
}

static void test_too_long(void **state)
{
	(void)state;
	char path[ROUTER_MAX_PATH + 10];
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(router_match(rt, "GET", path, &m), ROUTER_URI_TOO_LONG);
}

static void test_bad_patterns_rejected(void **state)
{
	(void)state;
	static const struct route bad1[] = {{"GET", "/a/{x", h_a, 0, 0, 0}};
	static const struct route bad2[] = {{"GET", "/a//b", h_a, 0, 0, 0}};
	static const struct route bad3[] = {{"GET", "/a/{}", h_a, 0, 0, 0}};
	const struct dialect d1 = {"x", "", bad1, 1, NULL}, d2 = {"x", "", bad2, 1, NULL},
			     d3 = {"x", "", bad3, 1, NULL};
	struct router *r2 = router_create();
	agd_errbuf eb;
	assert_int_not_equal(router_add_dialect(r2, &d1, &eb), 0);
	assert_int_not_equal(router_add_dialect(r2, &d2, &eb), 0);
	assert_int_not_equal(router_add_dialect(r2, &d3, &eb), 0);
	router_destroy(r2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal_routes),
		cmocka_unit_test(test_suffix_parameter),
		cmocka_unit_test(test_prefix_and_suffix),
		cmocka_unit_test(test_literal_beats_parameter),
		cmocka_unit_test(test_multiple_params),
		cmocka_unit_test(test_405_lists_allowed_methods),
		cmocka_unit_test(test_404_and_dialect_for_errors),
		cmocka_unit_test(test_head_and_trailing_slash),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_bad_patterns_rejected),
	};
	return cmocka_run_group_tests_name("router", tests, setup, teardown);
}
