"""Build queue and executors of the double: GET /queue/api/json and GET /computer/api/json.

What is modelled (shapes as Jenkins' remote API exports them; field names from the
@Exported getters of hudson.model.Queue, Queue.Item and its subclasses, hudson.model.ComputerSet
and hudson.model.Computer, cross-checked with published captures of both endpoints):

- /queue/api/json: `{"_class": "hudson.model.Queue", "discoverableItems": [], "items": [...]}`;
  each item has `_class` (hudson.model.Queue$BuildableItem, $BlockedItem or $WaitingItem), `id`,
  `inQueueSince` (epoch ms, the controller's clock), `why` (Jenkins' sentence, with its curly
  quotes), `blocked`, `buildable`, `stuck`, `params`, `url` (queue/item/<id>/), `actions`, and
  `task` (`_class`, `name`, `url`, `color`; `fullName` only when `tree=` asks for it, as nested
  objects show their visibility-1 fields only). Buildable items also carry
  `buildableStartMilliseconds` and `pending`. A Pipeline `node` block is modelled as a task of
  class ExecutorStepExecution$PlaceholderTask exporting no name (pass task=None).
- /computer/api/json: `{"_class": "hudson.model.ComputerSet", "busyExecutors", "computer": [...],
  "displayName": "Nodes", "totalExecutors"}`; busyExecutors and totalExecutors count online
  computers only (ComputerSet.getBusyExecutors/getTotalExecutors). Each computer has `_class`
  (hudson.model.Hudson$MasterComputer for the built-in node, hudson.slaves.SlaveComputer for a
  permanent agent, org.csanchez.jenkins.plugins.kubernetes.KubernetesComputer for an agent pod),
  `displayName`, `numExecutors`, `executors` (one `{}` per executor, as without depth),
  `idle` (no executor busy), `offline`, `temporarilyOffline`, `offlineCause`,
  `offlineCauseReason`, `jnlpAgent`, `assignedLabels`, `monitorData` (empty) and the other
  top-level fields of a capture.
- `tree=` filters both, as everywhere in the double.

Not modelled: per-item visibility (a user without Job/Read on a task does not see its item),
queue item actions and causes, executors' current builds (`depth=1`), load statistics.
Both endpoints need Overall/Read, like the rest of the API.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

QUEUE_CLASSES = {"buildable": "hudson.model.Queue$BuildableItem", "blocked": "hudson.model.Queue$BlockedItem",
                 "waiting": "hudson.model.Queue$WaitingItem"}
COMPUTER_CLASSES = {"built-in": "hudson.model.Hudson$MasterComputer", "static": "hudson.slaves.SlaveComputer",
                    "kubernetes": "org.csanchez.jenkins.plugins.kubernetes.KubernetesComputer"}
PLACEHOLDER_TASK = "org.jenkinsci.plugins.workflow.support.steps.ExecutorStepExecution$PlaceholderTask"


@dataclass
class QueueEntry:
    task: str | None  # a job's full name ("folder/job"); None: a Pipeline node block (no name exported)
    waited: float  # seconds in the queue when a request arrives
    why: str = ""
    kind: str = "buildable"  # buildable | blocked | waiting
    stuck: bool = False


@dataclass
class ComputerEntry:
    name: str
    kind: str = "kubernetes"  # built-in | static | kubernetes
    executors: int = 1
    busy: int = 0
    offline: bool = False
    labels: tuple[str, ...] = ()


def queue_item(task: str | None, *, waited: float, label: str = "basic", kind: str = "buildable",
               why: str | None = None, stuck: bool = False) -> QueueEntry:
    """A queue item; the default `why` is the one of a buildable item waiting for `label`."""
    if why is None:
        why = {"buildable": f"Waiting for next available executor on \u2018{label}\u2019",
               "blocked": "Build #12 is already in progress (ETA: 3 min 2 sec)",
               "waiting": "In the quiet period. Expires in 4.9 sec"}[kind]
    return QueueEntry(task, waited, why, kind, stuck)


def builtin_node() -> ComputerEntry:
    # our JCasC sets numExecutors: 0 on the controller
    return ComputerEntry("Built-In Node", "built-in", executors=0, labels=("built-in",))


def agent_pods(count: int, *, busy: int | None = None, template: str = "basic") -> list[ComputerEntry]:
    """`count` Kubernetes agent pods of one executor each, the first `busy` (default all) running a build."""
    busy = count if busy is None else busy
    return [ComputerEntry(f"{template}-{i:05x}", "kubernetes", 1, 1 if i < busy else 0, labels=(template,))
            for i in range(count)]


def queue_json(entries: list[QueueEntry], root_url: str, now_ms: int | None = None) -> dict:
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    items = []
    for n, e in enumerate(entries):
        item_id = 100 + n
        since = now_ms - int(e.waited * 1000)
        if e.task is None:
            task = {"_class": PLACEHOLDER_TASK}
        else:
            leaf = e.task.rsplit("/", 1)[-1]
            path = "".join(f"job/{p}/" for p in e.task.split("/"))
            task = {"_class": "hudson.model.FreeStyleProject", "name": leaf, "url": root_url + path,
                    "color": "blue_anime" if e.kind == "blocked" else "blue", "fullName": e.task}
        item = {"_class": QUEUE_CLASSES[e.kind], "actions": [], "blocked": e.kind == "blocked",
                "buildable": e.kind == "buildable", "id": item_id, "inQueueSince": since, "params": "",
                "stuck": e.stuck, "task": task, "url": f"queue/item/{item_id}/", "why": e.why}
        if e.kind == "buildable":
            item.update({"buildableStartMilliseconds": since + 5000, "pending": False})
        if e.kind == "waiting":
            item["timestamp"] = now_ms + 4900
        items.append(item)
    return {"_class": "hudson.model.Queue", "discoverableItems": [], "items": items}


def default_view_of_queue(data: dict) -> dict:
    """Without tree=, nested task objects show their visibility-1 fields only (no fullName)."""
    out = dict(data)
    out["items"] = [{**i, "task": {k: v for k, v in i["task"].items() if k != "fullName"}} for i in data["items"]]
    return out


def computers_json(entries: list[ComputerEntry]) -> dict:
    computers = []
    for c in entries:
        computers.append({
            "_class": COMPUTER_CLASSES[c.kind], "actions": [],
            "assignedLabels": [{"name": lbl} for lbl in (c.labels or (c.name,))],
            "description": "the Jenkins controller's built-in node" if c.kind == "built-in" else "",
            "displayName": c.name, "executors": [{} for _ in range(c.executors)],
            "icon": "symbol-computer", "iconClassName": "symbol-computer", "idle": c.busy == 0,
            "jnlpAgent": c.kind != "built-in", "launchSupported": c.kind == "built-in",
            "loadStatistics": {"_class": "hudson.model.Label$1"}, "manualLaunchAllowed": True,
            "monitorData": {}, "numExecutors": c.executors, "offline": c.offline,
            "offlineCause": None, "offlineCauseReason": "", "oneOffExecutors": [],
            "temporarilyOffline": False,
        })
    online = [c for c in entries if not c.offline]
    return {"_class": "hudson.model.ComputerSet", "busyExecutors": sum(min(c.busy, c.executors) for c in online),
            "computer": computers, "displayName": "Nodes", "totalExecutors": sum(c.executors for c in online)}
