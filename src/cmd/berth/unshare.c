/* berth unshare [COMMAND...]: runs COMMAND (default $SHELL) in the user and
 * mount namespaces rootless berth works in (engine/userns.h), as root of
 * them: to look at or remove store files that belong to subordinate ids, or
 * to run a runtime on a `berth bundle`. For root it runs COMMAND as is. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/berth/commands.h"

int cmd_unshare(const berth_globals *g, int argc, char **argv, berth_error **err)
{
	const char *shell = getenv("SHELL");
	char *fallback[] = { (char *)(shell && shell[0] ? shell : "/bin/sh"), NULL };
	char **cmd = argc > 0 ? argv : fallback;

	if (argc > 0 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
		printf("usage: berth unshare [COMMAND [ARG...]]\n\nruns COMMAND (default $SHELL) as root of berth's "
		       "rootless user and mount namespaces\n");
		return 0;
	}
	if (argc > 0 && strcmp(argv[0], "--") == 0)
		cmd = argc > 1 ? argv + 1 : fallback;
	fflush(stdout);
	execvp(cmd[0], cmd);
	berth_error_set(err, errno, "unshare: exec \"%s\"", cmd[0]);
	return errno == ENOENT ? 127 : 126;
}
