/*
 * Who issues, when many processes start on one volume at once.
 *
 * Checking a volume reads its keystore, and that costs key derivations.
 * Checked under the exclusive lock, N starters on an empty volume would
 * pay one issuance plus N reads in a row. So the check runs under a shared
 * lock (readers at once, never during a write), and only a volume that
 * needs a certificate is locked exclusively. A process that gets the
 * exclusive lock and finds the volume changed since its check (someone
 * issued meanwhile) lets go and checks again, shared: the queue for the
 * exclusive lock then costs a few stat calls per process, not a read.
 */
#include <string.h>
#include <time.h>

#include "issue_internal.h"
#include "kmtls/fingerprint.h"
#include "kmtls/issuer.h"
#include "kmtls/seed.h"

/* Rounds of "someone changed it while I waited" before checking under the
 * exclusive lock: a volume rewritten that often is not being issued by
 * processes like us, and must not keep us spinning. */
#define MAX_SHARED_ROUNDS 4

static int nothing_to_do(const km_vol_check *c, int take_over_other_ca)
{
    /* a volume another writer is writing, or that cannot be read, is
     * never issued over: only a load that succeeds, or finds nothing of a
     * store, leads to issuance */
    return c->state == KM_VOL_FRESH || c->state == KM_VOL_WRITING || c->state == KM_VOL_UNREADABLE ||
           (c->state == KM_VOL_OTHER_CA && !take_over_other_ca);
}

int km_volume_claim(OSSL_LIB_CTX *libctx, const char *volume, const char *alias, const char *ca_cert,
                    const km_renew_before *rb, int take_over_other_ca, const km_lock_wait *w,
                    km_vol_check *out, int *fd, km_status *st)
{
    double deadline = km_lock_deadline(w);

    *fd = -1;
    memset(out, 0, sizeof(*out));
    for (int round = 0; round < MAX_SHARED_ROUNDS; round++) {
        /* The shared lock keeps the check out of a write, nothing more: the
         * provider re-reads a volume that changed under it, so a lock still
         * held at the deadline (by anyone) is read without. */
        km_status ignored = { 0 };
        int shared;
        unsigned long long seen;

        if (!km_volume_lock_until(volume, 0, deadline, w, &shared, &ignored))
            shared = -1;
        seen = km_fingerprint(volume);
        km_vol_check_clear(out);
        km_volume_check(libctx, volume, alias, ca_cert, rb, time(NULL), out);
        km_volume_unlock(shared);
        if (nothing_to_do(out, take_over_other_ca))
            return 1;
        if (!km_volume_lock_until(volume, 1, deadline, w, fd, st))
            return 0;
        if (km_fingerprint(volume) == seen)
            return 1;
        km_volume_unlock(*fd);
        *fd = -1;
    }
    if (!km_volume_lock_until(volume, 1, deadline, w, fd, st))
        return 0;
    km_vol_check_clear(out);
    km_volume_check(libctx, volume, alias, ca_cert, rb, time(NULL), out);
    if (nothing_to_do(out, take_over_other_ca)) {
        km_volume_unlock(*fd);
        *fd = -1;
    }
    return 1;
}
