/* Login and logout, the transfer thread pool and the progress display of the
 * registry client (pull.c and push.c hold the transfers themselves). */
#include "image/registry.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "image/auth.h"
#include "image/registry_http.h"
#include "util/cleanup.h"

/* ---- progress ---- */

struct registry_progress {
	pthread_mutex_t lock;
	int64_t total, moved;
	size_t done;
	struct timespec last_draw;
	bool drawn;
};

registry_progress *registry_progress_new(bool quiet)
{
	registry_progress *p;

	if (quiet || !isatty(STDERR_FILENO))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (p)
		pthread_mutex_init(&p->lock, NULL);
	return p;
}

void registry_progress_free(registry_progress *p)
{
	if (p == NULL)
		return;
	if (p->drawn)
		fputs("\r\033[K", stderr);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static const char *human(int64_t bytes, char buf[32])
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB" };
	double v = (double)(bytes < 0 ? 0 : bytes);
	int u = 0;

	while (v >= 1000.0 && u < 4) {
		v /= 1000.0;
		u++;
	}
	snprintf(buf, 32, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
	return buf;
}

/* Caller holds the lock. */
static void progress_draw(registry_progress *p)
{
	char a[32], b[32], bar[31];
	int filled = p->total > 0 ? (int)(30 * (p->moved > p->total ? p->total : p->moved) / p->total) : 0;

	for (int i = 0; i < 30; i++)
		bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
	bar[30] = '\0';
	fprintf(stderr, "\r\033[K[%s] %s / %s", bar, human(p->moved, a), human(p->total, b));
	fflush(stderr);
	p->drawn = true;
	clock_gettime(CLOCK_MONOTONIC, &p->last_draw);
}

void registry_progress_add_total(registry_progress *p, int64_t bytes)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->total += bytes;
	pthread_mutex_unlock(&p->lock);
}

void registry_progress_add_moved(registry_progress *p, int64_t delta)
{
	struct timespec now;

	if (p == NULL || delta == 0)
		return;
	pthread_mutex_lock(&p->lock);
	p->moved += delta;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((now.tv_sec - p->last_draw.tv_sec) * 1000000000L + (now.tv_nsec - p->last_draw.tv_nsec) > 100000000L)
		progress_draw(p);
	pthread_mutex_unlock(&p->lock);
}

void registry_progress_done(registry_progress *p, const char *verb, const char *digest, int64_t size)
{
	char a[32];

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	fprintf(stderr, "\r\033[K%s %.12s %s\n", verb, digest, human(size, a));
	progress_draw(p);
	pthread_mutex_unlock(&p->lock);
}

void registry_blob_done(registry_client *c, const char *verb, const char *digest, int64_t size)
{
	registry_progress_done(c->progress, verb, digest, size);
	if (c->opts.on_blob)
		c->opts.on_blob(c->opts.on_blob_arg, verb, digest, size);
}

