"""docker's --format templates: each expectation is what the docker CLI prints."""

from __future__ import annotations

import pytest

from berth.cli.tabwriter import align
from berth.cli.template import (
    Template,
    TemplateError,
    is_table,
    render_lines,
    render_table,
)

INSPECT = {
    "Id": "4fa6e0f0c678",
    "Name": "/web",
    "Names": ["web", "web-alias"],
    "Config": {
        "Env": ["A=1", "PATH=/usr/bin"],
        "Labels": {"a": "b", "com.x": "<y&z>"},
        "Cmd": None,
    },
    "State": {"Status": "running", "Pid": 4242, "Running": True, "ExitCode": 0,
              "Health": None},
    "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": None},
    "Size": 1000000.0,
    "Ratio": 0.25,
}


def render(text: str, data: object = INSPECT) -> str:
    return Template(text).render(data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{.Name}}", "/web"),
        ("{{.State.Pid}}", "4242"),
        ("{{.State.Running}}", "true"),
        ("{{.Config.Env}}", "[A=1 PATH=/usr/bin]"),
        ("{{.Config.Labels}}", "map[a:b com.x:<y&z>]"),
        ("{{.State.Health}}", "<nil>"),
        ("{{.Config.Missing}}", "<no value>"),
        ("{{.Missing.Deeper}}", "<no value>"),
        ("{{.Size}}", "1e+06"),
        ("{{.Ratio}}", "0.25"),
        ("{{.}}", "hello"),
        ("{{$}}", "hello"),
    ],
)
def test_fields_print_like_go_fmt(text, expected):
    data = "hello" if text in ("{{.}}", "{{$}}") else INSPECT
    assert render(text, data) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(100000.0, "100000"), (1234567.0, "1.234567e+06"), (0.0001, "0.0001"),
     (0.00001, "1e-05"), (3.0, "3"), (-2.5, "-2.5"), ([1, None, "a"], "[1 <nil> a]"),
     ({"b": 1, "a": [True, False]}, "map[a:[true false] b:1]"), ([], "[]"), ({}, "map[]")],
)
def test_values_print_like_go_percent_v(value, expected):
    assert render("{{.V}}", {"V": value}) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{json .Config.Labels}}", '{"a":"b","com.x":"<y&z>"}'),  # docker: no HTML escaping
        ("{{json .Config.Env}}", '["A=1","PATH=/usr/bin"]'),
        ("{{json .State}}",
         '{"Status":"running","Pid":4242,"Running":true,"ExitCode":0,"Health":null}'),
        ("{{json .Size}}", "1000000"),
        ("{{json .Missing}}", "null"),
        ('{{json "a\\"b\\n\\t\\u2028"}}', '"a\\"b\\n\\t\\u2028"'),
    ],
)
def test_json_is_go_encoding_json(text, expected):
    assert render(text) == expected


def test_json_of_unencodable_float_prints_nothing():
    assert render("{{json .V}}", {"V": float("nan")}) == ""
    assert render("{{json .V}}", {"V": 1e21}) == "1e+21"
    assert render("{{json .V}}", {"V": 1e-7}) == "1e-7"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{{index .Config.Labels "com.x"}}', "<y&z>"),
        ('{{index .Config.Labels "nope"}}', ""),  # zero value of map[string]string
        ("{{index .Names 1}}", "web-alias"),
        ('{{(index (index .Ports "80/tcp") 0).HostPort}}', "8080"),
        ('{{join .Names ","}}', "web,web-alias"),
        ('{{upper "abc"}} {{lower "ABC"}} {{title "hello big world"}}', "ABC abc Hello Big World"),
        ('{{split "a:b:c" ":"}}', "[a b c]"),
        ('{{len .Names}} {{len "héllo"}} {{len .Config.Labels}}', "2 6 2"),
        ('{{truncate .Id 4}}|{{truncate "ab" 5}}', "4fa6|ab"),
        ('{{pad "x" 1 2}}|{{pad "" 1 2}}', " x  |"),
        ("{{println .Name}}", "/web\n"),
        ('{{println "a" 1 2}}', "a 1 2\n"),
        ('{{print "a" 1 2 "b"}}', "a1 2b"),
        ('{{printf "%s-%d" .Name .State.Pid}}', "/web-4242"),
        ('{{printf "%v %q %5d|%-4s|%05.1f %x" .Names "q" 42 "ab" 3.14159 255}}',
         '[web web-alias] "q"    42|ab  |003.1 ff'),
        ('{{printf "%d" "x"}}', "%!d(string=x)"),
        ('{{printf "%s %s" "x"}}', "x %!s(MISSING)"),
        ('{{printf "%s" "x" 1}}', "x%!(EXTRA int=1)"),
        ('{{html "<a href=\'x\'>"}}', "&lt;a href=&#39;x&#39;&gt;"),
        ('{{slice "abcdef" 1 3}} {{slice .Names 1}}', "bc [web-alias]"),
    ],
)
def test_functions(text, expected):
    assert render(text) == expected


