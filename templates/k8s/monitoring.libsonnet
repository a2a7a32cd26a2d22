// How Prometheus finds a controller: a ServiceMonitor (Prometheus Operator) or
// prometheus.io/* annotations on the jenkins-ui Service, as fleet.yaml's
// monitoring.scrape says. Only for instances whose model has monitoring.enabled.
local k = import 'meta.libsonnet';
local metricsLabel = 'jenkins-fleet.io/metrics';
{
  // The jenkins-ui Service, marked as the one serving the metrics.
  uiService(m, svc)::
    if !m.monitoring.enabled then svc
    else svc {
      metadata+: {
        labels+: { [metricsLabel]: 'prometheus' },
        [if m.monitoring.scrape == 'annotations' then 'annotations']: {
          'prometheus.io/scrape': 'true',
          'prometheus.io/scheme': 'http',
          // the container port behind the Service's port 80: Prometheus scrapes the pod
          'prometheus.io/port': '8080',
          'prometheus.io/path': m.monitoring.metricsPath,
        },
      },
    },

  // null when the instance is not scraped through a ServiceMonitor.
  serviceMonitor(m)::
    if !(m.monitoring.enabled && m.monitoring.scrape == 'serviceMonitor') then null
    else {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: k.meta(m, 'jenkins') + { labels: m.labels + m.monitoring.serviceMonitorLabels },
      spec: {
        selector: { matchLabels: m.selector { [metricsLabel]: 'prometheus' } },
        namespaceSelector: { matchNames: [m.deployment.namespace] },
        // every series carries the fullName (as jenkins_fleet_io_project) for the alerts
        targetLabels: ['jenkins-fleet.io/project'],
        endpoints: [{
          port: 'http',
          scheme: 'http',
          path: m.monitoring.metricsPath,
          interval: m.monitoring.scrapeInterval,
        }],
      },
    },
}
