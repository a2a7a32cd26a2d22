"""A Jenkins HTTP test double following Jenkins' reference behaviour (README.md here: how it works, what it
is faithful to, how to start it by hand; docs/push.md, "Testing").

    with DoubleServer(JenkinsDouble(version="2.555.2")) as server:
        url = server.url()   # http://127.0.0.1:<port>/

Users (role, password, API token) come from `default_users()`; faults are
added with `JenkinsDouble.inject(Fault(...))`; every request is logged in
`JenkinsDouble.log`.
"""

from .controller import (
                         ADMINISTER,
                         CASC_1947,
                         CASC_NEW,
                         CASC_OLD,
                         MANAGE,
                         READ,
                         SYSTEM_READ,
                         Fault,
                         JenkinsDouble,
                         User,
                         default_users,
                         plugin_entry,
                         plugins_for,
)
from .load import ComputerEntry, QueueEntry, agent_pods, builtin_node, queue_item
from .server import DoubleServer, closed_port_url

__all__ = ["ADMINISTER", "CASC_1947", "CASC_NEW", "CASC_OLD", "MANAGE", "READ", "SYSTEM_READ", "ComputerEntry",
           "DoubleServer", "Fault", "JenkinsDouble", "QueueEntry", "User", "agent_pods", "builtin_node",
           "closed_port_url", "default_users", "plugin_entry", "plugins_for", "queue_item"]
