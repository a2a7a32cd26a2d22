// The controller StatefulSet and the ConfigMap that carries its JCasC.
local k = import 'meta.libsonnet';
local u = import '../model/util.libsonnet';
local home = '/var/jenkins_home';
local cascDir = '/etc/jenkins';
{
  configMap(m, jcasc):: {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: k.meta(m, 'jenkins-config'),
    data: { 'jenkins.yaml': jcasc },
  },
  statefulSet(m):: {
    local r = m.resources.controller,
    local probe(initialDelay, period, failures) = {
      httpGet: { path: m.deployment.prefix + '/login', port: 'http', scheme: 'HTTP' },
      initialDelaySeconds: initialDelay,
      periodSeconds: period,
      timeoutSeconds: 10,
      failureThreshold: failures,
    },
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: k.meta(m, 'jenkins'),
    spec: {
      replicas: 1,
      serviceName: 'jenkins-ui',
      selector: { matchLabels: m.selector },
      template: {
        metadata: { labels: m.labels },
        spec: {
          serviceAccountName: 'jenkins',
          terminationGracePeriodSeconds: 1200,
          containers: [{
            name: 'jenkins',
            image: m.jenkins.image,
            imagePullPolicy: 'IfNotPresent',
            env: [
              { name: 'CASC_JENKINS_CONFIG', value: cascDir + '/jenkins.yaml' },
              { name: 'JENKINS_HOME', value: home },
              { name: 'JENKINS_OPTS', value: std.join(' ', (if m.deployment.prefix != '' then ['--prefix=' + m.deployment.prefix] else []) + ['--httpPort=8080']) },
              {
                name: 'JAVA_OPTS',
                value: std.join(' ', [
                  '-XX:+UseContainerSupport',
                  '-XX:MaxRAMPercentage=75.0',
                  '-Duser.timezone=' + m.jenkins.timezone,
                  '-Djenkins.install.runSetupWizard=false',
                  '-Dhudson.model.UsageStatistics.disabled=true',
                  '-Djenkins.model.Jenkins.slaveAgentPort=50000',
                  '-Djenkins.model.Jenkins.slaveAgentPortEnforce=true',
                  '-Dorg.csanchez.jenkins.plugins.kubernetes.PodTemplate.connectionTimeout=' + m.jenkins.agentConnectionTimeout,
                ]),
              },
            ],
            ports: [
              { name: 'http', containerPort: 8080, protocol: 'TCP' },
              { name: 'jnlp', containerPort: 50000, protocol: 'TCP' },
            ],
            resources: {
              requests: { cpu: u.cpu(r.cpu.request), memory: u.mem(r.memory.request) },
              limits: { cpu: u.cpu(r.cpu.limit), memory: u.mem(r.memory.limit) },
            },
            startupProbe: probe(30, 10, 60),
            livenessProbe: probe(0, 30, 5),
            readinessProbe: probe(0, 5, 3),
            [if std.objectHas(m.deployment, 'seLinuxLevel') then 'securityContext']: {
              seLinuxOptions: { level: m.deployment.seLinuxLevel },
            },
            volumeMounts: [
              { name: 'jenkins-home', mountPath: home },
              // An empty plugins directory at every start: jenkins.sh copies in exactly the image's
              // plugins, so removed plugins and upgrades made in the UI do not survive a restart.
              { name: 'plugins', mountPath: home + '/plugins' },
              { name: 'jenkins-config', mountPath: cascDir, readOnly: true },
            ],
          }],
          volumes: [
            { name: 'plugins', emptyDir: {} },
            { name: 'jenkins-config', configMap: { name: 'jenkins-config' } },
          ],
        },
      },
      volumeClaimTemplates: [{
        metadata: { name: 'jenkins-home', labels: m.labels },
        spec: {
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: m.storage.size } },
          [if m.storage.storageClassName != '' then 'storageClassName']: m.storage.storageClassName,
        },
      }],
    },
  },
}
