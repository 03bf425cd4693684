#ifndef HONEYCOMB_CHIREDIS_SHIM_H
#define HONEYCOMB_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>

static inline int honeycomb_hiredis_major(void) { return HIREDIS_MAJOR; }
static inline int honeycomb_hiredis_minor(void) { return HIREDIS_MINOR; }
#endif
