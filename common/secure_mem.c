/* km_secure_alloc: anonymous pages, out of core dumps, locked if allowed. */
#include <sys/mman.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "kmtls/secure_mem.h"

static size_t pages_for(size_t n)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t p = page > 0 ? (size_t)page : 4096;

    return (n + p - 1) / p * p;
}

void *km_secure_alloc(size_t n)
{
    size_t len = pages_for(n > 0 ? n : 1);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return NULL;
    /* a core dump must not carry the key: refuse the memory if the kernel
     * cannot leave it out */
    if (madvise(p, len, MADV_DONTDUMP) != 0) {
        munmap(p, len);
        return NULL;
    }
    (void)mlock(p, len); /* best effort: RLIMIT_MEMLOCK may forbid it */
    return p;
}

void km_secure_free(void *p, size_t n)
{
    size_t len = pages_for(n > 0 ? n : 1);

    if (p == NULL)
        return;
    OPENSSL_cleanse(p, len);
    munlock(p, len);
    munmap(p, len);
}
