#define CURL_DISABLE_TYPECHECK
#include "build/fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"

char *build_url_file_name(const char *url)
{
	const char *p = strstr(url, "://"), *end, *base;
	_cleanup_free_ char *path = NULL;

	p = p ? strchr(p + 3, '/') : NULL;
	if (p == NULL)
		return strdup("index.html");
	end = p + strcspn(p, "?#");
	path = strndup(p, (size_t)(end - p));
	if (path == NULL)
		return NULL;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return strdup("index.html");
	return strdup(base);
}

typedef struct sink {
	int fd;
	digester d;
	int write_errno;
} sink;

static size_t write_body(char *data, size_t size, size_t n, void *ctx)
{
	sink *s = ctx;
	size_t len = size * n;

	for (size_t done = 0; done < len;) {
		ssize_t w = write(s->fd, data + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			s->write_errno = errno ? errno : EIO;
			return 0;
		}
		done += (size_t)w;
	}
	digester_update(&s->d, data, len);
	return len;
}

int build_fetch_url(const char *url, int dirfd, const char *name, const char *checksum, char digest[DIGEST_STRING_MAX],
		    berth_error **err)
{
	_cleanup_close_ int fd = -EBADF;
	sink s = { .fd = -1 };
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = 0, filetime = -1;
	CURL *h;
	CURLcode rc;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return berth_error_set(err, ENOSYS, "ADD %s: %s", url, curl_easy_strerror(CURLE_FAILED_INIT));
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return berth_error_set(err, errno, "ADD %s: create \"%s\"", url, name);
	s.fd = fd;
	digester_init(&s.d);
	h = curl_easy_init();
	if (h == NULL)
		return berth_error_set(err, ENOMEM, "ADD %s", url);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(h, CURLOPT_FILETIME, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "berth-build");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h, CURLINFO_FILETIME, &filetime);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK || status >= 400 || s.write_errno) {
		unlinkat(dirfd, name, 0);
		if (s.write_errno)
			return berth_error_set(err, s.write_errno, "ADD %s: write \"%s\"", url, name);
		if (rc != CURLE_OK)
			return berth_error_request(err, EIO, "ADD %s: %s", url,
						   errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return berth_error_request(err, EIO, "ADD %s: the server answered %ld", url, status);
	}
	digester_final(&s.d, digest);
	if (checksum && strcmp(checksum, digest) != 0) {
		unlinkat(dirfd, name, 0);
		return berth_error_request(err, EINVAL, "ADD %s: checksum mismatch: expected %s, got %s", url, checksum,
					   digest);
	}
	if (filetime >= 0) {
		struct timespec times[2] = { { .tv_sec = filetime }, { .tv_sec = filetime } };
		futimens(fd, times);
	}
	return 0;
}
