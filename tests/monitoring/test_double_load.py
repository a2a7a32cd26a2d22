"""The double's build queue and executors answer in Jenkins' shapes (tests/jenkins_double/load.py)."""

from __future__ import annotations

import requests
from jenkins_double import (
    ComputerEntry,
    JenkinsDouble,
    agent_pods,
    builtin_node,
    default_users,
    queue_item,
)

ADMIN = default_users()["admin"]


def get(server, path, user=ADMIN):
    return requests.get(server.url("/j") + path, auth=(user.name, user.tokens[0]), timeout=5)


def test_queue_shapes(serve):
    double = JenkinsDouble()
    double.queue = [queue_item("folder/app", waited=120), queue_item("lib", waited=5, kind="blocked"),
                    queue_item(None, waited=1, kind="waiting")]
    server = serve({"/j": double})
    full = get(server, "queue/api/json").json()
    assert full["_class"] == "hudson.model.Queue" and full["discoverableItems"] == []
    first, blocked, waiting = full["items"]
    assert first["_class"] == "hudson.model.Queue$BuildableItem" and first["buildable"] and not first["blocked"]
    assert first["task"] == {"_class": "hudson.model.FreeStyleProject", "name": "app", "color": "blue",
                             "url": server.url("/j") + "job/folder/job/app/"}  # no fullName without tree=
    assert first["why"] == "Waiting for next available executor on \u2018basic\u2019"
    assert first["url"] == f"queue/item/{first['id']}/" and "buildableStartMilliseconds" in first
    assert blocked["_class"] == "hudson.model.Queue$BlockedItem" and blocked["blocked"] and not blocked["buildable"]
    assert waiting["_class"] == "hudson.model.Queue$WaitingItem" and "timestamp" in waiting
    assert set(waiting["task"]) == {"_class"}  # a Pipeline node block exports no name
    assert first["inQueueSince"] < blocked["inQueueSince"] < waiting["inQueueSince"]
    assert blocked["inQueueSince"] - first["inQueueSince"] == 115_000  # waited 120 s and 5 s

    tree = get(server, "queue/api/json?tree=items[id,inQueueSince,task[fullName]]").json()
    assert tree["items"][0] == {"_class": "hudson.model.Queue$BuildableItem", "id": first["id"],
                                "inQueueSince": tree["items"][0]["inQueueSince"],
                                "task": {"_class": "hudson.model.FreeStyleProject", "fullName": "folder/app"}}


def test_computer_shapes(serve):
    double = JenkinsDouble()
    double.computers = [builtin_node()] + agent_pods(3, busy=2) + [
        ComputerEntry("mac", "static", executors=4, busy=1), ComputerEntry("win", "static", 2, busy=0, offline=True)]
    server = serve({"/j": double})
    data = get(server, "computer/api/json").json()
    assert data["_class"] == "hudson.model.ComputerSet" and data["displayName"] == "Nodes"
    assert data["busyExecutors"] == 3 and data["totalExecutors"] == 7  # the offline agent counts for neither
    kinds = [c["_class"] for c in data["computer"]]
    assert kinds == ["hudson.model.Hudson$MasterComputer"] + [
        "org.csanchez.jenkins.plugins.kubernetes.KubernetesComputer"] * 3 + ["hudson.slaves.SlaveComputer"] * 2
    pod = data["computer"][1]
    assert (pod["numExecutors"], pod["idle"], pod["offline"], len(pod["executors"])) == (1, False, False, 1)
    assert data["computer"][3]["idle"] is True and data["computer"][5]["offline"] is True
    tree = get(server, "computer/api/json?tree=busyExecutors,computer[displayName]").json()
    assert tree == {"_class": "hudson.model.ComputerSet", "busyExecutors": 3,
                    "computer": [{"_class": c["_class"], "displayName": c["displayName"]} for c in data["computer"]]}


def test_both_need_overall_read(serve):
    from jenkins_double import User
    nobody = User("nobody", "pw", "anonymous", ("11ee00",))
    users = default_users()
    users["nobody"] = nobody
    server = serve({"/j": JenkinsDouble(users=users)})
    for path in ("queue/api/json", "computer/api/json"):
        resp = get(server, path, nobody)
        assert resp.status_code == 403 and resp.headers["X-Required-Permission"] == "hudson.model.Hudson.Read"
