/* The version prefix and the route patterns of the API (route.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/route.h"

int api_url_version(const char *url, const char **rest, unsigned *major, unsigned *minor)
{
	int n = 0;

	*rest = url;
	if (sscanf(url, "/v%u.%u%n", major, minor, &n) == 2 && n > 0 && (url[n] == '/' || url[n] == '\0')) {
		unsigned long v = (unsigned long)*major * 1000 + *minor;
		if (*major > 1000 || *minor > 1000 || v > 1041)
			return 1;
		if (v < 1024)
			return -1;
		*rest = url + n;
	}
	return 0;
}

bool api_route_match(const char *pattern, const char *path, char *params[API_ROUTE_PARAMS])
{
	int np = 0;

	while (*pattern && *path) {
		if (*pattern != '/' || *path != '/')
			return false;
		pattern++;
		path++;
		if (strncmp(pattern, "{}", 2) == 0) {
			const char *rest = pattern + 2, *end;
			if (*rest == '\0') {
				end = path + strlen(path);
			} else {
				/* the fixed remainder must end the path */
				size_t rl = strlen(rest), pl = strlen(path);
				if (strchr(rest + 1, '/') != NULL || pl <= rl || strcmp(path + pl - rl, rest) != 0)
					return false;
				end = path + pl - rl;
			}
			if (end == path || np >= API_ROUTE_PARAMS)
				return false;
			params[np] = strndup(path, (size_t)(end - path));
			if (params[np++] == NULL)
				return false;
			pattern = rest;
			path = end;
			continue;
		}
		size_t n = strcspn(pattern, "/"), m = strcspn(path, "/");
		if (n != m || strncmp(pattern, path, n) != 0)
			return false;
		pattern += n;
		path += m;
	}
	return *pattern == '\0' && *path == '\0';
}
