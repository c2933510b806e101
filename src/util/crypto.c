/*
 * crypto.c: SHA-256, constant-time compare and random bytes over OpenSSL libcrypto.
 */
#include "util/crypto.h"
#include "util/err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>

void crypto_sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

int crypto_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

int crypto_random(void *p, size_t n)
{
	return RAND_bytes(p, (int)n) == 1 ? 0 : AGD_EIO;
}

int crypto_random_alnum(char *out, size_t n)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[64];
	size_t i = 0;
	while (i < n) {
		if (crypto_random(r, sizeof(r)))
			return AGD_EIO;
		for (size_t j = 0; j < sizeof(r) && i < n; j++) {
			if (r[j] >= 252)          /* 252 = 7 * 36: reject to keep it unbiased */
				continue;
			out[i++] = alphabet[r[j] % 36];
		}
	}
	out[n] = '\0';
	return 0;
}

char *crypto_base64(const void *data, size_t len)
{
	size_t out_len = 4 * ((len + 2) / 3) + 1;
	char *out = malloc(out_len);
	if (!out)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}
