local k = import 'meta.libsonnet';
function(m) {
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: k.meta(m, m.deployment.namespace, namespaced=false, annotations={
    'openshift.io/display-name': m.project.displayName,
    'jenkins-fleet.io/display-name': m.project.displayName,
    'jenkins-fleet.io/resource-packs': std.toString(m.project.resourcePacks),
  }),
}
