/* The runtime's own binary, seen from inside a container (CVE-2019-5736,
 * CVE-2016-9962).
 *
 * The processes the runtime puts into a container (the init until start,
 * the exec process until its execve) run the runtime's image, so the
 * container can reach the host's binary through /proc/PID/exe, or make the
 * runtime execute it ("#!/proc/self/exe"), and reopen it for writing once
 * nothing runs it. Two guards:
 *
 *  - exe_guard_seal_self(): create, run and exec move their own image onto
 *    a read-only bind mount of the runtime's binary that is never attached
 *    to any mount namespace (open_tree + mount_setattr: no mount event on
 *    the host), or onto a sealed memfd copy where that is not permitted,
 *    before anything of a container exists. In place where the kernel lets
 *    it: every mapping of the binary is replaced by the same range of the
 *    sealed file and /proc/self/exe is set to it (PR_SET_MM_MAP, which needs
 *    CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE and a kernel built with
 *    CONFIG_CHECKPOINT_RESTORE); otherwise by re-executing from the sealed
 *    file (one execve more). create and run leave that to the init where
 *    it can seal itself first (exe_guard_seal_in_mount_ns). Either way
 *    every /proc/PID/exe and /proc/PID/map_files entry of the binary that a
 *    container could see names a file that cannot be opened for writing (EROFS, or sealed), and
 *    so does "#!/proc/self/exe" executed by such a process.
 *  - exe_guard_make_undumpable(): the runtime's processes inside a
 *    container's pid namespace are non-dumpable, so a container process
 *    without CAP_SYS_PTRACE in the host's user namespace cannot open their
 *    /proc/PID/exe, fds, cwd, environ or memory. */
#ifndef BERTH_RUNTIME_EXE_GUARD_H
#define BERTH_RUNTIME_EXE_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

/* Whether /proc/self/exe is on a read-only mount or a write-sealed memfd. */
bool exe_guard_is_sealed(void);

/* Returns 0 once this process runs from a sealed binary: at once when it
 * already does, or after moving its image in place; otherwise re-executes
 * ARGV from the sealed binary and does not return, or fails with the
 * reason. The process must be single-threaded. BERTH_EXE_GUARD=reexec in
 * the environment skips the move in place (tests, measurements). */
int exe_guard_seal_self(char **argv, berth_error **err);

/* As exe_guard_seal_self, but never re-executes: 0 once this process runs
 * from a sealed binary (at once when it already does), else fails with the
 * reason, the process still runs (mappings already moved hold the same
 * bytes). For a process that has state to keep: berth's monitor, before it
 * clones a container's init from its own image (runtime_call.c). Single-
 * threaded only; BERTH_EXE_GUARD=reexec makes it fail. Afterwards
 * /proc/self/exe reads "/BASENAME": resolve paths relative to the binary
 * before. */
int exe_guard_seal_in_place(berth_error **err);

/* As exe_guard_seal_in_place, for the container's init of create and run
 * when the runtime itself is not sealed (the container gets a new pid
 * namespace, so nothing of it can see the runtime or the init before this
 * runs): binds the binary read-only onto itself in the init's own mount
 * namespace, whose propagation must keep mounts from the host (slave or
 * private), and moves the image onto that bind. The bind goes with the old
 * root's unmount after pivot_root, in the grace period that one waits for
 * anyway, instead of a detached tree's own (exe_guard_release). */
int exe_guard_seal_in_mount_ns(berth_error **err);

/* Notes the binary's path for exe_guard_seal_in_mount_ns, in the runtime
 * before it clones the init: inside the init's new mount namespace,
 * /proc/self/exe reads the path from the runtime's mount namespace's root,
 * not from a chroot the runtime runs in. */
void exe_guard_note_path(void);

/* Whether no process in a new user namespace with these mappings (host
 * ids of the uid and gid mappings) can write the binary this process
 * executes, so that sealing it guards nothing: the namespace maps neither
 * its owner nor its group (so no capability there applies to it: the
 * kernel grants CAP_DAC_OVERRIDE and CAP_FOWNER only over inodes whose
 * owner and group are mapped), it is not writable by others, and it has no
 * ACL that could grant a mapped id more. */
struct spec_id_mapping;
bool exe_guard_unwritable_in_userns(const struct spec_id_mapping *uids, size_t n_uids,
				    const struct spec_id_mapping *gids, size_t n_gids);

/* Whether exe_guard_seal_in_place can work in this build, environment and
 * kernel (not in an AddressSanitizer build, nor with BERTH_EXE_GUARD=reexec,
 * and PR_SET_MM_MAP exists): else only the runtime's re-execution guards. */
bool exe_guard_in_place_possible(void);

/* An fd (O_PATH or a memfd, close-on-exec) of the binary PATH (NULL: this
 * process's own) on a detached read-only mount, or a sealed copy: what
 * exe_guard_seal_self moves to or executes. A program that starts the runtime
 * (berth's monitor) can execveat() it and spare the runtime the move. */
int exe_guard_open_sealed(const char *path, berth_error **err);

/* Closes the detached mount tree that exe_guard_seal_self keeps open (the
 * mappings and /proc/self/exe keep the mount itself). The last close
 * unmounts the tree and waits for an RCU grace period, so the runtime
 * calls this where it waits anyway (`run` once the process runs), and
 * every child it makes first thing (a copy of the tree's fd must not reach
 * a container: in a user namespace the init is dumpable). Without a call
 * the tree goes when the process exits. */
void exe_guard_release(void);

int exe_guard_make_undumpable(berth_error **err);

#endif
