/* New material on the volume of a running live-rotation client. */
#ifndef KMTLS_ROTATION_H
#define KMTLS_ROTATION_H

#include "live_state.h"

/*
 * The volume may have changed (the watcher's callback): when its fingerprint
 * differs from the last read, reads it again. Complete, matching, valid
 * material that differs from the material in use becomes the transport's
 * next generation: new connections use it at once and the existing ones
 * move to it (mtls.rotation.existing). Anything else - a volume not ready, a
 * half-written update whose key and certificate do not match, an expired
 * certificate - is refused with one log line saying why, and the client
 * keeps what it uses. Also warns, once per certificate, when the one in use
 * enters its renew window.
 */
void km_rotation_check(km_live *l);

#endif
