/* The shorthands the schema tables are written in (schema.c, hpa_spec.c):
 * F(name, type), OBJ(name, fields), LIST(name, item type), LIST_OF(name,
 * fields), IGNORED(name, type, why), REFUSED(name, type, why), END. */
#ifndef BERTH_KUBE_SCHEMA_TABLES_H
#define BERTH_KUBE_SCHEMA_TABLES_H

#include "kube/schema.h"

#define F(n, t)                                                                                                        \
	{                                                                                                              \
		.name = n, .type = t                                                                                   \
	}
#define OBJ(n, f)                                                                                                      \
	{                                                                                                              \
		.name = n, .type = KT_OBJECT, .fields = f                                                              \
	}
#define LIST(n, t)                                                                                                     \
	{                                                                                                              \
		.name = n, .type = KT_LIST, .item = t                                                                  \
	}
#define LIST_OF(n, f)                                                                                                  \
	{                                                                                                              \
		.name = n, .type = KT_LIST, .item = KT_OBJECT, .fields = f                                             \
	}
#define IGNORED(n, t, w)                                                                                               \
	{                                                                                                              \
		.name = n, .type = t, .item = KT_ANY, .support = KS_IGNORED, .note = w                                 \
	}
#define REFUSED(n, t, w)                                                                                               \
	{                                                                                                              \
		.name = n, .type = t, .item = KT_ANY, .support = KS_UNSUPPORTED, .note = w                             \
	}
#define END                                                                                                            \
	{                                                                                                              \
		.name = NULL                                                                                           \
	}

#endif
