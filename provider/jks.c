/*
 * Sun JKS and JCEKS keystores, as keytool writes them (-storetype JKS|JCEKS).
 * The framing is parsed by hand, every read bounds-checked; all cryptography
 * goes through libcrypto.
 *
 * Layout (big-endian):
 *   u32 magic (FEEDFEED = JKS, CECECECE = JCEKS), u32 version (1|2), u32 count
 *   count entries: u32 tag, UTF alias, u64 timestamp (ms), then by tag:
 *     1 private key:  u32 len + EncryptedPrivateKeyInfo, u32 n + n certificates
 *     2 trusted cert: one certificate
 *     3 secret key (JCEKS only): a serialized Java object, no length prefix
 *   certificate: (version 2 only) UTF type "X.509", then u32 len + DER
 *   trailer: SHA1(UTF-16BE(password) || "Mighty Aphrodite" || every byte before)
 * UTF is Java's DataOutput.writeUTF: u16 byte length + modified UTF-8.
 *
 * Reading is two passes over the framing: the first only checks that it is
 * well formed and finds the trailer, so that nothing in the file is decoded
 * before the password has proven it unmodified; the second decodes entries.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "jks_protect.h"
#include "kafka-mtls.h"
#include "kdf_limit.h"
#include "readers.h"

#define JKS_MAGIC   0xFEEDFEEDu
#define JCEKS_MAGIC 0xCECECECEu

enum { TAG_PRIVATE_KEY = 1, TAG_TRUSTED_CERT = 2, TAG_SECRET_KEY = 3 };

#define HEADER_LEN 12
/* Smallest entry: tag, empty alias, timestamp, version-1 empty certificate.
 * Bounds a declared entry count by what the file can possibly hold. */
#define MIN_ENTRY_LEN (4 + 2 + 8 + 4)
#define MIN_CERT_LEN 4

/* ---- bounds-checked big-endian reader ---------------------------------- */

typedef struct reader {
    const unsigned char *buf;
    size_t len, off;
} reader;

static size_t rd_left(const reader *r)
{
    return r->len - r->off;
}

static int rd_bytes(reader *r, size_t n, const unsigned char **out)
{
    if (n > rd_left(r))
        return 0;
    *out = r->buf + r->off;
    r->off += n;
    return 1;
}

static int rd_uint(reader *r, size_t n, uint64_t *out)
{
    const unsigned char *p;

    if (!rd_bytes(r, n, &p))
        return 0;
    *out = 0;
    for (size_t i = 0; i < n; i++)
        *out = *out << 8 | p[i];
    return 1;
}

static int rd_u32(reader *r, uint32_t *out)
{
    uint64_t v;

    if (!rd_uint(r, 4, &v))
        return 0;
    *out = (uint32_t)v;
    return 1;
}

/* A writeUTF string: u16 length, then that many bytes (not decoded here). */
static int rd_utf(reader *r, const unsigned char **s, size_t *n)
{
    uint64_t len;

    if (!rd_uint(r, 2, &len) || !rd_bytes(r, (size_t)len, s))
        return 0;
    *n = (size_t)len;
    return 1;
}

/* ---- the store file ---------------------------------------------------- */

typedef struct jks_ctx {
    OSSL_LIB_CTX *libctx;
    const char *path, *format; /* format: the name of id, for messages */
    km_format id;
    km_status *st;
    uint32_t version;
    km_keystore *ks;        /* NULL in the framing pass, the target in the decode pass */
    /* Found by the framing pass: the first key entry, to tell a modified file
     * from a wrong password when the trailer does not match. */
    const unsigned char *first_key;
    size_t first_key_len;
} jks_ctx;

static int truncated(const jks_ctx *c, uint32_t entry)
{
    return km_fail(c->st, KAFKA_MTLS_R_CORRUPT,
                   "%s: truncated %s file (entry %u runs past the end)",
                   c->path, c->format, (unsigned)entry);
}

/* The alias for messages (a placeholder if it cannot be decoded). */
static char *alias_text(const unsigned char *s, size_t n)
{
    int malformed;
    char *a = km_jks_mutf8_to_utf8(s, n, &malformed);

    return a != NULL ? a : OPENSSL_strdup("?");
}

/* Reads one certificate record; in the decode pass (c->ks set) also checks
 * its type and leaves its DER, inside the file's buffer, in der/len. */
