/* Flags shared by `create` and `run`. */
#ifndef BERTH_CMD_RUNTIME_CREATE_FLAGS_H
#define BERTH_CMD_RUNTIME_CREATE_FLAGS_H

#include "util/options.h"
#include "runtime/container.h"

enum {
	CF_BUNDLE,
	CF_PID_FILE,
	CF_CONSOLE_SOCKET,
	CF_NO_PIVOT,
	CF_NO_NEW_KEYRING,
	CF_PRESERVE_FDS,
	CF_DETACH,
	CF_KEEP,
	CF_CONFIG,
	CF_PIDFD_SOCKET,
	CF_COUNT
};

extern const option_spec create_flag_specs[];

int create_flags_to_options(const char *cmd_name, option_value *v, const char *id, create_options *opts,
			    char **bundle_out, berth_error **err);

#endif
