/*
 * err.h: the one error enum of agentd. Functions return 0 on success or a negative
 * AGD_E* code; the human message goes into an error buffer owned by the caller.
 */
#ifndef AGD_ERR_H
#define AGD_ERR_H

#include <stddef.h>

enum agd_err {
	AGD_OK = 0,
	AGD_ENOMEM = -1,     /* allocation failed */
	AGD_EINVAL = -2,     /* invalid argument or input */
	AGD_ENOTFOUND = -3,  /* no such row or object */
	AGD_ECONFLICT = -4,  /* unique constraint or state conflict */
	AGD_ETOOBIG = -5,    /* a cap was hit */
	AGD_EIO = -6,        /* file, socket or database failure */
	AGD_EBUSY = -7,      /* resource busy, retry later */
	AGD_ESHUTDOWN = -8,  /* the component is shutting down */
	AGD_EINTERNAL = -9,  /* a bug or an unexpected library error */
	AGD_EQUOTA = -10,    /* a quota is spent */
};

/* Returns a short static name for an error code ("not_found"); never NULL. */
const char *agd_strerror(int code);

/* An error buffer: a fixed-size message slot carried on a context. */
#define AGD_ERRBUF 256
typedef struct { char msg[AGD_ERRBUF]; } agd_errbuf;

/* Formats into eb (if non-NULL) and returns code, so callers can write `return agd_fail(...)`. */
int agd_fail(agd_errbuf *eb, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
