"""Properties of generation over random valid fleets (hypothesis).

Every valid instance definition must generate (no FleetError), always to the same bytes, with a
quota that covers the controller plus maxConcurrency default agents and their jnlp share, a
LimitRange that admits every pod template, a JCasC container cap equal to maxConcurrency, and
free text (display names, system messages) carried over exactly.

FLEET_FUZZ_EXAMPLES=N (make fuzz-long) raises the number of examples and lifts the time limit.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from unittest import mock

import pytest
import yaml
from fleet_strategies import FLEET_YAML, fleets
from fleettest import SCHEMA_LINE, write, yaml12_dumper
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator import fleet
from generator.errors import FleetError
from generator.model import ModelEngine, ModelInput

FUZZ = int(os.environ.get("FLEET_FUZZ_EXAMPLES", "0"))
if FUZZ:
    pytestmark = pytest.mark.timeout(0)


def examples(default: int, cost: int = 1) -> settings:
    """`default` examples normally; FLEET_FUZZ_EXAMPLES / cost when fuzzing long (cost: relative price)."""
    n = max(default, FUZZ // cost) if FUZZ else default
    return settings(max_examples=n, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# libyaml's emitter (PyYAML's pure-Python one mangles U+0085 (NEL) in a plain scalar when unicode is on),
# quoting what YAML 1.2 reads otherwise.
_DUMPER = yaml12_dumper()


def write_fleet(root: str, specs: dict[str, dict]) -> str:
    instances = os.path.join(root, "instances")
    write(os.path.join(instances, "fleet.yaml"), FLEET_YAML)
    for name, data in specs.items():
        text = yaml.dump(data, Dumper=_DUMPER, allow_unicode=_DUMPER.__base__ is not yaml.SafeDumper, sort_keys=False,
                         width=1 << 20)
        assert yaml.safe_load(text) == data  # the harness writes what it means
        write(os.path.join(instances, name, "instance.yaml"), SCHEMA_LINE + text)
    return instances


def generate(specs: dict[str, dict], jobs: int = 1) -> fleet.Generated:
    with tempfile.TemporaryDirectory() as root:
        return fleet.generate(fleet.Paths(instances=write_fleet(root, specs)), jobs=jobs)


def unescape(text: str) -> str:
    """What JCasC makes of a value: '^${' is its escape for a literal '${'."""
    return text.replace("^${", "${")


def messages(exc: FleetError) -> str:
    return "\n".join(d.format() for d in exc.diagnostics)


# --- the model's own guarantees -----------------------------------------------------------------

def check_resources(name: str, model: dict) -> None:
    r = model["resources"]
    ctl, agent, jnlp, q, lr = r["controller"], r["agent"], r["jnlp"], r["quota"], r["limitRange"]
    c = model["jenkins"]["maxConcurrency"]
    assert q["pods"] == c + 1
    # the quota holds the controller plus C default agent pods, each with its jnlp share
    assert q["requestsCpuMillis"] >= ctl["cpu"]["request"] + c * (agent["cpu"]["request"] + jnlp["cpu"]["request"])
    assert q["requestsMemoryMiB"] >= (ctl["memory"]["request"]
                                      + c * (agent["memory"]["request"] + jnlp["memory"]["request"]))
    assert q["limitsCpuMillis"] >= ctl["cpu"]["limit"] + c * (agent["cpu"]["limit"] + jnlp["cpu"]["limit"])
    assert q["limitsMemoryMiB"] >= ctl["memory"]["limit"] + c * (agent["memory"]["limit"] + jnlp["memory"]["limit"])
    # every container the fleet generates fits the LimitRange: the controller and every pod template
    box, pod = lr["container"], lr["pod"]
    containers = [("controller", ctl)] + [(f"pod template '{t['name']}'", t["resources"])
                                          for t in model["agents"]["podTemplates"]]
    for what, res in containers:
        for kind, key in (("cpu", "cpuMillis"), ("memory", "memoryMiB")):
            request, limit = res[kind]["request"], res[kind]["limit"]
            assert box["min"][key] <= request <= limit, f"{name}: {what} {kind} request {request} (limit {limit})"
            assert limit <= box["max"][key], \
                f"{name}: {what} {kind} limit {limit} exceeds the LimitRange container max {box['max'][key]}"
            assert limit <= pod["max"][key], \
                f"{name}: {what} {kind} limit {limit} exceeds the pod max {pod['max'][key]}"


@given(fleets())
@examples(50, cost=1)
def test_model_guarantees(specs):
    """The Jsonnet model alone (no validation): quota and LimitRange agree with the agents it sizes."""
    engine = ModelEngine(fleet.Paths(instances="").templates)
    inputs = [ModelInput(n, d, ("prof",) if n.startswith("prof.") else ()) for n, d in specs.items()]
    result = engine.evaluate(yaml.safe_load(FLEET_YAML), inputs)
    for name, data in specs.items():
        model = result[name]["model"]
        packs = data["project"].get("resourcePacks", 1)
        jenkins = data.get("jenkins", {})
        assert model["jenkins"]["maxConcurrency"] == jenkins.get("maxConcurrency", 2 * packs)
        assert model["jenkins"]["staticAgentCount"] == jenkins.get(
            "staticAgentCount", len(data.get("agents", {}).get("static", [])))
        check_resources(name, model)


# --- the whole pipeline --------------------------------------------------------------------------

def check_outputs(name: str, data: dict, files: dict[str, bytes], model: dict) -> None:
    def load(rel):
        return yaml.safe_load(files[f"{name}/{rel}"])

    check_resources(name, model)
    c = model["jenkins"]["maxConcurrency"]
    quota = load("k8s/resourcequota.yaml")["spec"]["hard"]
    q = model["resources"]["quota"]
    assert quota == {"pods": str(c + 1), "requests.cpu": f"{q['requestsCpuMillis']}m",
                     "requests.memory": f"{q['requestsMemoryMiB']}Mi", "limits.cpu": f"{q['limitsCpuMillis']}m",
                     "limits.memory": f"{q['limitsMemoryMiB']}Mi"}
    box = model["resources"]["limitRange"]["container"]["max"]
    (container,) = [lim for lim in load("k8s/limitrange.yaml")["spec"]["limits"] if lim["type"] == "Container"]
    assert container["max"] == {"cpu": f"{box['cpuMillis']}m", "memory": f"{box['memoryMiB']}Mi"}

    text = files[f"{name}/jenkins/jenkins.yaml"].decode()
    jcasc = yaml.safe_load(text)
    cloud = jcasc["jenkins"]["clouds"][0]["kubernetes"]
    assert cloud["containerCapStr"] == str(c) == str(int(quota["pods"]) - 1)
    for template in cloud["templates"]:
        assert template["instanceCap"] == c
        (jnlp,) = template["containers"]
        want = next(t["resources"] for t in model["agents"]["podTemplates"] if t["name"] == template["name"])
        assert (jnlp["resourceRequestCpu"], jnlp["resourceLimitCpu"]) == (f"{want['cpu']['request']}m",
                                                                          f"{want['cpu']['limit']}m")
        assert (jnlp["resourceRequestMemory"], jnlp["resourceLimitMemory"]) == (f"{want['memory']['request']}Mi",
                                                                                f"{want['memory']['limit']}Mi")
    assert load("k8s/configmap-jenkins-config.yaml")["data"]["jenkins.yaml"] == text

    # free text arrives exactly: in JCasC (after JCasC's own un-escaping) and in the Namespace
    display = data["project"]["displayName"]
    message = data.get("jenkins", {}).get("systemMessage", f"Welcome to the {display} Jenkins instance.")
    assert "${" not in jcasc["jenkins"]["systemMessage"].replace("^${", "")
    assert unescape(jcasc["jenkins"]["systemMessage"]) == message
    annotations = load("k8s/namespace.yaml")["metadata"]["annotations"]
    assert annotations["openshift.io/display-name"] == display
    assert annotations["jenkins-fleet.io/display-name"] == display
    assert model["project"]["displayName"] == display

    nodes = {n["permanent"]["name"]: n["permanent"] for n in jcasc["jenkins"].get("nodes", [])}
    for agent in data.get("agents", {}).get("static", []):
        assert unescape(nodes[agent["name"]]["nodeDescription"]) == agent.get("description", "")
        assert nodes[agent["name"]]["labelString"] == " ".join(agent.get("labels", []))

    entries = jcasc["jenkins"]["authorizationStrategy"]["projectMatrix"]["entries"]
    granted = {(kind, unescape(e[kind]["name"])): set(e[kind]["permissions"]) for e in entries for kind in e}
    for entry in data.get("jenkins", {}).get("permissions", []):
        kind = "group" if "group" in entry else "user"
        assert set(entry["permissions"]) <= granted[(kind, entry[kind])]

    plugins = files[f"{name}/image/plugins.txt"].decode().splitlines()
    assert len(plugins) == len({p.split(":")[0] for p in plugins})
    for spec in data.get("jenkins", {}).get("plugins", []):
        assert spec in plugins


@given(fleets())
@examples(12, cost=10)
def test_valid_fleets_generate_consistent_output(specs):
    try:
        gen = generate(specs)
    except FleetError as exc:
        raise AssertionError(f"a valid fleet was rejected:\n{messages(exc)}") from None
    assert not [d for d in gen.warnings if d.is_error]
    assert gen.names == sorted(specs)
    for name, data in specs.items():
        check_outputs(name, data, gen.files, gen.models[name])


@given(fleets())
@examples(5, cost=20)
def test_generation_is_deterministic(specs):
    try:
        first, second = generate(specs), generate(specs)
    except FleetError as exc:
        raise AssertionError(f"a valid fleet was rejected:\n{messages(exc)}") from None
    assert first.files == second.files
    assert fleet.index_bytes(first.index) == fleet.index_bytes(second.index)


# generator/fleet.py models fewer instances than this in-process, whatever --jobs says.
POOL_THRESHOLD = 40


def padded(specs: dict[str, dict]) -> dict[str, dict]:
    """The fleet plus plain instances, enough for generation to use worker processes."""
    out = dict(specs)
    for i in range(POOL_THRESHOLD + 1 - len(specs)):
        name = f"pad.filler{i:02d}"
        out[name] = {"project": {"fullName": name, "displayName": f"Filler {i}", "resourcePacks": i % 5 + 1}}
    return out


@given(fleets(min_size=2))
@examples(1, cost=2000)
def test_parallel_generation_gives_the_same_bytes(specs):
    specs = padded(specs)
    pools = []

    class SpyPool(ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            pools.append(kwargs.get("max_workers"))
            super().__init__(*args, **kwargs)

    try:
        serial = generate(specs, jobs=1)
        with mock.patch("concurrent.futures.ProcessPoolExecutor", SpyPool):  # imported by fleet when needed
            parallel = generate(specs, jobs=2)
    except FleetError as exc:
        raise AssertionError(f"a valid fleet was rejected:\n{messages(exc)}") from None
    assert pools == [2], "jobs=2 did not use worker processes; has the threshold in fleet.py changed?"
    assert serial.files == parallel.files
    assert serial.models == parallel.models
    assert fleet.index_bytes(serial.index) == fleet.index_bytes(parallel.index)


@pytest.mark.parametrize("packs", [1, 2, 3])
def test_one_build_on_few_packs_is_rejected(packs):
    """C = 1, P <= 3: the reference formulas give the default agent a CPU limit of 2000m x P + 300m, above
    the LimitRange container maximum of 2000m x P; the cluster would refuse every agent pod, so
    validation refuses the instance and points at maxConcurrency."""
    spec = {"tech.single": {"project": {"fullName": "tech.single", "displayName": "Single", "resourcePacks": packs},
                            "jenkins": {"maxConcurrency": 1}}}
    with pytest.raises(FleetError) as info:
        generate(spec)
    text = messages(info.value)
    assert f"cpu limit {2000 * packs + 300}m exceeds the LimitRange container maximum of {2000 * packs}m" in text
    assert "jenkins.maxConcurrency" in text


@given(st.integers(1, 24).flatmap(lambda p: st.tuples(st.just(p), st.integers(20 * p + 1, 500))))
@examples(5, cost=50)
def test_too_many_builds_for_the_packs_are_rejected(packs_and_concurrency):
    """2000m x P / C below the 100m LimitRange minimum: validation refuses rather than generating."""
    packs, concurrency = packs_and_concurrency
    spec = {"tech.crowded": {"project": {"fullName": "tech.crowded", "displayName": "Crowded", "resourcePacks": packs},
                             "jenkins": {"maxConcurrency": concurrency}}}
    with pytest.raises(FleetError) as info:
        generate(spec)
    assert "below the LimitRange container minimum of 100m" in messages(info.value)


@pytest.mark.parametrize("command", ["validate", "generate"])
def test_instances_sent_to_the_workers_while_checking_are_those_a_serial_run_models(tmp_path, command):
    """Without a cache, each instance that passes its checks goes to the workers at once (fleet._Stream):
    one that fails in the middle is left out and reported, the others are modelled as in one
    process, whichever chunk they fell in."""
    specs = padded({})
    specs["pad.broken"] = {"project": {"fullName": "pad.broken", "displayName": "Broken", "resourcePacks": 0}}
    # refused only once modelled: an agent's CPU limit against the LimitRange (checks.check_models)
    specs["pad.modelled"] = {"project": {"fullName": "pad.modelled", "displayName": "Modelled", "resourcePacks": 1},
                             "jenkins": {"maxConcurrency": 1}}
    paths = fleet.Paths(instances=write_fleet(str(tmp_path), specs))
    run = (lambda jobs: fleet.validate(paths, jobs=jobs)) if command == "validate" else \
        (lambda jobs: fleet.generate(paths, jobs=jobs))
    failures = []
    for jobs in (1, 2):
        with pytest.raises(FleetError) as caught:
            run(jobs)
        failures.append(sorted(d.format() for d in caught.value.diagnostics))
    assert failures[0] == failures[1]
    assert any("pad.broken" in m and "resourcePacks" in m for m in failures[1]), failures[1]
    if command == "generate":  # validate stops at the checks' errors; generate models the rest and reports all
        assert any("pad.modelled" in m and "LimitRange" in m for m in failures[1]), failures[1]
    del specs["pad.broken"], specs["pad.modelled"]
    clean = fleet.Paths(instances=write_fleet(str(tmp_path / "clean"), specs))
    if command == "generate":
        serial, parallel = fleet.generate(clean, jobs=1), fleet.generate(clean, jobs=2)
        assert serial.files == parallel.files and serial.models == parallel.models
    else:
        assert fleet.validate(clean, jobs=1) == fleet.validate(clean, jobs=2)
