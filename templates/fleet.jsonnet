// Entry point: evaluates many instances in one Jsonnet run.
// TLAs: fleet (fleet settings), instances ([{name, data, profiles}]), objects (false: models only),
// view ('checks': only the model fields the cross-instance rules of generator/checks.py read,
// which `fleet validate` needs; Jsonnet is lazy, so the rest is never computed. 'explain': the
// model and, beside it, what `fleet explain` shows of its defaults and formulas).
// Output: { <fullName>: { model, objects: { <file name>: object }, explain } }.
// The ConfigMap holding the JCasC is added after Jinja rendering; servicemonitor.yaml exists
// only for instances scraped through a ServiceMonitor.
local ctl = import 'k8s/controller.libsonnet';
local mon = import 'k8s/monitoring.libsonnet';
local ns = import 'k8s/namespace.libsonnet';
local net = import 'k8s/network.libsonnet';
local quota = import 'k8s/quota.libsonnet';
local rbac = import 'k8s/rbac.libsonnet';
local model = import 'model/instance.libsonnet';

function(fleet, instances, objects=true, view='full')
  local ctx = model.context(fleet);
  {
    // m is bound outside the object: an object local is evaluated again for each field.
    [inst.name]: local m = model.resolve(ctx, inst, inst.profiles); {
      model: if view == 'checks' then {
        deployment: m.deployment,
        resources: { limitRange: m.resources.limitRange },
        agents: { podTemplates: m.agents.podTemplates, missingSecrets: m.agents.missingSecrets },
      } else m,
      [if view == 'explain' then 'explain']: m.explain,
      [if objects then 'objects']: {
        'namespace.yaml': ns(m),
        'resourcequota.yaml': quota.resourceQuota(m),
        'limitrange.yaml': quota.limitRange(m),
        'serviceaccount.yaml': rbac.serviceAccount(m),
        'serviceaccount-jenkins-agent.yaml': rbac.agentServiceAccount(m),
        'role.yaml': rbac.role(m),
        'rolebinding.yaml': rbac.roleBinding(m),
        'service-jenkins-ui.yaml': mon.uiService(m, net.uiService(m)),
        'service-jenkins-discovery.yaml': net.discoveryService(m),
        'route.yaml': net.route(m),
        'statefulset.yaml': ctl.statefulSet(m),
        'configmap-jenkins-config.yaml': ctl.configMap(m, null),
      } + (
        local sm = mon.serviceMonitor(m);
        if sm == null then {} else { 'servicemonitor.yaml': sm }
      ),
    }
    for inst in instances
  }
