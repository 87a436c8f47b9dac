/* Request parts read without the HTTP library (parse.h). */
#include <errno.h>
#include <resolv.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/parse.h"
#include "util/cleanup.h"

int api_update_values(json_t *body, char *out[4], berth_error **err)
{
	static const char *const known[] = { "Memory", "NanoCpus", "CpuQuota", "CpuPeriod", "PidsLimit", "CpuShares" };
	const char *key;
	json_t *v;
	json_int_t period = 0, quota = 0;

	json_object_foreach(body, key, v) {
		bool ok = false;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok = ok || strcmp(key, known[i]) == 0;
		if (strcmp(key, "RestartPolicy") == 0)
			ok = json_is_null(v) || json_string_length(json_object_get(v, "Name")) == 0;
		else if (!ok)
			ok = json_is_null(v) || (json_is_integer(v) && json_integer_value(v) == 0) ||
			     (json_is_string(v) && json_string_length(v) == 0) || json_is_false(v) ||
			     (json_is_array(v) && json_array_size(v) == 0) ||
			     (json_is_object(v) && json_object_size(v) == 0);
		if (!ok)
			return berth_error_request(err, EINVAL,
						   "%s: berth cannot change it (update changes Memory, NanoCpus, "
						   "CpuQuota/CpuPeriod, PidsLimit, CpuShares)",
						   key);
		if (!json_is_null(v) && !json_is_integer(v) && strcmp(key, "RestartPolicy") != 0)
			for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
				if (strcmp(key, known[i]) == 0)
					return berth_error_request(err, EINVAL, "%s: expected an integer", key);
	}
	json_int_t mem = json_integer_value(json_object_get(body, "Memory"));
	json_int_t nano = json_integer_value(json_object_get(body, "NanoCpus"));
	json_int_t pids = json_integer_value(json_object_get(body, "PidsLimit"));
	json_int_t shares = json_integer_value(json_object_get(body, "CpuShares"));
	quota = json_integer_value(json_object_get(body, "CpuQuota"));
	period = json_integer_value(json_object_get(body, "CpuPeriod"));
	if (mem > 0 && asprintf(&out[0], "%" JSON_INTEGER_FORMAT, mem) < 0)
		out[0] = NULL;
	if (nano > 0 && asprintf(&out[1], "%.9g", (double)nano / 1e9) < 0)
		out[1] = NULL;
	else if (nano == 0 && quota > 0 &&
		 asprintf(&out[1], "%.9g", (double)quota / (double)(period > 0 ? period : 100000)) < 0)
		out[1] = NULL;
	if (pids != 0 && asprintf(&out[2], "%" JSON_INTEGER_FORMAT, pids) < 0)
		out[2] = NULL;
	if (shares > 0 && asprintf(&out[3], "%" JSON_INTEGER_FORMAT, shares) < 0)
		out[3] = NULL;
	return 0;
}

int api_registry_auth(const char *header, char **creds, berth_error **err)
{
	size_t len = header ? strlen(header) : 0;
	_cleanup_free_ char *b64 = malloc(len + 4), *raw = malloc(len + 4);
	const char *user, *password;
	json_t *j;
	int n;

	*creds = NULL;
	if (len == 0)
		return 0;
	if (b64 == NULL || raw == NULL)
		return berth_error_set(err, ENOMEM, "X-Registry-Auth");
	for (size_t i = 0; i < len; i++)
		b64[i] = header[i] == '-' ? '+' : header[i] == '_' ? '/' : header[i];
	while (len % 4)
		b64[len++] = '=';
	b64[len] = '\0';
	n = b64_pton(b64, (unsigned char *)raw, len);
	if (n < 0)
		return berth_error_request(err, EINVAL, "X-Registry-Auth: not base64");
	j = json_loadb(raw, (size_t)n, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return berth_error_request(err, EINVAL, "X-Registry-Auth: not a JSON object");
	}
	user = json_string_value(json_object_get(j, "username"));
	password = json_string_value(json_object_get(j, "password"));
	if (user && *user && asprintf(creds, "%s:%s", user, password ? password : "") < 0) {
		*creds = NULL;
		json_decref(j);
		return berth_error_set(err, ENOMEM, "X-Registry-Auth");
	}
	json_decref(j);
	return 0;
}
