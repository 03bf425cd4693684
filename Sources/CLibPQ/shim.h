#ifndef HONEYCOMB_CLIBPQ_SHIM_H
#define HONEYCOMB_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
