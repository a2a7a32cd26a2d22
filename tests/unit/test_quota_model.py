"""The resource-pack arithmetic, against the reference's worked examples and eight real Jiro instances.

Checked twice: on the resolved model (the Jsonnet step, generator.model.ModelEngine) and on the
files a real generation writes (ResourceQuota, LimitRange, StatefulSet, JCasC pod template).
"""

from __future__ import annotations

import re

import pytest
import yaml
from fleettest import write

from generator import fleet
from generator.model import ModelEngine, ModelInput

# Copied verbatim from the "Worked examples (P, S, C) -> values" table of the team's reference
# quota-model.md (shared/reference/, beside the repository; not read at test time).
# Columns: P | S | C | controller cpu req/limit | controller mem | agent cpu req/limit | agent mem |
#          quota pods | requests.cpu | requests.memory (= limits.memory) | limits.cpu |
#          LimitRange pod max cpu/mem | container max cpu/mem
WORKED_EXAMPLES = """\
| 1 | 0 | 2 | 250m / 2000m | 1536Mi | 1000m / 2000m | 4096Mi | 3 | 2650m | 10752Mi | 6600m | 2300m / 8704Mi | 2000m / 8192Mi |
| 2 | 0 | 4 | 550m / 2000m | 2048Mi | 1000m / 2000m | 4096Mi | 5 | 5350m | 20480Mi | 11200m | 4300m / 16896Mi | 4000m / 16384Mi |
| 3 | 0 | 6 | 850m / 2000m | 2560Mi | 1000m / 2000m | 4096Mi | 7 | 8050m | 30208Mi | 15800m | 6300m / 16896Mi | 6000m / 16384Mi |
| 5 | 3 | 10 | 1900m / 3800m | 4352Mi | 1000m / 2000m | 4096Mi | 11 | 13900m | 50432Mi | 26800m | 8300m / 16896Mi | 8000m / 16384Mi |
| 17 | 0 | 34 | 4000m / 8000m | 8192Mi | 1000m / 2000m | 4096Mi | 35 | 44800m | 164864Mi | 86200m | 8300m / 16896Mi | 8000m / 16384Mi |
| 52 | 0 | 25 | 3700m / 7400m | 7424Mi | 4160m / 4460m | 16384Mi | 26 | 112700m | 446208Mi | 126400m | 8300m / 16896Mi | 8000m / 16384Mi |
| 1 | 26 | 2 | 4000m / 8000m | 8192Mi | 1000m / 2000m | 4096Mi | 3 | 6400m | 17408Mi | 12600m | 8000m / 8704Mi | 8000m / 8192Mi |
"""
ROWS = [line for line in WORKED_EXAMPLES.splitlines() if line.strip()]

# Eight real Jiro instances (shared/fixtures/jiro-instances/<name>/target: config.json for P, S, C,
# the controller and default agent resources; k8s/resource-quotas.json and k8s/limit-range.json).
# Columns: name, P, S, C, controller cpu request, limit, memory, agent cpu request, limit, memory,
#          quota pods, requests.cpu, requests.memory, limits.cpu, limits.memory,
#          LimitRange pod max cpu, memory, container max cpu, memory
JIRO = [
    ("eclipse.platform", 4, 0, 8, "1150m", "2300m", "3072Mi", "1000m", "2000m", "4096Mi",
     9, "10750m", "39936Mi", "20700m", "39936Mi", "8300m", "16896Mi", "8000m", "16384Mi"),
    ("ee4j.glassfish", 17, 0, 34, "4000m", "8000m", "8192Mi", "1000m", "2000m", "4096Mi",
     35, "44800m", "164864Mi", "86200m", "164864Mi", "8300m", "16896Mi", "8000m", "16384Mi"),
    ("iot.4diac", 1, 2, 2, "550m", "2000m", "2048Mi", "1000m", "2000m", "4096Mi",
     3, "2950m", "11264Mi", "6600m", "11264Mi", "2300m", "8704Mi", "2000m", "8192Mi"),
    ("locationtech.geotrellis", 1, 0, 2, "250m", "2000m", "1536Mi", "1000m", "2000m", "4096Mi",
     3, "2650m", "10752Mi", "6600m", "10752Mi", "2300m", "8704Mi", "2000m", "8192Mi"),
    ("modeling.emf", 1, 0, 2, "250m", "2000m", "1536Mi", "1000m", "2000m", "4096Mi",
     3, "2650m", "10752Mi", "6600m", "10752Mi", "2300m", "8704Mi", "2000m", "8192Mi"),
    ("modeling.xtext", 2, 2, 4, "850m", "2000m", "2560Mi", "1000m", "2000m", "4096Mi",
     5, "5650m", "20992Mi", "11200m", "20992Mi", "4300m", "16896Mi", "4000m", "16384Mi"),
    ("technology.cbi", 5, 3, 10, "1900m", "3800m", "4352Mi", "1000m", "2000m", "4096Mi",
     11, "13900m", "50432Mi", "26800m", "50432Mi", "8300m", "16896Mi", "8000m", "16384Mi"),
    ("technology.jgit", 2, 1, 4, "700m", "2000m", "2304Mi", "1000m", "2000m", "4096Mi",
     5, "5500m", "20736Mi", "11200m", "20736Mi", "4300m", "16896Mi", "4000m", "16384Mi"),
]

