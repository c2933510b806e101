/* Unit tests for caps: capped buffers, arena cap, JSON depth and error positions, times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "util/arena.h"
#include "util/buf.h"
#include "util/ids.h"
#include "util/json.h"
#include "util/jsonw.h"
#include "util/timeutil.h"

static void test_buf_cap_is_never_truncating(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, "12345", 5), 0);
	assert_int_equal(buf_append(&b, "67890", 5), 0);
	assert_int_equal(buf_append(&b, "x", 1), AGD_ETOOBIG);
	assert_int_equal(b.len, 10);
	assert_string_equal(buf_cstr(&b), "1234567890");
	assert_int_equal(buf_printf(&b, "%d", 1), AGD_ETOOBIG);
	buf_free(&b);
	buf_init(&b, 100);
	assert_int_equal(buf_json_str(&b, "a\"b\\c\n\x01"), 0);
	assert_string_equal(buf_cstr(&b), "\"a\\\"b\\\\c\\n\\u0001\"");
	buf_free(&b);
}

static void test_arena_cap(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 1000);
	assert_non_null(arena_alloc(&a, 500));
	assert_null(arena_alloc(&a, 600));
	char *s = arena_printf(&a, "%s-%d", "x", 42);
	assert_string_equal(s, "x-42");
	arena_free(&a);
}

static void test_json_depth(void **state)
{
	(void)state;
	int line = 0, col = 0;
	const char *ok = "[[[\"[[[[[[\"]]]";
	assert_int_equal(json_depth_check(ok, strlen(ok), 3, &line, &col), 0);
	const char *deep = "{\"a\":\n [[[1]]]}";
	assert_int_equal(json_depth_check(deep, strlen(deep), 3, &line, &col), AGD_ETOOBIG);
	assert_int_equal(line, 2);
	assert_int_equal(col, 4);
	json_t *v;
	agd_errbuf eb;
	assert_int_equal(json_parse(deep, strlen(deep), 3, &v, &eb), AGD_EINVAL);
	assert_non_null(strstr(eb.msg, "line 2, column 4"));
}

static void test_json_error_position(void **state)
{
	(void)state;
	json_t *v;
	agd_errbuf eb;
	const char *bad = "{\n  \"a\": 1,\n  \"b\": tru\n}";
	assert_int_equal(json_parse(bad, strlen(bad), 64, &v, &eb), AGD_EINVAL);
	assert_non_null(strstr(eb.msg, "line 3"));
	assert_non_null(strstr(eb.msg, "column"));
	assert_int_equal(json_parse("", 0, 64, &v, &eb), AGD_EINVAL);
	assert_int_equal(json_parse("{\"a\":1,\"a\":2}", 13, 64, &v, &eb), AGD_EINVAL);
	assert_int_equal(json_parse("{\"a\":[1,2]}", 11, 64, &v, &eb), 0);
	json_decref(v);
}

static void test_rfc3339(void **state)
{
	(void)state;
	int64_t ms;
	assert_int_equal(time_parse_rfc3339("2026-03-10T14:30:00Z", &ms), 0);
	assert_int_equal(ms, 1773153000000LL);
	assert_int_equal(time_parse_rfc3339("2026-03-10T16:30:00.5+02:00", &ms), 0);
	assert_int_equal(ms, 1773153000500LL);
	char out[40];
	time_format_rfc3339(1773153000500LL, out, sizeof(out));
	assert_string_equal(out, "2026-03-10T14:30:00.500Z");
	assert_int_equal(time_parse_rfc3339("2026-02-30T00:00:00Z", &ms), AGD_EINVAL);
	assert_int_equal(time_parse_rfc3339("2026-03-10", &ms), AGD_EINVAL);
	assert_int_equal(time_parse_rfc3339("2026-03-10T14:30:00", &ms), AGD_EINVAL);
	assert_int_equal(time_parse_rfc3339("2024-02-29T00:00:00Z", &ms), 0);
}

static void test_uuid7(void **state)
{
	(void)state;
	char a[UUID_STR_LEN + 1], b[UUID_STR_LEN + 1];
	id_uuid7(a);
	id_uuid7(b);
	assert_true(id_is_uuid(a));
	assert_int_equal(a[14], '7');
	assert_true(strcmp(a, b) < 0);  /* time-ordered within a thread */
	assert_false(id_is_uuid("not-a-uuid"));
}

static void test_json_writer(void **state)
{
	(void)state;
	struct buf b;
	struct jsonw w;
	buf_init(&b, 1000);
	jw_init(&w, &b);
	jw_obj_open(&w, NULL);
	jw_str(&w, "s", "a\"b");
	jw_int(&w, "n", -9223372036854775807LL - 1);
	jw_arr_open(&w, "a");
	jw_int(&w, NULL, 0);
	jw_bool(&w, NULL, 1);
	jw_null(&w, NULL);
	jw_time(&w, NULL, 1773153000500LL);
	jw_str_or_null(&w, NULL, "");
	jw_arr_close(&w);
	jw_obj_open(&w, "o");
	jw_obj_close(&w);
	jw_obj_close(&w);
	assert_int_equal(jw_finish(&w), 0);
	assert_string_equal(buf_cstr(&b), "{\"s\":\"a\\\"b\",\"n\":-9223372036854775808,"
			    "\"a\":[0,true,null,\"2026-03-10T14:30:00.500Z\",null],\"o\":{}}");
	json_t *v;
	agd_errbuf eb;
	assert_int_equal(json_parse(b.data, b.len, 10, &v, &eb), 0);
	json_decref(v);
	buf_free(&b);
	/* a cap hit is sticky and reported */
	buf_init(&b, 8);
	jw_init(&w, &b);
	jw_obj_open(&w, NULL);
	jw_str(&w, "long", "value that does not fit");
	jw_obj_close(&w);
	assert_int_equal(jw_finish(&w), AGD_ETOOBIG);
	buf_free(&b);
	/* unbalanced nesting is an error */
	buf_init(&b, 100);
	jw_init(&w, &b);
	jw_obj_open(&w, NULL);
	assert_int_equal(jw_finish(&w), AGD_EINVAL);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_cap_is_never_truncating),
		cmocka_unit_test(test_arena_cap),
		cmocka_unit_test(test_json_depth),
		cmocka_unit_test(test_json_error_position),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_uuid7),
		cmocka_unit_test(test_json_writer),
	};
	return cmocka_run_group_tests_name("caps", tests, NULL, NULL);
}
