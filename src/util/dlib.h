/* Shared libraries opened on first use (libcurl, libnftables): berth does
 * not link them, so commands that never need them do not pay for loading
 * them at every start. */
#ifndef BERTH_UTIL_DLIB_H
#define BERTH_UTIL_DLIB_H

#include <stddef.h>

/* One function to find: NAME, stored at *SLOT. */
typedef struct dlib_symbol {
	const char *name;
	void **slot;
} dlib_symbol;

/* Opens LIBRARY (RTLD_NOW | RTLD_LOCAL) and resolves the N symbols. On
 * failure returns -1 with the reason in ERRBUF ("cannot load X (install
 * PACKAGE): ...", "X lacks SYMBOL"); the slots are then not to be used. */
int dlib_open(const char *library, const char *package, const dlib_symbol *symbols, size_t n, char *errbuf,
	      size_t errlen);
/* The same with lazy binding (RTLD_LAZY): the functions of LIBRARY's
 * dependencies are resolved when first called, not all at load. For a big
 * C++ dependency (librnp's Botan: over 2,000 function slots) that saves a
 * good part of the load; a function missing from a dependency then stops
 * the process at its first call instead of failing the load. */
int dlib_open_lazy(const char *library, const char *package, const dlib_symbol *symbols, size_t n, char *errbuf,
		   size_t errlen);

#endif
