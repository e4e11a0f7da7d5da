/* The library's version string (VITC_VERSION of the build). */
#include "vitc.h"

const char *vitc_version(void) { return VITC_VERSION; }
