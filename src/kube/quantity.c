#include "kube/quantity.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct suffix {
	const char *name;
	long double factor;
} suffix;

static const suffix suffixes[] = {
	{ "Ki", 1024.0L },
	{ "Mi", 1048576.0L },
	{ "Gi", 1073741824.0L },
	{ "Ti", 1099511627776.0L },
	{ "Pi", 1125899906842624.0L },
	{ "Ei", 1152921504606846976.0L },
	{ "n", 1e-9L },
	{ "u", 1e-6L },
	{ "m", 1e-3L },
	{ "k", 1e3L },
	{ "M", 1e6L },
	{ "G", 1e9L },
	{ "T", 1e12L },
	{ "P", 1e15L },
	{ "E", 1e18L },
	{ "", 1.0L },
};

int kube_quantity_parse(const char *text, int64_t *milli, berth_error **err)
{
	const char *p = text;
	bool digits = false;
	long double factor = 1.0L;

	if (*p == '+')
		p++;
	else if (*p == '-')
		return berth_error_request(err, EINVAL, "quantity \"%s\" is negative", text);
	const char *number = p;
	while (*p >= '0' && *p <= '9')
		p++, digits = true;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++, digits = true;
	}
	if (!digits)
		return berth_error_request(err, EINVAL, "quantity \"%s\": expected a number such as 500m, 0.5 or 128Mi",
					   text);
	size_t number_len = (size_t)(p - number);
	if ((*p == 'e' || *p == 'E') && p[1] != '\0' && p[1] != 'i') {
		char *end = NULL;
		errno = 0;
		long exponent = strtol(p + 1, &end, 10);
		if (errno != 0 || end == p + 1 || *end != '\0' || exponent > 18 || exponent < -9)
			return berth_error_request(err, EINVAL, "quantity \"%s\": bad exponent", text);
		factor = powl(10.0L, (long double)exponent);
	} else {
		const suffix *s = suffixes;
		while (strcmp(s->name, p) != 0 && s->name[0] != '\0')
			s++;
		if (strcmp(s->name, p) != 0)
			return berth_error_request(err, EINVAL,
						   "quantity \"%s\": unknown suffix \"%s\" (Ki Mi Gi Ti Pi Ei, n u m k "
						   "M G T P E, or an exponent)",
						   text, p);
		factor = s->factor;
	}
	char buf[64];
	if (number_len >= sizeof(buf))
		return berth_error_request(err, ERANGE, "quantity \"%s\" is too long", text);
	memcpy(buf, number, number_len);
	buf[number_len] = '\0';
	long double value = strtold(buf, NULL) * factor * 1000.0L;
	value = ceill(value - 1e-9L); /* round up to a whole thousandth */
	if (!(value >= 0) || value > (long double)INT64_MAX)
		return berth_error_request(err, ERANGE, "quantity \"%s\" is out of range", text);
	*milli = (int64_t)value;
	return 0;
}

int kube_quantity_from_json(const json_t *value, const char *path, int64_t *milli, berth_error **err)
{
	char buf[64];
	const char *text;
	if (json_is_string(value)) {
		text = json_string_value(value);
	} else if (json_is_integer(value)) {
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(value));
		text = buf;
	} else if (json_is_real(value)) {
		snprintf(buf, sizeof(buf), "%.9f", json_real_value(value));
		text = buf;
	} else {
		return berth_error_request(err, EINVAL, "%s: expected a quantity", path);
	}
	if (kube_quantity_parse(text, milli, err) < 0)
		return berth_error_wrap(err, "%s", path);
	return 0;
}
