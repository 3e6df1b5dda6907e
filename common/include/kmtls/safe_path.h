/*
 * Opening a volume directory so that nobody but its owner decides what is
 * in it: the one rule for symlinks and ownership, applied where volumes are
 * written (the issuer) and where they are read (the provider's pinning).
 *
 *  - A symlink anywhere on the path is followed only if the link is owned
 *    by the effective user or root (and has no second hard link), and the
 *    directory holding it is owned by the effective user or root and is
 *    either writable by no one else or sticky (/tmp, a Kubernetes secret
 *    volume: there only a link's owner can rename or remove it). Whoever
 *    owns a link chooses where it leads, and whoever else can write its
 *    directory can put another in its place; a link planted above the
 *    volume redirects it as well as one at its end.
 *  - A missing directory is made (KM_SAFE_CREATE) only in a directory
 *    trusted by that same rule.
 *  - The directory finally opened must be owned by the effective user or
 *    root: whoever owns a volume picks the client's key and trust anchors.
 *  - For writing, it must also not be writable by group or others.
 */
#ifndef KMTLS_SAFE_PATH_H
#define KMTLS_SAFE_PATH_H

#include "kmtls/status.h"

#define KM_SAFE_CREATE 1u /* make missing directories, 0700, each one checked as it is made */
#define KM_SAFE_WRITE  2u /* the directory is written: refuse one writable by group or others */

/*
 * Opens the directory path (absolute) O_RDONLY under the rule above. what
 * names it in messages ("volume"). The fd, or -1 with st set: INSECURE (a
 * refused symlink or owner, a writable directory for KM_SAFE_WRITE),
 * NOT_FOUND, READ_FAILED (not a directory, cannot be opened) or, with
 * KM_SAFE_CREATE, WRITE_FAILED (cannot be made).
 */
int km_safe_dir_open(const char *path, const char *what, unsigned flags, km_status *st);

/*
 * The symlink rule for one entry of an open directory (shown: its path for
 * messages): 1 if name is no symlink, or one that may be followed; 0 with st
 * set (INSECURE) naming the link's owner, or the directory's, or its mode.
 */
int km_safe_link_at(int dirfd, const char *name, const char *shown, km_status *st);

/* A file or directory trusted for key material must be owned by the
 * effective user or root: 1, or 0 with st set (INSECURE) naming the owner. */
int km_safe_owner(const char *shown, const char *what, unsigned uid, km_status *st);

#endif
