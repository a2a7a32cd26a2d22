// Small helpers shared by the model and the object templates.
{
  // Deep merge: objects merge key by key, anything else (lists too) is replaced. The hand-written
  // JCasC is merged by the same rule after rendering, in Python (generator/produce.py deep_merge,
  // which says why there are two); tests/properties/test_merge_properties.py holds them together.
  merge(a, b)::
    if std.isObject(a) && std.isObject(b) then
      a + { [k]: if std.objectHas(a, k) then $.merge(a[k], b[k]) else b[k] for k in std.objectFields(b) }
    else b,

  // By index, not by slicing the path: path[1:] costs more than the lookup itself (std.slice).
  get(obj, path, default=null)::
    local at(o, i) =
      if i == std.length(path) then o
      else if std.isObject(o) && std.objectHas(o, path[i]) then at(o[path[i]], i + 1)
      else default;
    at(obj, 0),

  lastSegment(name):: local parts = std.split(name, '.'); parts[std.length(parts) - 1],

  cpu(millis):: std.toString(millis) + 'm',
  mem(mib):: std.toString(mib) + 'Mi',

  // Only the quantity forms the instance schema allows for pod template resources (its patterns
  // "1500m", "2", "0.5" with at most three decimals; "512Mi", "8Gi", "1Ti"), which these read
  // exactly. Python reads every Kubernetes quantity with generator/quantity.py; a test checks that
  // both agree on everything the schema's patterns accept (tests/unit/test_quantity.py).
  // Digits, not std.parseJson: "010" and "00.5" fit the schema and are no JSON numbers.
  schemaCpuMillis(q)::
    if std.endsWith(q, 'm') then std.parseInt(std.substr(q, 0, std.length(q) - 1))
    else
      local parts = std.split(q, '.');
      local decimals = if std.length(parts) > 1 then parts[1] else '';
      std.parseInt(parts[0]) * 1000
      + (if decimals == '' then 0 else std.parseInt(decimals) * std.pow(10, 3 - std.length(decimals))),

  schemaMemoryMiB(q)::
    local n = std.parseInt(std.substr(q, 0, std.length(q) - 2));
    local unit = std.substr(q, std.length(q) - 2, 2);
    n * { Mi: 1, Gi: 1024, Ti: 1048576 }[unit],

  // Later entries with the same key win; result sorted by key.
  uniqueBy(list, keyF)::
    local byKey = std.foldl(function(acc, x) acc { [keyF(x)]: x }, list, {});
    [byKey[k] for k in std.objectFields(byKey)],
}
