/*
 * files.c: file bytes on disk under the data directory. Called from http threads (upload) and
 * engine workers (reading images for a model call; files are small and local).
 */
#include "core/files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *files_sniff_image(const void *data, size_t len)
{
	const unsigned char *d = data;
	if (len >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "image/png";
	if (len >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF)
		return "image/jpeg";
	if (len >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0))
		return "image/gif";
	if (len >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
		return "image/webp";
	return NULL;
}

static int id_is_safe(const char *id)
{
	if (!id[0])
		return 0;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return 0;
	return 1;
}

int files_write(const char *data_dir, const struct file_rec *rec, const void *data, size_t len,
		agd_errbuf *eb)
{
	char dir[600], path[700], tmp[720];
	if (!id_is_safe(rec->id))
		return agd_fail(eb, AGD_EINVAL, "bad file id");
	snprintf(dir, sizeof(dir), "%s/files", data_dir);
	if (mkdir(dir, 0750) != 0 && errno != EEXIST)
		return agd_fail(eb, AGD_EIO, "cannot create %s: %s", dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/%s", dir, rec->id);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return agd_fail(eb, AGD_EIO, "cannot store the file: %s", strerror(errno));
	const char *p = data;
	size_t left = len;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w <= 0) {
			close(fd);
			unlink(tmp);
			return agd_fail(eb, AGD_EIO, "cannot store the file: %s", strerror(errno));
		}
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return agd_fail(eb, AGD_EIO, "cannot store the file: %s", strerror(errno));
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int files_read(const char *data_dir, const char *id, size_t max, char **out, size_t *len)
{
	char path[700];
	*out = NULL;
	*len = 0;
	if (!id_is_safe(id))
		return AGD_ENOTFOUND;
	snprintf(path, sizeof(path), "%s/files/%s", data_dir, id);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? AGD_ENOTFOUND : AGD_EIO;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return AGD_EIO;
	}
	if ((size_t)st.st_size > max) {
		close(fd);
		return AGD_ETOOBIG;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return AGD_ENOMEM;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*out = buf;
	*len = got;
	return 0;
}
