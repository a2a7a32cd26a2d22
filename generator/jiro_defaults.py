"""What Jiro does by default, restated for the importer: its constants and a
Jsonnet stand-in for its config.libsonnet (which imports two sibling
repositories and cannot be evaluated from a checkout alone)."""

from __future__ import annotations

# --- Jiro's defaults (eclipse-cbi/jiro templates/config.libsonnet and resource-packs.libsonnet, b166ec5a) ----

# The resource-pack constants, in the shape of our resourceModel (docs: quota-model).
JIRO_RESOURCE_MODEL: dict = {
    "packCpuMillis": 2000,
    "packMemoryMiB": 8192,
    "controller": {
        "baseCpuMillis": 250, "maxCpuMillis": 4000, "minCpuLimitMillis": 2000, "cpuBurst": 2,
        "cpuPerAgentMillis": 150, "agentsBeforeExtraCpu": 2,
        "baseMemoryMiB": 1024, "maxMemoryMiB": 8192, "memoryPerAgentMiB": 256,
    },
    "agent": {"maxCpuMillis": 8000, "maxMemoryMiB": 16384, "minCpuLimitMillis": 2000},
    "jnlp": {"cpuMillis": 200, "cpuBurst": 1.5, "memoryMiB": 512},
    "limitRange": {
        "podMinCpuMillis": 200, "podMinMemoryMiB": 8,
        "containerMinCpuMillis": 100, "containerMinMemoryMiB": 16,
        "containerDefaultCpuMillis": 300, "containerDefaultMemoryMiB": 512,
        "containerDefaultRequestCpuMillis": 200, "containerDefaultRequestMemoryMiB": 512,
    },
}
JIRO_COMMITTER_PERMISSIONS = [
    "Agent/Build", "Credentials/View", "Job/Build", "Job/Cancel", "Job/Configure", "Job/Create", "Job/Delete",
    "Job/Move", "Job/Read", "Job/Workspace", "Overall/Read", "Run/Delete", "Run/Replay", "Run/Update", "SCM/Tag",
    "View/Configure", "View/Create", "View/Delete", "View/Read",
]
JIRO_READ_GROUP = "common"
JIRO_READ_PERMISSIONS = ["Overall/Read", "Job/Read", "Job/ExtendedRead"]
JIRO_ADMIN_GROUP = "admins"
JIRO_HOST = "ci.eclipse.org"
JIRO_CLUSTER = "okd-c1"
JIRO_TIMEZONE = "America/Toronto"
JIRO_CONNECTION_TIMEOUT = 180
JIRO_STORAGE_SIZE = "50Gi"  # Jiro's statefulset default when storage.quota is not set
# The names that hold a Jiro controller's state, kept by the import (docs/importing-from-jiro.md):
# the StatefulSet is kubernetes.master.stsName (the stand-in's default: shortName), the Route is
# named after shortName (templates/k8s/route.libsonnet: Kube.Route(config.project.shortName, ...)),
# and the home volume's claim template is this constant. Jiro's committed k8s/statefulset.json
# and route.json, when the checkout has them, win over these rules.
JIRO_HOME_CLAIM_TEMPLATE = "jenkins-home-cephfs"  # instances/*/target/k8s/statefulset.json at b166ec5a
JIRO_ADMIN_EMAIL = "ci-admin@eclipse.org"
JIRO_LDAP = {"server": "ldaps://ldapcluster.eclipse.org", "rootDN": "dc=eclipse,dc=org",
             "userSearch": "mail={0}", "groupSearchBase": "ou=group"}
JIRO_IMAGE_REPOSITORY = "docker.io/eclipsecbijenkins"  # per-instance controller images
JIRO_REPOSITORY = "docker.io/eclipsecbi"  # Jiro's base images and agent images
# Jiro's themes are CSS overrides of the standard UI: quicksilver has a dark header,
# quicksilver-light a light one. Closest built-in Jenkins themes:
JIRO_THEMES = {"quicksilver": "dark", "quicksilver-light": "light"}
# Our JCasC configures appearance.themeManager (theme-manager) and selects the dark theme
# (dark-theme, which depends on theme-manager). Both are requested: an imported fleet has no plugin
# catalog to tell that theme-manager comes with dark-theme, and every controller would warn that its
# JCasC configures a plugin nobody requested (207 warnings a run for Jiro's instances).
THEME_PLUGINS = ("theme-manager", "dark-theme")
# Where a Jiro instance enabled a build tool, its pods mounted these Secret keys.
JIRO_TOOL_SECRETS = {
    "maven": {"settingsSecret": {"name": "m2-secret-dir", "key": "settings.xml"},
              "settingsSecuritySecret": {"name": "m2-secret-dir", "key": "settings-security.xml"}},
    "gradle": {"propertiesSecret": {"name": "gradle-secret-dir", "key": "gradle.properties"}},
    "sbt": {"credentialsSecret": {"name": "sbt-secret-dir", "key": ".credentials"}},
}
JIRO_TOOL_DEFAULTS = {"maven": True, "gradle": False, "sbt": False}

