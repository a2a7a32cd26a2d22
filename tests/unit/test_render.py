"""generator/render.py: the quoting filters and the JCasC templates that rely on them."""

from __future__ import annotations

import os
import re

import jinja2
import pytest
import yaml
from fleettest import ROOT

from generator.render import Renderer, jcasc_escape, jcasc_scalar, yaml_scalar

TRICKY = [
    "", " ", "plain", "Jakarta EE: TCK", 'say "hi"', "it's", "'single'", '"', "'", "a\nb", "trailing\n",
    "\n", "\r\n", "# not a comment", "value # comment", "{a: 1}", "[1, 2]", "{{ jinja }}", "{% raw %}", "- item",
    "? key", "&anchor", "*alias", "!tag", "%directive", "@at", "`tick", "|", ">", "yes", "no", "on", "off",
    "true", "null", "~", "1", "1.5", "0x1F", "1e3", ".inf", ".nan", "2024-01-31", "12:30:00", "0777",
    "Ünïcödé", "日本語", "emoji 🚀🔥", "\u200b zero width", "\u2028line sep", "\x85nel", "\t tab", "bell \x07",
    "nul \x00", "esc \x1b[31m", "del \x7f", "\ufeffbom", "back\\slash", "C:\\path\\n", "---", "...", "a: b\nc: d",
    "${LDAP_MANAGER_PASSWORD}", "^${ESCAPED}", "$${double}", "${a}${b}", "cost $5", "{0}", " leading", "trailing ",
    "x" * 5000,
]


@pytest.mark.parametrize("value", TRICKY)
def test_yaml_scalar_round_trips_and_stays_on_one_line(value):
    text = yaml_scalar(value)
    assert "\n" not in text
    assert yaml.safe_load(f"key: {text}\nafter: 1\n") == {"key": value, "after": 1}


@pytest.mark.parametrize("value", [None, True, False, 0, 7, -3, 1.5])
def test_yaml_scalar_keeps_non_strings_typed(value):
    assert yaml.safe_load(f"k: {yaml_scalar(value)}") == {"k": value}


def test_yaml_scalar_refuses_collections():
    with pytest.raises(TypeError):
        yaml_scalar(["a"])
    with pytest.raises(TypeError):
        yaml_scalar({"a": 1})


@pytest.mark.parametrize("value, loaded", [
    ("${X}", "^${X}"),
    ("a ${B} c ${D}", "a ^${B} c ^${D}"),
    ("no dollar", "no dollar"),
    ("$ {spaced}", "$ {spaced}"),
    ("^${already}", "^^${already}"),
    ("$${X}", "$^${X}"),
])
def test_jcasc_scalar_escapes_variable_references(value, loaded):
    assert yaml.safe_load(f"k: {jcasc_scalar(value)}") == {"k": loaded}
    assert jcasc_escape(value) == loaded


@pytest.mark.parametrize("value", TRICKY)
def test_jcasc_scalar_round_trips_after_unescaping(value):
    loaded = yaml.safe_load(f"k: {jcasc_scalar(value)}")["k"]
    assert re.search(r"(?<!\^)\$\{", loaded) is None  # every '${' is escaped
    assert loaded.replace("^${", "${") == value


def test_jcasc_scalar_passes_numbers_through():
    assert jcasc_scalar(5) == "5"


def test_quantity_filters():
    env = Renderer(os.path.join(ROOT, "templates")).env
    assert env.from_string("{{ 1500 | cpu }} {{ 4096 | mem }}").render() == "1500m 4096Mi"


def test_strict_undefined():
    env = Renderer(os.path.join(ROOT, "templates")).env
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ m.nope }}").render(m={})


def test_every_jcasc_value_goes_through_a_quoting_filter():
    """No string from an instance file can end a YAML value early or add a key: every value, the
    integers and fixed words the schema types included, as jenkins.yaml.j2's header says."""
    directory = os.path.join(ROOT, "templates", "jcasc")
    unfiltered = []
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), encoding="utf-8") as fh:
            text = fh.read()
        for expr in re.findall(r"\{\{(.*?)\}\}", text, flags=re.DOTALL):
            expr = expr.strip()
            if not re.search(r"\|\s*(yaml|jcasc)\s*$", expr):
                unfiltered.append(f"{name}: {{{{ {expr} }}}}")
    assert not unfiltered, "values without | yaml or | jcasc:\n" + "\n".join(unfiltered)


COMPILES = """
import json, sys, jinja2
from generator.render import Renderer
compiled = []
real = jinja2.Environment.compile
jinja2.Environment.compile = lambda self, *a, **k: compiled.append(1) or real(self, *a, **k)
out = Renderer(sys.argv[1]).render("t.j2", who="fleet")
print(json.dumps([len(compiled), out]))
"""


def _render_in_a_process(templates, cache_home):
    import json
    import subprocess
    import sys
    env = dict(os.environ, XDG_CACHE_HOME=str(cache_home), PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-c", COMPILES, str(templates)], env=env, capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout)


def test_compiled_templates_are_kept_for_the_next_run_in_a_private_directory(tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "t.j2").write_text("hello {{ who }}\n")
    cache_home = tmp_path / "cache"
    assert _render_in_a_process(templates, cache_home) == [1, "hello fleet\n"]
    assert _render_in_a_process(templates, cache_home) == [0, "hello fleet\n"]  # loaded, not compiled
    (directory,) = (cache_home / "jenkins-fleet").iterdir()
    assert directory.stat().st_mode & 0o777 == 0o700
    # the source changed: Jinja's checksum no longer matches, it is compiled again
    (templates / "t.j2").write_text("bye {{ who }}\n")
    assert _render_in_a_process(templates, cache_home) == [1, "bye fleet\n"]
    # a damaged file is compiled again, not run
    for cached in directory.iterdir():
        cached.write_bytes(b"j2" + b"\0" * 40)
    assert _render_in_a_process(templates, cache_home) == [1, "bye fleet\n"]
    # a directory others may write is not used at all
    directory.chmod(0o777)
    for cached in directory.iterdir():
        cached.unlink()
    assert _render_in_a_process(templates, cache_home) == [1, "bye fleet\n"]
    assert not list(directory.iterdir())
