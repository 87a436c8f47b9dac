/* seccomp filters: compiled with libseccomp once per profile, cached as raw
 * BPF by profile hash, installed with seccomp(2). */
#include "runtime/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <sha2.h>
#include <seccomp.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#ifndef SECCOMP_FILTER_FLAG_TSYNC
#define SECCOMP_FILTER_FLAG_TSYNC (1UL << 0)
#endif
#ifndef SECCOMP_FILTER_FLAG_LOG
#define SECCOMP_FILTER_FLAG_LOG (1UL << 1)
#endif
#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SCMP_ACT_NOTIFY
#define SCMP_ACT_NOTIFY 0x7fc00000U
#endif

/* Flags an older kernel may reject with EINVAL; the filter still works
 * without them, so the load is retried without (runc does the same). */
#define OPTIONAL_FLAGS                                                                                                 \
	(SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)

/* libseccomp's binary tree holds 4 syscalls per node and misbehaves (up to
 * 2.5.4) with no rules; short profiles are as fast as a list (runc: 32). */
#define OPTIMIZE_MIN_SYSCALLS 32

/* Cache file: this header, then bpf_len bytes of struct sock_filter. Host
 * byte order: the cache never leaves the host that wrote it. */
#define CACHE_MAGIC	   "BERTHBPF"
#define CACHE_VERSION	   1U
#define CACHE_SCMP_VERSION ((uint32_t)SCMP_VER_MAJOR << 16 | (uint32_t)SCMP_VER_MINOR << 8 | (uint32_t)SCMP_VER_MICRO)

struct bpf_cache_header {
	char magic[8];
	uint32_t version;
	uint32_t scmp_version; /* libseccomp that compiled it: an upgrade recompiles */
	uint32_t flags;
	uint32_t needs_listener;
	uint32_t bpf_len;
	uint32_t reserved;
	unsigned char bpf_sha256[32];
};

_Static_assert(sizeof(struct bpf_cache_header) == 64, "cache header layout");

