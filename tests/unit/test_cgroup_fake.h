/* A fake cgroupfs for the cgroup unit tests: plain directories and files in
 * a temp dir, with the knob files the kernel would create pre-made by the
 * test, and a recorder of every write the manager makes. */
#ifndef BERTH_TEST_CGROUP_FAKE_H
#define BERTH_TEST_CGROUP_FAKE_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/cgroup.h"
#include "spec/spec.h"

/* mkdtemp under /tmp; removed by fake_cleanup. */
char *fake_new_root(void);
void fake_cleanup(char *root);

/* ROOT/REL helpers; fake_file creates parents. */
char *fake_path(const char *root, const char *rel);
void fake_mkdir(const char *root, const char *rel);
void fake_file(const char *root, const char *rel, const char *content);
char *fake_read(const char *root, const char *rel); /* NULL when missing */
bool fake_exists(const char *root, const char *rel);
/* Creates empty knob files NAMES (NULL-terminated) in ROOT/DIR. */
void fake_knobs(const char *root, const char *dir, const char *const *names);
/* Removes the regular files directly in ROOT/DIR (before destroy: rmdir
 * of a fake cgroup with files fails). */
void fake_clear_files(const char *root, const char *dir);

/* Sorted list of every path below ROOT, one per line (tree snapshots). */
char *fake_snapshot(const char *root);

/* Records writes as "REL=VALUE\n" lines, REL relative to ROOT. */
void fake_record_start(const char *root);
const char *fake_recorded(void);
void fake_record_stop(void);

/* The v1 tree of the tests: memory, cpu,cpuacct, cpuset, pids, blkio,
 * hugetlb, devices, freezer, net_cls,net_prio, perf_event, systemd, and
 * (HYBRID) unified; the test process "runs" in /user.slice/sess for memory,
 * name=systemd and unified, in / elsewhere. Returns the self-cgroup file. */
char *fake_v1_tree(const char *root, bool hybrid);
/* The v2 tree: the process "runs" in /user.slice/sess, which has cpu,
 * memory, pids, io, cpuset, hugetlb available but none enabled yet. */
char *fake_v2_tree(const char *root);

cgroup_options fake_options(const char *root, const char *self, enum cgroup_mode mode, const char *path);

/* Parses linux.resources JSON (fails the test on error). */
void fake_resources(const char *json, spec_resources *out);

#endif
