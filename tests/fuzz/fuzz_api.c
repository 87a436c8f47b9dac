/* libFuzzer target for the API service's request handling without the
 * HTTP library: the first line of the input is a request line ("METHOD
 * /vN.NN/PATH"), routed as the service routes it (the version prefix, every
 * route of src/api/routes.h); the rest is the body, read as
 * POST /containers/create reads it (api_create_options), as
 * POST /containers/{id}/update does (api_update_values), and as an
 * X-Registry-Auth header (api_registry_auth). Built and run by
 * tests/fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/create.h"
#include "api/parse.h"
#include "api/route.h"
#include "api/routes.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct pattern {
	const char *method, *pattern;
} pattern;

#define PATTERN_ENTRY(m, p, h) { m, p },
static const pattern patterns[] = { API_ROUTES(PATTERN_ENTRY){ NULL, NULL } };

static void route(const char *line)
{
	const char *space = strchr(line, ' '), *rest = NULL;
	unsigned major = 0, minor = 0;
	char *url, *query;

	if (space == NULL)
		return;
	url = strdup(space + 1);
	if (url == NULL)
		return;
	query = strchr(url, '?');
	if (query)
		*query = '\0';
	if (api_url_version(url, &rest, &major, &minor) == 0) {
		for (const pattern *p = patterns; p->method; p++) {
			char *params[API_ROUTE_PARAMS] = { NULL };
			bool hit = api_route_match(p->pattern, *rest ? rest : "/", params);
			for (int i = 0; i < API_ROUTE_PARAMS; i++)
				free(params[i]);
			if (hit && strncmp(line, p->method, (size_t)(space - line)) == 0)
				break;
		}
	}
	free(url);
}

static void body(const char *text, size_t len)
{
	berth_error *err = NULL;
	json_t *j = json_loadb(text, len, 0, NULL);
	char *values[4] = { NULL };
	char *creds = NULL;

	if (json_is_object(j)) {
		create_strings keep = { 0 };
		run_options o;
		const char *image = NULL;
		if (api_create_options(j, "fuzz", &o, &image, &keep, &err) < 0)
			berth_error_free(&err);
		create_strings_free(&keep);
		if (api_update_values(j, values, &err) < 0)
			berth_error_free(&err);
		for (int i = 0; i < 4; i++)
			free(values[i]);
	}
	json_decref(j);
	if (api_registry_auth(text, &creds, &err) < 0)
		berth_error_free(&err);
	free(creds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *nl;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	nl = memchr(text, '\n', size);
	if (nl) {
		*nl = '\0';
		route(text);
		body(nl + 1, size - (size_t)(nl + 1 - text));
	} else {
		route(text);
	}
	free(text);
	return 0;
}
