"""`make demo`: try `fleet push` and `fleet status` without a Jenkins.

Generates the sample fleet into a temporary directory, starts one Jenkins double per instance on
127.0.0.1 (this package: the version and exactly the plugins each instance's image pins, some
builds running and waiting), writes a targets file and a credentials file (mode 0600, a fresh
random token: never on a command line) into the temporary directory, runs the real CLI against
them: `fleet push --dry-run` for one instance (the diff), `fleet push` for all, `fleet push`
again (nothing to do), `fleet status`; then stops the doubles and removes the directory.

    .venv/bin/python tests/jenkins_double/demo.py [--instances DIR] [--workdir DIR]

Exit code: 0 when every step did what it shows, else the first failing step's.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
ROOT = os.path.dirname(TESTS)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from jenkins_double import (  # noqa: E402 - make demo runs this file as a script: after the sys.path set-up
    ComputerEntry,
    DoubleServer,
    JenkinsDouble,
    agent_pods,
    builtin_node,
    default_users,
    plugin_entry,
    queue_item,
)

USER = "admin"
SHOWN_DIFF = "technology.cbi"  # the instance whose first push is shown as a dry run


def _step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def _fleet(args: list[str], cwd: str, table_only: bool = False) -> int:
    """The real CLI in a fresh interpreter, its output to ours (with table_only, the summary table
    without the per-key changes above it); no FLEET_* of the caller's environment (a real token
    there must not reach a double)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    print("$ fleet " + " ".join(args), flush=True)
    command = [sys.executable, "-m", "generator", *args]
    if not table_only:
        return subprocess.run(command, cwd=cwd, env=env, check=False).returncode
    proc = subprocess.run(command, cwd=cwd, env=env, check=False, capture_output=True, text=True)
    lines = proc.stdout.splitlines(keepends=True)
    table = next((i for i, line in enumerate(lines) if line.startswith("instance ")), 0)
    if table:
        print(f"({table} lines of changes, key by key, left out here)")
    sys.stdout.write("".join(lines[table:]) + proc.stderr)
    sys.stdout.flush()
    return proc.returncode


def _double(name: str, model: dict, index: int) -> JenkinsDouble:
    """A controller as its image makes it: the instance's Jenkins version and pinned plugins. Load
    varies by instance so that the status table has something to say."""
    jenkins = model["jenkins"]
    plugins = [plugin_entry(pid, version, dependencies=[])
               for pid, version in sorted(jenkins["installedPlugins"].items())]
    double = JenkinsDouble(name=name, version=jenkins["version"], plugins=plugins, users=default_users(),
                           env={"LDAP_MANAGER_PASSWORD": secrets.token_hex(8)})
    cap = jenkins["maxConcurrency"]
    static = [ComputerEntry(f"static-{i}", "static", executors=1, busy=1) for i in range(jenkins["staticAgentCount"])]
    if index % 4 == 0:  # saturated: every agent busy, builds waiting
        double.computers = [builtin_node(), *agent_pods(cap), *static]
        double.queue = [queue_item(f"build-{i}", waited=60.0 * (i + 1)) for i in range(3)]
    elif index % 4 == 1:  # busy, with room
        double.computers = [builtin_node(), *agent_pods(max(cap // 2, 1)), *static]
    else:
        double.computers = [builtin_node(), *static]
    return double


def _secret_file(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def run(instances: str, workdir: str) -> int:
    build = os.path.join(workdir, "build")
    _step(f"generating the fleet of {instances} into {build}")
    code = _fleet(["--instances", instances, "generate", "--out", build], workdir)
    if code:
        return code
    with open(os.path.join(build, "fleet.json"), encoding="utf-8") as fh:
        names = sorted(json.load(fh)["instances"])
    models = {}
    for name in names:
        with open(os.path.join(build, name, "model.json"), encoding="utf-8") as fh:
            models[name] = json.load(fh)
    doubles = {f"/{name}": _double(name, models[name], i) for i, name in enumerate(names)}
    token = "11" + secrets.token_hex(16)  # the shape of a Jenkins API token
    for double in doubles.values():
        user = double.users[USER]
        user.tokens = (*user.tokens, token)
    with DoubleServer(doubles) as server:
        _step(f"started {len(doubles)} Jenkins doubles on 127.0.0.1:{server.port} (tests/jenkins_double)")
        targets = os.path.join(workdir, "targets.yaml")
        credentials = os.path.join(workdir, "credentials.ini")
        _secret_file(targets, "instances:\n" + "".join(f"  {n}: {{url: '{server.url('/' + n)}'}}\n" for n in names))
        _secret_file(credentials, f"[default]\nuser = {USER}\ntoken = {token}\n")
        print(f"targets: {targets}\ncredentials: {credentials} (mode 0600, a token made for this demo)")
        common = ["--build", build, "--targets", targets, "--credentials", credentials]
        _step(f"what a first push would change on {SHOWN_DIFF} (--dry-run: check and diff, nothing applied)")
        code = _fleet(["push", SHOWN_DIFF, "--dry-run", *common], workdir)
        steps = [("pushing to every controller: check, diff, apply, verify", ["push", *common], True),
                 ("pushing again: nothing differs, nothing is posted", ["push", *common], False),
                 ("the controllers' live state", ["status", *common], False)]
        for title, args, table_only in steps:
            if code:
                break
            _step(title)
            code = _fleet(args, workdir, table_only)
    _step("stopped the doubles" + ("" if code == 0 else f"; a step failed (exit code {code})"))
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", default=os.path.join(ROOT, "instances"),
                        help="the fleet directory (default: the sample fleet)")
    parser.add_argument("--workdir", help="an empty directory to work in, kept afterwards (default: a temporary "
                                          "directory, removed)")
    args = parser.parse_args(argv)
    if args.workdir:
        return run(os.path.abspath(args.instances), os.path.abspath(args.workdir))
    with tempfile.TemporaryDirectory(prefix="fleet-demo-") as workdir:
        return run(os.path.abspath(args.instances), workdir)


if __name__ == "__main__":
    sys.exit(main())
