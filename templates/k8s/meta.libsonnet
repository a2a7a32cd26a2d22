// Metadata shared by every object of an instance.
{
  meta(m, name, namespaced=true, annotations={}):: {
    name: name,
    [if namespaced then 'namespace']: m.deployment.namespace,
    labels: m.labels,
    [if std.length(annotations) > 0 then 'annotations']: annotations,
  },
}