def test_methods_are_python_callables_called_with_their_arguments():
    row = {"Label": lambda key: {"com.x": "y"}.get(key, ""), "ID": lambda: "abc"}
    assert render('{{.Label "com.x"}}|{{.Label "no"}}|{{.ID}}', row) == "y||abc"
    assert render('{{"com.x" | .Label}}', row) == "y"

    class Row:
        Image = "alpine"

        def Names(self) -> str:
            return "web"

    assert render("{{.Names}} {{.Image}}", Row()) == "web alpine"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
        ("{{if .Config.Cmd}}cmd{{else if .Config.Env}}env{{else}}none{{end}}", "env"),
        ('{{if eq .State.Status "exited" "running"}}live{{end}}', "live"),
        ('{{if ne .State.Status "running"}}x{{else}}y{{end}}', "y"),
        ('{{if not .State.Health}}no health{{end}}', "no health"),
        ("{{if and .State.Running .Names}}both{{end}}", "both"),
        ('{{or .Config.Cmd "default"}} {{and .Name .State.Pid}}', "default 4242"),
        ('{{if eq .Missing "x"}}y{{else}}n{{end}}', "n"),
        ("{{if lt .State.Pid 5000}}low{{end}}{{if ge .State.ExitCode 0}}ok{{end}}", "lowok"),
        ("{{with .State}}{{.Status}}{{end}}{{with .Config.Cmd}}x{{else}}none{{end}}",
         "runningnone"),
    ],
)
def test_conditionals(text, expected):
    assert render(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{range .Names}}{{.}} {{end}}", "web web-alias "),
        ("{{range $i, $n := .Names}}{{$i}}:{{$n}},{{end}}", "0:web,1:web-alias,"),
        ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}", "a=b com.x=<y&z> "),
        ("{{range $p, $conf := .Ports}}{{$p}}->{{$conf}};{{end}}",
         "443/tcp-><nil>;80/tcp->[map[HostIp:0.0.0.0 HostPort:8080]];"),
        ("{{range .Config.Cmd}}x{{else}}empty{{end}}", "empty"),
        ("{{range .Names}}{{if eq . \"web\"}}{{continue}}{{end}}{{.}}{{end}}", "web-alias"),
        ("{{range .Names}}{{.}}{{break}}{{end}}", "web"),
        ("{{range .Names}}{{$.Name}}{{end}}", "/web/web"),
        ("{{range 3}}{{.}}{{end}}", "012"),
    ],
)
def test_range(text, expected):
    assert render(text) == expected


def test_range_over_map_is_in_sorted_key_order():
    assert render("{{range $k, $v := .}}{{$k}}{{$v}}{{end}}", {"b": 2, "a": 1, "c": 3}) == "a1b2c3"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{$x := .Name}}{{$x}}", "/web"),
        ("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", "2"),
        ("{{.Name | printf \"%s!\" | upper}}", "/WEB!"),
        ("a  {{- .Name -}}  b", "a/webb"),
        ("a {{- /* comment */ -}} b{{/* another */}}", "ab"),
        ('{{"s"}} {{`raw\\n`}} {{42}} {{-1}} {{1.5}} {{true}} {{\'a\'}} {{0x10}}',
         "s raw\\n 42 -1 1.5 true 97 16"),
        ("{{ .Name }}", "/web"),
        ("line1\n{{.Name}}\n", "line1\n/web\n"),
    ],
)
def test_syntax(text, expected):
    assert render(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{.Name.X}}", 'template: :1:7: executing "" at <.Name.X>: '
                        "can't evaluate field X in type string"),
        ("{{.X}}", 'template: :1:2: executing "" at <.X>: can\'t evaluate field X in type int'),
        # Go places a field chain at its second field: .Health starts at byte 8
        ("{{.State.Health.Status}}", 'template: :1:8: executing "" at <.State.Health.Status>: '
                                     "nil pointer evaluating interface {}.Status"),
        ("{{index .Names 5}}", 'template: :1:2: executing "" at <index .Names 5>: '
                               "error calling index: index out of range: 5"),
        ("{{upper .State.Pid}}", 'template: :1:14: executing "" at <.State.Pid>: '
                                 "wrong type for value; expected string; got int"),
        ("{{upper}}", 'template: :1:2: executing "" at <upper>: '
                      "wrong number of args for upper: want 1 got 0"),
        ('{{eq .Name 1}}', 'template: :1:2: executing "" at <eq .Name 1>: '
                           "error calling eq: incompatible types for comparison"),
        ('{{.Name 1}}', 'template: :1:2: executing "" at <.Name>: '
                        "Name is not a method but has arguments"),
        ("{{.Name", "template: :1: unclosed action"),
        ("{{end}}", "template: :1: unexpected {{end}}"),
        ("{{if .Name}}x", "template: :1: unexpected EOF"),
        ("{{nope .Name}}", 'template: :1: function "nope" not defined'),
        ("{{$x}}", 'template: :1: undefined variable "$x"'),
        ("{{}}", "template: :1: missing value for command"),
        ("{{break}}", "template: :1: {{break}} outside {{range}}"),
        ("a\n{{end}}", "template: :2: unexpected {{end}}"),
        ("{{.Name | 1}}", "template: :1: non executable command in pipeline stage 2"),
        ('{{"abc}}', "template: :1: unterminated quoted string"),
    ],
)
def test_errors_read_like_go(text, message):
    data = 5 if text == "{{.X}}" else INSPECT
    with pytest.raises(TemplateError) as err:
        render(text, data)
    assert str(err.value) == message
    assert isinstance(err.value, ValueError)


