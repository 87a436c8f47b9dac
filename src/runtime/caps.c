#include "runtime/caps.h"

#include <errno.h>
#include <sys/capability.h>
#include <sys/prctl.h>

int caps_drop_bounding(const spec_capabilities *caps, berth_error **err)
{
	int last = spec_capability_last();

	/* A set missing from process.capabilities is empty, as in runc: podman
	 * --cap-drop ALL writes "capabilities": {}, and a root process keeps
	 * every capability left in the bounding set across execve. */
	for (int cap = 0; cap <= last; cap++) {
		if (caps->sets[CAP_SET_BOUNDING] & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return berth_error_set(err, errno, "drop %s from the bounding set", spec_capability_name(cap));
	}
	return 0;
}

static int set_flag(cap_t c, cap_flag_t flag, uint64_t bits, int last)
{
	for (int cap = 0; cap <= last; cap++) {
		cap_value_t v = cap;
		if ((bits & (1ULL << cap)) && cap_set_flag(c, flag, 1, &v, CAP_SET) < 0)
			return -1;
	}
	return 0;
}

int caps_apply(const spec_capabilities *caps, berth_error **err)
{
	int last = spec_capability_last();
	cap_t c = cap_init();
	int ret;

	if (c == NULL)
		return berth_error_set(err, errno, "capabilities");
	if (set_flag(c, CAP_EFFECTIVE, caps->sets[CAP_SET_EFFECTIVE], last) < 0 ||
	    set_flag(c, CAP_PERMITTED, caps->sets[CAP_SET_PERMITTED], last) < 0 ||
	    set_flag(c, CAP_INHERITABLE, caps->sets[CAP_SET_INHERITABLE], last) < 0) {
		cap_free(c);
		return berth_error_set(err, errno, "capabilities");
	}
	ret = cap_set_proc(c);
	cap_free(c);
	if (ret < 0)
		return berth_error_set(err, errno, "set process capabilities");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return berth_error_set(err, errno, "clear ambient capabilities");
	for (int cap = 0; cap <= last; cap++) {
		if (!(caps->sets[CAP_SET_AMBIENT] & (1ULL << cap)))
			continue;
		/* runc ignores ambient caps that are not permitted+inheritable */
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 && errno != EPERM)
			return berth_error_set(err, errno, "raise ambient %s", spec_capability_name(cap));
	}
	return 0;
}

int caps_clear_inheritable(berth_error **err)
{
	cap_t c = cap_get_proc();
	int ret;

	if (c == NULL)
		return berth_error_set(err, errno, "read process capabilities");
	cap_clear_flag(c, CAP_INHERITABLE);
	ret = cap_set_proc(c);
	cap_free(c);
	if (ret < 0)
		return berth_error_set(err, errno, "clear inheritable capabilities");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return berth_error_set(err, errno, "clear ambient capabilities");
	return 0;
}
