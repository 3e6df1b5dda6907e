/* Change detection for volumes: what stat(2) says of a path (device,
 * inode, size, mtime and ctime, which no writer can set back) and, for a
 * directory, of every entry in it and of Kubernetes' "..data" link. Equal
 * before and after a read means the read saw one consistent volume; a
 * different value means something was written, renamed or re-pointed. */
#ifndef KMTLS_FINGERPRINT_H
#define KMTLS_FINGERPRINT_H

unsigned long long km_fingerprint(const char *path);

#endif
