/* --output: the result as a directory or an archive, besides the store. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build/executor_internal.h"
#include "image/archive.h"
#include "util/cleanup.h"
#include "util/fs.h"

int build_parse_output(const char *text, output_spec *out, berth_error **err)
{
	_cleanup_free_ char *copy = text ? strdup(text) : NULL;
	char *save = NULL;

	memset(out, 0, sizeof(*out));
	if (text == NULL)
		return 0;
	if (copy == NULL)
		return berth_error_set(err, ENOMEM, "--output");
	for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(f, '=');
		if (eq == NULL)
			return berth_error_request(err, EINVAL, "--output %s: expected KEY=VALUE fields", text);
		*eq++ = '\0';
		if (strcmp(f, "type") == 0 && strcmp(eq, "local") == 0)
			out->kind = OUTPUT_LOCAL;
		else if (strcmp(f, "type") == 0 && (strcmp(eq, "oci") == 0 || strcmp(eq, "oci-archive") == 0))
			out->kind = OUTPUT_OCI;
		else if (strcmp(f, "type") == 0 && (strcmp(eq, "docker") == 0 || strcmp(eq, "docker-archive") == 0))
			out->kind = OUTPUT_DOCKER;
		else if (strcmp(f, "type") == 0)
			return berth_error_request(err, EINVAL, "--output: unknown type \"%s\" (local, oci or docker)",
						   eq);
		else if (strcmp(f, "dest") == 0 && eq[0]) {
			free(out->dest);
			out->dest = strdup(eq);
		} else
			return berth_error_request(err, EINVAL, "--output %s: unknown field \"%s\"", text, f);
	}
	if (out->kind == OUTPUT_NONE || out->dest == NULL) {
		free(out->dest);
		out->dest = NULL;
		return berth_error_request(err, EINVAL, "--output %s: expected type=local|oci|docker,dest=PATH", text);
	}
	return 0;
}

/* The target's rootfs, copied into DEST (created; owners and modes kept). */
static int output_local(build_ctx *c, stage_state *si, const char *dest, berth_error **err)
{
	_cleanup_free_ char *dir = NULL, *rootfs = NULL;
	_cleanup_close_ int root = -EBADF, dst = -EBADF;
	build_copy_options co = { .keep_owner = true };
	int ret;

	if (fs_mkdir_p(dest, 0755, err) < 0)
		return berth_error_wrap(err, "--output");
	dst = open(dest, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dst < 0)
		return berth_error_set(err, errno, "--output \"%s\"", dest);
	if (stage_mount(c, si, &dir, err) < 0)
		return -1;
	rootfs = fs_path_join(dir, "rootfs");
	root = rootfs ? open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
	ret = root < 0 ? berth_error_set(err, errno, "open \"%s\"", rootfs ? rootfs : "rootfs")
		       : build_copy(root, ".", dst, "/", &co, err);
	stage_unmount(dir);
	return ret < 0 ? berth_error_wrap(err, "--output \"%s\"", dest) : 0;
}

int build_write_output(build_ctx *c, const output_spec *out, char *const *names, const char *id, berth_error **err)
{
	char *const by_id[] = { (char *)id, NULL };

	switch (out->kind) {
	case OUTPUT_LOCAL:
		return output_local(c, &c->stages[c->plan->target], out->dest, err);
	case OUTPUT_OCI:
	case OUTPUT_DOCKER:
		return image_archive_save(c->s, names[0] ? names : by_id,
					  out->kind == OUTPUT_OCI ? ARCHIVE_FORMAT_OCI_ARCHIVE : ARCHIVE_FORMAT_DOCKER,
					  out->dest, err) < 0
			   ? berth_error_wrap(err, "--output")
			   : 0;
	case OUTPUT_NONE:
		break;
	}
	return 0;
}
