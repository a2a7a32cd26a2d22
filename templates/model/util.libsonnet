// Small helpers shared by the model and the object templates.
{
  // Deep merge: objects merge key by key, anything else (lists too) is replaced.
  merge(a, b)::
    if std.isObject(a) && std.isObject(b) then
      a + { [k]: if std.objectHas(a, k) then $.merge(a[k], b[k]) else b[k] for k in std.objectFields(b) }
    else b,

  get(obj, path, default=null)::
    if std.length(path) == 0 then obj
    else if std.isObject(obj) && std.objectHas(obj, path[0]) then $.get(obj[path[0]], path[1:], default)
    else default,

  lastSegment(name):: local parts = std.split(name, '.'); parts[std.length(parts) - 1],

  cpu(millis):: std.toString(millis) + 'm',
  mem(mib):: std.toString(mib) + 'Mi',

  // "1500m" | "2" | "0.5" -> millicores
  cpuMillis(q)::
    if std.endsWith(q, 'm') then std.parseInt(std.substr(q, 0, std.length(q) - 1))
    else std.floor(std.parseJson(q) * 1000 + 0.5),

  // "512Mi" | "8Gi" | "1Ti" -> MiB
  memoryMiB(q)::
    local n = std.parseInt(std.substr(q, 0, std.length(q) - 2));
    local unit = std.substr(q, std.length(q) - 2, 2);
    n * { Mi: 1, Gi: 1024, Ti: 1048576 }[unit],

  // Later entries with the same key win; result sorted by key.
  uniqueBy(list, keyF)::
    local byKey = std.foldl(function(acc, x) acc { [keyF(x)]: x }, list, {});
    [byKey[k] for k in std.objectFields(byKey)],
}