# The smallest fleet: every resource constant at its documented default.
FLEET_YAML = """\
name: quota-test
clusters:
  - name: main
    capacity: {cpu: "1000", memory: 4000Gi}
defaults:
  cluster: main
  host: ci.example.org
  adminGroup: admins
  agentImage: docker.io/jenkins/inbound-agent:3355.v388858a_47b_33-1-jdk21
  ldap: {server: "ldaps://ldap.example.org", rootDN: "dc=example,dc=org"}
controllers:
  latest: "2.555.2"
  versions:
    "2.555.2": {image: "docker.io/jenkins/jenkins:2.555.2-lts-jdk21",
                plugins: [configuration-as-code, kubernetes, ldap, matrix-auth, theme-manager, dark-theme]}
"""


def cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def psc(row: str) -> tuple[int, int, int]:
    p, s, c = cells(row)[:3]
    return int(p), int(s), int(c)


def instance_data(name: str, packs: int, static: int, concurrency: int) -> dict:
    return {"project": {"fullName": name, "displayName": f"Quota {name}", "resourcePacks": packs},
            "jenkins": {"maxConcurrency": concurrency, "staticAgentCount": static}}


def row_name(i: int) -> str:
    return f"example.row{i}"


def format_row(p, s, c, ctl_cpu, ctl_mem, agent_cpu, agent_mem, pods, req_cpu, req_mem, lim_cpu, pod_max,
               ctr_max) -> str:
    """One line of the worked-examples table, from quantities as Kubernetes writes them."""
    return (f"| {p} | {s} | {c} | {ctl_cpu[0]} / {ctl_cpu[1]} | {ctl_mem} | {agent_cpu[0]} / {agent_cpu[1]} | "
            f"{agent_mem} | {pods} | {req_cpu} | {req_mem} | {lim_cpu} | {pod_max[0]} / {pod_max[1]} | "
            f"{ctr_max[0]} / {ctr_max[1]} |")


# --- through the Jsonnet model ----------------------------------------------------------------

@pytest.fixture(scope="module")
def evaluated() -> dict:
    engine = ModelEngine(fleet.Paths(instances="").templates)
    inputs = [ModelInput(row_name(i), instance_data(row_name(i), *psc(row)), ()) for i, row in enumerate(ROWS)]
    inputs += [ModelInput(j[0], instance_data(j[0], *j[1:4]), ()) for j in JIRO]
    return engine.evaluate(yaml.safe_load(FLEET_YAML), inputs)


