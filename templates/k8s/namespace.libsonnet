local k = import 'meta.libsonnet';
function(m) {
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: k.meta(m, m.deployment.namespace, namespaced=false, annotations={
    'openshift.io/display-name': m.project.displayName,
    'jenkins-fleet.io/display-name': m.project.displayName,
    'jenkins-fleet.io/resource-packs': std.toString(m.project.resourcePacks),
  } + (
    // A level asked for: the namespace's MCS label is set to it, so that restricted-v2's
    // MustRunAs SELinux strategy, which takes the level from this annotation, admits the pods
    // that carry it (openshift/apiserver-library-go securitycontextconstraints/selinux/mustrunas.go
    // and sccmatching getPreallocatedLevel). OpenShift's allocation controller keeps an mcs
    // annotation that is already there (openshift/cluster-policy-controller
    // pkg/security/controller/namespace_scc_allocation_controller.go). Without a level, OpenShift
    // assigns one and nothing we generate names it.
    if std.objectHas(m.deployment, 'seLinuxLevel') then { 'openshift.io/sa.scc.mcs': m.deployment.seLinuxLevel } else {}
  )),
}
