/* Cleanup attributes for owned resources and explicit ownership moves.
 *
 * A variable declared `_cleanup_free_ char *p = NULL;` is freed when it goes
 * out of scope.  To hand ownership to a caller, `return move_ptr(p);` (or
 * move_fd(fd)) resets the source so the cleanup does nothing. */
#ifndef BERTH_UTIL_CLEANUP_H
#define BERTH_UTIL_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_freep(void *p)
{
	void **pp = (void **)p;
	free(*pp);
	*pp = NULL;
}

static inline void cleanup_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
	*fd = -EBADF;
}

static inline void cleanup_fclosep(FILE **f)
{
	if (*f != NULL)
		fclose(*f);
	*f = NULL;
}

static inline void cleanup_closedirp(DIR **d)
{
	if (*d != NULL)
		closedir(*d);
	*d = NULL;
}

/* Frees a NULL-terminated array of heap strings (NULL is fine). */
static inline void strv_free(char **v)
{
	for (char **s = v; s != NULL && *s != NULL; s++)
		free(*s);
	free(v);
}

static inline void cleanup_strvp(char ***v)
{
	strv_free(*v);
	*v = NULL;
}

#define _cleanup_free_	   __attribute__((cleanup(cleanup_freep)))
#define _cleanup_close_	   __attribute__((cleanup(cleanup_closep)))
#define _cleanup_fclose_   __attribute__((cleanup(cleanup_fclosep)))
#define _cleanup_closedir_ __attribute__((cleanup(cleanup_closedirp)))
#define _cleanup_strv_	   __attribute__((cleanup(cleanup_strvp)))

#define move_ptr(p)                                                                                                    \
	({                                                                                                             \
		__typeof__(p) moved__ = (p);                                                                           \
		(p) = NULL;                                                                                            \
		moved__;                                                                                               \
	})

#define move_fd(fd)                                                                                                    \
	({                                                                                                             \
		int moved__ = (fd);                                                                                    \
		(fd) = -EBADF;                                                                                         \
		moved__;                                                                                               \
	})

#endif