static int read_cert_der(jks_ctx *c, reader *r, uint32_t entry, const char *alias, km_der *out)
{
    const unsigned char *type = NULL, *der;
    size_t type_len = 0;
    uint32_t len;

    if ((c->version == 2 && !rd_utf(r, &type, &type_len))
        || !rd_u32(r, &len) || !rd_bytes(r, len, &der))
        return truncated(c, entry);
    if (c->ks == NULL)
        return 1;
    if (type != NULL && (type_len != 5 || memcmp(type, "X.509", 5) != 0))
        return km_fail(c->st, KAFKA_MTLS_R_UNSUPPORTED_CONTENT,
                       "%s: %s entry \"%s\" holds a certificate of type \"%.*s\", not X.509",
                       c->path, c->format, alias, (int)(type_len > 32 ? 32 : type_len),
                       (const char *)type);
    *out = (km_der){ (unsigned char *)der, len };
    return 1;
}

static int malformed_cert(jks_ctx *c, const char *alias)
{
    return km_fail(c->st, KAFKA_MTLS_R_CORRUPT, "%s: %s entry \"%s\" holds a malformed X.509 certificate",
                   c->path, c->format, alias);
}

/* A certificate, kept as read (keystore.h) into d. */
static int take_cert(jks_ctx *c, reader *r, uint32_t entry, const char *alias, km_ders *d)
{
    km_der der = { 0 };

    if (!read_cert_der(c, r, entry, alias, &der))
        return 0;
    if (c->ks == NULL)
        return 1;
    if (!km_der_is_certificate_shaped(der.der, der.len))
        return malformed_cert(c, alias);
    if (!km_ders_add(d, der.der, der.len))
        return km_fail(c->st, KAFKA_MTLS_R_INTERNAL, "%s: out of memory", c->path);
    return 1;
}

static int read_trusted_cert(jks_ctx *c, reader *r, uint32_t entry, const char *alias)
{
    return take_cert(c, r, entry, alias, c->ks != NULL ? &c->ks->trusted : NULL);
}

/* Decode pass: the key entry's EncryptedPrivateKeyInfo must name a protector
 * we implement; the blob is kept encrypted. On success ks owns alias and
 * chain; on failure the caller still does. */
static int add_key(jks_ctx *c, char *alias, const unsigned char *epki, size_t epki_len,
                   km_ders *chain)
{
    X509_SIG *sig = km_jks_parse_epki(epki, epki_len);
    int parsed = sig != NULL, kind = parsed ? km_jks_protector_of(sig) : -1;
    unsigned char *blob;

    X509_SIG_free(sig);
    if (!parsed)
        return km_fail(c->st, KAFKA_MTLS_R_CORRUPT,
                       "%s: %s entry \"%s\": the private key is not an EncryptedPrivateKeyInfo",
                       c->path, c->format, alias);
    if (kind < 0)
        return km_fail(c->st, KAFKA_MTLS_R_UNSUPPORTED_CONTENT,
                       "%s: %s entry \"%s\": the private key is protected with an "
                       "unknown algorithm",
                       c->path, c->format, alias);
    if ((blob = OPENSSL_memdup(epki, epki_len)) == NULL
        || !km_keystore_add_key(c->ks, alias, (km_key_kind)kind, blob, epki_len, chain)) {
        OPENSSL_free(blob);
        return km_fail(c->st, KAFKA_MTLS_R_INTERNAL, "%s: out of memory", c->path);
    }
    return 1;
}

static int read_key_entry(jks_ctx *c, reader *r, uint32_t entry, const char *alias)
{
    const unsigned char *epki;
    uint32_t epki_len, ncerts;
    km_ders chain = { 0 };
    char *owned_alias = NULL;

    if (!rd_u32(r, &epki_len) || !rd_bytes(r, epki_len, &epki) || !rd_u32(r, &ncerts))
        return truncated(c, entry);
    if (ncerts > rd_left(r) / MIN_CERT_LEN)
        return km_fail(c->st, KAFKA_MTLS_R_CORRUPT,
                       "%s: truncated or corrupt %s file "
                       "(entry %u claims %u certificates, more than the file holds)",
                       c->path, c->format, (unsigned)entry, (unsigned)ncerts);
    if (c->ks == NULL && c->first_key == NULL) {
        c->first_key = epki;
        c->first_key_len = epki_len;
    }
    for (uint32_t i = 0; i < ncerts; i++)
        if (!take_cert(c, r, entry, alias, &chain))
            goto err;
    if (c->ks == NULL)
        return 1;
    if ((owned_alias = OPENSSL_strdup(alias)) == NULL) {
        km_fail(c->st, KAFKA_MTLS_R_INTERNAL, "%s: out of memory", c->path);
        goto err;
    }
    if (add_key(c, owned_alias, epki, epki_len, &chain))
        return 1;
err:
    OPENSSL_free(owned_alias);
    km_ders_clear(&chain);
    return 0;
}

/* A JCEKS secret-key entry is a serialized Java object with no length in
 * front: there is no way past it without a Java deserializer. */
