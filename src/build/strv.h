/* Growable NULL-terminated string vectors for the build module. */
#ifndef BERTH_BUILD_STRV_H
#define BERTH_BUILD_STRV_H

#include <stddef.h>

/* Appends a copy of S (N bytes; N = (size_t)-1 for strlen) to *V. */
int build_strv_add(char ***v, const char *s, size_t n);
/* Appends S itself (taken over; freed on failure). */
int build_strv_take(char ***v, char *s);
size_t build_strv_len(char *const *v);
/* A deep copy (NULL gives an empty vector). */
char **build_strv_copy(char *const *v);
/* Sets "KEY=VALUE" in an environment vector, replacing KEY's old entry. */
int build_env_set(char ***env, const char *key, const char *value);
/* The value of KEY in a "KEY=VALUE" vector, or NULL. */
const char *build_env_get(char *const *env, const char *key);

#endif
