// Resolve one instance: fleet defaults, then matching profiles in order, then
// the instance file. Maps deep-merge and lists replace, except plugins,
// permissions and pod templates, which accumulate across the layers.
local quota = import 'quota.libsonnet';
local u = import 'util.libsonnet';

// The Prometheus plugin settings when fleet.yaml says nothing.
local prometheusDefaults = {
  path: 'prometheus',
  collectingMetricsPeriodInSeconds: 60,
  defaultNamespace: 'default',
};
// The metrics disabled unless a layer lists its own: the per-job build series (one per job and
// quantile), the bulk of a controller's cardinality. The plugin names its own series
// <defaultNamespace>_jenkins_... (or jenkins_... with an empty namespace) and matches the
// entries against the full name (prometheus-plugin MetricStatusChecker).
local defaultDisabledMetrics(namespace) =
  local p = if namespace == '' then '' else namespace + '_';
  [
    { regex: p + 'jenkins_builds_last_.*' },
    { regex: p + 'jenkins_builds_.*_summary' },
    { name: p + 'jenkins_builds_health_score' },
    { name: p + 'jenkins_builds_discard_active' },
    { name: p + 'jenkins_builds_available_builds_count' },
  ];

// Plugins that the JCasC of fleet.yaml's `security` settings needs, per setting.
local securityPlugins = {
  buildsRunAs: 'authorize-project',
  sshdPort: 'sshd',
  gitHostKeys: 'git-client',
};

// The settings fleet.yaml's `defaults` gives every instance: the model's section and field, the key
// under `defaults`, and the value without it (`unit` or `meaning`: how `fleet explain` words it).
// host and cluster are required in fleet.yaml; adminEmail is derived from the host without it.
local fleetDefaults = [
  { section: 'jenkins', field: 'timezone', key: 'timezone', builtIn: 'UTC' },
  { section: 'jenkins', field: 'theme', key: 'theme', builtIn: 'dark' },
  { section: 'jenkins', field: 'agentConnectionTimeout', key: 'agentConnectionTimeout', builtIn: 180, unit: 'seconds' },
  { section: 'jenkins', field: 'adminEmail', key: 'adminEmail' },
  { section: 'deployment', field: 'host', key: 'host' },
  { section: 'deployment', field: 'cluster', key: 'cluster' },
  {
    section: 'storage',
    field: 'storageClassName',
    key: 'storageClassName',
    builtIn: '',
    meaning: "the cluster's default class",
  },
  { section: 'storage', field: 'size', key: 'storageSize', builtIn: '50Gi' },
];
local defaultVersion = 'latest';
local defaultPacks = 1;
local buildsPerPack = 2;  // maxConcurrency without a setting: two parallel builds per pack
local adminEmail(host) = 'jenkins@' + host;
local welcome(displayName) = 'Welcome to the ' + displayName + ' Jenkins instance.';
local shown(x) = std.toString(x);

