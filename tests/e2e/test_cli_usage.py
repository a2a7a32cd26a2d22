"""The command line as a new user meets it: `fleet` alone, a mistyped command, global options after
the command, every command's help naming its exit codes."""

from __future__ import annotations

import re

import pytest
from fleettest import ROOT, fleet_in_process

from generator.cli import commands


def leaf_commands() -> dict[str, object]:
    out = {}
    for name, command in commands().items():
        subs = getattr(command, "commands", None)
        if subs:
            out.update({f"{name} {sub}": c for sub, c in subs.items()})
        else:
            out[name] = command
    return out


def test_fleet_alone_shows_the_help():
    run = fleet_in_process([], ROOT)
    assert run.code == 0
    assert run.stdout == fleet_in_process(["--help"], ROOT).stdout
    assert "Commands:" in run.stdout and "validate" in run.stdout


@pytest.mark.parametrize("typed,suggested", [("generat", "generate"), ("vaildate", "validate"),
                                             ("import", "import-jiro"), ("stauts", "status")])
def test_a_mistyped_command_gets_a_did_you_mean(typed, suggested):
    run = fleet_in_process([typed], ROOT)
    assert run.code == 2
    assert run.stderr.splitlines()[-1] == f"Error: No such command '{typed}'. Did you mean '{suggested}'?"


def test_an_unknown_command_without_a_neighbour():
    run = fleet_in_process(["zzz"], ROOT)
    assert run.code == 2 and run.stderr.splitlines()[-1] == "Error: No such command 'zzz'."


def test_global_options_after_the_command():
    before = fleet_in_process(["-q", "validate", "-j", "1"], ROOT)
    after = fleet_in_process(["validate", "-j", "1", "-q"], ROOT)
    loud = fleet_in_process(["validate", "-j", "1"], ROOT)
    assert before.code == after.code == loud.code == 0
    assert re.search(r"^\d+ instances valid", loud.stderr, re.MULTILINE)
    assert after.stderr == before.stderr and "instances valid" not in after.stderr
    elsewhere = fleet_in_process(["validate", "--instances", "no-such-dir"], ROOT)
    assert elsewhere.code == 1 and elsewhere.stderr.startswith("no-such-dir: error: instances directory not found")
    assert fleet_in_process(["audit", "-j", "1", "--format", "json", "--no-color", "--quiet"], ROOT).code == 0
    # in each command's own help they stay out of the way; the group's help says they may follow
    assert "--quiet" not in fleet_in_process(["push", "--help"], ROOT).stdout
    assert "may also follow the command" in fleet_in_process(["--help"], ROOT).stdout


@pytest.mark.parametrize("name", sorted(leaf_commands()))
def test_every_help_names_its_exit_codes(name):
    run = fleet_in_process([*name.split(), "--help"], ROOT)
    assert run.code == 0
    text = " ".join(run.stdout.split())
    found = re.search(r"Exit codes?:(.*)", text)
    assert found, f"fleet {name} --help does not list its exit codes"
    codes = set(re.findall(r"\b([0-4]|130)\b", found.group(1)))
    assert {"0", "1", "2", "4"} <= codes, f"fleet {name} --help: exit codes {sorted(codes)}"
    if name in ("push", "status", "deploy"):
        assert "3" in codes
