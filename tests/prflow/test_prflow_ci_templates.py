"""The CI templates in ci-templates/: what they run, and that no secret reaches a command line."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml
from fleettest import ROOT

from generator.cli import commands as fleet_commands

TEMPLATES = Path(ROOT) / "ci-templates"
SECRETS = ("FLEET_JENKINS_USER", "FLEET_JENKINS_TOKEN")
# CI plumbing allowed besides Make targets and fleet commands: publishing the summary, fetching the base.
PLUMBING = ("gh pr comment ", "cat check-summary.md >> \"$GITHUB_STEP_SUMMARY\"",
            "git fetch --no-tags origin ")


def make_targets() -> set[str]:
    text = (Path(ROOT) / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):", text, re.MULTILINE))


def commands(script: str) -> list[str]:
    """The simple commands of a one-line shell script (split on || and &&)."""
    return [c.strip() for c in re.split(r"\|\||&&", script) if c.strip()]


def assert_allowed(command: str) -> None:
    if command.startswith("test ") or command.startswith(PLUMBING):
        return
    words = shlex.split(command)
    if words[0] == "make":
        assert words[1] in make_targets(), command
        return
    assert words[0] == ".venv/bin/fleet", f"not a Make target or fleet command: {command}"
    assert words[1] in fleet_commands(), command


def assert_no_secret_in(command: str) -> None:
    assert "secrets." not in command and "${{" not in command, command
    for secret in SECRETS + ("GH_TOKEN",):
        assert secret not in command, command
    assert not re.search(r"--(token|password|user)\b", command), command


# --- GitHub Actions ---------------------------------------------------------------------------------

def workflow() -> dict:
    return yaml.safe_load((TEMPLATES / "github" / "fleet.yml").read_text())


def steps_running(job: dict) -> list[dict]:
    return [s for s in job["steps"] if "run" in s]


def test_workflow_triggers_and_jobs():
    wf = workflow()
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"pull_request", "push"}  # never pull_request_target: it would run PR code with secrets
    assert triggers["push"]["branches"] == ["main"]
    assert wf["permissions"] == {"contents": "read"}
    assert set(wf["jobs"]) == {"check", "deploy"}
    assert wf["jobs"]["check"]["if"] == "github.event_name == 'pull_request'"
    assert wf["jobs"]["deploy"]["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"


def test_pull_requests_run_make_check_and_post_the_summary():
    job = workflow()["jobs"]["check"]
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0  # the merge base with main must be there
    runs = [s["run"] for s in steps_running(job)]
    assert runs[0] == "make check"
    comment = next(s for s in steps_running(job) if "gh pr comment" in s["run"])
    assert "--body-file check-summary.md" in comment["run"]
    assert comment["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert "!cancelled()" in comment["if"]  # posted when the check fails too
    assert job["permissions"]["pull-requests"] == "write"


def test_main_runs_make_fleet_then_fleet_push_with_secrets_from_the_environment():
    job = workflow()["jobs"]["deploy"]
    runs = steps_running(job)
    assert [s["run"].split()[:2] for s in runs] == [["make", "fleet"], [".venv/bin/fleet", "push"]]
    push = runs[1]
    assert push["env"] == {name: f"${{{{ secrets.{name} }}}}" for name in SECRETS}
    assert job["concurrency"]["cancel-in-progress"] is False


def test_workflow_runs_only_make_targets_and_fleet_commands_and_no_secret_is_on_a_command_line():
    wf = workflow()
    for job in wf["jobs"].values():
        for step in steps_running(job):
            for command in commands(step["run"]):
                assert_allowed(command)
                assert_no_secret_in(command)
            for value in (step.get("with") or {}).values():
                assert "secrets." not in str(value)


# --- Jenkins ------------------------------------------------------------------------------------------

def jenkinsfile() -> str:
    return (TEMPLATES / "jenkins" / "Jenkinsfile").read_text()


def block(text: str, start: int) -> str:
    """The brace-delimited block that opens at or after `start`."""
    open_at = text.index("{", start)
    depth = 0
    for i in range(open_at, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[open_at:i + 1]
    raise AssertionError("unbalanced braces")


def stage(text: str, name: str) -> str:
    return block(text, text.index(f"stage('{name}')"))


def sh_steps(text: str) -> list[str]:
    return re.findall(r"\bsh\s+'([^']*)'", text)


def code(text: str) -> str:
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def test_jenkinsfile_stages():
    text = code(jenkinsfile())
    assert re.findall(r"stage\('([^']+)'\)", text) == ["Check", "Generate", "Push"]
    check = stage(text, "Check")
    assert "when { changeRequest() }" in check
    assert 'make check BASE="origin/${CHANGE_TARGET}"' in sh_steps(check)
    assert any("gh pr comment" in s and "--body-file check-summary.md" in s for s in sh_steps(check))
    assert "archiveArtifacts artifacts: 'check-summary.md'" in check
    assert "always {" in check  # the summary is posted when the check fails too
    for name, command in (("Generate", "make fleet"), ("Push", ".venv/bin/fleet push --report push-report.json")):
        body = stage(text, name)
        assert "when { branch 'main' }" in body
        assert command in sh_steps(body)


def test_jenkinsfile_binds_secrets_to_the_environment_only():
    text = code(jenkinsfile())
    push = stage(text, "Push")
    creds = block(push, push.index("withCredentials("))
    assert ".venv/bin/fleet push" in creds  # the push runs inside the binding ...
    binding = push[push.index("withCredentials("):push.index(creds)]
    assert "usernameVariable: 'FLEET_JENKINS_USER'" in binding and "passwordVariable: 'FLEET_JENKINS_TOKEN'" in binding
    # ... and only single-quoted sh steps exist: Groovy never interpolates a secret into a command line.
    assert not re.search(r'\bsh\s+"', text) and '"""' not in text
    for script in sh_steps(text):
        for command in commands(script):
            assert_allowed(command)
            assert_no_secret_in(command)
    assert not re.search(r"\benvironment\s*\{[^}]*(TOKEN|PASSWORD)", text)  # no secret in a plain environment block
