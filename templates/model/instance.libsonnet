// Resolve one instance: fleet defaults, then matching profiles in order, then
// the instance file. Maps deep-merge and lists replace, except plugins,
// permissions and pod templates, which accumulate across the layers.
local quota = import 'quota.libsonnet';
local u = import 'util.libsonnet';

// The Prometheus plugin settings when fleet.yaml says nothing. The disabled metrics are the
// per-job build series (one per job and quantile), the bulk of a controller's cardinality.
local prometheusDefaults = {
  path: 'prometheus',
  collectingMetricsPeriodInSeconds: 60,
  disabledMetrics: [
    { regex: 'default_jenkins_builds_last_.*' },
    { regex: 'default_jenkins_builds_.*_summary' },
    { name: 'default_jenkins_builds_health_score' },
    { name: 'default_jenkins_builds_discard_active' },
    { name: 'default_jenkins_builds_available_builds_count' },
  ],
};

// Computed once per fleet and shared by every instance of the evaluation.
local defaultLayer(fleet, resourceModel) = {
  local d = fleet.defaults,
  jenkins: {
    version: 'latest',
    timezone: std.get(d, 'timezone', 'UTC'),
    theme: std.get(d, 'theme', 'dark'),
    agentConnectionTimeout: std.get(d, 'agentConnectionTimeout', 180),
    adminEmail: std.get(d, 'adminEmail', 'jenkins@' + d.host),
  },
  deployment: { host: d.host, cluster: d.cluster },
  storage: {
    storageClassName: std.get(d, 'storageClassName', ''),
    size: std.get(d, 'storageSize', '50Gi'),
  },
  buildTools: {
    maven: { enabled: false, settingsSecret: { name: 'm2-secret-dir', key: 'settings.xml' } },
    gradle: { enabled: false, propertiesSecret: { name: 'gradle-secret-dir', key: 'gradle.properties' } },
    sbt: { enabled: false, credentialsSecret: { name: 'sbt-secret-dir', key: '.credentials' } },
  },
  resourceModel: resourceModel,
  // The fleet's monitoring block gives the defaults; profiles and instances override
  // `enabled` and `prometheus` (docs/monitoring.md).
  local mon = std.get(fleet, 'monitoring', {}),
  monitoring: {
    enabled: std.get(mon, 'enabled', false),
    prometheus: u.merge(prometheusDefaults, std.get(mon, 'prometheus', {})),
  },
};

local accumulated(layers, path) = std.flattenArrays([u.get(l, path, []) for l in layers]);

local pluginId(p) = std.split(p, ':')[0];

