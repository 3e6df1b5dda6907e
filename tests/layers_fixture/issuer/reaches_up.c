/* The same with angle brackets: refused. */
#include <../provider/volume.h>
