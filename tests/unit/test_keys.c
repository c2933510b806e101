/* Unit tests for API key format, hashing, constant-time comparison and scopes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/keys.h"
#include "core/scopes.h"
#include "util/crypto.h"

static void test_generate_and_parse(void **state)
{
	(void)state;
	char full[KEY_STR_LEN + 1], id[KEY_ID_LEN + 1], pid[KEY_ID_LEN + 1];
	const char *kind;
	assert_int_equal(key_generate("personal", full, id), 0);
	assert_int_equal(strlen(full), KEY_STR_LEN);
	assert_memory_equal(full, "fab_", 4);
	assert_int_equal(full[12], '_');
	assert_int_equal(key_parse(full, &kind, pid), 0);
	assert_string_equal(kind, "personal");
	assert_string_equal(pid, id);
	assert_int_equal(key_generate("org", full, id), 0);
	assert_memory_equal(full, "org_", 4);
	assert_int_equal(key_parse(full, &kind, pid), 0);
	assert_string_equal(kind, "org");
}

static void test_parse_rejects_malformed(void **state)
{
	(void)state;
	const char *kind;
	char id[KEY_ID_LEN + 1];
	const char *bad[] = {
		"",
		"fab_",
		"xyz_abcdefgh_abcdefghijklmnopqrstuvwxyz012345",
		"fab_abcdefgh-abcdefghijklmnopqrstuvwxyz012345",
		"fab_ABCDEFGH_abcdefghijklmnopqrstuvwxyz012345",
		"fab_abcdefgh_abcdefghijklmnopqrstuvwxyz01234",
		"fab_abcdefgh_abcdefghijklmnopqrstuvwxyz0123456",
		"fab_abcdefgh_abcdefghijklmnopqrstuvwxyz01234!",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(key_parse(bad[i], &kind, id), AGD_EINVAL);
	assert_int_equal(key_parse("fab_abcdefgh_abcdefghijklmnopqrstuvwxyz012345", &kind, id), 0);
	assert_string_equal(id, "abcdefgh");
}

static void test_keys_are_random(void **state)
{
	(void)state;
	char a[KEY_STR_LEN + 1], b[KEY_STR_LEN + 1], ia[9], ib[9];
	key_generate("org", a, ia);
	key_generate("org", b, ib);
	assert_string_not_equal(a, b);
	assert_string_not_equal(ia, ib);
}

static void test_hash_and_verify(void **state)
{
	(void)state;
	char h[SHA256_HEX_LEN + 1];
	crypto_sha256_hex("abc", 3, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	struct key_rec k;
	memset(&k, 0, sizeof(k));
	char full[KEY_STR_LEN + 1], id[9];
	key_generate("org", full, id);
	crypto_sha256_hex(full, strlen(full), k.secret_sha256);
	assert_true(key_verify(&k, full));
	full[KEY_STR_LEN - 1] = full[KEY_STR_LEN - 1] == 'a' ? 'b' : 'a';
	assert_false(key_verify(&k, full));
	k.secret_sha256[0] = '\0';
	assert_false(key_verify(&k, full));
}

static void test_constant_time_equal(void **state)
{
	(void)state;
	assert_true(crypto_equal("abcdef", "abcdef", 6));
	assert_false(crypto_equal("abcdef", "abcdeg", 6));
	assert_false(crypto_equal("xbcdef", "abcdef", 6));
	assert_true(crypto_equal("x", "y", 0));
}

static void test_scopes(void **state)
{
	(void)state;
	uint32_t m = 0;
	agd_errbuf eb;
	assert_int_equal(scopes_parse_csv("agents:read, agents:execute", &m, &eb), 0);
	assert_int_equal(m, SCOPE_AGENTS_READ | SCOPE_AGENTS_EXECUTE);
	char out[256];
	assert_int_equal(scopes_format(m, out, sizeof(out)), 0);
	assert_string_equal(out, "agents:read,agents:execute");
	assert_int_equal(scopes_parse_csv("agents:read,bogus", &m, &eb), AGD_EINVAL);
	assert_non_null(strstr(eb.msg, "bogus"));
	assert_true(scopes_allow(SCOPE_AGENTS_READ | SCOPE_AGENTS_STREAM, SCOPE_AGENTS_READ));
	assert_false(scopes_allow(SCOPE_AGENTS_READ, SCOPE_AGENTS_EXECUTE));
	assert_true(scopes_allow(SCOPE_ADMIN, SCOPE_AGENTS_EXECUTE | SCOPE_TRIGGERS_WRITE));
	assert_string_equal(scopes_first_missing(SCOPE_AGENTS_READ, SCOPE_ADMIN), "admin");
	assert_int_equal(scopes_format(m, out, 5), AGD_ETOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_and_parse),
		cmocka_unit_test(test_parse_rejects_malformed),
		cmocka_unit_test(test_keys_are_random),
		cmocka_unit_test(test_hash_and_verify),
		cmocka_unit_test(test_constant_time_equal),
		cmocka_unit_test(test_scopes),
	};
	return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
