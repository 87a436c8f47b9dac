#include "runtime/idmap_mount.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/sched.h>

#include "runtime/namespaces.h"
#include "util/cleanup.h"

/* A user namespace whose maps are UIDS and GIDS, as an fd: a child is cloned
 * into a new one, the maps are written, its /proc/PID/ns/user is opened and
 * the child exits. */
static int userns_with_maps(const spec_id_mapping *uids, size_t n_uids, const spec_id_mapping *gids, size_t n_gids,
			    bool rootless, berth_error **err)
{
	struct clone_args args = { .flags = CLONE_NEWUSER, .exit_signal = SIGCHLD };
	char path[64];
	int pipefd[2], fd = -1;
	pid_t pid;
	spec *maps = calloc(1, sizeof(*maps)); /* namespaces_write_id_maps() reads them from a spec */

	if (maps == NULL)
		return berth_error_set(err, ENOMEM, "user namespace for an idmapped mount");
	maps->uid_mappings = (spec_id_mapping *)uids;
	maps->n_uid_mappings = n_uids;
	maps->gid_mappings = (spec_id_mapping *)gids;
	maps->n_gid_mappings = n_gids;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		free(maps);
		return berth_error_set(err, errno, "pipe");
	}
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0) {
		char c;
		close(pipefd[1]);
		/* hold the namespace until the runtime has opened it */
		while (read(pipefd[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(pipefd[0]);
	if (pid < 0) {
		berth_error_set(err, errno, "clone a user namespace for an idmapped mount");
	} else if (namespaces_write_id_maps(pid, maps, rootless, err) == 0) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			berth_error_set(err, errno, "open %s", path);
	}
	close(pipefd[1]);
	if (pid > 0) {
		if (fd < 0)
			kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	free(maps);
	return fd;
}

static const char *idmap_hint(int e)
{
	switch (e) {
	case EINVAL:
		return " (the filesystem or the kernel cannot idmap this mount)";
	case ENOSYS:
		return " (the kernel has no idmapped mounts: Linux 5.12 or later is needed)";
	case EPERM:
		return " (not permitted to idmap this mount)";
	default:
		return "";
	}
}

/* The detached, idmapped tree of mount I. */
static int make_tree(const spec_mount *m, size_t i, int userns, berth_error **err)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (unsigned)userns };
	unsigned int setattr_flags = AT_EMPTY_PATH;
	_cleanup_close_ int tree = -EBADF;
	int ret;

	tree = open_tree(AT_FDCWD, m->source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (m->rbind ? AT_RECURSIVE : 0));
	if (tree < 0)
		return berth_error_set(err, errno, "mounts[%zu]: clone the mount of \"%s\"%s", i, m->source,
				       idmap_hint(errno));
	/* "ridmap" maps the submounts an rbind takes along too; "idmap" only
	 * the top one. */
	if (m->idmap_recursive && m->rbind)
		setattr_flags |= AT_RECURSIVE;
	if (mount_setattr(tree, "", setattr_flags, &attr, sizeof(attr)) < 0) {
		int e = errno;
		return berth_error_set(err, e, "mounts[%zu]: idmap \"%s\" for \"%s\"%s", i, m->source, m->destination,
				       idmap_hint(e));
	}
	ret = tree;
	tree = -EBADF;
	return ret;
}

void idmap_mounts_clear(idmap_mounts *im)
{
	for (size_t i = 0; i < im->n; i++)
		if (im->fds[i] >= 0)
			close(im->fds[i]);
	free(im->fds);
	im->fds = NULL;
	im->n = 0;
}

int idmap_mounts_prepare(const spec *s, int joined_userns, bool rootless, idmap_mounts *out, berth_error **err)
{
	_cleanup_close_ int container_userns = -EBADF;
	bool any = false;

	for (size_t i = 0; i < s->n_mounts; i++)
		any |= s->mounts[i].idmap;
	if (!any)
		return 0;
	out->fds = malloc(s->n_mounts * sizeof(int));
	if (out->fds == NULL)
		return berth_error_set(err, ENOMEM, "idmapped mounts");
	out->n = s->n_mounts;
	for (size_t i = 0; i < s->n_mounts; i++)
		out->fds[i] = -1;
	for (size_t i = 0; i < s->n_mounts; i++) {
		const spec_mount *m = &s->mounts[i];
		_cleanup_close_ int own_userns = -EBADF;
		int userns;

		if (!m->idmap)
			continue;
		if (m->n_uid_mappings > 0) {
			own_userns = userns_with_maps(m->uid_mappings, m->n_uid_mappings, m->gid_mappings,
						      m->n_gid_mappings, rootless, err);
			if (own_userns < 0)
				goto fail_mount;
			userns = own_userns;
		} else if (joined_userns >= 0) {
			userns = joined_userns;
		} else {
			if (container_userns < 0) {
				container_userns = userns_with_maps(s->uid_mappings, s->n_uid_mappings, s->gid_mappings,
								    s->n_gid_mappings, rootless, err);
				if (container_userns < 0)
					goto fail_mount;
			}
			userns = container_userns;
		}
		out->fds[i] = make_tree(m, i, userns, err);
		if (out->fds[i] < 0)
			goto fail;
		continue;
	fail_mount:
		berth_error_wrap(err, "mounts[%zu]: idmap \"%s\"", i, m->source);
		goto fail;
	}
	return 0;
fail:
	idmap_mounts_clear(out);
	return -1;
}

int idmap_mount_attach(int tree, int target, berth_error **err)
{
	if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return berth_error_set(err, errno, "attach the idmapped mount");
	return 0;
}
