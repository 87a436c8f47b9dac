/* berth image COMMAND: dispatch to the image commands. */
#include <stdio.h>
#include <string.h>

#include "cmd/berth/commands.h"

static const berth_command image_commands[] = {
	{ "ls", "image ls [flags]", "list images", cmd_image_ls },
	{ "list", "image list [flags]", "list images", cmd_image_ls },
	{ "pull", "image pull [flags] IMAGE", "pull an image from a registry", cmd_pull },
	{ "push", "image push [flags] IMAGE [DESTINATION]", "push an image to a registry", cmd_push },
	{ "inspect", "image inspect IMAGE...", "print images as JSON", cmd_image_inspect },
	{ "tag", "image tag IMAGE NAME...", "add names to an image", cmd_image_tag },
	{ "rm", "image rm [--force] IMAGE...", "remove images", cmd_image_rm },
	{ "prune", "image prune [--all] [-f] [--build-cache]", "remove unused blobs, snapshots and unnamed images",
	  cmd_image_prune },
	{ "load", "image load [-i FILE]", "load images from a docker or OCI archive", cmd_load },
	{ "save", "image save [flags] IMAGE...", "write images to an archive", cmd_save },
	{ "import", "image import [flags] TARBALL [NAME]", "make an image from a rootfs tarball", cmd_import },
	{ "build", "image build [flags] CONTEXT|-", "build an image from a Containerfile", cmd_build },
	{ "sign", "image sign [flags] IMAGE...", "sign images in a registry (GPG or sigstore)", cmd_image_sign },
	{ "trust", "image trust show|set [flags]", "show or edit the signature policy", cmd_image_trust },
	{ "history", "image history [--no-trunc] [-q] [--format json] IMAGE", "an image's layers and history",
	  cmd_image_history },
	{ NULL, NULL, NULL, NULL },
};

int cmd_image(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		printf("usage: berth image COMMAND [flags] ARGS\n\ncommands:\n");
		for (int i = 0; image_commands[i].name; i++)
			printf("   %-10s %s\n", image_commands[i].name, image_commands[i].summary);
		return argc < 1 ? 125 : 0;
	}
	for (int i = 0; image_commands[i].name; i++)
		if (strcmp(image_commands[i].name, argv[0]) == 0)
			return image_commands[i].run(g, argc - 1, argv + 1, err);
	return berth_error_set(err, 0, "image: unknown command \"%s\" (see berth image --help)", argv[0]);
}
