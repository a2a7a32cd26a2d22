// The controller StatefulSet and the ConfigMap that carries its JCasC.
local u = import '../model/util.libsonnet';
local k = import 'meta.libsonnet';
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
    // The name and the claim template's name hold the controller's data: the pod is
    // <statefulSetName>-0 and mounts the claim <claimTemplateName>-<statefulSetName>-0.
    metadata: k.meta(m, m.deployment.statefulSetName),
    spec: {
      replicas: 1,
      serviceName: 'jenkins-ui',
      selector: { matchLabels: m.selector },
      template: {
        metadata: { labels: m.labels },
        spec: {
          serviceAccountName: 'jenkins',
          terminationGracePeriodSeconds: 1200,
          // Pod level, so that the volumes are labelled with it too. restricted-v2's SELinux
          // strategy is MustRunAs: the level must equal the namespace's openshift.io/sa.scc.mcs
          // annotation, which namespace.libsonnet sets to the same value (docs/agents.md).
          [if std.objectHas(m.deployment, 'seLinuxLevel') then 'securityContext']: {
            seLinuxOptions: { level: m.deployment.seLinuxLevel },
          },
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
            ] + (
              // The LDAP bind password, from a Secret the fleet names (fleet.yaml ldap.managerPasswordSecret);
              // the JCasC refers to the variable only. A missing Secret stops the container with
              // CreateContainerConfigError instead of binding without a password.
              if std.objectHas(m.ldap, 'managerPassword') then [{
                name: m.ldap.managerPassword.env,
                valueFrom: { secretKeyRef: { name: m.ldap.managerPassword.secret.name, key: m.ldap.managerPassword.secret.key } },
              }] else []
            ),
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
            volumeMounts: [
              { name: m.storage.claimTemplateName, mountPath: home },
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
        metadata: { name: m.storage.claimTemplateName, labels: m.labels },
        spec: {
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: m.storage.size } },
          [if m.storage.storageClassName != '' then 'storageClassName']: m.storage.storageClassName,
        },
      }],
    },
  },
}
