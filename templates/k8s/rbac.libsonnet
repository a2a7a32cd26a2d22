// The controller's identity: it may manage agent pods in its own namespace only.
local k = import 'meta.libsonnet';
{
  serviceAccount(m):: {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: k.meta(m, 'jenkins'),
  },
  // Agent pods run as this account, which no Role is bound to: a build gets no right over the
  // namespace's pods (the controller's account may create, delete and exec into them), and no
  // token is mounted into the pod.
  agentServiceAccount(m):: {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: k.meta(m, m.agents.serviceAccount),
    automountServiceAccountToken: false,
  },
  role(m):: {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: k.meta(m, 'jenkins-agents'),
    rules: [
      { apiGroups: [''], resources: ['pods', 'pods/exec'], verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] },
      { apiGroups: [''], resources: ['events', 'pods/log'], verbs: ['get', 'list', 'watch'] },
    ],
  },
  roleBinding(m):: {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: k.meta(m, 'jenkins-agents'),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'jenkins-agents' },
    subjects: [{ kind: 'ServiceAccount', name: 'jenkins', namespace: m.deployment.namespace }],
  },
}
