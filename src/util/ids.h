/*
 * ids.h: identifiers. UUIDv7 (time-ordered) for rows, short random ids for request ids.
 * Thread-safe.
 */
#ifndef AGD_IDS_H
#define AGD_IDS_H

#define UUID_STR_LEN 36

/* Writes a lowercase UUIDv7 string into out (37 bytes). */
void id_uuid7(char out[UUID_STR_LEN + 1]);
/* 1 when s is a canonical lowercase or uppercase UUID string. */
int id_is_uuid(const char *s);

#endif
