/* engine/gotemplate: the Go-template subset of `inspect --format`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/gotemplate.h"

static const char *data_text =
    "{\"Name\": \"web\", \"Id\": \"abc123\","
    " \"State\": {\"Status\": \"running\", \"Pid\": 42, \"Running\": true, \"OOMKilled\": false},"
    " \"Config\": {\"Env\": [\"A=1\", \"B=2\"], \"Labels\": {\"b\": \"2\", \"a\": \"1\"}, \"Cmd\": null},"
    " \"Mounts\": [{\"Source\": \"/h\", \"Destination\": \"/c\"}],"
    " \"NetworkSettings\": {\"IPAddress\": \"10.77.0.2\"}, \"Ratio\": 1.5, \"Empty\": []}";

/* The output of TEMPLATE over the data above, or "ERR: message". */
static char *render(const char *template)
{
	json_t *data = json_loads(data_text, 0, NULL);
	berth_error *err = NULL;
	gotemplate *t = NULL;
	char *out = NULL;

	assert_non_null(data);
	if (gotemplate_parse(template, &t, &err) < 0 || gotemplate_execute(t, data, &out, &err) < 0) {
		if (asprintf(&out, "ERR: %s", err->msg) < 0)
			out = NULL;
		berth_error_free(&err);
	}
	gotemplate_free(t);
	json_decref(data);
	return out;
}

static void expect(const char *template, const char *want)
{
	char *got = render(template);
	assert_non_null(got);
	if (strcmp(got, want) != 0)
		fail_msg("template %s: got \"%s\", want \"%s\"", template, got, want);
	free(got);
}

static void expect_error(const char *template, const char *part)
{
	char *got = render(template);
	assert_non_null(got);
	if (strncmp(got, "ERR: ", 5) != 0 || strstr(got, part) == NULL)
		fail_msg("template %s: got \"%s\", want an error with \"%s\"", template, got, part);
	free(got);
}

static void test_fields(void **state)
{
	expect("{{.State.Status}}", "running");
	expect("{{.Name}} {{.State.Pid}}", "web 42");
	expect("{{.NetworkSettings.IPAddress}}", "10.77.0.2");
	expect("{{.State.Running}}/{{.State.OOMKilled}}", "true/false");
	expect("{{.Ratio}}", "1.5");
	expect("{{.Missing}}", "<no value>");
	expect("{{.Missing.Deeper}}", "<no value>");
	expect("{{.Config.Cmd}}", "<nil>");
	expect("{{.Config.Env}}", "[A=1 B=2]");
	expect("{{.Config.Labels}}", "map[a:1 b:2]");
	expect("plain text", "plain text");
	expect("", "");
	expect("{{$.Name}}", "web");
	expect_error("{{.Name.Sub}}", "can't evaluate field Sub");
}

static void test_functions(void **state)
{
	expect("{{json .Config.Env}}", "[\"A=1\",\"B=2\"]");
	expect("{{json .State.Status}}", "\"running\"");
	expect("{{json .Missing}}", "null");
	expect("{{index .Config.Labels \"a\"}}", "1");
	expect("{{index .Config.Labels \"zz\"}}", "");
	expect("{{index .Config.Env 1}}", "B=2");
	expect("{{(index .Mounts 0).Source}}", "/h");
	expect("{{len .Config.Env}} {{len .Name}}", "2 3");
	expect("{{upper .Name}} {{lower \"ABC\"}}", "WEB abc");
	expect("{{join .Config.Env \",\"}}", "A=1,B=2");
	expect("{{printf \"%s:%d\" .Name .State.Pid}}", "web:42");
	expect("{{printf \"%5s|%-4d|%q\" .Name 7 .Name}}", "  web|7   |\"web\"");
	expect("{{.Name | printf \"<%s>\"}}", "<web>");
	expect("{{.Config.Env | json}}", "[\"A=1\",\"B=2\"]");
	expect("{{println .Name}}", "web\n");
	expect("{{print 1 2}}{{print \"a\" \"b\"}}", "1 2ab");
	expect("{{truncate .Id 3}}", "abc");
	expect("{{index (split \"a:b\" \":\") 1}}", "b");
	expect_error("{{nope .Name}}", "function \"nope\" not defined");
	expect_error("{{index .Config.Env 5}}", "index out of range");
}

static void test_control(void **state)
{
	expect("{{range .Config.Env}}{{.}} {{end}}", "A=1 B=2 ");
	expect("{{range $i, $e := .Config.Env}}{{$i}}={{$e}};{{end}}", "0=A=1;1=B=2;");
	expect("{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}} {{end}}", "a:1 b:2 ");
	expect("{{range .Empty}}x{{else}}none{{end}}", "none");
	expect("{{range .Mounts}}{{.Source}}->{{.Destination}}{{end}}", "/h->/c");
	expect("{{if .State.Running}}up{{else}}down{{end}}", "up");
	expect("{{if .State.OOMKilled}}oom{{else if eq .State.Status \"running\"}}run{{else}}x{{end}}", "run");
	expect("{{if not .State.OOMKilled}}ok{{end}}", "ok");
	expect("{{if and .State.Running (eq .State.Pid 42)}}yes{{end}}", "yes");
	expect("{{if or .Missing .Name}}{{or .Missing .Name}}{{end}}", "web");
	expect("{{if ne .Name \"db\"}}ne{{end}}{{if lt .State.Pid 50}}lt{{end}}", "nelt");
	expect("{{with .NetworkSettings}}{{.IPAddress}}{{end}}", "10.77.0.2");
	expect("{{with .Missing}}x{{else}}nothing{{end}}", "nothing");
	expect("{{$n := .Name}}{{range .Config.Env}}{{$n}}:{{.}} {{end}}", "web:A=1 web:B=2 ");
	expect("a  {{- .Name -}}  b", "awebb");
	expect("{{/* a comment */}}x", "x");
	expect("{{\"}}\"}}", "}}");
}

static void test_errors(void **state)
{
	expect_error("{{.Name", "unclosed action");
	expect_error("{{if .Name}}x", "missing {{end}}");
	expect_error("{{end}}", "unexpected {{end}}");
	expect_error("{{}}", "missing value");
	expect_error("{{.Name .Id}}", "non-function");
	expect_error("{{$nope}}", "undefined variable");
	expect_error("{{\"abc}}", "unclosed action");
	expect("{{\"abc }}x\" }}", "abc }}x");
	expect_error("{{.Name)}}", "non-function");
	expect_error("{{.Name ; }}", "unexpected");
	expect_error("{{range .Name}}x{{end}}", "can't iterate");
	expect_error("{{eq .Name 1}}", "incompatible types");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_functions),
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
