/* The subset of Go's text/template that docker users write in
 * `inspect --format`, evaluated over JSON (jansson) instead of Go values:
 *
 *   {{.State.Status}}  {{.Name}}  {{$}}  {{.}}            fields of the dot
 *   {{json .Config}}  {{index .Config.Labels "k"}}  {{len .Mounts}}
 *   {{join .Args " "}}  {{upper .Name}}  {{lower ...}}  {{printf "%s:%d" a b}}
 *   {{print ...}}  {{println ...}}  {{eq a b}}  {{ne}} {{lt}} {{le}} {{gt}} {{ge}}
 *   {{not x}}  {{and a b}}  {{or a b}}  {{split s sep}}  {{truncate s n}}
 *   {{.X | json}}  {{(index .Mounts 0).Source}}
 *   {{if P}}...{{else if Q}}...{{else}}...{{end}}  {{with P}}...{{end}}
 *   {{range .Config.Env}}{{.}} {{end}}  {{range $k, $v := .Config.Labels}}...{{end}}
 *   {{$x := P}}  {{$x}}  {{- trims -}}, and comments (slash-star in the braces)
 *
 * Values print like Go's fmt: a missing field "<no value>", null "<nil>",
 * arrays "[a b]", objects "map[k:v]" (keys sorted, as Go ranges a map),
 * integers without a fraction. `range` over an object goes through its keys
 * in sorted order. A field of a missing value is missing, as on docker's raw
 * JSON fallback. */
#ifndef BERTH_ENGINE_GOTEMPLATE_H
#define BERTH_ENGINE_GOTEMPLATE_H

#include <jansson.h>

#include "util/error.h"

typedef struct gotemplate gotemplate;

/* Parses TEXT; errors name the position ("1:14: unexpected \"}\""). */
int gotemplate_parse(const char *text, gotemplate **out, berth_error **err);
/* Evaluates T with DATA as the dot; *OUT is a heap string. */
int gotemplate_execute(const gotemplate *t, json_t *data, char **out, berth_error **err);
void gotemplate_free(gotemplate *t);

#endif