static const struct {
	const char *name;
	unsigned int flag;
} flag_names[] = {
	{ "SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC },
	{ "SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG },
	{ "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW },
	{ "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV },
};

static int profile_flags(const spec_seccomp *profile, unsigned int *out, berth_error **err)
{
	unsigned int flags = 0;

	for (size_t i = 0; i < profile->n_flags; i++) {
		bool found = false;
		for (size_t k = 0; k < sizeof(flag_names) / sizeof(flag_names[0]); k++)
			if (strcmp(profile->flags[i], flag_names[k].name) == 0) {
				flags |= flag_names[k].flag;
				found = true;
			}
		if (!found)
			return berth_error_set(err, EINVAL, "linux.seccomp.flags[%zu]: unknown flag \"%s\"", i,
					       profile->flags[i]);
	}
	*out = flags;
	return 0;
}

static bool profile_needs_listener(const spec_seccomp *profile)
{
	for (size_t i = 0; i < profile->n_rules; i++)
		if (profile->rules[i].action == SCMP_ACT_NOTIFY)
			return true;
	return false;
}

static size_t profile_syscall_count(const spec_seccomp *profile)
{
	size_t n = 0;

	for (size_t i = 0; i < profile->n_rules; i++)
		n += profile->rules[i].n_names;
	return n;
}

static bool sha256(const void *data, size_t len, unsigned char md[32])
{
	SHA2_CTX ctx;

	SHA256Init(&ctx);
	SHA256Update(&ctx, data, len);
	SHA256Final(md, &ctx);
	return true;
}

/* The profile hash names the cache file: accept only what our parser writes. */
static bool hash_is_file_name(const char *hash)
{
	size_t n = hash ? strlen(hash) : 0;

	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((hash[i] >= '0' && hash[i] <= '9') || (hash[i] >= 'a' && hash[i] <= 'f')))
			return false;
	return true;
}

static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

/* Returns true and fills OUT on a valid cache entry. Anything else (missing,
 * truncated, another libseccomp, flags that do not match the profile, a
 * file not owned by us or writable by others) is a miss: recompile. */
static bool cache_read(const char *cache_dir, const char *file_name, unsigned int flags, bool needs_listener,
		       seccomp_filter *out)
{
	_cleanup_free_ char *path = fs_path_join(cache_dir, file_name);
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ void *bpf = NULL;
	struct bpf_cache_header h;
	unsigned char md[32];
	struct stat st;

	if (path == NULL)
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		if (errno != ENOENT)
			berth_debug("seccomp cache \"%s\": %s", path, strerror(errno));
		return false;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
		berth_debug("seccomp cache \"%s\": not a private regular file, ignored", path);
		return false;
	}
	if ((size_t)st.st_size < sizeof(h) || read_full(fd, &h, sizeof(h)) < 0 ||
	    memcmp(h.magic, CACHE_MAGIC, sizeof(h.magic)) != 0 || h.version != CACHE_VERSION ||
	    h.scmp_version != CACHE_SCMP_VERSION || h.flags != flags || h.needs_listener != (uint32_t)needs_listener ||
	    h.bpf_len == 0 || h.bpf_len % sizeof(struct sock_filter) != 0 ||
	    h.bpf_len / sizeof(struct sock_filter) > BPF_MAXINSNS || (size_t)st.st_size != sizeof(h) + h.bpf_len) {
		berth_debug("seccomp cache \"%s\": bad or stale header, recompiling", path);
		return false;
	}
	bpf = malloc(h.bpf_len);
	if (bpf == NULL || read_full(fd, bpf, h.bpf_len) < 0 || !sha256(bpf, h.bpf_len, md) ||
	    memcmp(md, h.bpf_sha256, sizeof(md)) != 0) {
		berth_debug("seccomp cache \"%s\": program does not match its checksum, recompiling", path);
		return false;
	}
	out->bpf = move_ptr(bpf);
	out->bpf_len = h.bpf_len;
	return true;
}

static void cache_write(const char *cache_dir, const char *file_name, const seccomp_filter *f)
{
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_close_ int dirfd = -EBADF;
	_cleanup_free_ char *data = NULL;
	struct bpf_cache_header h = { .version = CACHE_VERSION,
				      .scmp_version = CACHE_SCMP_VERSION,
				      .flags = f->flags,
				      .needs_listener = f->needs_listener,
				      .bpf_len = f->bpf_len };

	memcpy(h.magic, CACHE_MAGIC, sizeof(h.magic));
	if (f->bpf_len > UINT32_MAX || !sha256(f->bpf, f->bpf_len, h.bpf_sha256))
		return;
	data = malloc(sizeof(h) + f->bpf_len);
	if (data == NULL)
		return;
	memcpy(data, &h, sizeof(h));
	memcpy(data + sizeof(h), f->bpf, f->bpf_len);
	if (fs_mkdir_p(cache_dir, 0700, &err) < 0) {
		berth_debug("seccomp cache: %s", err->msg);
		return;
	}
	dirfd = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		berth_debug("seccomp cache: open \"%s\": %s", cache_dir, strerror(errno));
		return;
	}
	if (fs_write_file_atomic(dirfd, file_name, data, sizeof(h) + f->bpf_len, 0600, &err) < 0)
		berth_debug("seccomp cache \"%s\": %s", cache_dir, err->msg);
}

static void release_filter_ctx(scmp_filter_ctx *ctx)
{
	if (*ctx != NULL)
		seccomp_release(*ctx);
	*ctx = NULL;
}

/* Whether the kernel of a NATIVE host can report syscalls of ARCH (its own
 * and compat modes). Profiles list several families (x86 and arm groups);
 * the others can never match here, and leaving them out halves the program
 * and the compilation time. Unknown hosts keep every listed architecture. */
static bool arch_runs_on(uint32_t native, uint32_t arch)
{
	switch (native) {
	case SCMP_ARCH_X86_64:
		return arch == SCMP_ARCH_X86_64 || arch == SCMP_ARCH_X86 || arch == SCMP_ARCH_X32;
	case SCMP_ARCH_AARCH64:
		return arch == SCMP_ARCH_AARCH64 || arch == SCMP_ARCH_ARM;
	default:
		return true;
	}
}

static int add_architectures(scmp_filter_ctx ctx, const spec_seccomp *profile, berth_error **err)
{
	uint32_t native = seccomp_arch_native();
	bool keep_native = profile->n_architectures == 0;
	bool any_runs = false;
	int rc;

	for (size_t i = 0; i < profile->n_architectures; i++)
		any_runs |= arch_runs_on(native, profile->architectures[i]);
	for (size_t i = 0; i < profile->n_architectures; i++) {
		uint32_t arch = profile->architectures[i];

		/* A profile with no architecture of this host keeps them all:
		 * then every syscall gets the bad-architecture action. */
		if (any_runs && !arch_runs_on(native, arch)) {
			berth_debug("seccomp: architecture 0x%x cannot run on this host, left out", arch);
			continue;
		}
		keep_native |= arch == native;
		rc = seccomp_arch_add(ctx, arch);
		if (rc < 0 && rc != -EEXIST)
			return berth_error_set(err, -rc, "linux.seccomp.architectures[%zu]: add architecture", i);
	}
	/* seccomp_init() adds the native architecture; a profile that lists
	 * others only must not allow it implicitly. */
	if (!keep_native) {
		rc = seccomp_arch_remove(ctx, native);
		if (rc < 0)
			return berth_error_set(err, -rc, "linux.seccomp.architectures: remove the native architecture");
	}
	return 0;
}

static int add_syscall(scmp_filter_ctx ctx, uint32_t action, int nr, const struct scmp_arg_cmp *cmp, unsigned n)
{
	int rc = seccomp_rule_add_exact_array(ctx, action, nr, n, cmp);

	/* Exact fails where libseccomp must rewrite the rule for one of the
	 * architectures (x86 socketcall, pseudo syscall numbers): let it. */
	if (rc < 0)
		rc = seccomp_rule_add_array(ctx, action, nr, n, cmp);
	return rc;
}

static int add_rule(scmp_filter_ctx ctx, const spec_seccomp *profile, size_t index, berth_error **err)
{
	const spec_seccomp_rule *r = &profile->rules[index];
	struct scmp_arg_cmp cmp[6];
	unsigned int per_index[6] = { 0 };
	bool one_rule_per_arg = false;
	size_t n_args = r->n_args;

	if (r->action == profile->default_action)
		return 0; /* libseccomp refuses rules that repeat the default */
	if (n_args > 6)
		return berth_error_set(err, EINVAL, "linux.seccomp.syscalls[%zu].args: more than 6 conditions", index);
	for (size_t i = 0; i < n_args; i++) {
		const spec_seccomp_arg *a = &r->args[i];

		if (a->index >= 6)
			return berth_error_set(err, EINVAL, "linux.seccomp.syscalls[%zu].args[%zu].index: out of range",
					       index, i);
		/* MASKED_EQ: (arg & datum_a) == datum_b, with value the mask
		 * and valueTwo the datum (runtime-spec, runc). */
		cmp[i] =
		    (struct scmp_arg_cmp){ .arg = a->index, .op = a->op, .datum_a = a->value, .datum_b = a->value_two };
		if (++per_index[a->index] > 1)
			one_rule_per_arg = true;
	}
	for (size_t k = 0; k < r->n_names; k++) {
		const char *name = r->names[k];
		int nr = seccomp_syscall_resolve_name(name);
		int rc = 0;

		if (nr == __NR_SCMP_ERROR) {
			/* Profiles name syscalls of other kernels and arches. */
			berth_debug("seccomp: unknown syscall \"%s\" skipped", name);
			continue;
		}
		/* libseccomp refuses two conditions on one argument in a rule;
		 * like runc, such conditions become one rule each (OR). */
		if (one_rule_per_arg) {
			for (size_t i = 0; i < n_args && rc == 0; i++)
				rc = add_syscall(ctx, r->action, nr, &cmp[i], 1);
		} else {
			rc = add_syscall(ctx, r->action, nr, cmp, n_args);
		}
		if (rc < 0)
			return berth_error_set(err, -rc, "linux.seccomp.syscalls[%zu]: add rule for \"%s\"", index,
					       name);
	}
	return 0;
}

static int export_bpf(scmp_filter_ctx ctx, void **bpf, size_t *len, berth_error **err)
{
#if SCMP_VER_MAJOR > 2 || (SCMP_VER_MAJOR == 2 && SCMP_VER_MINOR >= 6)
	_cleanup_free_ void *buf = NULL;
	size_t n = 0;
	int rc = seccomp_export_bpf_mem(ctx, NULL, &n);

	if (rc == 0 && (buf = malloc(n ? n : 1)) == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		rc = seccomp_export_bpf_mem(ctx, buf, &n);
	if (rc < 0)
		return berth_error_set(err, -rc, "export seccomp filter");
	*bpf = move_ptr(buf);
	*len = n;
	return 0;
#else
	_cleanup_close_ int fd = memfd_create("berth-seccomp", MFD_CLOEXEC);
	_cleanup_free_ void *buf = NULL;
	struct stat st;
	int rc;

	if (fd < 0)
		return berth_error_set(err, errno, "export seccomp filter: memfd_create");
	rc = seccomp_export_bpf(ctx, fd);
	if (rc < 0)
		return berth_error_set(err, -rc, "export seccomp filter");
	if (fstat(fd, &st) < 0)
		return berth_error_set(err, errno, "export seccomp filter: fstat");
	buf = malloc(st.st_size ? st.st_size : 1);
	if (buf == NULL)
		return berth_error_set(err, ENOMEM, "export seccomp filter");
	if (lseek(fd, 0, SEEK_SET) < 0 || (rc = read_full(fd, buf, st.st_size)) < 0)
		return berth_error_set(err, rc < 0 ? -rc : errno, "export seccomp filter: read back");
	*bpf = move_ptr(buf);
	*len = st.st_size;
	return 0;
#endif
}

static int compile_profile(const spec_seccomp *profile, seccomp_filter *out, berth_error **err)
{
	__attribute__((cleanup(release_filter_ctx))) scmp_filter_ctx ctx = seccomp_init(profile->default_action);
	int rc;

	if (ctx == NULL)
		return berth_error_set(err, EINVAL, "linux.seccomp.defaultAction: libseccomp refused the action");
	if (add_architectures(ctx, profile, err) < 0)
		return -1;
	/* The runtime sets no_new_privs itself and loads the exported BPF. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 0);
	if (rc < 0)
		return berth_error_set(err, -rc, "set seccomp filter attributes");
	/* A binary tree makes lookups log(n) in long profiles; older
	 * libseccomp lacks it, which is not fatal. */
	if (profile_syscall_count(profile) > OPTIMIZE_MIN_SYSCALLS &&
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0)
		berth_debug("seccomp: binary tree optimization unavailable: %s", strerror(-rc));
	for (size_t i = 0; i < profile->n_rules; i++)
		if (add_rule(ctx, profile, i, err) < 0)
			return -1;
	return export_bpf(ctx, &out->bpf, &out->bpf_len, err);
}

int seccomp_filter_prepare(const spec_seccomp *profile, const char *cache_dir, seccomp_filter *out, berth_error **err)
{
	_cleanup_free_ char *file_name = NULL;
	unsigned int flags = 0;

	memset(out, 0, sizeof(*out));
	if (!profile->present)
		return berth_error_set(err, EINVAL, "linux.seccomp: no profile to compile");
	if (profile_flags(profile, &flags, err) < 0)
		return -1;
	out->flags = flags;
	out->needs_listener = profile_needs_listener(profile);
	if (cache_dir != NULL && hash_is_file_name(profile->source_hash)) {
		if (asprintf(&file_name, "%s.bpf", profile->source_hash) < 0)
			return berth_error_set(err, ENOMEM, "seccomp cache");
		if (cache_read(cache_dir, file_name, flags, out->needs_listener, out)) {
			out->from_cache = true;
			return 0;
		}
	}
	if (compile_profile(profile, out, err) < 0) {
		seccomp_filter_clear(out);
		return berth_error_wrap(err, "compile seccomp profile");
	}
	if (out->bpf_len == 0 || out->bpf_len % sizeof(struct sock_filter) != 0 ||
	    out->bpf_len / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		size_t n = out->bpf_len / sizeof(struct sock_filter);
		seccomp_filter_clear(out);
		return berth_error_set(
		    err, E2BIG, "compile seccomp profile: %zu BPF instructions (the kernel takes %d)", n, BPF_MAXINSNS);
	}
	if (file_name != NULL)
		cache_write(cache_dir, file_name, out);
	return 0;
}

int seccomp_filter_load(const seccomp_filter *f, int *listener_fd, berth_error **err)
{
	struct sock_fprog prog = { .len = (unsigned short)(f->bpf_len / sizeof(struct sock_filter)), .filter = f->bpf };
	unsigned int flags = f->flags;
	long ret;

	*listener_fd = -1;
	if (f->bpf == NULL || f->bpf_len == 0 || f->bpf_len % sizeof(struct sock_filter) != 0 ||
	    f->bpf_len / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return berth_error_set(err, EINVAL, "load seccomp filter: malformed program");
	if (f->needs_listener) {
		flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
		/* Without TSYNC_ESRCH the kernel refuses TSYNC with a listener:
		 * both would return a positive number. */
		if (flags & SECCOMP_FILTER_FLAG_TSYNC)
			flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
	}
	ret = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (ret < 0 && errno == EINVAL && (flags & OPTIONAL_FLAGS) != 0) {
		berth_debug("seccomp: kernel refused flags 0x%x, retrying without the optional ones", flags);
		flags &= ~OPTIONAL_FLAGS;
		ret = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	}
	if (ret < 0)
		return berth_error_set(err, errno, "load seccomp filter");
	if (f->needs_listener)
		*listener_fd = (int)ret;
	else if (ret > 0)
		return berth_error_set(err, 0, "load seccomp filter: thread %ld could not be synchronized", ret);
	return 0;
}

int seccomp_send_listener(const char *listener_path, int listener_fd, const char *state_json, berth_error **err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	_cleanup_close_ int sock = -EBADF;
	size_t len = state_json ? strlen(state_json) : 0;
	size_t sent = 0;
	struct iovec iov;
	struct msghdr msg = { 0 };
	struct cmsghdr *cmsg;

	if (listener_path == NULL || strlen(listener_path) >= sizeof(addr.sun_path))
		return berth_error_set(err, ENAMETOOLONG, "seccomp listener \"%s\"",
				       listener_path ? listener_path : "(null)");
	if (len == 0)
		return berth_error_set(err, EINVAL, "seccomp listener \"%s\": empty state", listener_path);
	strcpy(addr.sun_path, listener_path);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return berth_error_set(err, errno, "seccomp listener \"%s\": socket", listener_path);
	while (connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		if (errno != EINTR)
			return berth_error_set(err, errno, "connect to seccomp listener \"%s\"", listener_path);

	memset(&control, 0, sizeof(control));
	iov = (struct iovec){ .iov_base = (void *)state_json, .iov_len = len };
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &listener_fd, sizeof(int));

	/* The fd travels with the first byte; a stream socket may take the
	 * rest of a large state in further writes. */
	while (sent < len) {
		ssize_t n;

		iov.iov_base = (char *)state_json + sent;
		iov.iov_len = len - sent;
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berth_error_set(err, errno, "send seccomp listener fd to \"%s\"", listener_path);
		sent += n;
		msg.msg_control = NULL;
		msg.msg_controllen = 0;
	}
	return 0;
}

void seccomp_filter_clear(seccomp_filter *f)
{
	free(f->bpf);
	memset(f, 0, sizeof(*f));
}
