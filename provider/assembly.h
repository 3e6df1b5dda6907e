/* One read of a keystore: URI's files, without the retry around it. */
#ifndef KMTLS_ASSEMBLY_H
#define KMTLS_ASSEMBLY_H

#include "kmtls/status.h"
#include "material.h"

/* Discovers the volume, reads its files and assembles what rq asks for.
 * 1, or 0 with st set (out is then empty). */
int km_assemble(const km_request *rq, km_material *out, km_status *st);

#endif
