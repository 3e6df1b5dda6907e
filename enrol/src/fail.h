/* One-line error messages into the caller's err[n] buffer. */
#ifndef KME_FAIL_H
#define KME_FAIL_H

#include <stddef.h>
#include "kmtls/enrol.h"

/* Formats into err[n] (cut to fit, control characters replaced by spaces,
 * so that a message stays one line) and returns reason, so that a caller
 * can write `return kme_fail(err, n, KM_ENROL_..., "...", ...)`. */
km_enrol_reason kme_fail(char *err, size_t n, km_enrol_reason reason,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Replaces every byte below 0x20 and 0x7f in s by a space. */
void kme_one_line(char *s);

/* The cause of the last libcrypto error, for messages ("unknown" when the
 * queue is empty). The queue is left as it is: callers set a mark before
 * the libcrypto calls and pop to it afterwards, so that the application's
 * own errors stay and none of ours are left for it to misattribute. */
const char *kme_crypto_cause(char *buf, size_t n);

#endif
