"""Properties of the pinned plugin closure over random catalogs (hypothesis; issue 16).

A random catalog is a dependency DAG (each plugin depends only on plugins with a lower index),
with random minimum versions (some above what the catalog has) and optional flags. For any
set of requests, the closure must be closed under non-optional dependencies, hold an optional
one only when something asks for it, be the same whatever the order of the requests, and
either satisfy every minimum version or report each one it does not.
"""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.catalog import Catalog, Dependency, Release, Warning
from generator.plugins import Request, _clean_closure, _Solver, resolve
from generator.sources import parse_text
from generator.version_number import compare

FUZZ = int(os.environ.get("FLEET_FUZZ_EXAMPLES", "0"))
if FUZZ:
    pytestmark = pytest.mark.timeout(0)
EXAMPLES = settings(max_examples=max(150, FUZZ), deadline=None, suppress_health_check=[HealthCheck.too_slow])
DOC = parse_text("plugins: []\n", "instance.yaml")
JENKINS = "2.555.2"


@st.composite
def catalogs(draw):
    n = draw(st.integers(1, 12))
    plugins = {}
    for i in range(n):
        deps = []
        for j in sorted(draw(st.sets(st.integers(0, i - 1), max_size=min(i, 4))) if i else []):
            # "1.k": sometimes above the catalog's own release of p<j>, to exercise the errors
            deps.append(Dependency(f"p{j}", f"1.{draw(st.integers(0, 6))}", draw(st.booleans())))
        core = draw(st.sampled_from([None, "2.479.3", "2.555.2", "2.600.1"]))
        plugins[f"p{i}"] = Release(f"p{i}", f"1.{draw(st.integers(0, 6))}", core, tuple(deps))
    return Catalog("catalog.json", plugins, reference="catalogs/random.json")


@st.composite
def cases(draw):
    catalog = draw(catalogs())
    ids = sorted(catalog.plugins)
    requested = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=len(ids), unique=True))
    return catalog, requested


def run(catalog, requested):
    return resolve(catalog, [Request(p, None, "instance", DOC, ("jenkins", "plugins", 0)) for p in requested],
                   JENKINS, "the catalog")


@EXAMPLES
@given(cases())
def test_closed_under_dependencies_and_optional_only_when_asked(case):
    catalog, requested = case
    resolution, _ = run(catalog, requested)
    installed = resolution.installed
    assert set(requested) <= set(installed)
    hard_needed = set(requested)
    for pid in installed:
        assert installed[pid] == catalog.plugins[pid].version  # nothing pinned: the catalog's release
        for dep in catalog.plugins[pid].dependencies:
            if not dep.optional:
                assert dep.name in installed, (pid, dep)
                hard_needed.add(dep.name)
    # everything installed is requested or a non-optional dependency of something installed
    assert set(installed) == hard_needed


@EXAMPLES
@given(cases(), st.randoms(use_true_random=False))
def test_deterministic_whatever_the_order_of_requests(case, rnd):
    catalog, requested = case
    first, first_diags = run(catalog, requested)
    again, again_diags = run(catalog, requested)
    assert (first.as_model(), first_diags) == (again.as_model(), again_diags)
    shuffled = list(requested)
    rnd.shuffle(shuffled)
    other, other_diags = run(catalog, shuffled)
    assert other.installed == first.installed
    assert other.dependency_of == first.dependency_of

    def problems(diags):  # which request a dependency's problem is reported at follows the order: not compared
        return {re.sub(r" \(needed by [^)]*\)", "", d.message) for d in diags if d.is_error}
    assert problems(other_diags) == problems(first_diags)


@EXAMPLES
@given(cases())
def test_every_minimum_version_is_met_or_reported(case):
    catalog, requested = case
    resolution, diags = run(catalog, requested)
    installed = resolution.installed
    errors = [d.message for d in diags if d.is_error]
    for pid in installed:
        release = catalog.plugins[pid]
        for dep in release.dependencies:
            if dep.name in installed and compare(installed[dep.name], dep.version) < 0:
                assert any(f"needs {dep.name} >= {dep.version}, but the catalog has {installed[dep.name]}" in e
                           for e in errors), (pid, dep, errors)
        if release.required_core and compare(release.required_core, JENKINS) > 0:
            assert any(f"requires Jenkins {release.required_core} or newer" in e for e in errors)
    if not errors:
        for pid in installed:
            for dep in catalog.plugins[pid].dependencies:
                if dep.name in installed:
                    assert compare(installed[dep.name], dep.version) >= 0


# --- the quick path (plugins._clean_closure) against the solver ------------------------------------

@st.composite
def advised_cases(draw):
    """A random catalog with warnings, deprecations and optional dependencies it lacks, and requests
    that may repeat a plugin (several origins), pin one, or name one the catalog lacks."""
    catalog = draw(catalogs())
    ids = sorted(catalog.plugins)
    for pid in ids:
        kind = draw(st.sampled_from(["", "", "warning", "deprecated"]))
        if kind == "warning":
            catalog.warnings[pid] = [Warning(f"SECURITY-{pid}", pid, "bad", "https://example.org/w", ())]
        elif kind == "deprecated":
            catalog.deprecations[pid] = "https://example.org/d"
    if draw(st.booleans()):  # an optional dependency on a plugin the catalog does not have
        pid = draw(st.sampled_from(ids))
        release = catalog.plugins[pid]
        catalog.plugins[pid] = Release(pid, release.version, release.required_core,
                                       release.dependencies + (Dependency("absent", "1.0", True),))
    names = st.sampled_from(ids + ["absent"])
    specs = draw(st.lists(st.tuples(names, st.sampled_from([None, None, None, "1.0", "1.3"]),
                                    st.sampled_from(["fleet", "monitoring", "profile p", "instance"])),
                          min_size=1, max_size=8))
    return catalog, tuple(specs)


@EXAMPLES
@given(advised_cases())
def test_the_quick_path_agrees_with_the_solver(case):
    catalog, specs = case
    quick = _clean_closure(catalog, specs, JENKINS)
    solved, problems = _Solver(catalog, specs, JENKINS, "the catalog").solve()
    if quick is not None:
        assert (quick[0].as_model(), quick[1]) == (solved.as_model(), problems)


def test_the_sample_fleet_resolves_the_same_either_way():
    """Every instance of instances/ (and a few variations) takes the quick path, with the solver's result."""
    from generator import fleet, fleetdir
    from generator.catalog import load_all
    from generator.plugins import requests_for
    paths = fleet.Paths(instances=os.path.join(os.path.dirname(__file__), "..", "..", "instances"))
    sources, _ = fleetdir.read_all(paths.instances, ())
    sources.catalogs, _ = load_all(paths.instances, sources.fleet)
    quick_count = 0
    for name, src in sorted(sources.instances.items()):
        version = fleet.jenkins_version(sources.fleet.data, name, src.doc.data)
        catalog = sources.catalogs[version]
        requests = requests_for(sources.fleet, src.doc, version,
                                fleetdir.matching_profiles(sources.fleet.data, name), ())
        specs = tuple((r.plugin, r.version, r.origin) for r in requests)
        quick = _clean_closure(catalog, specs, version)
        solved, problems = _Solver(catalog, specs, version, "the catalog").solve()
        if quick is not None:
            quick_count += 1
            assert (quick[0].as_model(), quick[1]) == (solved.as_model(), problems), name
    assert quick_count >= len(sources.instances) - 2  # the point of it: most of a fleet
