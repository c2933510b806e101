/*
 * crypto.h: the few primitives agentd needs from OpenSSL libcrypto: SHA-256, constant-time
 * comparison and cryptographically secure random bytes. All thread-safe.
 */
#ifndef AGD_CRYPTO_H
#define AGD_CRYPTO_H

#include <stddef.h>

#define SHA256_HEX_LEN 64

/* Writes the lowercase hex SHA-256 of data into out (65 bytes, NUL-terminated). */
void crypto_sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]);
/* 1 when the n bytes at a and b are equal; time depends only on n. */
int crypto_equal(const void *a, const void *b, size_t n);
/* Fills p with n random bytes; returns 0 or AGD_EIO. */
int crypto_random(void *p, size_t n);
/* Writes n random characters from [a-z0-9] to out and a NUL; returns 0 or AGD_EIO. */
int crypto_random_alnum(char *out, size_t n);

/* Standard base64 of data (malloc'd, NUL-terminated), or NULL when out of memory. */
char *crypto_base64(const void *data, size_t len);

#endif