void registry_progress_note(registry_progress *p, const char *fmt, ...)
{
	va_list ap;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	fputs("\r\033[K", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	p->drawn = false;
	pthread_mutex_unlock(&p->lock);
}

/* ---- the thread pool ---- */

typedef struct pool {
	registry_client *client;
	registry_task_fn fn;
	void *ctx;
	size_t n, next;
	pthread_mutex_t lock;
	bool cancel;
	berth_error *first_err;
} pool;

static void pool_fail(pool *p, berth_error *e)
{
	pthread_mutex_lock(&p->lock);
	/* the first failure cancels the others: theirs (ECANCELED) come later */
	if (p->first_err == NULL)
		p->first_err = move_ptr(e);
	__atomic_store_n(&p->cancel, true, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&p->lock);
	berth_error_free(&e);
}

static void *pool_worker(void *arg)
{
	pool *p = arg;
	registry_conn conn;
	berth_error *e = NULL;

	if (registry_conn_init(&conn, p->client, &e) < 0) {
		pool_fail(p, e);
		return NULL;
	}
	conn.cancel = &p->cancel;
	for (;;) {
		size_t i;
		pthread_mutex_lock(&p->lock);
		i = p->next++;
		pthread_mutex_unlock(&p->lock);
		if (i >= p->n || __atomic_load_n(&p->cancel, __ATOMIC_RELAXED))
			break;
		if (p->fn(p->ctx, &conn, i, &e) < 0) {
			pool_fail(p, e);
			e = NULL;
			break;
		}
	}
	registry_conn_cleanup(&conn);
	return NULL;
}

int registry_parallel(registry_client *c, size_t n, int jobs, registry_task_fn fn, void *ctx, berth_error **err)
{
	pool p = { .client = c, .fn = fn, .ctx = ctx, .n = n };
	pthread_t threads[32];
	size_t started = 0, want;
	int ret;

	if (n == 0)
		return 0;
	want = jobs <= 0 ? 3 : (size_t)jobs;
	if (want > n)
		want = n;
	if (want > sizeof(threads) / sizeof(threads[0]))
		want = sizeof(threads) / sizeof(threads[0]);
	pthread_mutex_init(&p.lock, NULL);
	for (; started < want; started++) {
		if ((ret = pthread_create(&threads[started], NULL, pool_worker, &p)) != 0) {
			if (started == 0) {
				pthread_mutex_destroy(&p.lock);
				return berth_error_set(err, ret, "start transfer threads");
			}
			break;
		}
	}
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&p.lock);
	if (p.first_err) {
		berth_error_free(err);
		*err = p.first_err;
		return p.first_err->code > 0 ? -p.first_err->code : -1;
	}
	return 0;
}

/* ---- login / logout ---- */

/* Checks USER/PASSWORD against SERVER; *KEY gets the auth file's key. */
static int check_login(const char *server, const char *user, const char *password, const registry_options *opts,
		       char **key_out, berth_error **err)
{
	_cleanup_free_ char *key = auth_normalize_server(server);
	auth_credentials creds = { .username = (char *)user, .password = (char *)password };
	registry_client *c = NULL;
	registry_conn conn;
	char *slash;
	int ret;

	if (key == NULL)
		return berth_error_set(err, ENOMEM, "login");
	if (key[0] == '\0')
		return berth_error_set(err, EINVAL, "login: no registry given");
	if (user == NULL || user[0] == '\0' || password == NULL || password[0] == '\0')
		return berth_error_set(err, EINVAL, "login %s: a user name and a password are required", key);
	slash = strchr(key, '/');
	if (slash)
		*slash = '\0'; /* "host/namespace": log in to the host, store the namespace key */
	ret = registry_client_open(key, NULL, false, opts, &creds, &c, err);
	if (ret == 0 && (ret = registry_conn_init(&conn, c, err)) == 0) {
		ret = registry_client_verify_login(c, &conn, err);
		registry_conn_cleanup(&conn);
	}
	registry_client_free(c);
	if (ret < 0)
		return berth_error_wrap(err, "login %s", key);
	if (slash)
		*slash = '/';
	*key_out = move_ptr(key);
	return 0;
}

int registry_check_login(const char *server, const char *user, const char *password, const registry_options *opts,
			 berth_error **err)
{
	_cleanup_free_ char *key = NULL;

	return check_login(server, user, password, opts, &key, err);
}

int registry_login(const char *server, const char *user, const char *password, const registry_options *opts,
		   berth_error **err)
{
	_cleanup_free_ char *key = NULL, *file = auth_file_path(opts->auth_file, NULL);

	if (file == NULL)
		return berth_error_set(err, ENOMEM, "login");
	if (check_login(server, user, password, opts, &key, err) < 0)
		return -1;
	if (auth_store(file, key, user, password, err) < 0)
		return berth_error_wrap(err, "login %s", key);
	return 0;
}

int registry_logout(const char *server, bool all, const registry_options *opts, berth_error **err)
{
	_cleanup_free_ char *file = auth_file_path(opts->auth_file, NULL);
	bool removed = false;

	if (file == NULL)
		return berth_error_set(err, ENOMEM, "logout");
	if (!all && (server == NULL || server[0] == '\0'))
		return berth_error_set(err, EINVAL, "logout: no registry given (or --all)");
	if (auth_remove(file, all ? NULL : server, all, &removed, err) < 0)
		return berth_error_wrap(err, "logout");
	if (!removed && !all)
		return berth_error_set(err, ENOENT, "logout: not logged in to %s", server);
	return 0;
}