static int secret_key_entry(const jks_ctx *c, const unsigned char *alias_raw, size_t alias_len)
{
    char *alias = alias_text(alias_raw, alias_len);

    km_fail(c->st, KAFKA_MTLS_R_UNSUPPORTED_CONTENT,
            "%s: JCEKS secret-key entries are not supported (entry \"%s\"); "
            "keep secret keys in a separate keystore", c->path, alias != NULL ? alias : "?");
    OPENSSL_free(alias);
    return 0;
}

/* One entry: its header, then the body for its tag. */
static int read_entry(jks_ctx *c, reader *r, uint32_t entry)
{
    const unsigned char *alias_raw;
    size_t alias_len;
    uint64_t tag, timestamp;
    char *alias = NULL;
    int malformed, ok;

    if (!rd_uint(r, 4, &tag) || !rd_utf(r, &alias_raw, &alias_len)
        || !rd_uint(r, 8, &timestamp))
        return truncated(c, entry);
    if (tag == TAG_SECRET_KEY && c->id == KM_FORMAT_JCEKS)
        return secret_key_entry(c, alias_raw, alias_len);
    if (tag != TAG_PRIVATE_KEY && tag != TAG_TRUSTED_CERT)
        return km_fail(c->st, KAFKA_MTLS_R_CORRUPT,
                       "%s: corrupt %s file (entry %u has unknown type %llu)",
                       c->path, c->format, (unsigned)entry, (unsigned long long)tag);
    /* Aliases matter only once the file is known to be intact. */
    if (c->ks != NULL && (alias = km_jks_mutf8_to_utf8(alias_raw, alias_len, &malformed)) == NULL)
        return km_fail(c->st, malformed ? KAFKA_MTLS_R_CORRUPT : KAFKA_MTLS_R_INTERNAL,
                       malformed
                           ? "%s: corrupt %s file (the alias of entry %u is not modified UTF-8)"
                           : "%s: out of memory (%s entry %u)",
                       c->path, c->format, (unsigned)entry);
    if (tag == TAG_PRIVATE_KEY)
        ok = read_key_entry(c, r, entry, alias != NULL ? alias : "");
    else
        ok = read_trusted_cert(c, r, entry, alias != NULL ? alias : "");
    OPENSSL_free(alias);
    return ok;
}

/* Walks all entries; on success r->off is where the trailer starts. */
static int read_entries(jks_ctx *c, reader *r, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        if (!read_entry(c, r, i + 1))  /* entries are numbered from 1 in messages */
            return 0;
    return 1;
}

/* The trailer did not match. If the same password opens the first key
 * entry, the password is right and the file was changed; otherwise it is
 * most likely the password (for a file without keys we cannot tell). */
static int bad_trailer(const jks_ctx *c, const km_secret *pw)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    const char *why;

    if (c->first_key != NULL
        && km_jks_unprotect(c->libctx, c->first_key, c->first_key_len, -1, pw, &der, &der_len, &why)
               == UNP_OK) {
        OPENSSL_clear_free(der, der_len);
        return km_fail(c->st, KAFKA_MTLS_R_INTEGRITY,
                       "%s: %s integrity check failed: the file was modified "
                       "(the password is right: it decrypts the private key)",
                       c->path, c->format);
    }
    return km_fail(c->st, KAFKA_MTLS_R_WRONG_PASSWORD,
                   "%s: %s integrity check failed: wrong password or the file was modified",
                   c->path, c->format);
}

/* Magic, version and entry count. */
static int read_header(jks_ctx *c, reader *r, uint32_t *count)
{
    uint32_t magic;

    if (!rd_u32(r, &magic))
        return km_fail(c->st, KAFKA_MTLS_R_CORRUPT, "%s: truncated keystore file (%zu bytes)",
                       c->path, r->len);
    if (magic != JKS_MAGIC && magic != JCEKS_MAGIC)
        return km_fail(c->st, KAFKA_MTLS_R_UNSUPPORTED_FORMAT,
                       "%s: not a JKS or JCEKS keystore (magic %08x)", c->path, (unsigned)magic);
    c->id = magic == JKS_MAGIC ? KM_FORMAT_JKS : KM_FORMAT_JCEKS;
    c->format = km_format_name(c->id);
    if (!rd_u32(r, &c->version) || !rd_u32(r, count))
        return km_fail(c->st, KAFKA_MTLS_R_CORRUPT, "%s: truncated %s file (header)",
                       c->path, c->format);
    if (c->version != 1 && c->version != 2)
        return km_fail(c->st, KAFKA_MTLS_R_CORRUPT, "%s: corrupt %s file (unknown version %u)",
                       c->path, c->format, (unsigned)c->version);
    if (*count > rd_left(r) / MIN_ENTRY_LEN)
        return km_fail(c->st, KAFKA_MTLS_R_CORRUPT,
                       "%s: truncated or corrupt %s file "
                       "(it claims %u entries, more than its %zu bytes hold)",
                       c->path, c->format, (unsigned)*count, r->len);
    /* before anything is read or hashed: a count within the file's size
     * may still be thousands of certificates to decode */
    return km_entries_allowed((long)*count, c->format, c->path, c->st);
}

