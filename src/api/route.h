/* The pure part of the API's request routing (no HTTP library): the
 * version prefix of a URL and the match of a path against a route's
 * pattern. The service (server.c) and the fuzz target use them. */
#ifndef BERTH_API_ROUTE_H
#define BERTH_API_ROUTE_H

#include <stdbool.h>

#define API_ROUTE_PARAMS 4

/* URL's "/vMAJOR.MINOR" prefix: *REST gets the path after it (URL itself
 * without one). 0 when the version is served (1.24 to 1.41) or absent, 1
 * when too new, -1 when too old; *MAJOR and *MINOR get it. */
int api_url_version(const char *url, const char **rest, unsigned *major, unsigned *minor);

/* PATH against PATTERN; the {} segments into PARAMS (heap; the caller
 * frees them, also after a failed match). Image names hold slashes
 * ("/images/registry:5000/a/b/json"): a {} before a fixed last segment
 * takes every segment up to it. */
bool api_route_match(const char *pattern, const char *path, char *params[API_ROUTE_PARAMS]);

#endif
