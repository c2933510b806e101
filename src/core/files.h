/*
 * files.h: uploaded files (images for vision-capable models): content sniffing, storage under
 * the data directory (data/files/<id>), and reading them back for a model call.
 * Thread-safe.
 */
#ifndef AGD_FILES_H
#define AGD_FILES_H

#include <stddef.h>

#include "store/store.h"
#include "util/err.h"

/* The image type of data by its first bytes ("image/png", "image/jpeg", "image/gif",
 * "image/webp"), or NULL when it is none of them. */
const char *files_sniff_image(const void *data, size_t len);

/* Writes data to <data_dir>/files/<rec->id> durably (fsync of file and directory). */
int files_write(const char *data_dir, const struct file_rec *rec, const void *data, size_t len,
		agd_errbuf *eb);

/* Reads a stored file (malloc'd, up to max bytes); AGD_ENOTFOUND / AGD_ETOOBIG / AGD_EIO. */
int files_read(const char *data_dir, const char *id, size_t max, char **out, size_t *len);

#endif
