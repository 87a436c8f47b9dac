/* libcurl, loaded when the first registry operation needs it.
 *
 * libcurl brings in some forty shared libraries (TLS, Kerberos, LDAP,
 * IDN, ...); resolving them costs every `berth` command tens of
 * milliseconds at start, although only pull, push and login use HTTP. So
 * berth does not link libcurl: this file defines the few curl functions the
 * registry client calls and forwards them to libcurl.so.4, opened with
 * dlopen on first use. When it cannot be loaded, curl_global_init fails and
 * curl_easy_strerror says why. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "util/dlib.h"

#define CURL_LIBRARY "libcurl.so.4"

static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	char *(*easy_escape)(CURL *, const char *, int);
	void (*free)(void *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} lib;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[256];
static bool loaded;

static void load(void)
{
	const dlib_symbol symbols[] = {
		{ "curl_global_init", (void **)&lib.global_init },
		{ "curl_easy_init", (void **)&lib.easy_init },
		{ "curl_easy_cleanup", (void **)&lib.easy_cleanup },
		{ "curl_easy_reset", (void **)&lib.easy_reset },
		{ "curl_easy_perform", (void **)&lib.easy_perform },
		{ "curl_easy_setopt", (void **)&lib.easy_setopt },
		{ "curl_easy_getinfo", (void **)&lib.easy_getinfo },
		{ "curl_easy_strerror", (void **)&lib.easy_strerror },
		{ "curl_easy_escape", (void **)&lib.easy_escape },
		{ "curl_free", (void **)&lib.free },
		{ "curl_slist_append", (void **)&lib.slist_append },
		{ "curl_slist_free_all", (void **)&lib.slist_free_all },
	};

	loaded = dlib_open(CURL_LIBRARY, "libcurl4", symbols, sizeof(symbols) / sizeof(symbols[0]), load_error,
			   sizeof(load_error)) == 0;
}

static bool ready(void)
{
	pthread_once(&load_once, load);
	return loaded;
}

CURLcode curl_global_init(long flags)
{
	return ready() ? lib.global_init(flags) : CURLE_FAILED_INIT;
}

const char *curl_easy_strerror(CURLcode code)
{
	return ready() ? lib.easy_strerror(code) : load_error;
}

CURL *curl_easy_init(void)
{
	return ready() ? lib.easy_init() : NULL;
}

void curl_easy_cleanup(CURL *h)
{
	if (ready())
		lib.easy_cleanup(h);
}

void curl_easy_reset(CURL *h)
{
	if (ready())
		lib.easy_reset(h);
}

CURLcode curl_easy_perform(CURL *h)
{
	return ready() ? lib.easy_perform(h) : CURLE_FAILED_INIT;
}

/* The value's type follows from the option's number, as libcurl itself
 * reads it: longs below CURLOPTTYPE_OBJECTPOINT, pointers (data and
 * functions) up to CURLOPTTYPE_OFF_T, curl_off_t up to CURLOPTTYPE_BLOB,
 * then struct curl_blob pointers. */
CURLcode curl_easy_setopt(CURL *h, CURLoption option, ...)
{
	va_list ap;
	CURLcode ret;

	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, option);
	if (option < CURLOPTTYPE_OBJECTPOINT)
		ret = lib.easy_setopt(h, option, va_arg(ap, long));
	else if (option < CURLOPTTYPE_OFF_T)
		ret = lib.easy_setopt(h, option, va_arg(ap, void *));
	else if (option < CURLOPTTYPE_BLOB)
		ret = lib.easy_setopt(h, option, va_arg(ap, curl_off_t));
	else
		ret = lib.easy_setopt(h, option, va_arg(ap, void *));
	va_end(ap);
	return ret;
}

/* Every CURLINFO takes a pointer to where the answer goes. */
CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	va_list ap;
	CURLcode ret;

	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	ret = lib.easy_getinfo(h, info, va_arg(ap, void *));
	va_end(ap);
	return ret;
}

char *curl_easy_escape(CURL *h, const char *s, int len)
{
	return ready() ? lib.easy_escape(h, s, len) : NULL;
}

void curl_free(void *p)
{
	if (ready())
		lib.free(p);
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
	return ready() ? lib.slist_append(list, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
	if (ready())
		lib.slist_free_all(list);
}
