/* ADD of an http(s) URL: the file downloaded into a directory of the build,
 * its digest checked against --checksum before anything uses it. */
#ifndef BERTH_BUILD_FETCH_H
#define BERTH_BUILD_FETCH_H

#include "image/digest.h"
#include "util/error.h"

/* The file name ADD gives a download of URL: the last component of its
 * path ("index.html" for none, as docker's), heap. */
char *build_url_file_name(const char *url);

/* GETs URL (redirects followed; a status >= 400 is an error naming it)
 * into NAME in DIRFD with mode 0600 and the server's Last-Modified time as
 * mtime when it sends one (docker's rule). DIGEST receives the content's
 * sha256; with CHECKSUM ("sha256:...") a mismatch is an error and the file
 * is removed. */
int build_fetch_url(const char *url, int dirfd, const char *name, const char *checksum, char digest[DIGEST_STRING_MAX],
		    berth_error **err);

#endif
