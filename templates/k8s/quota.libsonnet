// ResourceQuota and LimitRange from the resource-pack arithmetic.
local u = import '../model/util.libsonnet';
local k = import 'meta.libsonnet';
local cm(x) = { cpu: u.cpu(x.cpuMillis), memory: u.mem(x.memoryMiB) };
{
  resourceQuota(m):: {
    local q = m.resources.quota,
    apiVersion: 'v1',
    kind: 'ResourceQuota',
    metadata: k.meta(m, 'jenkins-instance-quota'),
    spec: {
      hard: {
        pods: std.toString(q.pods),
        'requests.cpu': u.cpu(q.requestsCpuMillis),
        'requests.memory': u.mem(q.requestsMemoryMiB),
        'limits.cpu': u.cpu(q.limitsCpuMillis),
        'limits.memory': u.mem(q.limitsMemoryMiB),
      },
    },
  },
  limitRange(m):: {
    local lr = m.resources.limitRange,
    apiVersion: 'v1',
    kind: 'LimitRange',
    metadata: k.meta(m, 'jenkins-instance-limit-range'),
    spec: {
      limits: [
        { type: 'Pod', min: cm(lr.pod.min), max: cm(lr.pod.max) },
        {
          type: 'Container',
          min: cm(lr.container.min),
          max: cm(lr.container.max),
          default: cm(lr.container.default),
          defaultRequest: cm(lr.container.defaultRequest),
        },
      ],
    },
  },
}