# Used only when the checkout has no committed target/config.json to learn them from.
FALLBACK_LATEST = "2.541.3"
FALLBACK_AGENT_TAG = "remoting-3352.v17a_fb_4b_2773f"
FALLBACK_BASE_PLUGINS = [
    "ant", "antisamy-markup-formatter", "authorize-project", "bouncycastle-api", "build-timeout", "build-discarder",
    "cloudbees-disk-usage-simple", "cloudbees-folder", "command-launcher", "config-file-provider",
    "configuration-as-code", "credentials-binding", "email-ext", "extended-read-permission", "external-monitor-job",
    "extra-columns", "ghprb", "git", "git-parameter", "github", "github-branch-source", "gitlab-plugin",
    "gitlab-branch-source", "hashicorp-vault-plugin", "jdk-tool", "jobConfigHistory", "kubernetes", "ldap",
    "mailer", "matrix-auth", "maven-plugin", "pam-auth", "parameterized-trigger", "pipeline-maven",
    "pipeline-stage-view", "pipeline-graph-view", "plugin-usage-plugin", "prometheus", "promoted-builds",
    "rebuild", "simple-theme-plugin", "sonar", "ssh-agent", "ssh-slaves", "timestamper", "warnings-ng",
    "workflow-aggregator", "ws-cleanup", "xvnc",
]

# Jiro features that no instance setting expresses; listed once per import (details in DOCS).
FLEET_NOT_IMPORTED = [
    ("Jiro's CSS themes (quicksilver*.css, title.js, web font): 'quicksilver' became the built-in dark theme, "
    "'quicksilver-light' the light one"),
    ("Secrets Jiro generates from its password store (m2-secret-dir, gradle-secret-dir, sbt-secret-dir, "
    "docker pull secrets, Gerrit SSH keys): pod templates mount the existing Secrets by the same names; "
    "keep them in each namespace"),
    ("agent pod details: the m2-dir ConfigMap (toolchains.xml, .mavenrc), known-hosts ConfigMap, /opt/tools "
    "volume, emptyDir caches, JENKINS_REMOTING_JAVA_OPTS and OpenJ9 options"),
    ("controller details: Jiro's JAVA_OPTS, probes, node affinity, git-cache volume, imagePullPolicy Always, "
    "PLUGINS_FORCE_UPGRADE, SELinux type spc_t (only the level is imported)"),
    ("Jiro's generated JCasC beyond the modelled settings (tool installations, markup formatter, GitHub/GitLab "
    "servers, empty system message); the hand-written jenkins/configuration.yml is kept as jenkins.yaml, and "
    "the security and Prometheus settings are imported or reported per instance"),
]

