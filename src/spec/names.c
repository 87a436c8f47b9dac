#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/capability.h>

#include "spec/spec.h"
#include "util/cleanup.h"

int spec_capability_from_name(const char *name)
{
	char lower[64];
	cap_value_t value;
	size_t i;

	if (strncmp(name, "CAP_", 4) != 0 || strlen(name) >= sizeof(lower))
		return -1;
	for (i = 0; name[i]; i++)
		lower[i] = tolower((unsigned char)name[i]);
	lower[i] = '\0';
	/* cap_from_name also accepts bare numbers; the spec wants names. */
	if (isdigit((unsigned char)lower[4]))
		return -1;
	if (cap_from_name(lower, &value) < 0)
		return -1;
	return value;
}

/* Both tables are filled once per process, before anyone reads them: the
 * engine asks for names from several threads (parallel build stages), and a
 * lazily filled entry could be read half-written ("CAP_FO"). */
static char capability_names[64][32];
static int capability_last = CAP_LAST_CAP;
static pthread_once_t capability_once = PTHREAD_ONCE_INIT;

static void capability_tables_fill(void)
{
	/* cap_max_bits() reports what the running kernel supports. */
	int last = (int)cap_max_bits() - 1;

	if (last >= 0 && last <= 63)
		capability_last = last;
	for (int cap = 0; cap < 64; cap++) {
		char *n = cap_to_name(cap);
		size_t i;
		if (n == NULL)
			continue;
		for (i = 0; n[i] && i < sizeof(capability_names[cap]) - 1; i++)
			capability_names[cap][i] = toupper((unsigned char)n[i]);
		capability_names[cap][i] = '\0';
		cap_free(n);
	}
}

const char *spec_capability_name(int cap)
{
	if (cap < 0 || cap >= 64)
		return "CAP_UNKNOWN";
	pthread_once(&capability_once, capability_tables_fill);
	return capability_names[cap][0] ? capability_names[cap] : "CAP_UNKNOWN";
}

int spec_capability_last(void)
{
	pthread_once(&capability_once, capability_tables_fill);
	return capability_last;
}

static const struct {
	const char *name;
	int signo;
} signal_names[] = {
	{ "HUP", SIGHUP },   { "INT", SIGINT },	      { "QUIT", SIGQUIT }, { "ILL", SIGILL },	  { "TRAP", SIGTRAP },
	{ "ABRT", SIGABRT }, { "IOT", SIGIOT },	      { "BUS", SIGBUS },   { "FPE", SIGFPE },	  { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },     { "USR2", SIGUSR2 }, { "PIPE", SIGPIPE },	  { "ALRM", SIGALRM },
	{ "TERM", SIGTERM }, { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT },	  { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN },     { "TTOU", SIGTTOU }, { "URG", SIGURG },	  { "XCPU", SIGXCPU },
	{ "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH }, { "IO", SIGIO },
	{ "POLL", SIGPOLL }, { "PWR", SIGPWR },	      { "SYS", SIGSYS },
};

int spec_signal_from_string(const char *s)
{
	char *end;
	size_t i;

	if (s == NULL || *s == '\0')
		return -1;
	if (isdigit((unsigned char)*s)) {
		long n = strtol(s, &end, 10);
		if (*end != '\0' || n <= 0 || n > SIGRTMAX)
			return -1;
		return (int)n;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++)
		if (strcasecmp(s, signal_names[i].name) == 0)
			return signal_names[i].signo;
	if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0) {
		bool min = strncasecmp(s, "RTMIN", 5) == 0;
		long off = 0;
		if (s[5] == '+' || s[5] == '-') {
			off = strtol(s + 5, &end, 10);
			if (*end != '\0')
				return -1;
		} else if (s[5] != '\0') {
			return -1;
		}
		long n = (min ? SIGRTMIN : SIGRTMAX) + off;
		if (n < SIGRTMIN || n > SIGRTMAX)
			return -1;
		return (int)n;
	}
	return -1;
}

int spec_validate_container_id(const char *id, berth_error **err)
{
	size_t len = id ? strlen(id) : 0;

	if (len == 0)
		return berth_error_set(err, 0, "container id must not be empty");
	if (len > 1024)
		return berth_error_set(err, 0, "container id is longer than 1024 bytes");
	if (!isalnum((unsigned char)id[0]))
		return berth_error_set(err, 0, "invalid container id \"%s\": must start with a letter or digit", id);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = id[i];
		if (!isalnum(c) && c != '_' && c != '-' && c != '.' && c != '+')
			return berth_error_set(
			    err, EINVAL, "invalid container id \"%s\": only letters, digits and \"_.+-\" are allowed",
			    id);
	}
	return 0;
}

static const char *const ns_names[NS_TYPES] = {
	[NS_PID] = "pid", [NS_NETWORK] = "network", [NS_MOUNT] = "mount",   [NS_IPC] = "ipc",
	[NS_UTS] = "uts", [NS_USER] = "user",	    [NS_CGROUP] = "cgroup", [NS_TIME] = "time",
};

const char *spec_ns_name(enum spec_ns_type type)
{
	return type < NS_TYPES ? ns_names[type] : "unknown";
}

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

int spec_ns_clone_flag(enum spec_ns_type type)
{
	static const int flags[NS_TYPES] = {
		[NS_PID] = CLONE_NEWPID,       [NS_NETWORK] = CLONE_NEWNET, [NS_MOUNT] = CLONE_NEWNS,
		[NS_IPC] = CLONE_NEWIPC,       [NS_UTS] = CLONE_NEWUTS,	    [NS_USER] = CLONE_NEWUSER,
		[NS_CGROUP] = CLONE_NEWCGROUP, [NS_TIME] = CLONE_NEWTIME,
	};
	return type < NS_TYPES ? flags[type] : 0;
}

static const char *const hook_names[HOOK_KINDS] = {
	[HOOK_PRESTART] = "prestart",
	[HOOK_CREATE_RUNTIME] = "createRuntime",
	[HOOK_CREATE_CONTAINER] = "createContainer",
	[HOOK_START_CONTAINER] = "startContainer",
	[HOOK_POSTSTART] = "poststart",
	[HOOK_POSTSTOP] = "poststop",
};

const char *spec_hook_kind_name(enum spec_hook_kind kind)
{
	return kind < HOOK_KINDS ? hook_names[kind] : "unknown";
}
