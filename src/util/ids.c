/*
 * ids.c: UUIDv7 generation (RFC 9562): 48-bit unix ms, version 7, 74 random bits. Within
 * one millisecond the ids of one thread are kept increasing by a counter in rand_a.
 */
#include "util/ids.h"
#include "util/crypto.h"
#include "util/timeutil.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static _Thread_local int64_t last_ms;
static _Thread_local uint16_t seq;

void id_uuid7(char out[UUID_STR_LEN + 1])
{
	unsigned char b[16];
	crypto_random(b, sizeof(b));
	int64_t ms = time_now_ms();
	if (ms <= last_ms) {
		ms = last_ms;
		seq++;
		if (seq > 0x0fff) {  /* counter exhausted: borrow the next millisecond */
			ms++;
			seq = 0;
		}
	} else {
		seq = (uint16_t)((b[6] << 8 | b[7]) & 0x03ff); /* random start, room to grow */
	}
	last_ms = ms;
	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (40 - 8 * i));
	b[6] = (unsigned char)(0x70 | ((seq >> 8) & 0x0f));
	b[7] = (unsigned char)(seq & 0xff);
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
	static const char hex[] = "0123456789abcdef";
	char *o = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[b[i] >> 4];
		*o++ = hex[b[i] & 15];
	}
	*o = '\0';
}

int id_is_uuid(const char *s)
{
	if (strlen(s) != UUID_STR_LEN)
		return 0;
	for (int i = 0; i < UUID_STR_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}
