"""A ConfigMap Kubernetes would refuse (over 1 MiB of data) is refused by validate, generate and check."""

from __future__ import annotations

import os

import pytest
from fleettest import copy_sample_fleet, fleet_in_process

from generator import produce
from generator.sources import MAX_BYTES, parse_text


def cm(size: int) -> dict:
    return {"kind": "ConfigMap", "data": {"jenkins.yaml": "é" * (size // 2) + "x" * (size % 2)}}


def test_the_limit_is_on_the_bytes_of_the_values():
    """Kubernetes sums len() of the values, which counts bytes: 'é' is two of them."""
    assert produce.CONFIGMAP_MAX_BYTES == 1048576
    assert produce.configmap_size("a", cm(1048576), None) == []
    (diag,) = produce.configmap_size("a", cm(1048577), None)
    assert diag.file == "a/k8s/configmap-jenkins-config.yaml"
    assert diag.message == ("the JCasC ConfigMap would hold 1,048,577 bytes of data; Kubernetes refuses more than "
                            "1,048,576 (1 MiB)")
    override = parse_text("jenkins: {}\n", "instances/a/jenkins.yaml")
    (diag,) = produce.configmap_size("a", cm(2 << 20), override)
    assert diag.file == "instances/a/jenkins.yaml"
    assert diag.hint.startswith("shorten this hand-written JCasC")


@pytest.fixture(scope="module")
def oversized(tmp_path_factory):
    """The issue's case: an override just under the 1 MiB file limit, merged into the generated JCasC."""
    root = tmp_path_factory.mktemp("big")
    copy_sample_fleet(root)
    line = "    " + "x" * 95 + "\n"
    body = "jenkins:\n  systemMessage: |\n" + line * ((MAX_BYTES - 100) // len(line))
    assert len(body) <= MAX_BYTES
    with open(os.path.join(root, "instances", "technology.cbi", "jenkins.yaml"), "w") as fh:
        fh.write(body)
    return root


MESSAGE = ("instances/technology.cbi/jenkins.yaml: error: the JCasC ConfigMap would hold {} bytes of data; "
           "Kubernetes refuses more than 1,048,576 (1 MiB)\n"
           "  hint: shorten this hand-written JCasC: it is merged into the generated one, which must fit in one "
           "ConfigMap\n")


@pytest.mark.parametrize("command", [["validate"], ["generate", "--jobs", "1"], ["check"]])
def test_an_oversized_configmap_is_refused_with_its_size(oversized, command):
    run = fleet_in_process(command, oversized)
    assert run.code == 1, run.stderr
    sizes = [line.split(" would hold ")[1].split(" ")[0] for line in run.stderr.splitlines() if "would hold" in line]
    assert len(sizes) == 1 and int(sizes[0].replace(",", "")) > 1048576
    assert MESSAGE.format(sizes[0]) in run.stderr
    assert not os.path.exists(os.path.join(oversized, "build"))
