/*
 * Reading the files of a volume: bounded, never blocking on a FIFO, and
 * relative to a directory descriptor, so that a caller holding a volume
 * open reads that volume whatever is renamed meanwhile (AT_FDCWD: a path).
 * Passwords are read the same way and cleansed.
 */
#ifndef KMTLS_FILES_H
#define KMTLS_FILES_H

#include <stddef.h>

#include "kmtls/secret.h"
#include "kmtls/status.h"

/* No keystore, truststore or PEM bundle a client uses comes near this. */
#define KM_MAX_FILE_SIZE (4u << 20)
#define KM_MAX_PASSWORD_FILE 4096u

/* Refuse a symlink at name (ELOOP): KAFKA_MTLS_R_INSECURE. */
#define KM_READ_NOFOLLOW 1u
/* Key material: a symlink at name is followed only under the rule of
 * kmtls/safe_path.h, and the file must be owned by this user or root
 * (KAFKA_MTLS_R_INSECURE otherwise). */
#define KM_READ_TRUSTED 4u

/*
 * Reads the whole regular file name (relative to dirfd) of at most max
 * bytes into *buf, NUL-terminated (free with OPENSSL_clear_free(*buf,
 * *len + 1)). shown is the path messages give, what the file's role
 * ("keystore", "password file"). flags: KM_READ_NOFOLLOW, KM_READ_TRUSTED.
 * 1, or 0 with st set: NOT_FOUND when it is absent, TOO_LARGE, INSECURE for
 * a refused symlink or owner, READ_FAILED otherwise.
 */
int km_read_file_at(int dirfd, const char *name, const char *shown, const char *what, size_t max,
                    unsigned flags, unsigned char **buf, size_t *len, km_status *st);

/* As km_read_file_at, with *sb the fstat of the descriptor the bytes were
 * read through: what a caller judges the file by, without a second look
 * that could see another file. */
struct stat;
int km_read_file_stat_at(int dirfd, const char *name, const char *shown, const char *what, size_t max,
                         unsigned flags, unsigned char **buf, size_t *len, struct stat *sb, km_status *st);

/* An absent or empty password file is no password (out stays empty, 1),
 * not an error: for ALIAS_creds an issuer may keep. */
#define KM_PASSWORD_OPTIONAL 2u

/*
 * Reads a password file: its one line; a trailing "\n" or "\r\n" is not
 * part of the password. missing_reason is the reason when it is absent
 * (KAFKA_MTLS_R_NOT_READY for ALIAS_creds, PASSWORD_FILE for one that was
 * named). flags: KM_READ_NOFOLLOW, KM_PASSWORD_OPTIONAL. 1, or 0 with st.
 */
int km_read_password_at(int dirfd, const char *name, const char *shown, int missing_reason,
                        unsigned flags, km_secret *out, km_status *st);

/* The password in the bytes of a password file (buf, size: as read), under
 * the rules of km_read_password_at (KM_PASSWORD_OPTIONAL). 1, or 0 with st. */
int km_password_parse(const unsigned char *buf, size_t size, const char *shown, unsigned flags, km_secret *out,
                      km_status *st);

#endif
