/* berth login [flags] REGISTRY and berth logout [--all] [REGISTRY]: the
 * credentials of the auth file (image/auth.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cmd/berth/commands.h"
#include "image/auth.h"
#include "image/registry.h"
#include "util/cleanup.h"

static const option_spec login_specs[] = {
	{ "username", 'u', true, "user name" },
	{ "password", 'p', true, "password (--password-stdin keeps it out of the process list)" },
	{ "password-stdin", 0, false, "read the password from stdin" },
	{ "authfile", 0, true, "credentials file (default: REGISTRY_AUTH_FILE, else containers' auth.json)" },
	{ "tls-verify", 0, false, "require https with a verified certificate (default true; false allows http)" },
	{ "cert-dir", 0, true, "CA certificates (*.crt) and a client certificate (*.cert + *.key)" },
	{ NULL, 0, false, NULL },
};

enum { L_USERNAME, L_PASSWORD, L_PASSWORD_STDIN, L_AUTHFILE, L_TLS_VERIFY, L_CERT_DIR, L_COUNT };

static const option_spec logout_specs[] = {
	{ "all", 'a', false, "remove the credentials of every registry" },
	{ "authfile", 0, true, "credentials file (default: REGISTRY_AUTH_FILE, else containers' auth.json)" },
	{ NULL, 0, false, NULL },
};

enum { LO_ALL, LO_AUTHFILE, LO_COUNT };

static void free_secret(char **p)
{
	if (*p) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
	}
	*p = NULL;
}
#define _cleanup_secret_ __attribute__((cleanup(free_secret)))

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* All of stdin, without the trailing newline. */
static int read_stdin_secret(char **out, berth_error **err)
{
	_cleanup_secret_ char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;

	for (;;) {
		if (len + 256 > cap) {
			char *grown = malloc(cap + 4096);
			if (grown == NULL)
				return berth_error_set(err, ENOMEM, "login: read the password");
			if (buf)
				memcpy(grown, buf, len);
			free_secret(&buf);
			buf = grown;
			cap += 4096;
		}
		n = read(STDIN_FILENO, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berth_error_set(err, errno, "login: read the password from stdin");
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	chomp(buf);
	*out = move_ptr(buf);
	return 0;
}

/* Asks on the terminal (no echo for secrets). */
static int prompt(const char *label, bool secret, char **out, berth_error **err)
{
	struct termios old, quiet;
	bool restore = false;
	size_t cap = 0;
	char *line = NULL;
	ssize_t n;

	if (!isatty(STDIN_FILENO))
		return berth_error_set(err, 0, "login: no %s given (-u USER, -p PASSWORD or --password-stdin)", label);
	fprintf(stderr, "%s: ", label);
	fflush(stderr);
	if (secret && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
	}
	n = getline(&line, &cap, stdin);
	if (restore) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (n < 0) {
		free(line);
		return berth_error_set(err, 0, "login: no %s given", label);
	}
	chomp(line);
	*out = line;
	return 0;
}

static int login_credentials(const option_value *v, char **user, char **password, berth_error **err)
{
	if (v[L_PASSWORD].set && option_bool(&v[L_PASSWORD_STDIN]))
		return berth_error_set(err, 0, "login: --password and --password-stdin exclude each other");
	if (v[L_USERNAME].set)
		*user = strdup(v[L_USERNAME].value);
	else if (prompt("Username", false, user, err) < 0)
		return -1;
	if (*user == NULL)
		return berth_error_set(err, ENOMEM, "login");
	if (v[L_PASSWORD].set)
		*password = strdup(v[L_PASSWORD].value);
	else if (option_bool(&v[L_PASSWORD_STDIN]))
		return read_stdin_secret(password, err);
	else if (prompt("Password", true, password, err) < 0)
		return -1;
	return *password ? 0 : berth_error_set(err, ENOMEM, "login");
}

int cmd_login(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[L_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	_cleanup_secret_ char *user = NULL, *password = NULL;
	registry_options opts = { 0 };
	int npos = 0, ret;

	ret = berth_parse("login", "login [flags] REGISTRY", login_specs, argc, argv, false, v, &pos, &npos, 1, 1, err);
	if (ret == 0) {
		opts.auth_file = v[L_AUTHFILE].value;
		opts.cert_dir = v[L_CERT_DIR].value;
		opts.tls_verify = !v[L_TLS_VERIFY].set || option_bool(&v[L_TLS_VERIFY]);
		opts.quiet = true;
		ret = login_credentials(v, &user, &password, err);
	}
	if (ret == 0)
		ret = registry_login(pos[0], user, password, &opts, err);
	if (ret == 0)
		printf("Login Succeeded!\n");
	options_free_values(v, L_COUNT);
	return ret < 0 ? -1 : 0;
}

int cmd_logout(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	option_value v[LO_COUNT + 1] = { 0 };
	_cleanup_free_ char **pos = NULL;
	_cleanup_free_ char *server = NULL;
	registry_options opts = { 0 };
	bool all;
	int npos = 0, ret;

	ret = berth_parse("logout", "logout [--all] [--authfile FILE] [REGISTRY]", logout_specs, argc, argv, false, v,
			  &pos, &npos, 0, 1, err);
	all = ret == 0 && option_bool(&v[LO_ALL]);
	if (ret == 0 && !all && npos == 0)
		ret = berth_error_set(err, 0, "logout: name a registry (or --all)");
	if (ret == 0) {
		opts.auth_file = v[LO_AUTHFILE].value;
		server = npos > 0 ? auth_normalize_server(pos[0]) : NULL;
		ret = registry_logout(npos > 0 ? pos[0] : NULL, all, &opts, err);
	}
	if (ret == 0 && all)
		printf("Removed login credentials for all registries\n");
	else if (ret == 0)
		printf("Removed login credentials for %s\n", server ? server : pos[0]);
	options_free_values(v, LO_COUNT);
	return ret < 0 ? -1 : 0;
}
