/*
 * log.c: the error log and the access log, as JSON lines. Any thread.
 */
#include "util/log.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/timeutil.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static int access_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level lvl)
{
	min_level = lvl;
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return AGD_EINVAL;
}

int log_access_open(const char *where)
{
	if (strcmp(where, "-") == 0 || strcmp(where, "stderr") == 0) {
		access_fd = 2;
	} else if (strcmp(where, "off") == 0) {
		access_fd = -1;
	} else {
		int fd = open(where, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (fd < 0)
			return AGD_EIO;
		access_fd = fd;
	}
	return 0;
}

int log_access_enabled(void)
{
	return access_fd >= 0;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

void log_access_line(const char *line, size_t len)
{
	if (access_fd < 0)
		return;
	char stackbuf[1024];
	if (len + 1 <= sizeof(stackbuf)) {
		memcpy(stackbuf, line, len);
		stackbuf[len] = '\n';
		write_all(access_fd, stackbuf, len + 1);
	} else {
		write_all(access_fd, line, len);
		write_all(access_fd, "\n", 1);
	}
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	if (lvl < min_level)
		return;
	char msg[1024], ts[40];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	time_format_rfc3339(time_now_ms(), ts, sizeof(ts));
	struct buf b;
	buf_init(&b, 4096);
	buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":", ts, level_names[lvl]);
	buf_json_str(&b, msg);
	buf_puts(&b, "}\n");
	write_all(2, buf_cstr(&b), b.len);
	buf_free(&b);
}
