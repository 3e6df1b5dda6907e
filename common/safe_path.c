/*
 * km_safe_dir_open: the path walked one component at a time through
 * directory descriptors (O_PATH, O_NOFOLLOW), each symlink judged before it
 * is followed, so no rename or re-pointed link between a check and its use
 * changes what is opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kafka-mtls.h"
#include "kmtls/safe_path.h"

/* As the kernel's path resolution: more links than this is a loop. */
#define MAX_LINKS 40
#define PATH_BUF 4096

static const char *user_name(unsigned uid, char *buf, size_t n)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];

    if (getpwuid_r((uid_t)uid, &pw, tmp, sizeof(tmp), &res) == 0 && res != NULL)
        snprintf(buf, n, "%s", pw.pw_name);
    else
        snprintf(buf, n, "uid %u", uid);
    return buf;
}

static int trusted_uid(unsigned uid)
{
    return uid == 0 || uid == (unsigned)geteuid();
}

int km_safe_owner(const char *shown, const char *what, unsigned uid, km_status *st)
{
    char name[256];

    if (trusted_uid(uid))
        return 1;
    return km_fail(st, KAFKA_MTLS_R_INSECURE,
                   "%s %s: owned by %s (uid %u), not by this user (uid %u) or root: whoever owns it "
                   "chooses the key and the trusted CAs; refusing it", what, shown,
                   user_name(uid, name, sizeof(name)), uid, (unsigned)geteuid());
}

/* Whether only trusted users can change what names in the directory dirfd
 * lead to: it is owned by the effective user or root, and no one else can
 * write it, or it is sticky (as /tmp, or a Kubernetes secret volume: there
 * only an entry's owner, the directory's owner or root may rename or remove
 * it). 1, or 0 with st set (INSECURE) saying why, about shown (holding it). */
static int dir_trusted(int dirfd, const char *shown, const char *held, km_status *st)
{
    struct stat dir;
    char owner[256];

    if (fstat(dirfd, &dir) != 0)
        return km_fail_errno(st, KAFKA_MTLS_R_READ_FAILED, errno, "%s: the directory holding it", shown);
    if (!trusted_uid((unsigned)dir.st_uid))
        return km_fail(st, KAFKA_MTLS_R_INSECURE,
                       "%s: %s in a directory owned by %s (uid %u), not by this user (uid %u) or root: "
                       "refused (the directory's owner can put anything in its place)", shown, held,
                       user_name((unsigned)dir.st_uid, owner, sizeof(owner)), (unsigned)dir.st_uid,
                       (unsigned)geteuid());
    if ((dir.st_mode & (S_IWGRP | S_IWOTH)) != 0 && !(dir.st_mode & S_ISVTX))
        return km_fail(st, KAFKA_MTLS_R_INSECURE,
                       "%s: %s in a directory others can write (mode %04o, not sticky): refused (anyone who "
                       "can write there can put anything in its place)", shown, held,
                       (unsigned)(dir.st_mode & 07777));
    return 1;
}