/* Framing pass, then the trailer check: returns 1 when the file is intact. */
static int verify_store(jks_ctx *c, const unsigned char *buf, size_t len, uint32_t count,
                        const km_secret *pw)
{
    reader r = { buf, len, HEADER_LEN };
    unsigned char *pw16 = NULL;
    size_t pw16_len = 0;
    unprotect_result res;
    int conv;

    if (!read_entries(c, &r, count))
        return 0;
    if (rd_left(&r) < SHA1_LEN)
        return km_fail(c->st, KAFKA_MTLS_R_CORRUPT,
                       "%s: truncated %s file (the integrity trailer is missing)",
                       c->path, c->format);
    if (rd_left(&r) > SHA1_LEN)
        return km_fail(c->st, KAFKA_MTLS_R_CORRUPT,
                       "%s: corrupt %s file (%zu unexpected bytes after the integrity trailer)",
                       c->path, c->format, rd_left(&r) - SHA1_LEN);
    conv = km_jks_password_utf16be(pw, &pw16, &pw16_len);
    if (conv <= 0)
        return km_fail(c->st, conv == 0 ? KAFKA_MTLS_R_WRONG_PASSWORD : KAFKA_MTLS_R_INTERNAL,
                       conv == 0 ? "%s: the %s password is not valid UTF-8"
                                 : "%s: out of memory (%s)", c->path, c->format);
    res = km_jks_check_trailer(c->libctx, pw16, pw16_len, buf, r.off, buf + r.off);
    km_jks_pw16_free(pw16, pw);
    if (res == UNP_BAD_PASSWORD)
        return bad_trailer(c, pw);
    if (res != UNP_OK)
        return km_fail(c->st, KAFKA_MTLS_R_INTERNAL,
                       "%s: cannot check the %s integrity trailer (libcrypto failure)",
                       c->path, c->format);
    return 1;
}

int km_read_jks(OSSL_LIB_CTX *libctx, const unsigned char *buf, size_t len,
                const km_secret *password, km_keystore *ks, km_status *st)
{
    jks_ctx c = { .libctx = libctx, .path = ks->path, .format = km_format_name(KM_FORMAT_JKS), .id = KM_FORMAT_JKS,
                  .st = st };
    reader r = { buf, len, 0 };
    uint32_t count = 0;
    int ok = 0;

    /* Failures here are reported through st; libcrypto's own error queue
     * entries from expected failures (bad padding, d2i) must not leak. */
    ERR_set_mark();
    if (!read_header(&c, &r, &count))
        goto end;
    if (password == NULL) {
        km_fail(st, KAFKA_MTLS_R_NO_PASSWORD,
                "%s: a password is needed to open this %s keystore", c.path, c.format);
        goto end;
    }
    if (!verify_store(&c, buf, len, count, password))
        goto end;
    c.ks = ks;
    ok = read_entries(&c, &r, count);
    if (ok)
        ks->format = c.id;
end:
    ERR_pop_to_mark();
    return ok;
}

int km_decrypt_jks_key(OSSL_LIB_CTX *libctx, const km_keystore *ks, const km_key_entry *key,
                       const km_secret *password, unsigned char **der, size_t *der_len, km_status *st)
{
    const char *alias = key->alias != NULL ? key->alias : "";
    const char *why = "";
    unprotect_result r;

    if (key->kind != KM_KEY_JKS && key->kind != KM_KEY_JCEKS)
        return km_fail(st, KAFKA_MTLS_R_INTERNAL, "%s: key \"%s\" is not a JKS/JCEKS key",
                       ks->path, alias);
    if (password == NULL)
        return km_fail(st, KAFKA_MTLS_R_NO_PASSWORD,
                       "%s: a password is needed to decrypt the private key \"%s\"",
                       ks->path, alias);
    ERR_set_mark();
    r = km_jks_unprotect(libctx, key->blob, key->blob_len, (int)key->kind, password, der, der_len, &why);
    ERR_pop_to_mark();
    if (r == UNP_OK)
        return 1;
    return km_fail(st, km_jks_reason_of(r), "%s: cannot decrypt the private key \"%s\": %s",
                   ks->path, alias, why);
}
