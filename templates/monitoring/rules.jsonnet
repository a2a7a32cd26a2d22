// The fleet's Prometheus alerting rules (build/monitoring/jenkins-fleet.rules.yaml),
// a rules file for Prometheus' rule_files (or the spec of a PrometheusRule).
// TLA: fleet (the fleet settings). Thresholds: fleet.yaml monitoring.alerts.
//
// Series used, and where they come from:
// - up, with the jenkins_fleet_io_project target label that every generated ServiceMonitor
//   copies from the jenkins-ui Service (targetLabels); scrape configs using the prometheus.io
//   annotations must map Service labels (labelmap) to get it too.
// - jenkins_queue_buildable_value, jenkins_executor_free_value: the Metrics plugin's gauges,
//   exported by the Prometheus plugin (queue items only waiting for an executor; idle executors).
// - kubelet_volume_stats_{used,capacity}_bytes of the StatefulSet's claim jenkins-home-jenkins-0.
function(fleet)
  local mon = std.get(fleet, 'monitoring', {});
  local a = std.get(mon, 'alerts', {});
  local downMinutes = std.get(a, 'controllerDownMinutes', 5);
  local queueMinutes = std.get(a, 'queueWaitMinutes', 15);
  local usedPercent = std.get(a, 'homeVolumeUsedPercent', 85);
  local criticalPercent = std.get(a, 'homeVolumeCriticalPercent', 95);
  local fleetName = std.get(fleet, 'name', 'jenkins-fleet');
  local ours = 'jenkins_fleet_io_project!=""';
  local by = 'namespace, jenkins_fleet_io_project';
  local home = 'persistentvolumeclaim="jenkins-home-jenkins-0"';
  local homeUsed = |||
    100 * max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_used_bytes{%(home)s})
      / max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_capacity_bytes{%(home)s})
  ||| % { home: home };
  {
    groups: [{
      name: 'jenkins-fleet',
      rules: [
        {
          alert: 'JenkinsControllerDown',
          expr: 'max by (%(by)s) (up{%(ours)s}) == 0' % { by: by, ours: ours },
          'for': '%dm' % downMinutes,
          labels: { severity: 'critical', fleet: fleetName },
          annotations: {
            summary: 'Jenkins controller {{ $labels.jenkins_fleet_io_project }} is down',
            description: 'Prometheus has not been able to scrape the controller in namespace '
                         + '{{ $labels.namespace }} for %d minutes: the pod is not running, not ready, ' % downMinutes
                         + 'or its metrics endpoint fails. Check `oc get pods -n {{ $labels.namespace }}` '
                         + 'and `fleet status {{ $labels.jenkins_fleet_io_project }}`.',
          },
        },
        {
          alert: 'JenkinsQuotaBottleneck',
          expr: |||
            (sum by (%(by)s) (jenkins_queue_buildable_value{%(ours)s}) > 0)
            and on (%(by)s)
            (sum by (%(by)s) (jenkins_executor_free_value{%(ours)s}) == 0)
          ||| % { by: by, ours: ours },
          'for': '%dm' % queueMinutes,
          labels: { severity: 'warning', fleet: fleetName },
          annotations: {
            summary: 'Builds of {{ $labels.jenkins_fleet_io_project }} have waited %d minutes for an agent' % queueMinutes,
            description: '{{ $value }} build(s) have been ready to run for at least %d minutes ' % queueMinutes
                         + 'while no executor was free: every agent slot is busy (maxConcurrency or the '
                         + 'namespace ResourceQuota is the bottleneck), or agent pods fail to start. '
                         + '`fleet status {{ $labels.jenkins_fleet_io_project }}` shows running builds against '
                         + 'the cap; `fleet audit` whether more resource packs fit.',
          },
        },
        {
          alert: 'JenkinsHomeVolumeFilling',
          expr: std.rstripChars(homeUsed, '\n') + ' > %d\n' % usedPercent,
          'for': '30m',
          labels: { severity: 'warning', fleet: fleetName },
          annotations: {
            summary: 'Jenkins home volume in {{ $labels.namespace }} is {{ $value | humanize }}% full',
            description: 'The volume jenkins-home of the controller in namespace {{ $labels.namespace }} '
                         + 'is above %d%% of its capacity. Discard old builds or raise storage.size.' % usedPercent,
          },
        },
        {
          alert: 'JenkinsHomeVolumeFull',
          expr: std.rstripChars(homeUsed, '\n') + ' > %d\n' % criticalPercent,
          'for': '5m',
          labels: { severity: 'critical', fleet: fleetName },
          annotations: {
            summary: 'Jenkins home volume in {{ $labels.namespace }} is {{ $value | humanize }}% full',
            description: 'The volume jenkins-home of the controller in namespace {{ $labels.namespace }} '
                         + 'is above %d%% of its capacity: builds and the controller fail when it is full.' % criticalPercent,
          },
        },
      ],
    }],
  }
