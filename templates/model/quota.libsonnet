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
    },
}
