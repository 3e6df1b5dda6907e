/* km_fingerprint: FNV-1a over stat(2) data; nothing secret goes in. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kmtls/fingerprint.h"

static unsigned long long mix(unsigned long long h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static unsigned long long mix_stat(unsigned long long h, const char *path, int follow)
{
    struct stat sb;
    long long id[7] = { 0 };

    /* A writer can restore a file's size and mtime (touch -d) after
     * rewriting it in place, but not its ctime: every write, chmod,
     * chown or utime sets it to now. */
    if ((follow ? stat(path, &sb) : lstat(path, &sb)) == 0) {
        id[0] = (long long)sb.st_dev;
        id[1] = (long long)sb.st_ino;
        id[2] = (long long)sb.st_size;
        id[3] = (long long)sb.st_mtim.tv_sec;
        id[4] = (long long)sb.st_mtim.tv_nsec;
        id[5] = (long long)sb.st_ctim.tv_sec;
        id[6] = (long long)sb.st_ctim.tv_nsec;
    }
    h = mix(h, path, strlen(path));
    return mix(h, id, sizeof(id));
}

unsigned long long km_fingerprint(const char *path)
{
    unsigned long long h = mix_stat(0xcbf29ce484222325ULL, path, 1);
    struct dirent **names = NULL;
    char entry[4096];
    struct stat sb;
    int n;

    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return h;
    snprintf(entry, sizeof(entry), "%s/..data", path);
    h = mix_stat(h, entry, 0);
    n = scandir(path, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            snprintf(entry, sizeof(entry), "%s/%s", path, names[i]->d_name);
            h = mix_stat(h, entry, 1);
        }
        free(names[i]);
    }
    free(names);
    return h;
}
