/* cgroup v2 device filtering: v2 has no devices.allow; the kernel asks a
 * BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup instead.
 * The program is a handful of raw instructions (no libbpf):
 *
 *   r2 = ctx->access_type & 0xffff   (device type: 1 block, 2 char)
 *   r3 = ctx->access_type >> 16      (access: 1 mknod, 2 read, 4 write)
 *   r4 = ctx->major, r5 = ctx->minor
 *   one block per rule, last rule first: on a match return allow/deny
 *   return 0                         (default deny)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/cgroup/cgroup_internal.h"
#include "util/cleanup.h"
#include "util/log.h"

#define INSN(c, d, s, o, i)	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LDX_W(dst, src, off)	INSN(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
#define ALU32_IMM(op, dst, imm) INSN(BPF_ALU | (op) | BPF_K, dst, 0, 0, imm)
#define MOV32_REG(dst, src)	INSN(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
#define MOV64_IMM(dst, imm)	INSN(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define JNE_IMM(dst, imm, off)	INSN(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm)
#define JNE_REG(dst, src, off)	INSN(BPF_JMP | BPF_JNE | BPF_X, dst, src, off, 0)
#define EXIT_INSN()		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

static int rule_access(const char *access)
{
	int bits = 0;
	for (const char *p = access; *p; p++)
		bits |= *p == 'm'   ? BPF_DEVCG_ACC_MKNOD
			: *p == 'r' ? BPF_DEVCG_ACC_READ
			: *p == 'w' ? BPF_DEVCG_ACC_WRITE
				    : 0;
	return bits;
}

/* A rule that cannot match any device adds no block. Device numbers are
 * compared as 64-bit registers against sign-extended 32-bit immediates, so
 * numbers above INT32_MAX (which no kernel hands out) are dropped too. */
static bool rule_can_match(const spec_device_rule *d)
{
	if (d->access[0] == '\0')
		return false;
	if (d->type == 'a')
		return true;
	return d->major <= INT32_MAX && d->minor <= INT32_MAX;
}

static size_t emit_rule(const spec_device_rule *d, struct bpf_insn *out)
{
	const int all = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;
	int access = rule_access(d->access);
	size_t n = 0;

	/* Like the v1 kernel, type "a" means every device with every access. */
	if (d->type != 'a') {
		/* Each check jumps over the rest of the block on a mismatch. */
		out[n] = JNE_IMM(2, d->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0);
		n++;
		if (access != all) {
			out[n++] = MOV32_REG(1, 3);
			out[n++] = ALU32_IMM(BPF_AND, 1, access);
			out[n] = JNE_REG(1, 3, 0);
			n++;
		}
		if (d->major >= 0) {
			out[n] = JNE_IMM(4, (int32_t)d->major, 0);
			n++;
		}
		if (d->minor >= 0) {
			out[n] = JNE_IMM(5, (int32_t)d->minor, 0);
			n++;
		}
	}
	out[n++] = MOV64_IMM(0, d->allow ? 1 : 0);
	out[n++] = EXIT_INSN();
	/* Now that the block length is known, point the jumps past it. */
	for (size_t i = 0; i + 2 < n; i++)
		if (BPF_CLASS(out[i].code) == BPF_JMP && BPF_OP(out[i].code) == BPF_JNE)
			out[i].off = (int16_t)(n - i - 1);
	return n;
}

int cgroup_ebpf_build(const spec_device_rule *rules, size_t n, struct bpf_insn **insns, size_t *n_insns,
		      berth_error **err)
{
	/* Prologue 6, at most 8 per rule, epilogue 2. */
	_cleanup_free_ struct bpf_insn *prog = calloc(6 + 8 * n + 2, sizeof(struct bpf_insn));
	bool terminated = false;
	size_t len = 0;

	if (prog == NULL)
		return berth_error_set(err, ENOMEM, "cgroup: device filter");
	if (n > 4000)
		return berth_error_set(err, E2BIG, "cgroup: %zu device rules are too many for a device filter", n);
	prog[len++] = LDX_W(2, 1, 0);
	prog[len++] = ALU32_IMM(BPF_AND, 2, 0xffff);
	prog[len++] = LDX_W(3, 1, 0);
	prog[len++] = ALU32_IMM(BPF_RSH, 3, 16);
	prog[len++] = LDX_W(4, 1, 4);
	prog[len++] = LDX_W(5, 1, 8);
	/* The OCI list is applied in order, later rules overriding earlier
	 * ones: checking from the end, the first match decides. */
	for (size_t i = n; i-- > 0;) {
		if (!rule_can_match(&rules[i]))
			continue;
		len += emit_rule(&rules[i], prog + len);
		/* Type "a" decides every access: what precedes it, and the
		 * default, would be unreachable code, which the verifier rejects. */
		if (rules[i].type == 'a') {
			terminated = true;
			break;
		}
	}
	if (!terminated) {
		prog[len++] = MOV64_IMM(0, 0);
		prog[len++] = EXIT_INSN();
	}
	*insns = move_ptr(prog);
	*n_insns = len;
	return 0;
}

