/* --secret: read before the build, written to a file per RUN that mounts one. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build/executor_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/proc.h"

/* --secret id=ID,src=FILE | id=ID,env=VAR: read before anything runs.
 * Secrets stay in memory and go to a file only for the RUN that mounts
 * them (secret_file). */
#define SECRET_MAX_SIZE (500u << 10)

static int parse_secret(const char *spec, build_secret *out, berth_error **err)
{
	_cleanup_free_ char *copy = strdup(spec), *id = NULL, *src = NULL, *env = NULL;
	char *save = NULL;

	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "--secret");
	for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(f, '='), **slot = NULL;
		if (eq == NULL)
			return berth_error_request(err, EINVAL, "--secret %s: expected KEY=VALUE fields", spec);
		*eq = '\0';
		if (strcmp(f, "id") == 0)
			slot = &id;
		else if (strcmp(f, "src") == 0 || strcmp(f, "source") == 0)
			slot = &src;
		else if (strcmp(f, "env") == 0)
			slot = &env;
		else if (strcmp(f, "type") == 0 && (strcmp(eq + 1, "file") == 0 || strcmp(eq + 1, "env") == 0))
			continue;
		else
			return berth_error_request(err, EINVAL, "--secret %s: unknown field \"%s\"", spec, f);
		free(*slot);
		*slot = strdup(eq + 1);
	}
	if (id == NULL || id[0] == '\0' || (src == NULL) == (env == NULL))
		return berth_error_request(err, EINVAL, "--secret %s: expected id=ID and one of src=FILE, env=VAR",
					   spec);
	if (env) {
		const char *v = getenv(env);
		if (v == NULL)
			return berth_error_request(err, ENOENT, "--secret %s: $%s is not set", spec, env);
		out->data = strdup(v);
		out->len = strlen(v);
	} else if (fs_read_file(src, &out->data, &out->len, err) < 0) {
		return berth_error_wrap(err, "--secret id=%s", id);
	}
	if (out->data == NULL)
		return berth_error_set(err, ENOMEM, "--secret");
	if (out->len > SECRET_MAX_SIZE) {
		free(out->data);
		out->data = NULL;
		return berth_error_request(err, EFBIG, "--secret id=%s: larger than 500 KiB", id);
	}
	out->id = move_ptr(id);
	return 0;
}

int build_parse_secrets(build_ctx *c, berth_error **err)
{
	size_t n = 0;

	while (c->o->secrets && c->o->secrets[n])
		n++;
	c->secrets = calloc(n + 1, sizeof(build_secret));
	if (c->secrets == NULL)
		return berth_error_set(err, ENOMEM, "--secret");
	for (size_t i = 0; i < n; i++) {
		if (parse_secret(c->o->secrets[i], &c->secrets[i], err) < 0)
			return -1;
		c->n_secrets = i + 1;
	}
	return 0;
}

void build_free_secrets(build_ctx *c)
{
	for (size_t i = 0; c->secrets && i < c->n_secrets; i++) {
		explicit_bzero(c->secrets[i].data, c->secrets[i].len);
		free(c->secrets[i].data);
		free(c->secrets[i].id);
	}
	free(c->secrets);
	if (c->secrets_dir) {
		berth_error *ignored = NULL;
		if (fs_remove_tree(c->secrets_dir, &ignored) < 0)
			berth_error_free(&ignored);
		free(c->secrets_dir);
	}
}

int build_make_secrets_dir(build_ctx *c, berth_error **err)
{
	if (c->n_secrets == 0)
		return 0;
	if (asprintf(&c->secrets_dir, "%s/step-%d-%llu-secrets-XXXXXX", c->tmp_root, (int)getpid(),
		     proc_pid_start_time(getpid())) < 0) {
		c->secrets_dir = NULL;
		return berth_error_set(err, ENOMEM, "--secret");
	}
	if (mkdtemp(c->secrets_dir) == NULL) {
		int e = errno;
		free(c->secrets_dir);
		c->secrets_dir = NULL;
		return berth_error_set(err, e, "--secret: mkdtemp");
	}
	return 0;
}
