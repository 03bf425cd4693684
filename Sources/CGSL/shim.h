#ifndef HONEYCOMB_CGSL_SHIM_H
#define HONEYCOMB_CGSL_SHIM_H
#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_version.h>

/* GSL's generator types are global mutable pointers, which Swift 6 refuses to read from
   concurrent code; a function returning them is safe to call from anywhere. */
static inline const gsl_rng_type *honeycomb_gsl_mt19937(void) { return gsl_rng_mt19937; }
static inline const gsl_rng_type *honeycomb_gsl_taus2(void) { return gsl_rng_taus2; }
static inline const char *honeycomb_gsl_version(void) { return gsl_version; }
#endif
