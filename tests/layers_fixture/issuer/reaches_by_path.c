/* Reaches a private header of provider/ by a relative path: refused. */
#include "../provider/volume.h"
