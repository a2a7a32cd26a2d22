// The resource-pack arithmetic (docs/quota-model.md). Integer millicores and MiB;
// a fractional result is truncated toward zero, as Jiro does.
local trunc(x) = if x >= 0 then std.floor(x) else std.ceil(x);
{
  // Defaults: one pack = two parallel builds = 2 vCPU / 8 GiB.
  defaults:: {
    packCpuMillis: 2000,
    packMemoryMiB: 8192,
    controller: {
      baseCpuMillis: 250,
      maxCpuMillis: 4000,
      minCpuLimitMillis: 2000,
      cpuBurst: 2,
      cpuPerAgentMillis: 150,
      agentsBeforeExtraCpu: 2,
      baseMemoryMiB: 1024,
      maxMemoryMiB: 8192,
      memoryPerAgentMiB: 256,
    },
    agent: {
      maxCpuMillis: 8000,
      maxMemoryMiB: 16384,
      minCpuLimitMillis: 2000,
    },
    jnlp: {
      cpuMillis: 200,
      cpuBurst: 1.5,
      memoryMiB: 512,
    },
    limitRange: {
      podMinCpuMillis: 200,
      podMinMemoryMiB: 8,
      containerMinCpuMillis: 100,
      containerMinMemoryMiB: 16,
      containerDefaultCpuMillis: 300,
      containerDefaultMemoryMiB: 512,
      containerDefaultRequestCpuMillis: 200,
      containerDefaultRequestMemoryMiB: 512,
    },
  },

  // k: resolved constants; P packs, C max concurrency, S static agents.
  compute(k, P, C, S)::
    local ctl = k.controller;
    local cpuRequest = std.min(ctl.maxCpuMillis,
                               ctl.baseCpuMillis + ctl.cpuPerAgentMillis * std.max(0, C - ctl.agentsBeforeExtraCpu + S));
    local controller = {
      cpu: { request: cpuRequest, limit: std.max(ctl.minCpuLimitMillis, trunc(ctl.cpuBurst * cpuRequest)) },
      memory: local m = std.min(ctl.maxMemoryMiB, ctl.baseMemoryMiB + ctl.memoryPerAgentMiB * (C + S));
             { request: m, limit: m },
    };
    local jnlpCpuLimit = trunc(k.jnlp.cpuMillis * k.jnlp.cpuBurst);
    local agentCpuShare = trunc(k.packCpuMillis * P / C);
    local agent = {
      cpu: {
        request: std.min(k.agent.maxCpuMillis, agentCpuShare),
        limit: std.min(k.agent.maxCpuMillis, std.max(agentCpuShare + jnlpCpuLimit, k.agent.minCpuLimitMillis)),
      },
      memory: local m = std.min(k.agent.maxMemoryMiB, trunc(k.packMemoryMiB * P / C));
             { request: m, limit: m },
    };
    local requestsMemory = controller.memory.request + k.jnlp.memoryMiB * C + k.packMemoryMiB * P;
    local lr = k.limitRange;
    local packCpu = std.min(k.agent.maxCpuMillis, k.packCpuMillis * P);
    local packMem = std.min(k.agent.maxMemoryMiB, k.packMemoryMiB * P);
    {
      controller: controller,
      agent: agent,
      jnlp: { cpu: { request: k.jnlp.cpuMillis, limit: jnlpCpuLimit }, memory: { request: k.jnlp.memoryMiB, limit: k.jnlp.memoryMiB } },
      quota: {
        pods: 1 + C,
        requestsCpuMillis: controller.cpu.request + k.jnlp.cpuMillis * C + k.packCpuMillis * P,
        requestsMemoryMiB: requestsMemory,
        limitsCpuMillis: controller.cpu.limit + C * (jnlpCpuLimit + agent.cpu.limit),
        limitsMemoryMiB: requestsMemory,
      },
      limitRange: {
        pod: {
          min: { cpuMillis: lr.podMinCpuMillis, memoryMiB: lr.podMinMemoryMiB },
          max: {
            cpuMillis: std.max(controller.cpu.limit, packCpu + jnlpCpuLimit),
            memoryMiB: std.max(controller.memory.limit, packMem + k.jnlp.memoryMiB),
          },
        },
        container: {
          min: { cpuMillis: lr.containerMinCpuMillis, memoryMiB: lr.containerMinMemoryMiB },
          default: { cpuMillis: lr.containerDefaultCpuMillis, memoryMiB: lr.containerDefaultMemoryMiB },
          defaultRequest: { cpuMillis: lr.containerDefaultRequestCpuMillis, memoryMiB: lr.containerDefaultRequestMemoryMiB },
          max: {
            cpuMillis: std.max(controller.cpu.limit, packCpu),
            memoryMiB: std.max(controller.memory.limit, packMem),
          },
        },
      },
      // For `fleet explain`: every figure above with its formula and this instance's numbers,
      // written beside the code that computes it (hidden: only the explain view reads it).
      local step(name, value, unit, formula, arithmetic) =
        { name: name, value: value, unit: unit, formula: formula, arithmetic: arithmetic },
      local lrStep(name, value, key, unit) = step(name, value, unit, 'limitRange.' + key, 'limitRange.' + key),
      local ctlCpu = controller.cpu,
      local ctlMem = controller.memory.request,
      local jnlpCpu = k.jnlp.cpuMillis,
      local pod = self.limitRange.pod,
      local container = self.limitRange.container,
      steps:: [
        step('controller cpu.request',
             ctlCpu.request,
             'm',
             'min(controller.maxCpuMillis, controller.baseCpuMillis + controller.cpuPerAgentMillis x '
             + 'max(0, C - controller.agentsBeforeExtraCpu + S))',
             'min(%sm, %sm + %sm x max(0, %s - %s + %s))'
             % [ctl.maxCpuMillis, ctl.baseCpuMillis, ctl.cpuPerAgentMillis, C, ctl.agentsBeforeExtraCpu, S]),
        step('controller cpu.limit',
             ctlCpu.limit,
             'm',
             'max(controller.minCpuLimitMillis, controller.cpuBurst x cpu.request)',
             'max(%sm, %s x %sm)' % [ctl.minCpuLimitMillis, ctl.cpuBurst, ctlCpu.request]),
        step('controller memory',
             ctlMem,
             'Mi',
             'min(controller.maxMemoryMiB, controller.baseMemoryMiB + controller.memoryPerAgentMiB x (C + S))',
             'min(%sMi, %sMi + %sMi x (%s + %s))' % [ctl.maxMemoryMiB, ctl.baseMemoryMiB, ctl.memoryPerAgentMiB, C, S]),
        step('jnlp cpu.limit',
             jnlpCpuLimit,
             'm',
             'jnlp.cpuMillis x jnlp.cpuBurst',
             '%sm x %s' % [jnlpCpu, k.jnlp.cpuBurst]),
        step('agent cpu.request',
             agent.cpu.request,
             'm',
             'min(agent.maxCpuMillis, packCpuMillis x P / C)',
             'min(%sm, %sm x %s packs / %s agents)' % [k.agent.maxCpuMillis, k.packCpuMillis, P, C]),
        step('agent cpu.limit',
             agent.cpu.limit,
             'm',
             'min(agent.maxCpuMillis, max(packCpuMillis x P / C + jnlp cpu.limit, agent.minCpuLimitMillis))',
             'min(%sm, max(%sm + jnlp %sm, %sm))'
             % [k.agent.maxCpuMillis, agentCpuShare, jnlpCpuLimit, k.agent.minCpuLimitMillis]),
        step('agent memory',
             agent.memory.request,
             'Mi',
             'min(agent.maxMemoryMiB, packMemoryMiB x P / C)',
             'min(%sMi, %sMi x %s packs / %s agents)' % [k.agent.maxMemoryMiB, k.packMemoryMiB, P, C]),
        step('pods', self.quota.pods, '', '1 + C', '1 controller + %s agents' % C),
        step('requests.cpu',
             self.quota.requestsCpuMillis,
             'm',
             'controller cpu.request + C x jnlp.cpuMillis + P x packCpuMillis',
             'controller %sm + %s x jnlp %sm + %s packs x %sm' % [ctlCpu.request, C, jnlpCpu, P, k.packCpuMillis]),
        step('requests.memory',
             self.quota.requestsMemoryMiB,
             'Mi',
             'controller memory + C x jnlp.memoryMiB + P x packMemoryMiB',
             'controller %sMi + %s x jnlp %sMi + %s packs x %sMi' % [ctlMem, C, k.jnlp.memoryMiB, P, k.packMemoryMiB]),
        step('limits.cpu',
             self.quota.limitsCpuMillis,
             'm',
             'controller cpu.limit + C x (jnlp cpu.limit + agent cpu.limit)',
             'controller %sm + %s x (jnlp %sm + agent %sm)' % [ctlCpu.limit, C, jnlpCpuLimit, agent.cpu.limit]),
        step('limits.memory',
             self.quota.limitsMemoryMiB,
             'Mi',
             'requests.memory',
             'requests.memory %sMi' % requestsMemory),
        step('LimitRange Pod max cpu',
             pod.max.cpuMillis,
             'm',
             'max(controller cpu.limit, min(agent.maxCpuMillis, P x packCpuMillis) + jnlp cpu.limit)',
             'max(controller %sm, min(%sm, %s x %sm) + jnlp %sm)'
             % [ctlCpu.limit, k.agent.maxCpuMillis, P, k.packCpuMillis, jnlpCpuLimit]),
        step('LimitRange Pod max memory',
             pod.max.memoryMiB,
             'Mi',
             'max(controller memory, min(agent.maxMemoryMiB, P x packMemoryMiB) + jnlp.memoryMiB)',
             'max(controller %sMi, min(%sMi, %s x %sMi) + jnlp %sMi)'
             % [ctlMem, k.agent.maxMemoryMiB, P, k.packMemoryMiB, k.jnlp.memoryMiB]),
        step('LimitRange Container max cpu',
             container.max.cpuMillis,
             'm',
             'max(controller cpu.limit, min(agent.maxCpuMillis, P x packCpuMillis))',
             'max(controller %sm, min(%sm, %s x %sm))' % [ctlCpu.limit, k.agent.maxCpuMillis, P, k.packCpuMillis]),
        step('LimitRange Container max memory',
             container.max.memoryMiB,
             'Mi',
             'max(controller memory, min(agent.maxMemoryMiB, P x packMemoryMiB))',
             'max(controller %sMi, min(%sMi, %s x %sMi))' % [ctlMem, k.agent.maxMemoryMiB, P, k.packMemoryMiB]),
        lrStep('LimitRange Pod min cpu', pod.min.cpuMillis, 'podMinCpuMillis', 'm'),
        lrStep('LimitRange Pod min memory', pod.min.memoryMiB, 'podMinMemoryMiB', 'Mi'),
        lrStep('LimitRange Container min cpu', container.min.cpuMillis, 'containerMinCpuMillis', 'm'),
        lrStep('LimitRange Container min memory', container.min.memoryMiB, 'containerMinMemoryMiB', 'Mi'),
        lrStep('LimitRange Container default cpu', container.default.cpuMillis, 'containerDefaultCpuMillis', 'm'),
        lrStep('LimitRange Container default memory', container.default.memoryMiB, 'containerDefaultMemoryMiB', 'Mi'),
        lrStep('LimitRange Container defaultRequest cpu',
               container.defaultRequest.cpuMillis,
               'containerDefaultRequestCpuMillis',
               'm'),
        lrStep('LimitRange Container defaultRequest memory',
               container.defaultRequest.memoryMiB,
               'containerDefaultRequestMemoryMiB',
               'Mi'),
      ],
    },
}