# The stand-in for Jiro's templates/config.libsonnet (see the module docstring). `jiro` is
# an external variable holding the constants above, so Python and Jsonnet share one copy.
STAND_IN_NAME = "<jiro-import>/jiro-defaults.libsonnet"
STAND_IN = r"""
local jiro = std.extVar('jiro');
local k = jiro.constants;
// Jiro's own per-project extras, from the checkout when it has them (else empty).
local plugins = import 'jiro-import:plugins.libsonnet';
local permissionsExtra = import 'jiro-import:permissions_extra.libsonnet';
{
  project: {
    fullName: error 'project.fullName is not set',
    displayName: error 'project.displayName is not set',
    shortName: local parts = std.split(self.fullName, '.'); parts[std.length(parts) - 1],
    unixGroupName: $.project.fullName,
    resourcePacks: 1,
  },
  jenkins: {
    version: 'latest',
    maxConcurrency: 2 * $.project.resourcePacks,
    staticAgentCount: 0,
    agentConnectionTimeout: jiro.connectionTimeout,
    timezone: jiro.timezone,
    theme: 'quicksilver',
    pluginsForceUpgrade: true,
    plugins: plugins.additionalPlugins($.project.fullName),
    permissions: [
      { group: { name: jiro.readGroup, permissions: jiro.readPermissions } },
      { group: { name: jiro.adminGroup, permissions: ['Overall/Administer'] } },
      { group: { name: $.project.unixGroupName, permissions: jiro.committerPermissions
        + (if std.member($.jenkins.plugins, 'gerrit-trigger')
           then ['Gerrit/ManualTrigger', 'Gerrit/Retrigger'] else []) } },
    ] + permissionsExtra.additionalPermissions($.project.fullName),
  },
  deployment: {
    host: jiro.host,
    prefix: '/' + $.project.shortName,
    url: 'https://' + self.host + self.prefix,
    uiPort: 8080,
    jnlpPort: 50000,
    controlPort: 8081,
    cluster: jiro.cluster,
  },
  kubernetes: {
    master: {
      defaultJnlpAgentLabel: 'basic',
      namespace: $.project.shortName,
      stsName: $.project.shortName,
    },
    agents: {
      namespace: $.kubernetes.master.namespace,
      defaultResources: {
        local share(x) = std.floor(x * $.project.resourcePacks / $.jenkins.maxConcurrency),
        cpu: {
          request: '%dm' % std.min(k.agent.maxCpuMillis, share(k.packCpuMillis)),
          limit: '%dm' % std.min(k.agent.maxCpuMillis,
                                 std.max(share(k.packCpuMillis) + std.floor(k.jnlp.cpuMillis * k.jnlp.cpuBurst),
                                         k.agent.minCpuLimitMillis)),
        },
        memory: {
          limit: '%dMi' % std.min(k.agent.maxMemoryMiB, share(k.packMemoryMiB)),
          request: self.limit,
        },
      },
    },
  },
  agentTemplate(name, image, labels, mode):: {
    name: name,
    labels: labels,
    mode: mode,
    docker: { registry: 'docker.io', repository: 'eclipsecbi', image: image, tag: jiro.agentTag },
    env: {
      JAVA_TOOL_OPTIONS: [],
      JENKINS_REMOTING_JAVA_OPTS: ['-showversion', '-XshowSettings:vm', '-Xmx256m',
                                   '-Dorg.jenkinsci.remoting.engine.JnlpProtocol3.disabled=true',
                                   '-Dorg.jenkinsci.plugins.gitclient.CliGitAPIImpl.useSETSID=true'],
      OPENJ9_JAVA_OPTIONS: ['-XX:+IgnoreUnrecognizedVMOptions', '-XX:+IdleTuningCompactOnIdle',
                            '-XX:+IdleTuningGcOnIdle'],
      _JAVA_OPTIONS: [],
    },
    home: '/home/jenkins',
    username: 'jenkins',
    maxHeap: '256m',
    kubernetes: { resources: $.kubernetes.agents.defaultResources },
  },
  clouds: {
    kubernetes: {
      kind: 'kubernetes',
      namespace: $.kubernetes.agents.namespace,
      podRetention: 'never',
      templates: {
        basic: $.agentTemplate('basic', 'jiro-agent-basic-ubuntu', ['basic', 'basic-ubuntu'], 'NORMAL'),
        'ubuntu-2204': $.agentTemplate('ubuntu-2204', 'jiro-agent-ubuntu-2204', ['ubuntu-2204'], 'EXCLUSIVE'),
        'ubuntu-2404': $.agentTemplate('ubuntu-2404', 'jiro-agent-ubuntu-2404',
                                       ['ubuntu-latest', 'ubuntu-2404', 'migration', 'jipp-migration',
                                        'centos-7', 'centos-8', 'centos-latest'], 'EXCLUSIVE'),
      },
    },
  },
  maven: {
    generate: true,
    interactiveMode: false,
    showVersion: !std.startsWith($.project.fullName, 'ee4j'),
    transferListenerLogLevel: 'warn',
    mavenrc: '',
    local bots = 'bots/' + $.project.fullName,
    files: {
      'settings.xml': {
        color: 'always',
        mirrors: { 'eclipse.maven.central.mirror': { name: 'Eclipse Central Proxy', mirrorOf: 'central',
                                                      url: 'https://repo.eclipse.org/repository/maven-central/' } },
        profiles: {},
        servers: {
          central: { username: { pass: bots + '/central.sonatype.org/token-username' },
                     password: { pass: bots + '/central.sonatype.org/token-password' } },
          'central.staging': self.central,
          'gpg.passphrase': { passphrase: { pass: bots + '/gpg/passphrase' } },
          local repo = $.project.fullName + '/repo.eclipse.org',
          'repo.eclipse.org': { username: { sm: { path: repo, key: 'token-username' } },
                                password: { sm: { path: repo, key: 'token-password' } } },
        },
      },
      'settings-security.xml': { master: { pass: bots + '/apache-maven-security-settings' } },
    },
  },
  gradle: {
    generate: false,
    files: { 'gradle.properties': { eclipseRepoUsername: { pass: 'nexus/username' },
                                    eclipseRepoPassword: { pass: 'nexus/password' } } },
  },
  sbt: {
    generate: false,
    files: { '.credentials': { realm: 'Sonatype Nexus Repository Manager', host: 'repo.eclipse.org',
                               user: { pass: 'nexus/username' }, password: { pass: 'nexus/password' } } },
  },
}
"""