@pytest.mark.parametrize("i", range(len(ROWS)), ids=[f"P{psc(r)[0]}-S{psc(r)[1]}-C{psc(r)[2]}" for r in ROWS])
def test_worked_example_through_the_model(i, evaluated):
    m = evaluated[row_name(i)]["model"]
    r = m["resources"]
    ctl, agent, q, lr = r["controller"], r["agent"], r["quota"], r["limitRange"]
    # the row's limits.memory column is stated equal to requests.memory
    assert q["limitsMemoryMiB"] == q["requestsMemoryMiB"]
    assert ctl["memory"]["request"] == ctl["memory"]["limit"]
    assert agent["memory"]["request"] == agent["memory"]["limit"]
    got = format_row(
        m["project"]["resourcePacks"], m["jenkins"]["staticAgentCount"], m["jenkins"]["maxConcurrency"],
        (f"{ctl['cpu']['request']}m", f"{ctl['cpu']['limit']}m"), f"{ctl['memory']['request']}Mi",
        (f"{agent['cpu']['request']}m", f"{agent['cpu']['limit']}m"), f"{agent['memory']['request']}Mi",
        q["pods"], f"{q['requestsCpuMillis']}m", f"{q['requestsMemoryMiB']}Mi", f"{q['limitsCpuMillis']}m",
        (f"{lr['pod']['max']['cpuMillis']}m", f"{lr['pod']['max']['memoryMiB']}Mi"),
        (f"{lr['container']['max']['cpuMillis']}m", f"{lr['container']['max']['memoryMiB']}Mi"))
    assert got == ROWS[i]


def test_limitrange_constants_through_the_model(evaluated):
    lr = evaluated[row_name(0)]["model"]["resources"]["limitRange"]
    assert lr["pod"]["min"] == {"cpuMillis": 200, "memoryMiB": 8}
    assert lr["container"]["min"] == {"cpuMillis": 100, "memoryMiB": 16}
    assert lr["container"]["default"] == {"cpuMillis": 300, "memoryMiB": 512}
    assert lr["container"]["defaultRequest"] == {"cpuMillis": 200, "memoryMiB": 512}


@pytest.mark.parametrize("jiro", JIRO, ids=[j[0] for j in JIRO])
def test_jiro_instance_through_the_model(jiro, evaluated):
    name, *_, figures = jiro[0], jiro[1:4], jiro[4:]
    r = evaluated[name]["model"]["resources"]
    ctl, agent, q, lr = r["controller"], r["agent"], r["quota"], r["limitRange"]
    got = (f"{ctl['cpu']['request']}m", f"{ctl['cpu']['limit']}m", f"{ctl['memory']['request']}Mi",
           f"{agent['cpu']['request']}m", f"{agent['cpu']['limit']}m", f"{agent['memory']['request']}Mi",
           q["pods"], f"{q['requestsCpuMillis']}m", f"{q['requestsMemoryMiB']}Mi", f"{q['limitsCpuMillis']}m",
           f"{q['limitsMemoryMiB']}Mi", f"{lr['pod']['max']['cpuMillis']}m", f"{lr['pod']['max']['memoryMiB']}Mi",
           f"{lr['container']['max']['cpuMillis']}m", f"{lr['container']['max']['memoryMiB']}Mi")
    assert got == figures


def test_defaults_without_overrides(evaluated):
    """C defaults to 2 x P and S to the number of static agents (none here): Jiro's plain instances."""
    engine = ModelEngine(fleet.Paths(instances="").templates)
    data = {"project": {"fullName": "plain.one", "displayName": "Plain", "resourcePacks": 5}}
    m = engine.evaluate(yaml.safe_load(FLEET_YAML), [ModelInput("plain.one", data, ())])["plain.one"]["model"]
    assert (m["jenkins"]["maxConcurrency"], m["jenkins"]["staticAgentCount"]) == (10, 0)
    assert m["resources"]["quota"]["pods"] == 11


# --- through the generated files --------------------------------------------------------------

@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, bytes]:
    """One real generation of a fleet holding every worked example and every Jiro instance."""
    root = tmp_path_factory.mktemp("quota") / "instances"
    write(root / "fleet.yaml", FLEET_YAML)
    specs = [(row_name(i), *psc(row)) for i, row in enumerate(ROWS)] + [j[:4] for j in JIRO]
    for name, p, s, c in specs:
        write(root / name / "instance.yaml",
              "# yaml-language-server: $schema=../../schemas/instance.schema.json\n"
              + yaml.safe_dump(instance_data(name, p, s, c), sort_keys=False))
    result = fleet.generate(fleet.Paths(instances=str(root)))
    assert not result.warnings, [d.format() for d in result.warnings]
    return result.files