int km_safe_link_at(int dirfd, const char *name, const char *shown, km_status *st)
{
    struct stat link;
    char owner[256];

    if (fstatat(dirfd, name, &link, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(link.st_mode))
        return 1; /* absent or no symlink: the open that follows says what it is */
    if (!trusted_uid((unsigned)link.st_uid))
        return km_fail(st, KAFKA_MTLS_R_INSECURE,
                       "%s: a symlink owned by %s (uid %u), not by this user (uid %u) or root: not followed "
                       "(whoever owns a link chooses where it leads)", shown,
                       user_name((unsigned)link.st_uid, owner, sizeof(owner)), (unsigned)link.st_uid,
                       (unsigned)geteuid());
    /* a hard link to someone's symlink, made where others can write, is
     * not that someone putting it there */
    if (link.st_nlink > 1)
        return km_fail(st, KAFKA_MTLS_R_INSECURE,
                       "%s: a symlink with %lu hard links: not followed (anyone could have linked it there)",
                       shown, (unsigned long)link.st_nlink);
    return dir_trusted(dirfd, shown, "a symlink", st);
}

/* Appends "/" comp to shown (the path as walked, for messages). */
static void walked(char *shown, const char *comp, size_t len)
{
    size_t n = strlen(shown);

    if (n + 1 + len < PATH_BUF)
        snprintf(shown + n, PATH_BUF - n, "%s%.*s", n == 1 && shown[0] == '/' ? "" : "/", (int)len, comp);
}

/* One step of the walk: *cur (a directory) moves to its entry comp,
 * following a symlink (by splicing its target into rest) only under the
 * rule. 1 on a step, 0 with st set. */
static int step(int *cur, const char *comp, char *rest, char *shown, const char *what, unsigned flags,
                int *links, km_status *st)
{
    struct stat sb;
    int next;

    for (int made = 0;; made = 1) {
        if (fstatat(*cur, comp, &sb, AT_SYMLINK_NOFOLLOW) == 0)
            break;
        if (errno != ENOENT || !(flags & KM_SAFE_CREATE) || made)
            return km_fail_errno(st, errno == ENOENT ? KAFKA_MTLS_R_NOT_FOUND : KAFKA_MTLS_R_READ_FAILED, errno,
                                 "%s %s", what, shown);
        /* a directory made where someone else decides what names lead to
         * would be theirs to replace */
        if (!dir_trusted(*cur, shown, "to be created", st))
            return 0;
        if (mkdirat(*cur, comp, 0700) != 0 && errno != EEXIST)
            return km_fail_errno(st, KAFKA_MTLS_R_WRITE_FAILED, errno, "%s %s: cannot create it", what, shown);
    }
    if (S_ISLNK(sb.st_mode)) {
        char target[PATH_BUF], joined[2 * PATH_BUF + 2];
        ssize_t n;

        if (!km_safe_link_at(*cur, comp, shown, st))
            return 0;
        if (++*links > MAX_LINKS)
            return km_fail_errno(st, KAFKA_MTLS_R_READ_FAILED, ELOOP, "%s %s", what, shown);
        if ((n = readlinkat(*cur, comp, target, sizeof(target) - 1)) < 0)
            return km_fail_errno(st, KAFKA_MTLS_R_READ_FAILED, errno, "%s %s: readlink", what, shown);
        target[n] = '\0';
        if ((size_t)snprintf(joined, sizeof(joined), "%s/%s", target, rest) >= PATH_BUF)
            return km_fail(st, KAFKA_MTLS_R_READ_FAILED, "%s %s: path too long", what, shown);
        memcpy(rest, joined, strlen(joined) + 1);
        /* messages go on from where the link points */
        if (target[0] == '/')
            snprintf(shown, PATH_BUF, "/");
        else if (strrchr(shown, '/') != NULL)
            *(strrchr(shown, '/') == shown ? shown + 1 : strrchr(shown, '/')) = '\0';
        if (target[0] == '/') {
            if ((next = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
                return km_fail_errno(st, KAFKA_MTLS_R_READ_FAILED, errno, "/");
            close(*cur);
            *cur = next;
        }
        return 1;
    }
    if ((next = openat(*cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return km_fail_errno(st, KAFKA_MTLS_R_READ_FAILED, errno, "%s %s", what, shown);
    close(*cur);
    *cur = next;
    return 1;
}

int km_safe_dir_open(const char *path, const char *what, unsigned flags, km_status *st)
{
    char rest[PATH_BUF], shown[PATH_BUF] = "/";
    int cur, links = 0, fd;
    struct stat sb;

    if (path == NULL || path[0] != '/')
        return km_fail(st, KAFKA_MTLS_R_RELATIVE_PATH, "%s %s: not an absolute path", what,
                       path ? path : "(none)"), -1;
    if (strlen(path) >= sizeof(rest))
        return km_fail(st, KAFKA_MTLS_R_READ_FAILED, "%s %.60s...: path too long", what, path), -1;
    memcpy(rest, path, strlen(path) + 1);
    if ((cur = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
        return km_fail_errno(st, KAFKA_MTLS_R_READ_FAILED, errno, "/"), -1;
    for (;;) {
        char comp[PATH_BUF], *p = rest, *end;
        size_t len;

        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        end = strchr(p, '/');
        len = end != NULL ? (size_t)(end - p) : strlen(p);
        memcpy(comp, p, len);
        comp[len] = '\0';
        memmove(rest, p + len, strlen(p + len) + 1);
        walked(shown, comp, len);
        if (!step(&cur, comp, rest, shown, what, flags, &links, st)) {
            close(cur);
            return -1;
        }
    }
    fd = openat(cur, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(cur);
    if (fd < 0)
        return km_fail_errno(st, KAFKA_MTLS_R_READ_FAILED, errno, "%s %s", what, path), -1;
    if (fstat(fd, &sb) != 0 || !km_safe_owner(path, what, (unsigned)sb.st_uid, st)) {
        km_fail_errno(st, KAFKA_MTLS_R_READ_FAILED, errno, "%s %s", what, path);
        close(fd);
        return -1;
    }
    if ((flags & KM_SAFE_WRITE) && (sb.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        close(fd);
        return km_fail(st, KAFKA_MTLS_R_INSECURE,
                       "%s %s: writable by group or others (mode %03o): refusing to keep keys in it "
                       "(chmod 700 it)", what, path, (unsigned)(sb.st_mode & 0777)), -1;
    }
    return fd;
}
