// The fleet's Prometheus alerting rules (build/monitoring/), rules files for Prometheus'
// rule_files (or the spec of a PrometheusRule).
// TLAs: fleet (the fleet settings; thresholds in monitoring.alerts) and controllers (the
// monitored instances of the output: fullName, namespace, cluster).
// Result: { fleet: <rules for every cluster>, clusters: { <cluster>: <rules of its controllers> } }.
//
// Series used, and where they come from (docs/monitoring.md has the details):
// - up, with the jenkins_fleet_io_project target label that every generated ServiceMonitor
//   copies from the jenkins-ui Service (targetLabels); scrape configs using the prometheus.io
//   annotations must map Service labels (labelmap) to get it too. A controller without a
//   running pod has no target, hence no `up` at all: the Prometheus Operator builds targets from
//   the Service's endpoint addresses and drops pods in phase Failed/Succeeded
//   (prometheus-operator v0.84.1 pkg/prometheus/promcfg.go, generateServiceMonitorConfig and
//   generateRunningFilter). absent() of the instance's own series sees that (Prometheus
//   docs/querying/functions.md); it needs the list of instances, one file per cluster.
// - jenkins_queue_buildable_value: the Metrics plugin's gauge jenkins.queue.buildable.value
//   (jenkinsci/metrics-plugin JenkinsMetricProviderImpl), exported by the Prometheus plugin through
//   Dropwizard's DropwizardExports, which only sanitises the name: no namespace prefix
//   (prometheus-plugin 852.v317db_5d17a_b_0 DefaultPrometheusMetrics; client_java 0.16.0
//   DefaultSampleBuilder).
// - kubernetes_cloud_provision_reached_{global,pod}_cap and kubernetes_cloud_pods_{creation,launch}_failed:
//   the kubernetes plugin's Dropwizard counters (4423.vb_59f230b_ce53 MetricNames.java), exported
//   the same way, as gauges holding the count since the controller started. The plugin increments
//   reached.global.cap when it wants another agent pod for a waiting build and already runs
//   containerCap (= maxConcurrency) of them (KubernetesProvisioningLimits.register); it never asks
//   for labels no pod template has (KubernetesCloud.canProvision).
// - kubelet_volume_stats_{used,capacity}_bytes of each controller's home volume claim,
//   <storage.claimTemplateName>-<deployment.statefulSetName>-0 (jenkins-home-jenkins-0 by default,
//   Jiro's names for an imported controller): the claims the monitored controllers use.
function(fleet, controllers=[])
  local mon = std.get(fleet, 'monitoring', {});
  local a = std.get(mon, 'alerts', {});
  local downMinutes = std.get(a, 'controllerDownMinutes', 5);
  local queueMinutes = std.get(a, 'queueWaitMinutes', 15);
  local usedPercent = std.get(a, 'homeVolumeUsedPercent', 85);
  local criticalPercent = std.get(a, 'homeVolumeCriticalPercent', 95);
  local fleetName = std.get(fleet, 'name', 'jenkins-fleet');
  local ours = 'jenkins_fleet_io_project!=""';
  local by = 'namespace, jenkins_fleet_io_project';
  // The counters change only when the plugin refreshes its cached metrics
  // (collectingMetricsPeriodInSeconds, 60 s by default): the window holds several refreshes.
  local window = '10m';
  // Concatenation, not the % operator: std.format, written in Jsonnet, read these format strings
  // a character at a time (0.3-0.6 ms each, 18 ms a run with no controller at all).
  local n(x) = std.toString(x);
  local waiting = 'sum by (' + by + ') (jenkins_queue_buildable_value{' + ours + '}) > 0';
  local counted(names) =
    'sum by (' + by + ') (increase({__name__=~"' + names + '", ' + ours + '}[' + window + '])) > 0';
  // Claim names are DNS subdomains: '.' is the one regex metacharacter they can hold.
  local claims = std.set([c.homeClaim for c in controllers]);
  local home =
    if std.length(claims) <= 1 then
      'persistentvolumeclaim="' + (if claims == [] then 'jenkins-home-jenkins-0' else claims[0]) + '"'
    else
      'persistentvolumeclaim=~"' + std.join('|', [std.strReplace(c, '.', '\\\\.') for c in claims]) + '"';
  local homeUsed =
    '100 * max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_used_bytes{' + home + '})\n'
    + '  / max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_capacity_bytes{' + home + '})';
  // fullName and namespace match the instance schema's DNS-like patterns, so they need no
  // escaping in PromQL.
  local downFor = n(downMinutes) + 'm';
  local absentWhy = ' for ' + n(downMinutes) + ' minutes: its pod does not exist or is not running (StatefulSet scaled to 0, '
                    + 'pod deleted, Pending because it cannot be scheduled, Failed), or Prometheus does not find it '
                    + '(ServiceMonitor or Service missing). ';
  local absentRule(c) = {
    alert: 'JenkinsControllerAbsent',
    expr: 'absent(up{jenkins_fleet_io_project="' + c.name + '"})',
    'for': downFor,
    labels: {
      severity: 'critical',
      fleet: fleetName,
      namespace: c.namespace,
      jenkins_fleet_io_project: c.name,
    },
    annotations: {
      summary: 'Jenkins controller ' + c.name + ' is not running',
      description: 'Prometheus has had no scrape target for the controller ' + c.name + ' in namespace '
                   + c.namespace + absentWhy + 'Check `oc get statefulset,pods -n ' + c.namespace
                   + '` and `oc get events -n ' + c.namespace + '`.',
    },
  };
  {
    fleet: {
      groups: [{
        name: 'jenkins-fleet',
        rules: [
          {
            alert: 'JenkinsControllerDown',
            expr: 'max by (' + by + ') (up{' + ours + '}) == 0',
            'for': downFor,
            labels: { severity: 'critical', fleet: fleetName },
            annotations: {
              summary: 'Jenkins controller {{ $labels.jenkins_fleet_io_project }} is down',
              description: 'Prometheus has not been able to scrape the controller in namespace '
                           + '{{ $labels.namespace }} for ' + n(downMinutes) + ' minutes: the pod runs but Jenkins is not ready, '
                           + 'or its metrics endpoint fails. Check `oc get pods -n {{ $labels.namespace }}` '
                           + 'and `fleet status {{ $labels.jenkins_fleet_io_project }}`. A controller without a '
                           + 'running pod raises JenkinsControllerAbsent instead.',
            },
          },
          {
            alert: 'JenkinsQuotaBottleneck',
            expr: '(' + waiting + ')\nand on (' + by + ')\n(' + counted('kubernetes_cloud_provision_reached_(global|pod)_cap') + ')\n',
            'for': n(queueMinutes) + 'm',
            labels: { severity: 'warning', fleet: fleetName },
            annotations: {
              summary: 'Builds of {{ $labels.jenkins_fleet_io_project }} have waited ' + n(queueMinutes) + ' minutes for the agent pod cap',
              description: '{{ $value }} build(s) are ready to run, and for at least ' + n(queueMinutes) + ' minutes the Kubernetes '
                           + 'cloud has declined to start agent pods for them because it already runs its container '
                           + 'cap (maxConcurrency, from the resource packs): the quota is the bottleneck. '
                           + '`fleet status {{ $labels.jenkins_fleet_io_project }}` shows running builds against '
                           + 'the cap; `fleet audit` whether more resource packs fit.',
            },
          },
          {
            alert: 'JenkinsAgentPodsFailing',
            expr: '(' + waiting + ')\nand on (' + by + ')\n(' + counted('kubernetes_cloud_pods_(creation|launch)_failed') + ')\n',
            'for': n(queueMinutes) + 'm',
            labels: { severity: 'warning', fleet: fleetName },
            annotations: {
              summary: 'Agent pods of {{ $labels.jenkins_fleet_io_project }} fail to start while builds wait',
              description: '{{ $value }} build(s) are ready to run, and for at least ' + n(queueMinutes) + ' minutes agent pods of '
                           + 'the Kubernetes cloud have been refused (e.g. the namespace ResourceQuota is exhausted) '
                           + 'or have failed before connecting (image pull, missing Secret, connection timeout). '
                           + 'Check `oc get events -n {{ $labels.namespace }}` and '
                           + '`oc describe resourcequota -n {{ $labels.namespace }}`.',
            },
          },
          {
            alert: 'JenkinsHomeVolumeFilling',
            expr: homeUsed + ' > ' + n(usedPercent) + '\n',
            'for': '30m',
            labels: { severity: 'warning', fleet: fleetName },
            annotations: {
              summary: 'Jenkins home volume in {{ $labels.namespace }} is {{ $value | humanize }}% full',
              description: 'The volume jenkins-home of the controller in namespace {{ $labels.namespace }} '
                           + 'is above ' + n(usedPercent) + '% of its capacity. Discard old builds or raise storage.size.',
            },
          },
          {
            alert: 'JenkinsHomeVolumeFull',
            expr: homeUsed + ' > ' + n(criticalPercent) + '\n',
            'for': '5m',
            labels: { severity: 'critical', fleet: fleetName },
            annotations: {
              summary: 'Jenkins home volume in {{ $labels.namespace }} is {{ $value | humanize }}% full',
              description: 'The volume jenkins-home of the controller in namespace {{ $labels.namespace }} '
                           + 'is above ' + n(criticalPercent) + '% of its capacity: builds and the controller fail when it is full.',
            },
          },
        ],
      }],
    },
    // One file per cluster of fleet.yaml: the Prometheus of a cluster only sees the controllers
    // that run there, and absent() would fire for every other one.
    clusters: {
      [cluster.name]: {
        groups: [{
          name: 'jenkins-fleet-controllers-' + cluster.name,
          rules: [absentRule(c) for c in controllers if c.cluster == cluster.name],
        }],
      }
      for cluster in fleet.clusters
    },
  }
