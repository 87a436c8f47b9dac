/* Requests to delete a Deployment's pod, left for the controller
 * (pod_delete.h). */
#include "kube/pod_delete.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/controller.h"
#include "util/cleanup.h"
#include "util/fs.h"

static char *request_dir(const kube_context *k, const char *namespace)
{
	return kube_controller_file(k, namespace, "delete");
}

int kube_pod_request_delete(const kube_context *k, const char *namespace, const char *name, berth_error **err)
{
	_cleanup_free_ char *dir = request_dir(k, namespace), *path = NULL;
	int fd;

	if (dir == NULL || asprintf(&path, "%s/%s", dir, name) < 0)
		return berth_error_set(err, ENOMEM, "delete pod %s", name);
	if (strchr(name, '/') || name[0] == '.' || name[0] == '\0')
		return berth_error_request(err, EINVAL, "delete pod \"%s\": not a pod name", name);
	if (fs_mkdir_p(dir, 0700, err) < 0)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return berth_error_set(err, errno, "delete pod %s: create \"%s\"", name, path);
	close(fd);
	return 0;
}

json_t *kube_pod_delete_requests(const kube_context *k, const char *namespace)
{
	_cleanup_free_ char *dir = request_dir(k, namespace);
	json_t *out = json_array();
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *e;

	if (d == NULL)
		return out;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			json_array_append_new(out, json_string(e->d_name));
	closedir(d);
	return out;
}

void kube_pod_delete_request_done(const kube_context *k, const char *namespace, const char *name)
{
	_cleanup_free_ char *dir = request_dir(k, namespace), *path = NULL;

	if (dir == NULL || asprintf(&path, "%s/%s", dir, name) < 0)
		return;
	unlink(path);
	rmdir(dir); /* the last one takes the directory with it */
}
