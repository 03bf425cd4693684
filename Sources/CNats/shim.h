#ifndef HONEYCOMB_CNATS_SHIM_H
#define HONEYCOMB_CNATS_SHIM_H
#include <nats/nats.h>
#endif
