#include "build/strv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t build_strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

int build_strv_take(char ***v, char *s)
{
	size_t n = build_strv_len(*v);
	char **p;

	if (s == NULL)
		return -1;
	p = realloc(*v, (n + 2) * sizeof(char *));
	if (p == NULL) {
		free(s);
		return -1;
	}
	p[n] = s;
	p[n + 1] = NULL;
	*v = p;
	return 0;
}

int build_strv_add(char ***v, const char *s, size_t n)
{
	return build_strv_take(v, n == (size_t)-1 ? strdup(s) : strndup(s, n));
}

char **build_strv_copy(char *const *v)
{
	char **out = calloc(1, sizeof(char *));

	for (size_t i = 0; out && v && v[i]; i++) {
		if (build_strv_add(&out, v[i], (size_t)-1) < 0) {
			for (size_t j = 0; out[j]; j++)
				free(out[j]);
			free(out);
			return NULL;
		}
	}
	return out;
}

static char **env_find(char *const *env, const char *key)
{
	size_t kl = strlen(key);

	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], key, kl) == 0 && (env[i][kl] == '=' || env[i][kl] == '\0'))
			return (char **)&env[i];
	return NULL;
}

const char *build_env_get(char *const *env, const char *key)
{
	char **e = env_find(env, key);

	if (e == NULL)
		return NULL;
	return (*e)[strlen(key)] == '=' ? *e + strlen(key) + 1 : "";
}

int build_env_set(char ***env, const char *key, const char *value)
{
	char *entry = NULL, **e;

	if (asprintf(&entry, "%s=%s", key, value ? value : "") < 0)
		return -1;
	e = env_find(*env, key);
	if (e) {
		free(*e);
		*e = entry;
		return 0;
	}
	return build_strv_take(env, entry);
}