def test_is_table():
    assert is_table("table {{.ID}}")
    assert is_table("table")
    assert not is_table("{{.ID}}\ttable")


def test_render_table_aligns_like_docker():
    headers = {"ID": "CONTAINER ID", "Names": "NAMES"}
    rows: list[dict[str, object]] = [{"ID": "abc", "Names": "web"}]
    out = render_table("table {{.ID}}\t{{.Names}}", rows, headers)
    assert out == "CONTAINER ID   NAMES\nabc            web\n"


def test_render_table_expands_backslash_t_and_widens_columns():
    headers = {"ID": "CONTAINER ID", "Image": "IMAGE", "Names": "NAMES"}
    rows: list[dict[str, object]] = [
        {"ID": "4fa6e0f0c678", "Image": "registry.example.com/app:1", "Names": "web"},
        {"ID": "1", "Image": "alpine", "Names": "db"},
    ]
    out = render_table("table {{.ID}}\\t{{.Image}}\\t{{.Names}}", rows, headers)
    assert out == (
        "CONTAINER ID   IMAGE                        NAMES\n"
        "4fa6e0f0c678   registry.example.com/app:1   web\n"
        "1              alpine                       db\n"
    )


def test_render_table_header_keeps_titles_through_docker_functions():
    headers = {"Names": "NAMES", "ID": "CONTAINER ID"}
    rows: list[dict[str, object]] = [{"Names": ["web", "x"], "ID": "abc"}]
    out = render_table('table {{join .Names ","}}\t{{upper .ID}}', rows, headers)
    assert out == "NAMES     CONTAINER ID\nweb,x     ABC\n"


def test_render_table_with_no_rows_prints_the_header():
    assert render_table("table {{.ID}}", [], {"ID": "CONTAINER ID"}) == "CONTAINER ID\n"


def test_render_table_row_error_raises():
    with pytest.raises(TemplateError):
        render_table("table {{.ID.X}}", [{"ID": "a"}], {"ID": "CONTAINER ID"})


def test_tabwriter_columns_are_per_contiguous_block():
    # Go's example: the b and c columns are distinct; d and e belong to no column.
    text = "aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee\n"
    assert align(text, min_width=0, padding=1) == (
        "aaaa bbb d\naa   b   dd\na    \naa   cccc eee\n"
    )


def test_tabwriter_counts_wide_runes_twice():
    # width 2+2 (+3 padding) is under the minimum 10: both cells pad to 10 columns
    assert align("名前\tx\nab\ty\n") == "名前      x\nab        y\n"
    assert align("名前名前名前\tx\nab\ty\n") == "名前名前名前   x\nab" + " " * 13 + "y\n"


def test_render_lines_one_line_per_row():
    rows: list[object] = [{"ID": "a", "N": "x"}, {"ID": "b", "N": "y"}]
    assert render_lines("{{.ID}}\\t{{.N}}", rows) == "a\tx\nb\ty\n"
    assert render_lines("json", [{"ID": "a"}]) == '{"ID":"a"}\n'
    assert render_lines("{{.ID}}", []) == ""


def test_render_table_header_error_keeps_the_text_before_it():
    # docker renders the header against a map and ignores its error: a method column
    # (.Label "x") fails there, so the header keeps only what came before it.
    rows: list[dict[str, object]] = [{"ID": "abc", "Label": lambda key: "v"}]
    out = render_table('table {{.ID}}\t{{.Label "x"}}', rows, {"ID": "CONTAINER ID"})
    assert out == "CONTAINER ID   \nabc            v\n"


def test_else_with_and_with_scoping():
    text = "{{with .Config.Cmd}}cmd{{else with .State}}{{.Status}}{{end}}"
    assert render(text) == "running"
    assert render("{{with $s := .State}}{{$s.Pid}}{{end}}") == "4242"