static int bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

int cgroup_ebpf_load(const struct bpf_insn *insns, size_t n_insns, berth_error **err)
{
	char log[4096];
	union bpf_attr attr;
	int fd;

	for (int attempt = 0; attempt < 2; attempt++) {
		memset(&attr, 0, sizeof(attr));
		attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
		attr.insns = (uint64_t)(uintptr_t)insns;
		attr.insn_cnt = (uint32_t)n_insns;
		attr.license = (uint64_t)(uintptr_t) "Apache";
		fd = bpf(BPF_PROG_LOAD, &attr);
		if (fd >= 0)
			return fd;
		/* Kernels before 5.11 charge programs to RLIMIT_MEMLOCK. */
		if (errno != EPERM || attempt > 0)
			break;
		struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
		if (setrlimit(RLIMIT_MEMLOCK, &unlimited) < 0)
			break;
	}
	if (errno == EINVAL || errno == EACCES) {
		int saved = errno;
		/* Load again with the verifier log to say why. */
		memset(log, 0, sizeof(log));
		attr.log_buf = (uint64_t)(uintptr_t)log;
		attr.log_size = sizeof(log);
		attr.log_level = 1;
		if (bpf(BPF_PROG_LOAD, &attr) < 0 && log[0]) {
			log[strcspn(log, "\n")] = '\0';
			return berth_error_set(
			    err, saved, "cgroup: load device filter (%zu instructions; verifier: %s)", n_insns, log);
		}
		errno = saved;
	}
	return berth_error_set(err, errno, "cgroup: load device filter (%zu instructions)", n_insns);
}

/* Ids of the device programs attached to the cgroup itself. */
static int query_attached(int cgroup_fd, uint32_t *ids, uint32_t *count)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.query.target_fd = (uint32_t)cgroup_fd;
	attr.query.attach_type = BPF_CGROUP_DEVICE;
	attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
	attr.query.prog_cnt = *count;
	if (bpf(BPF_PROG_QUERY, &attr) < 0)
		return -errno;
	*count = attr.query.prog_cnt;
	return 0;
}

static int detach_by_id(int cgroup_fd, uint32_t id)
{
	_cleanup_close_ int prog_fd = -EBADF;
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_id = id;
	prog_fd = bpf(BPF_PROG_GET_FD_BY_ID, &attr);
	if (prog_fd < 0)
		return errno == ENOENT ? 0 : -errno;
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cgroup_fd;
	attr.attach_bpf_fd = (uint32_t)prog_fd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	if (bpf(BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int cgroup_ebpf_attach(const char *dir, int prog_fd, berth_error **err)
{
	_cleanup_close_ int cgroup_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint32_t ids[64], count = 64;
	union bpf_attr attr;
	int ret;

	if (cgroup_fd < 0)
		return berth_error_set(err, errno, "cgroup: open \"%s\"", dir);
	ret = query_attached(cgroup_fd, ids, &count);
	if (ret < 0)
		return berth_error_set(err, -ret, "cgroup: query device filters of \"%s\"", dir);
	if (count > 64)
		count = 64;
	/* The new filter goes in before the old ones leave, so the cgroup is
	 * never without one. */
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cgroup_fd;
	attr.attach_bpf_fd = (uint32_t)prog_fd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	if (bpf(BPF_PROG_ATTACH, &attr) < 0)
		return berth_error_set(err, errno, "cgroup: attach device filter to \"%s\"", dir);
	for (uint32_t i = 0; i < count; i++) {
		ret = detach_by_id(cgroup_fd, ids[i]);
		if (ret < 0)
			return berth_error_set(err, -ret, "cgroup: detach old device filter %u from \"%s\"", ids[i],
					       dir);
	}
	return 0;
}

int cgroup_ebpf_apply_devices(const char *dir, const spec_device_rule *rules, size_t n, berth_error **err)
{
	_cleanup_free_ struct bpf_insn *insns = NULL;
	_cleanup_close_ int prog_fd = -EBADF;
	size_t n_insns = 0;

	if (cgroup_ebpf_build(rules, n, &insns, &n_insns, err) < 0)
		return -1;
	prog_fd = cgroup_ebpf_load(insns, n_insns, err);
	if (prog_fd < 0)
		return -1;
	berth_debug("cgroup: device filter of %zu instructions for %zu rules on \"%s\"", n_insns, n, dir);
	return cgroup_ebpf_attach(dir, prog_fd, err);
}