{
  // Everything that depends on the fleet only; pass the result to resolve().
  context(fleet):: {
    fleet: fleet,
    profiles: { [p.name]: p for p in std.get(fleet, 'profiles', []) },
    base: defaultLayer(fleet, u.merge(quota.defaults, std.get(fleet, 'resourceModel', {}))),
  },

  resolve(ctx, inst, profileNames)::
    local fleet = ctx.fleet;
    local own = { [k]: inst.data[k] for k in std.objectFields(inst.data) if k != 'project' };
    local layers = [ctx.base] + [ctx.profiles[n].set for n in profileNames] + [own];
    local m = std.foldl(u.merge, layers[1:], ctx.base);
    local d = fleet.defaults;
    local p = inst.data.project;

    local fullName = p.fullName;
    local shortName = std.get(p, 'shortName', u.lastSegment(fullName));
    local P = std.get(p, 'resourcePacks', 1);
    local staticAgents = u.uniqueBy(accumulated(layers, ['agents', 'static']), function(a) a.name);
    local S = u.get(m, ['jenkins', 'staticAgentCount'], std.length(staticAgents));
    local C = u.get(m, ['jenkins', 'maxConcurrency'], 2 * P);
    local res = quota.compute(m.resourceModel, P, C, S);

    local requested = m.jenkins.version;
    local version = if requested == 'latest' then fleet.controllers.latest else requested;
    local catalog = fleet.controllers.versions[version];
    local monitored = m.monitoring.enabled;
    // Monitoring needs the Prometheus plugin: it comes first so a catalog or instance pin wins.
    local plugins = u.uniqueBy(
      [{ id: pluginId(x), spec: x } for x in (if monitored then ['prometheus'] else [])
                                               + std.get(catalog, 'plugins', []) + accumulated(layers, ['jenkins', 'plugins'])],
      function(x) x.id
    );

    local prefixRule = std.get(d, 'pathPrefix', 'shortName');
    local prefix = u.get(m, ['deployment', 'prefix'], if prefixRule == 'shortName' then '/' + shortName else '');
    local namespace = u.get(m, ['deployment', 'namespace'], shortName);
    local host = m.deployment.host;

    local unixGroup = std.get(p, 'unixGroupName', fullName);
    local permissionEntries =
      [{ kind: 'group', name: d.adminGroup, permissions: ['Overall/Administer'] }]
      + (if std.objectHas(d, 'readGroup') then [{ kind: 'group', name: d.readGroup, permissions: std.get(d, 'readPermissions', ['Overall/Read', 'Job/Read']) }] else [])
      + [{ kind: 'group', name: unixGroup, permissions: std.get(d, 'committerPermissions', ['Overall/Read', 'Job/Read', 'Job/Build', 'Job/Cancel', 'Job/Configure', 'Job/Create', 'Job/Delete', 'Run/Replay', 'Run/Update']) }]
      + [
        if std.objectHas(e, 'group') then { kind: 'group', name: e.group, permissions: e.permissions }
        else { kind: 'user', name: e.user, permissions: e.permissions }
        for e in accumulated(layers, ['jenkins', 'permissions'])
      ];
    local permissionKey(e) = e.kind + ':' + e.name;
    local permissions = [
      local same = [e for e in permissionEntries if permissionKey(e) == key];
      { kind: same[0].kind, name: same[0].name, permissions: std.set(std.flattenArrays([e.permissions for e in same])) }
      for key in std.set([permissionKey(e) for e in permissionEntries])
    ];

    local agentResources(t) =
      local r = std.get(t, 'resources', {});
      local cpu = std.get(r, 'cpu', {});
      local memory = std.get(r, 'memory', {});
      {
        cpu: {
          request: if std.objectHas(cpu, 'request') then u.cpuMillis(cpu.request) else res.agent.cpu.request,
          limit: if std.objectHas(cpu, 'limit') then u.cpuMillis(cpu.limit) else res.agent.cpu.limit,
        },
        memory: {
          request: if std.objectHas(memory, 'request') then u.memoryMiB(memory.request) else res.agent.memory.request,
          limit: if std.objectHas(memory, 'limit') then u.memoryMiB(memory.limit) else res.agent.memory.limit,
        },
      };
    local basic = { name: 'basic', labels: ['basic'], image: d.agentImage, mode: 'NORMAL' };
    local templates = u.uniqueBy([basic] + accumulated(layers, ['agents', 'podTemplates']), function(t) t.name);

    {
      project: {
        fullName: fullName,
        shortName: shortName,
        displayName: p.displayName,
        resourcePacks: P,
        unixGroupName: unixGroup,
        [if std.objectHas(p, 'packsApproval') then 'packsApproval']: p.packsApproval,
      },
      profiles: profileNames,
      jenkins: {
        requestedVersion: requested,
        version: version,
        baseImage: catalog.image,
        // Our image: <imageRepository>/<fullName>:<version>-<content hash>; the hash of image/Dockerfile and
        // image/plugins.txt is added once they are rendered (generator/produce.py), so that a new plugin
        // set is a new tag. Without an imageRepository the base image runs as it is.
        imageName: if std.objectHas(d, 'imageRepository') then d.imageRepository + '/' + fullName else null,
        image: if std.objectHas(d, 'imageRepository') then d.imageRepository + '/' + fullName + ':' + version else catalog.image,
        maxConcurrency: C,
        staticAgentCount: S,
        agentConnectionTimeout: m.jenkins.agentConnectionTimeout,
        timezone: m.jenkins.timezone,
        theme: m.jenkins.theme,
        systemMessage: std.get(m.jenkins, 'systemMessage', 'Welcome to the ' + p.displayName + ' Jenkins instance.'),
        adminEmail: m.jenkins.adminEmail,
        // The requests as written; the pinned closure (installedPlugins, pluginProvenance, ...)
        // is added to the model by generator/model.py, from generator/plugins.py.
        plugins: [x.spec for x in plugins],
        permissions: permissions,
      },
      deployment: {
        cluster: m.deployment.cluster,
        host: host,
        prefix: prefix,
        namespace: namespace,
        url: 'https://' + host + prefix,
        serviceHost: 'jenkins-ui.' + namespace + '.svc.cluster.local',
        tunnel: 'jenkins-discovery.' + namespace + '.svc.cluster.local:50000',
        [if u.get(m, ['deployment', 'seLinuxLevel']) != null then 'seLinuxLevel']: m.deployment.seLinuxLevel,
      },
      storage: m.storage,
      ldap: d.ldap,
      resourceModel: m.resourceModel,
      resources: res,
      agents: {
        podTemplates: [
          {
            name: t.name,
            labels: std.get(t, 'labels', [t.name]),
            image: t.image,
            mode: std.get(t, 'mode', 'EXCLUSIVE'),
            resources: agentResources(t),
          }
          for t in templates
        ],
        static: [
          {
            name: a.name,
            labels: std.get(a, 'labels', []),
            remoteFS: std.get(a, 'remoteFS', '/home/jenkins'),
            executors: std.get(a, 'executors', 1),
            description: std.get(a, 'description', ''),
          }
          for a in staticAgents
        ],
      },
      buildTools: m.buildTools,
      monitoring: if !monitored then { enabled: false } else {
        local fm = std.get(fleet, 'monitoring', {}),
        enabled: true,
        scrape: std.get(fm, 'scrape', 'serviceMonitor'),
        scrapeInterval: std.get(fm, 'scrapeInterval', '60s'),
        serviceMonitorLabels: std.get(fm, 'serviceMonitorLabels', {}),
        // What Prometheus requests on the controller pod (the container port 'http', 8080).
        metricsPath: prefix + '/' + m.monitoring.prometheus.path + '/',
        prometheus: m.monitoring.prometheus,
      },
      labels: {
        'app.kubernetes.io/name': 'jenkins',
        'app.kubernetes.io/instance': shortName,
        'app.kubernetes.io/managed-by': 'jenkins-fleet',
        'app.kubernetes.io/part-of': std.get(fleet, 'name', 'jenkins-fleet'),
        'jenkins-fleet.io/project': fullName,
      },
      selector: {
        'app.kubernetes.io/name': 'jenkins',
        'app.kubernetes.io/instance': shortName,
      },
    },
}
