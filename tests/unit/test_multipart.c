/* Unit tests for multipart/form-data parsing and image sniffing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/files.h"
#include "util/multipart.h"

static void test_boundary(void **state)
{
	(void)state;
	char b[80];
	assert_int_equal(multipart_boundary("multipart/form-data; boundary=abc123", b, sizeof(b)), 0);
	assert_string_equal(b, "abc123");
	assert_int_equal(multipart_boundary("multipart/form-data; boundary=\"q u\"; x=1", b,
					    sizeof(b)), 0);
	assert_string_equal(b, "q u");
	assert_int_equal(multipart_boundary("application/json", b, sizeof(b)), AGD_EINVAL);
	assert_int_equal(multipart_boundary("multipart/form-data", b, sizeof(b)), AGD_EINVAL);
	assert_int_equal(multipart_boundary(NULL, b, sizeof(b)), AGD_EINVAL);
}

static void test_parts(void **state)
{
	(void)state;
	const char body[] = "--XyZ\r\n"
			    "Content-Disposition: form-data; name=\"note\"\r\n\r\n"
			    "hello\r\n"
			    "--XyZ\r\n"
			    "Content-Disposition: form-data; name=\"file\"; filename=\"a b.png\"\r\n"
			    "Content-Type: image/png\r\n\r\n"
			    "\x89PNG\r\n--not-a-boundary\r\n\x00\x01"
			    "\r\n--XyZ--\r\n";
	struct multipart_part parts[MULTIPART_MAX_PARTS];
	size_t n;
	agd_errbuf eb;
	assert_int_equal(multipart_parse(body, sizeof(body) - 1, "XyZ", parts, &n, &eb), 0);
	assert_int_equal(n, 2);
	assert_string_equal(parts[0].name, "note");
	assert_int_equal(parts[0].len, 5);
	assert_memory_equal(parts[0].data, "hello", 5);
	assert_string_equal(parts[1].name, "file");
	assert_string_equal(parts[1].filename, "a b.png");
	assert_string_equal(parts[1].content_type, "image/png");
	assert_int_equal(parts[1].len, 26);
	assert_memory_equal(parts[1].data, "\x89PNG", 4);
}

static void test_malformed(void **state)
{
	(void)state;
	struct multipart_part parts[MULTIPART_MAX_PARTS];
	size_t n;
	agd_errbuf eb;
	const char *bad[] = {
		"no boundary here",
		"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
		"--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--",
		"--B\r\nContent-Disposition: form-data; name=\"a\"",
		"--Bjunk",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(multipart_parse(bad[i], strlen(bad[i]), "B", parts, &n, &eb),
				 AGD_EINVAL);
	/* a cap on the number of parts */
	char many[4096] = "";
	for (int i = 0; i < MULTIPART_MAX_PARTS + 1; i++)
		strcat(many, "--B\r\nContent-Disposition: form-data; name=\"p\"\r\n\r\nv\r\n");
	strcat(many, "--B--");
	assert_int_equal(multipart_parse(many, strlen(many), "B", parts, &n, &eb), AGD_EINVAL);
	assert_non_null(strstr(eb.msg, "parts"));
}

static void test_sniff(void **state)
{
	(void)state;
	assert_string_equal(files_sniff_image("\x89PNG\r\n\x1a\nrest", 12), "image/png");
	assert_string_equal(files_sniff_image("\xFF\xD8\xFF\xE0", 4), "image/jpeg");
	assert_string_equal(files_sniff_image("GIF87a...", 9), "image/gif");
	assert_string_equal(files_sniff_image("RIFF\x10\x00\x00\x00WEBPVP8 ", 16), "image/webp");
	assert_null(files_sniff_image("RIFF\x10\x00\x00\x00WAVE", 12));
	assert_null(files_sniff_image("hello", 5));
	assert_null(files_sniff_image("\x89PN", 3));
	assert_null(files_sniff_image("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boundary),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_sniff),
	};
	return cmocka_run_group_tests_name("multipart", tests, NULL, NULL);
}
