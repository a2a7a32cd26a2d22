"""`make demo` end to end: the script as a user runs it, against the sample fleet."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys

import pytest
from fleettest import ROOT

DEMO = os.path.join(ROOT, "tests", "jenkins_double", "demo.py")


@pytest.mark.slow
def test_the_demo_pushes_to_doubles_and_shows_their_status(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    env["NO_COLOR"] = "1"
    env["FLEET_JENKINS_TOKEN"] = "11" + "ab" * 16  # the caller's own token never reaches a double
    proc = subprocess.run([sys.executable, DEMO, "--workdir", str(tmp_path)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=env, timeout=120, check=False)
    out = proc.stdout
    assert proc.returncode == 0, out
    steps = [line[4:] for line in out.splitlines() if line.startswith("==> ")]
    assert steps[0].startswith("generating the fleet of ") and steps[-1] == "stopped the doubles"
    assert re.fullmatch(r"started 13 Jenkins doubles on 127\.0\.0\.1:\d+ \(tests/jenkins_double\)", steps[1])
    assert "technology.cbi (http://127.0.0.1:" in out and "12 keys would change" in out  # the dry run's diff
    assert "technology.cbi  skipped " in out
    assert "13 controllers: 13 applied" in out
    assert "13 controllers: 13 unchanged" in out
    assert re.search(r"^13 controllers: 13 ok; 4 saturated", out, re.MULTILINE)
    # the wait is counted by the controller's clock, its Date header, which has whole seconds: 3m00s
    # can read 2m59s, and a loaded machine adds a second or two
    assert re.search(r"^tools\.cdt +ok +2\.555\.2 +no +6/6 +3 +(2m59|3m0\d)s +ok +SATURATED", out, re.MULTILINE)
    # the files the demo wrote: 0600, the token only in the credentials file, never on a command line
    credentials = tmp_path / "credentials.ini"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "targets.yaml").stat().st_mode) == 0o600
    token = re.search(r"^token = (\S+)$", credentials.read_text(), re.MULTILINE).group(1)
    assert token not in out
    commands = [line for line in out.splitlines() if line.startswith("$ fleet ")]
    assert len(commands) == 5 and all("--credentials " + str(credentials) in c for c in commands[1:])
