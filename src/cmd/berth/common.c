#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cmd/berth/commands.h"
#include "util/cleanup.h"

int berth_open_store(const berth_globals *g, store **out, berth_error **err)
{
	return store_open(g->store_root, out, err);
}

int berth_parse(const char *name, const char *usage, const option_spec *specs, int argc, char **argv,
		bool stop_at_positional, option_value *values, char ***pos, int *npos, int min_pos, int max_pos,
		berth_error **err)
{
	return options_parse_command("berth", name, usage, specs, argc, argv, stop_at_positional, values, pos, npos,
				     min_pos, max_pos, err);
}

int berth_confirm(const char *command, const char *warning, bool force, berth_error **err)
{
	char answer[64];

	if (force)
		return 1;
	if (!isatty(STDIN_FILENO))
		return berth_error_request(err, EINVAL,
					   "%s: stdin is not a terminal to confirm on: give -f to go ahead", command);
	printf("WARNING! %s\nAre you sure you want to continue? [y/N] ", warning);
	fflush(stdout);
	if (fgets(answer, sizeof(answer), stdin) == NULL)
		return 0;
	answer[strcspn(answer, "\r\n")] = '\0';
	return strcasecmp(answer, "y") == 0 || strcasecmp(answer, "yes") == 0;
}

int berth_table_add(berth_table *t, const char *const *row)
{
	char **cells = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));

	if (cells == NULL)
		return -1;
	t->cells = cells;
	for (size_t i = 0; i < t->ncols; i++)
		cells[t->nrows * t->ncols + i] = strdup(row[i] ? row[i] : "");
	t->nrows++;
	return 0;
}

/* Characters, not bytes (UTF-8: "…" is one column, as Go's tabwriter counts). */
static size_t display_width(const char *s)
{
	size_t n = 0;

	for (; s && *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

void berth_table_print(berth_table *t)
{
	_cleanup_free_ size_t *width = calloc(t->ncols, sizeof(size_t));

	for (size_t r = 0; width && r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * t->ncols + c];
			size_t len = display_width(cell);
			if (len > width[c])
				width[c] = len;
		}
	for (size_t r = 0; width && r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * t->ncols + c] ?: "";
			if (c + 1 == t->ncols)
				printf("%s\n", cell);
			else
				printf("%s%*s   ", cell, (int)(width[c] - display_width(cell)), "");
		}
	}
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}

void berth_print_json(json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(4) | JSON_ENSURE_ASCII);
	if (text) {
		puts(text);
		free(text);
	}
}

const char *berth_human_size(int64_t bytes, char *buf)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1000.0 && u < 4) {
		v /= 1000.0;
		u++;
	}
	snprintf(buf, 32, u == 0 ? "%.0f %s" : (v < 10 ? "%.3g %s" : "%.3g %s"), v, units[u]);
	return buf;
}

/* The docker CLI's wording (go-units' HumanDuration), so columns read the
 * same: "Less than a second", "About a minute", "3 weeks". */
void berth_human_duration(long d, char *buf, size_t len)
{
	long h = d / 3600;

	if (d < 1)
		snprintf(buf, len, "Less than a second");
	else if (d == 1)
		snprintf(buf, len, "1 second");
	else if (d < 60)
		snprintf(buf, len, "%ld seconds", d);
	else if (d / 60 == 1)
		snprintf(buf, len, "About a minute");
	else if (d < 3600)
		snprintf(buf, len, "%ld minutes", d / 60);
	else if (h == 1)
		snprintf(buf, len, "About an hour");
	else if (h < 48)
		snprintf(buf, len, "%ld hours", h);
	else if (h < 24 * 7 * 2)
		snprintf(buf, len, "%ld days", h / 24);
	else if (h < 24 * 30 * 2)
		snprintf(buf, len, "%ld weeks", h / 24 / 7);
	else if (h < 24 * 365 * 2)
		snprintf(buf, len, "%ld months", h / 24 / 30);
	else
		snprintf(buf, len, "%ld years", h / 24 / 365);
}

long berth_seconds_since(const char *rfc3339)
{
	struct tm tm = { 0 };
	double d;

	if (rfc3339 == NULL || strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
		return -1;
	d = difftime(time(NULL), timegm(&tm));
	return d < 0 ? 0 : (long)d;
}

const char *berth_human_since(const char *rfc3339, char *buf)
{
	long d = berth_seconds_since(rfc3339);

	buf[0] = '\0';
	if (d < 0)
		return buf;
	berth_human_duration(d, buf, 64);
	strcat(buf, " ago");
	return buf;
}

int berth_registry_options(const char *command, const option_value *v, registry_options *out, berth_error **err)
{
	enum { R_TLS_VERIFY, R_AUTHFILE, R_CREDS, R_CERT_DIR, R_JOBS, R_QUIET };
	char *end = NULL;
	long n;

	out->tls_verify = !v[R_TLS_VERIFY].set || option_bool(&v[R_TLS_VERIFY]);
	out->auth_file = v[R_AUTHFILE].value;
	out->creds = v[R_CREDS].value;
	out->cert_dir = v[R_CERT_DIR].value;
	out->quiet = option_bool(&v[R_QUIET]);
	out->jobs = 0;
	if (!v[R_JOBS].set)
		return 0;
	n = strtol(v[R_JOBS].value, &end, 10);
	if (end == v[R_JOBS].value || *end != '\0' || n < 1 || n > 32)
		return berth_error_set(err, 0, "%s: --jobs takes a number from 1 to 32, not \"%s\"", command,
				       v[R_JOBS].value);
	out->jobs = (int)n;
	return 0;
}

void berth_trust_options(const berth_globals *g, const option_value *v, trust_options *out)
{
	out->policy_path = v[0].value;
	out->registries_d = v[1].value;
	out->rootless = g->rootless;
}