# `merged`: what Jiro resolves for the instance. `base`: the defaults plus only the inputs
# we map, so derived values (URL, namespaces, agent resources, default permissions) agree.
EVAL_SNIPPET = r"""
local defaults = import '%(stand_in)s';
local config = import 'config.jsonnet';
local merged = defaults + config;
local get(o, path, d) =
  if std.length(path) == 0 then o
  else if std.isObject(o) && std.objectHas(o, path[0]) then get(o[path[0]], path[1:], d)
  else d;
local pick(o, keys) = if std.isObject(o) then { [k]: o[k] for k in keys if std.objectHas(o, k) } else {};
{
  merged: merged,
  base: defaults + {
    project: pick(get(merged, ['project'], {}),
                  ['fullName', 'displayName', 'shortName', 'unixGroupName', 'resourcePacks']),
    jenkins+: pick(get(merged, ['jenkins'], {}), ['plugins', 'maxConcurrency', 'staticAgentCount']),
    deployment+: pick(get(merged, ['deployment'], {}), ['host', 'prefix', 'cluster']),
    kubernetes+: { master+: pick(get(merged, ['kubernetes', 'master'], {}), ['namespace']) },
  },
}
"""

# Jiro paths that a mapping rule below handles (and reports on itself).
CONSUMED = [
    ("project",),
    ("jenkins", "version"), ("jenkins", "maxConcurrency"), ("jenkins", "staticAgentCount"),
    ("jenkins", "agentConnectionTimeout"), ("jenkins", "timezone"), ("jenkins", "theme"),
    ("jenkins", "plugins"), ("jenkins", "permissions"),
    ("deployment", "host"), ("deployment", "prefix"), ("deployment", "cluster"),
    ("kubernetes", "master", "namespace"), ("kubernetes", "master", "stsName"),
    ("storage",), ("seLinuxLevel",),
    ("maven", "generate"), ("gradle", "generate"), ("sbt", "generate"),
    ("clouds", "kubernetes", "templates"),
]

# Values compared with Jiro's committed output (target/config.json), when there is one.
CROSS_CHECK = [
    ("project", "resourcePacks"), ("jenkins", "maxConcurrency"), ("jenkins", "staticAgentCount"),
    ("jenkins", "plugins"), ("jenkins", "permissions"), ("deployment", "host"), ("deployment", "prefix"),
]

# Why an unconsumed Jiro setting has no equivalent: first matching path prefix wins.
REASONS = [
    (("maven", "files"), ("Maven settings are generated by Jiro from its password store; pods mount the existing "
                         "Secret m2-secret-dir: update that Secret (or set buildTools.maven.settingsSecret)")),
    (("gradle", "files"), ("gradle.properties is generated by Jiro from its password store; pods mount the "
                          "existing Secret gradle-secret-dir")),
    (("sbt", "files"), ("sbt credentials are generated by Jiro from its password store; pods mount the existing "
                       "Secret sbt-secret-dir")),
    (("maven",), "Maven client options (.mavenrc) are not modelled"),
    (("gerrit",), ("Gerrit sites (SSH keys, known hosts) are not modelled; configure the Gerrit trigger in "
                  "jenkins.yaml and keep the key Secrets")),
    (("secrets",), "Jiro-managed Secrets are not modelled; they stay in the namespace"),
    (("kubernetes", "master", "resources"), ("controller resources follow the resource packs; express the "
                                            "difference with resourcePacks, maxConcurrency or resourceModel")),
    (("kubernetes", "agents", "defaultResources"), "agent resources follow the resource packs"),
    (("kubernetes",), "this Kubernetes setting is not modelled"),
    (("deployment",), "not modelled: the URL and ports follow host and prefix"),
    (("jenkins", "pluginsForceUpgrade"), "not modelled: plugins come with the controller image"),
    (("accessControl",), "the bot user and Unix groups are managed outside jenkins-fleet"),
    (("docker",), "controller images come from controllers and imageRepository in fleet.yaml"),
    (("jiroMaster",), "controller images come from controllers in fleet.yaml"),
    (("clouds",), "only pod templates are imported from the Kubernetes cloud"),
]
TEMPLATE_REASON = "pod templates carry only name, labels, image, mode and resources"
KNOWN_FILES = {"config.jsonnet", "jiro.jsonnet", "jenkins/configuration.yml"}
STANDARD_WRAPPER = 'localjiro=import"../../templates/jiro.libsonnet";jiro+{"config.json"+:import"config.jsonnet"}'
