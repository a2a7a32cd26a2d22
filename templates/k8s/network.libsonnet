// Services for the UI and the agent (remoting) port, and the public Route.
local k = import 'meta.libsonnet';
{
  uiService(m):: {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: k.meta(m, 'jenkins-ui'),
    spec: {
      selector: m.selector,
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 'http' }],
    },
  },
  discoveryService(m):: {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: k.meta(m, 'jenkins-discovery'),
    spec: {
      selector: m.selector,
      ports: [{ name: 'jnlp', port: 50000, protocol: 'TCP', targetPort: 'jnlp' }],
    },
  },
  route(m):: {
    apiVersion: 'route.openshift.io/v1',
    kind: 'Route',
    // An imported controller keeps its Route's name: applying ours then updates that Route in
    // place, where a second Route for the same host and path would not be admitted while the
    // older one exists (routers use the oldest route of a host: the description of Route in
    // schemas/openshift/routes.route.openshift.io.crd.yaml). WebSocket connections of inbound
    // agents pass through it (docs/agents.md).
    metadata: k.meta(m, m.deployment.routeName, annotations={ 'haproxy.router.openshift.io/timeout': '60s' }),
    spec: {
      host: m.deployment.host,
      [if m.deployment.prefix != '' then 'path']: m.deployment.prefix,
      port: { targetPort: 'http' },
      tls: { termination: 'edge', insecureEdgeTerminationPolicy: 'Redirect' },
      to: { kind: 'Service', name: 'jenkins-ui', weight: 100 },
      wildcardPolicy: 'None',
    },
  },
}