// Computed once per fleet and shared by every instance of the evaluation.
local defaultLayer(fleet, resourceModel) = {
  local d = fleet.defaults,
  [section]: {
    [e.field]: if std.objectHas(d, e.key) then d[e.key] else e.builtIn
    for e in fleetDefaults
    if e.section == section && (std.objectHas(d, e.key) || std.objectHas(e, 'builtIn'))
  }
  for section in ['jenkins', 'deployment', 'storage']
} + {
  local d = fleet.defaults,
  jenkins+: { version: defaultVersion, adminEmail: std.get(d, 'adminEmail', adminEmail(d.host)) },
  storage+: { claimTemplateName: 'jenkins-home' },
  // No default Secret: a build tool names the Secret it mounts (checks.py refuses one that does
  // not), because agent pods never start while a mounted Secret is missing (docs/agents.md).
  buildTools: {
    maven: { enabled: false },
    gradle: { enabled: false },
    sbt: { enabled: false },
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

// What each build tool mounts into agent pods (docs/agents.md): the directory it writes in the
// agent's home, and the Secret keys it reads there as single files. The directory is an emptyDir
// of its own because the container runtime creates the parent directories of a file mount as root
// with mode 0755 (runc libcontainer/rootfs_linux.go, createIfNotExists), which the random UID of
// an OpenShift pod could not write; an emptyDir is created with mode 0777 (kubernetes
// pkg/volume/emptydir/empty_dir.go, setupDir).
local agentHome = '/home/jenkins';
// `required`: an enabled tool without this reference is refused (checks.py); `suggested` names
// the Secret in the refusal's hint (Jiro's names for the same files).
local toolFiles = {
  maven: { dir: '.m2', files: [
    { ref: 'settingsSecret', file: 'settings.xml', volume: 'maven-settings', required: true, suggested: 'm2-secret-dir' },
    { ref: 'settingsSecuritySecret', file: 'settings-security.xml', volume: 'maven-settings-security', required: false },
  ] },
  gradle: { dir: '.gradle', files: [
    { ref: 'propertiesSecret', file: 'gradle.properties', volume: 'gradle-properties', required: true, suggested: 'gradle-secret-dir' },
  ] },
  sbt: { dir: '.sbt', files: [
    { ref: 'credentialsSecret', file: '.credentials', volume: 'sbt-credentials', required: true, suggested: 'sbt-secret-dir' },
  ] },
};
local enabledTools(buildTools) = [t for t in std.objectFields(toolFiles) if u.get(buildTools, [t, 'enabled'], false)];

local pluginId(p) = std.splitLimit(p, ':', 1)[0];  // not std.split: 5x slower
// Plugin requests ('id' or 'id:version') keyed by id, the last request of an id winning.
local specsById(specs) = { [e.id]: e.spec for e in u.uniqueBy([{ id: pluginId(x), spec: x } for x in specs], function(e) e.id) };

{
  // Everything that depends on the fleet only; pass the result to resolve().
  context(fleet):: {
    fleet: fleet,
    profiles: { [p.name]: p for p in std.get(fleet, 'profiles', []) },
    base: defaultLayer(fleet, u.merge(quota.defaults, std.get(fleet, 'resourceModel', {}))),
    catalogPlugins: { [v]: specsById(std.get(fleet.controllers.versions[v], 'plugins', [])) for v in std.objectFields(fleet.controllers.versions) },
    local d = fleet.defaults,
    // std.set per fleet rather than per instance: sorting is slow in Jsonnet.
    permissions: {
      fleet: [{ kind: 'group', name: d.adminGroup, permissions: ['Overall/Administer'] }]
             + (if std.objectHas(d, 'readGroup') then [{ kind: 'group', name: d.readGroup, permissions: std.set(std.get(d, 'readPermissions', ['Overall/Read', 'Job/Read'])) }] else []),
      committers: std.set(std.get(d, 'committerPermissions', ['Overall/Read', 'Job/Read', 'Job/Build', 'Job/Cancel', 'Job/Configure', 'Job/Create', 'Job/Delete', 'Run/Replay', 'Run/Update'])),
    },
  },

  resolve(ctx, inst, profileNames)::
    // One local with many bindings, not one local each: every nested local copies the variables
    // in scope, a cost paid on each call (go-jsonnet; about a tenth of the model's time).
    local fleet = ctx.fleet,
          own = { [k]: inst.data[k] for k in std.objectFields(inst.data) if k != 'project' },
          above = [ctx.profiles[n].set for n in profileNames] + [own],
          layers = [ctx.base] + above,
          m = std.foldl(u.merge, above, ctx.base),
          d = fleet.defaults,
          p = inst.data.project,

          fullName = p.fullName,
          shortName = std.get(p, 'shortName', u.lastSegment(fullName)),
          P = std.get(p, 'resourcePacks', defaultPacks),
          staticAgents = u.uniqueBy(accumulated(layers, ['agents', 'static']), function(a) a.name),
          // the base layer has every section: one level to look up
          S = std.get(m.jenkins, 'staticAgentCount', std.length(staticAgents)),
          C = std.get(m.jenkins, 'maxConcurrency', buildsPerPack * P),
          res = quota.compute(m.resourceModel, P, C, S),

          requested = m.jenkins.version,
          version = if requested == 'latest' then fleet.controllers.latest else requested,
          catalog = fleet.controllers.versions[version],
          monitored = m.monitoring.enabled,
          security = std.get(fleet, 'security', {}),
          // Monitoring needs the Prometheus plugin, the security settings theirs: they come first so
          // a catalog or instance pin wins.
          // id -> spec, later entries winning: the catalog's list is keyed once per fleet (context()),
          // so an instance pays only for its own few entries (a catalog of 50 plugins cost 1.5 ms
          // per instance keyed here).
          plugins = specsById((if monitored then ['prometheus'] else [])
                              + [securityPlugins[k] for k in std.objectFields(security) if std.objectHas(securityPlugins, k)])
                    + ctx.catalogPlugins[version]
                    + specsById(accumulated(layers, ['jenkins', 'plugins'])),

          prefixRule = std.get(d, 'pathPrefix', 'shortName'),
          prefix = std.get(m.deployment, 'prefix', if prefixRule == 'shortName' then '/' + shortName else ''),
          namespace = std.get(m.deployment, 'namespace', shortName),
          host = m.deployment.host,

          unixGroup = std.get(p, 'unixGroupName', fullName),
          // The fleet's entries come with their permissions sorted (context()); an entry alone under
          // its key keeps them as they are.
          permissionEntries =
      ctx.permissions.fleet
      + [{ kind: 'group', name: unixGroup, permissions: ctx.permissions.committers }]
      + [
        if std.objectHas(e, 'group') then { kind: 'group', name: e.group, permissions: std.set(e.permissions) }
        else { kind: 'user', name: e.user, permissions: std.set(e.permissions) }
        for e in accumulated(layers, ['jenkins', 'permissions'])
      ],
          permissionKey(e) = e.kind + ':' + e.name,
          permissions = [
      local same = [e for e in permissionEntries if permissionKey(e) == key];
      if std.length(same) == 1 then same[0]
      else { kind: same[0].kind, name: same[0].name, permissions: std.set(std.flattenArrays([e.permissions for e in same])) }
      for key in std.set([permissionKey(e) for e in permissionEntries])
    ],

          agentResources(t) =
      local r = std.get(t, 'resources', {}),
            cpu = std.get(r, 'cpu', {}),
            memory = std.get(r, 'memory', {});
      {
        cpu: {
          request: if std.objectHas(cpu, 'request') then u.schemaCpuMillis(cpu.request) else res.agent.cpu.request,
          limit: if std.objectHas(cpu, 'limit') then u.schemaCpuMillis(cpu.limit) else res.agent.cpu.limit,
        },
        memory: {
          request: if std.objectHas(memory, 'request') then u.schemaMemoryMiB(memory.request)
          else res.agent.memory.request,
          limit: if std.objectHas(memory, 'limit') then u.schemaMemoryMiB(memory.limit) else res.agent.memory.limit,
        },
      },
          basic = { name: 'basic', labels: ['basic'], image: d.agentImage, mode: 'NORMAL' },
          templates = u.uniqueBy([basic] + accumulated(layers, ['agents', 'podTemplates']), function(t) t.name),
          tools = enabledTools(m.buildTools);

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
        systemMessage: std.get(m.jenkins, 'systemMessage', welcome(p.displayName)),
        adminEmail: m.jenkins.adminEmail,
        // The requests as written; the pinned closure (installedPlugins, pluginProvenance, ...)
        // is added to the model by generator/model.py, from generator/plugins.py.
        plugins: [plugins[id] for id in std.objectFields(plugins)],
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
        [if std.get(m.deployment, 'seLinuxLevel') != null then 'seLinuxLevel']: m.deployment.seLinuxLevel,
        // Names that hold state (docs/importing-from-jiro.md): the home volume's claim is
        // <storage.claimTemplateName>-<statefulSetName>-0.
        statefulSetName: std.get(m.deployment, 'statefulSetName', 'jenkins'),
        routeName: std.get(m.deployment, 'routeName', 'jenkins'),
      },
      storage: m.storage,
      ldap: {
        [k]: d.ldap[k]
        for k in std.objectFields(d.ldap)
        if !std.member(['managerPasswordEnv', 'managerPasswordSecret'], k)
      } + (
        // The bind password of managerDN: a Secret key the controller reads into an environment
        // variable, which JCasC resolves (configuration-as-code EnvSecretSource).
        if std.objectHas(d.ldap, 'managerDN') then {
          managerPassword: {
            env: std.get(d.ldap, 'managerPasswordEnv', 'LDAP_MANAGER_PASSWORD'),
            secret: std.get(d.ldap, 'managerPasswordSecret', { name: 'jenkins-ldap', key: 'manager-password' }),
          },
        } else {}
      ),
      resourceModel: m.resourceModel,
      resources: res,
      agents: {
        // Agents' own identity, without the controller's rights over pods (rbac.libsonnet).
        serviceAccount: 'jenkins-agent',
        home: agentHome,
        // Writable directories of every agent pod: the home, and each enabled tool's directory.
        emptyDirs: [agentHome] + [agentHome + '/' + toolFiles[t].dir for t in tools],
        // Secret keys mounted as single files; a reference a tool lacks is an error of
        // checks.py, not a mount.
        secretFiles: [
          {
            volume: f.volume,
            secret: m.buildTools[t][f.ref],
            path: agentHome + '/' + toolFiles[t].dir + '/' + f.file,
          }
          for t in tools
          for f in toolFiles[t].files
          if std.objectHas(m.buildTools[t], f.ref)
        ],
        missingSecrets: [
          { tool: t, ref: f.ref, file: toolFiles[t].dir + '/' + f.file, suggested: f.suggested }
          for t in tools
          for f in toolFiles[t].files
          if f.required && !std.objectHas(m.buildTools[t], f.ref)
        ],
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
      [if std.length(security) > 0 then 'security']: security,
      monitoring: if !monitored then { enabled: false } else {
        local fm = std.get(fleet, 'monitoring', {}),
        enabled: true,
        scrape: std.get(fm, 'scrape', 'serviceMonitor'),
        scrapeInterval: std.get(fm, 'scrapeInterval', '60s'),
        serviceMonitorLabels: std.get(fm, 'serviceMonitorLabels', {}),
        // What Prometheus requests on the controller pod (the container port 'http', 8080).
        metricsPath: prefix + '/' + m.monitoring.prometheus.path + '/',
        local prom = m.monitoring.prometheus,
        prometheus: prom + (if std.objectHas(prom, 'disabledMetrics') then {}
                            else { disabledMetrics: defaultDisabledMetrics(prom.defaultNamespace) }),
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
      // What `fleet explain` shows beside each value that no profile or instance file sets (hidden:
      // only the explain view of templates/fleet.jsonnet reads it). Paths are the model's, dotted;
      // `from` is the fleet.yaml key a derived value comes from, for its line.
      explain:: {
        // The fleet.yaml key that sets a value for every instance; whole sections keep their shape.
        fleetKeys: { [e.section + '.' + e.field]: 'defaults.' + e.key for e in fleetDefaults },
        fleetSections: { resourceModel: 'resourceModel', monitoring: 'monitoring', ldap: 'defaults.ldap' },
        builtIn: {
          [e.section + '.' + e.field]: if std.objectHas(e, 'meaning') then e.meaning
          else shown(e.builtIn) + (if std.objectHas(e, 'unit') then ' ' + e.unit else '')
          for e in fleetDefaults
          if std.objectHas(e, 'builtIn')
        } + {
          'jenkins.requestedVersion': defaultVersion,
          'project.resourcePacks': shown(defaultPacks) + ' pack',
        },
        local imageRepository = if std.objectHas(d, 'imageRepository') then ['defaults', 'imageRepository'],
        derived: {
          'project.shortName': { note: 'the last segment of fullName' },
          'project.unixGroupName': { note: 'fullName' },
          'jenkins.maxConcurrency': { note: '%s x resourcePacks = %s x %s' % [buildsPerPack, buildsPerPack, P] },
          'jenkins.staticAgentCount': { note: 'the number of agents.static (%s)' % std.length(staticAgents) },
          'jenkins.version': if requested == defaultVersion
          then { note: "'%s' is controllers.latest" % defaultVersion, from: ['controllers', 'latest'] }
          else { note: 'the requested version' },
          'jenkins.baseImage': {
            note: "the image of controllers.versions['%s']" % version,
            from: ['controllers', 'versions', version, 'image'],
          },
          'jenkins.image': if imageRepository != null then {
            note: 'defaults.imageRepository/<fullName>:<version>-<hash of image/Dockerfile and image/plugins.txt>',
            from: imageRepository,
          } else { note: 'the base image' },
          'jenkins.imageName': if imageRepository != null
          then { note: 'defaults.imageRepository/<fullName>', from: imageRepository }
          else { note: 'no defaults.imageRepository: the base image runs as it is' },
          'jenkins.systemMessage': { note: "'%s'" % welcome('<displayName>') },
          [if !std.objectHas(d, 'adminEmail') then 'jenkins.adminEmail']: { note: adminEmail('<defaults.host>') },
          'deployment.prefix': {
            note: "defaults.pathPrefix is '%s'" % prefixRule,
            [if std.objectHas(d, 'pathPrefix') then 'from']: ['defaults', 'pathPrefix'],
          },
          'deployment.namespace': { note: 'project.shortName' },
          'deployment.url': { note: 'host, prefix and namespace' },
          'deployment.serviceHost': self['deployment.url'],
          'deployment.tunnel': self['deployment.url'],
          labels: { note: 'from fullName, shortName and the fleet name' },
          selector: self.labels,
        },
        quota: res.steps,
      },
    },
}
