/* seccomp filters compiled with libseccomp and cached by profile hash.
 *
 * seccomp_filter_prepare() runs in the runtime before the container exists:
 * it loads the compiled BPF from CACHE_DIR/<profile sha256>.bpf when present
 * (no libseccomp compilation at all), else compiles the profile with
 * libseccomp, exports the BPF and stores it atomically in the cache.
 * seccomp_filter_load() runs in the container init just before execve and
 * installs the program with the seccomp(2) syscall, returning the notify
 * listener fd when the profile uses SCMP_ACT_NOTIFY. */
#ifndef BERTH_RUNTIME_SECCOMP_H
#define BERTH_RUNTIME_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>

#include "spec/spec.h"
#include "util/error.h"

typedef struct seccomp_filter {
	void *bpf;	     /* struct sock_filter[] */
	size_t bpf_len;	     /* bytes */
	unsigned int flags;  /* SECCOMP_FILTER_FLAG_* to pass to seccomp(2) */
	bool needs_listener; /* SCMP_ACT_NOTIFY used: add FLAG_NEW_LISTENER */
	bool from_cache;     /* for tests and --debug */
} seccomp_filter;

/* CACHE_DIR may be NULL (no cache). */
int seccomp_filter_prepare(const spec_seccomp *profile, const char *cache_dir, seccomp_filter *out, berth_error **err);

/* Installs the filter in the calling process. *LISTENER_FD gets the notify fd
 * (or -1). Needs no_new_privs or CAP_SYS_ADMIN. */
int seccomp_filter_load(const seccomp_filter *f, int *listener_fd, berth_error **err);

/* Sends the listener fd and the container state JSON to the unix socket at
 * LISTENER_PATH (runtime-spec: seccomp listenerPath), as runc does: one
 * message with the state JSON as payload and the fd in SCM_RIGHTS. */
int seccomp_send_listener(const char *listener_path, int listener_fd, const char *state_json, berth_error **err);

void seccomp_filter_clear(seccomp_filter *f);

#endif