def _objects(files: dict[str, bytes], name: str) -> dict:
    def load(rel):
        return yaml.safe_load(files[f"{name}/{rel}"])
    jcasc = load("jenkins/jenkins.yaml")
    cloud = jcasc["jenkins"]["clouds"][0]["kubernetes"]
    basic = next(t for t in cloud["templates"] if t["name"] == "basic")
    return {
        "quota": load("k8s/resourcequota.yaml")["spec"]["hard"],
        "limits": {lim["type"]: lim for lim in load("k8s/limitrange.yaml")["spec"]["limits"]},
        "controller": load("k8s/statefulset.yaml")["spec"]["template"]["spec"]["containers"][0]["resources"],
        "agent": basic["containers"][0],
        "cloud": cloud,
    }


@pytest.mark.parametrize("i", range(len(ROWS)), ids=[f"P{psc(r)[0]}-S{psc(r)[1]}-C{psc(r)[2]}" for r in ROWS])
def test_worked_example_in_the_generated_yaml(i, generated):
    p, s, c = psc(ROWS[i])
    o = _objects(generated, row_name(i))
    q, pod, ctr, ctl, agent = o["quota"], o["limits"]["Pod"], o["limits"]["Container"], o["controller"], o["agent"]
    assert q["limits.memory"] == q["requests.memory"]
    assert ctl["limits"]["memory"] == ctl["requests"]["memory"]
    assert agent["resourceLimitMemory"] == agent["resourceRequestMemory"]
    got = format_row(
        p, s, c, (ctl["requests"]["cpu"], ctl["limits"]["cpu"]), ctl["requests"]["memory"],
        (agent["resourceRequestCpu"], agent["resourceLimitCpu"]), agent["resourceRequestMemory"],
        q["pods"], q["requests.cpu"], q["requests.memory"], q["limits.cpu"],
        (pod["max"]["cpu"], pod["max"]["memory"]), (ctr["max"]["cpu"], ctr["max"]["memory"]))
    assert got == ROWS[i]
    # "its container cap is C": at most C builds at once, and one pod more than that in the quota
    assert o["cloud"]["containerCapStr"] == str(c)
    assert all(t["instanceCap"] == c for t in o["cloud"]["templates"])
    assert q["pods"] == str(c + 1)
    assert pod["min"] == {"cpu": "200m", "memory": "8Mi"} and ctr["min"] == {"cpu": "100m", "memory": "16Mi"}
    assert ctr["default"] == {"cpu": "300m", "memory": "512Mi"}
    assert ctr["defaultRequest"] == {"cpu": "200m", "memory": "512Mi"}


@pytest.mark.parametrize("jiro", JIRO, ids=[j[0] for j in JIRO])
def test_jiro_instance_in_the_generated_yaml(jiro, generated):
    name, c, figures = jiro[0], jiro[3], jiro[4:]
    o = _objects(generated, name)
    q, pod, ctr, ctl, agent = o["quota"], o["limits"]["Pod"], o["limits"]["Container"], o["controller"], o["agent"]
    got = (ctl["requests"]["cpu"], ctl["limits"]["cpu"], ctl["requests"]["memory"],
           agent["resourceRequestCpu"], agent["resourceLimitCpu"], agent["resourceRequestMemory"],
           int(q["pods"]), q["requests.cpu"], q["requests.memory"], q["limits.cpu"], q["limits.memory"],
           pod["max"]["cpu"], pod["max"]["memory"], ctr["max"]["cpu"], ctr["max"]["memory"])
    assert got == figures
    assert o["cloud"]["containerCapStr"] == str(c)  # Jiro's configuration.yml: containerCapStr "<C>"


def test_the_table_copy_is_intact():
    """Guard against an accidental edit of the copied table (7 rows, 13 columns, P/S/C as in the reference)."""
    assert [psc(r) for r in ROWS] == [(1, 0, 2), (2, 0, 4), (3, 0, 6), (5, 3, 10), (17, 0, 34), (52, 0, 25), (1, 26, 2)]
    assert all(len(cells(r)) == 13 for r in ROWS)
    assert all(re.fullmatch(r"\d+m / \d+m", cells(r)[3]) for r in ROWS)

