/* Shared libraries opened on first use (dlib.h). */
#include "util/dlib.h"

#include <dlfcn.h>
#include <stdio.h>

static int open_with(int mode, const char *library, const char *package, const dlib_symbol *symbols, size_t n,
		     char *errbuf, size_t errlen)
{
	void *h = dlopen(library, mode | RTLD_LOCAL);

	if (h == NULL) {
		snprintf(errbuf, errlen, "cannot load %s (install %s): %s", library, package, dlerror());
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		*symbols[i].slot = dlsym(h, symbols[i].name);
		if (*symbols[i].slot == NULL) {
			snprintf(errbuf, errlen, "%s lacks %s", library, symbols[i].name);
			return -1;
		}
	}
	return 0;
}

int dlib_open(const char *library, const char *package, const dlib_symbol *symbols, size_t n, char *errbuf,
	      size_t errlen)
{
	return open_with(RTLD_NOW, library, package, symbols, n, errbuf, errlen);
}

int dlib_open_lazy(const char *library, const char *package, const dlib_symbol *symbols, size_t n, char *errbuf,
		   size_t errlen)
{
	return open_with(RTLD_LAZY, library, package, symbols, n, errbuf, errlen);
}
