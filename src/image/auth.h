/* Registry credentials in the containers-auth.json format (podman, skopeo,
 * buildah; docker's config.json has the same "auths" object):
 *   {"auths": {"HOST[:PORT]": {"auth": base64("USER:PASSWORD")}}}
 *
 * The file: REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json,
 * else /run/containers/UID/auth.json (what podman uses); reading falls back to
 * $HOME/.docker/config.json. Written atomically, mode 0600.
 *
 * Keys may also name a namespace ("HOST/team" or "HOST/team/app"): a lookup
 * for a repository takes the most specific key, as containers-auth.json(5)
 * says. Docker's spellings ("https://index.docker.io/v1/") are understood
 * when reading. Other members of the file (credHelpers, ...) are kept when
 * it is rewritten.
 *
 * Also here: the parsers of the other auth inputs, --creds "USER:PASSWORD"
 * and a registry's WWW-Authenticate challenge. */
#ifndef BERTH_IMAGE_AUTH_H
#define BERTH_IMAGE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

typedef struct auth_credentials {
	char *username;
	char *password;
} auth_credentials;

void auth_credentials_free(auth_credentials *c);

/* Parses "USER:PASSWORD" (the password may contain ':'). A missing or empty
 * user or password is an error (berth does not prompt for --creds). */
int auth_parse_creds(const char *text, auth_credentials *out, berth_error **err);

/* The auth file to use (heap): OVERRIDE (--authfile) when non-NULL, else
 * REGISTRY_AUTH_FILE, else the per-user runtime path above. *IS_DEFAULT (may
 * be NULL) says whether it is the default path (only then does reading fall
 * back to docker's config.json). */
char *auth_file_path(const char *override, bool *is_default);

/* Normalises a server as typed for login/logout or found as a key in a file:
 * strips "http://", "https://" and a trailing "/" or "/v1/"/"/v2/", and maps
 * "index.docker.io" and "registry-1.docker.io" to "docker.io" (heap). */
char *auth_normalize_server(const char *server);

/* Credentials for REPOSITORY ("host[:port]/path", or just "host[:port]")
 * from the file of auth_file_path(OVERRIDE): the most specific key wins.
 * *FOUND is false (and 0 returned) when there are none; a file that does not
 * exist is not an error, one that does not parse is. */
int auth_lookup(const char *override, const char *repository, auth_credentials *out, bool *found, berth_error **err);

/* Stores USER/PASSWORD for SERVER (a key, normalised) in FILE, creating the
 * file and its directory (0700) as needed; the file is replaced atomically
 * with mode 0600. */
int auth_store(const char *file, const char *server, const char *user, const char *password, berth_error **err);

/* Removes SERVER's entry from FILE (ALL: every entry). *REMOVED says whether
 * there was anything to remove. */
int auth_remove(const char *file, const char *server, bool all, bool *removed, berth_error **err);

/* Standard base64 (with padding). Encode returns heap text or NULL (ENOMEM);
 * decode refuses invalid input. */
char *auth_base64_encode(const void *data, size_t len);
int auth_base64_decode(const char *text, char **out, size_t *len);

/* One challenge of a WWW-Authenticate header:
 *   Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull"
 *   Basic realm="Registry Realm"
 * SCHEME is lowercased ("bearer", "basic"); the other fields are NULL when
 * absent. Quoted strings may contain escaped quotes and commas. */
typedef struct auth_challenge {
	char *scheme;
	char *realm;
	char *service;
	char *scope;
	char *error; /* "invalid_token", "insufficient_scope" */
} auth_challenge;

int auth_challenge_parse(const char *header, auth_challenge *out, berth_error **err);
void auth_challenge_free(auth_challenge *c);

#endif
