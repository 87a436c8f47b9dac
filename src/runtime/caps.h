/* Process capabilities: bounding, effective, permitted, inheritable and
 * ambient sets.  The inheritable and ambient sets are emptied unless the
 * spec fills them (CVE-2022-29162: a non-empty inheritable set lets
 * file capabilities of programs in the image escalate). */
#ifndef BERTH_RUNTIME_CAPS_H
#define BERTH_RUNTIME_CAPS_H

#include "spec/spec.h"
#include "util/error.h"

/* Drops from the bounding set every capability the spec does not list.
 * Needs CAP_SETPCAP: call before changing uid. */
int caps_drop_bounding(const spec_capabilities *caps, berth_error **err);

/* Sets effective, permitted and inheritable, then raises ambient. Call
 * after the uid change (with PR_SET_KEEPCAPS set across it). */
int caps_apply(const spec_capabilities *caps, berth_error **err);

/* Clears inheritable and ambient only (process without a capabilities object). */
int caps_clear_inheritable(berth_error **err);

#endif
