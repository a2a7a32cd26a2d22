"""What Jiro put in the JCasC it generated, beyond config.jsonnet: its security and Prometheus settings.

Jiro's template (not the instance's config.jsonnet) writes a `security:` root and
`unclassified.prometheusConfiguration` into every controller's JCasC; the committed output,
`target/jenkins/configuration.yml`, is where the importer reads them. They map onto fleet-wide
settings of ours (fleet.yaml `security` and `monitoring.prometheus`, which an instance file may
override); what has no equivalent is returned as skipped, with the reason, for the report.

The instance's hand-written `jenkins/configuration.yml` is merged into that output by Jiro and is
kept by the importer as our `jenkins.yaml` override: the keys it sets are taken out here, they are
imported with it.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .errors import FleetError
from .sources import load

GENERATED = "target/jenkins/configuration.yml"
HAND_WRITTEN = "jenkins/configuration.yml"

# fleet.yaml `security` key -> the JCasC it stands for (templates/jcasc/_security_root.yaml.j2).
SECURITY_PATHS = {
    "legacyApiTokens": "security.apiToken.creationOfLegacyTokenEnabled/tokenGenerationOnCreationEnabled",
    "apiTokenUsageStatistics": "security.apiToken.usageStatisticsEnabled",
    "buildsRunAs": "security.queueItemAuthenticator",
    "sshdPort": "security.sSHD.port",
    "gitHostKeys": "security.gitHostKeyVerificationConfiguration",
}
# authorize-project's strategies without arguments that a global authenticator may use, by the
# names JCasC gives their classes (no @Symbol: DescribableAttribute uses the class name).
STRATEGIES = {"triggeringUsersAuthorizationStrategy": "triggeringUser",
              "anonymousAuthorizationStrategy": "anonymous"}
LEGACY_TOKEN_KEYS = ("creationOfLegacyTokenEnabled", "tokenGenerationOnCreationEnabled")

# What our JCasC gives every other attribute: the fixed values of templates/jcasc/_monitoring.yaml.j2,
# and for the attributes it does not write the plugin's own defaults (PrometheusConfiguration's
# field initialisers, prometheus-plugin 852.v317db_5d17a_b_0).
PROMETHEUS_OURS: dict[str, Any] = {
    "useAuthenticatedEndpoint": False, "collectDiskUsage": False, "collectNodeStatus": True,
    "perBuildMetrics": False, "appendParamLabel": False, "appendStatusLabel": False,
    "fetchTestResults": False, "processingDisabledBuilds": False,
    "jobAttributeName": "jenkins_job", "countSuccessfulBuilds": True, "countUnstableBuilds": True,
    "countFailedBuilds": True, "countNotBuiltBuilds": True, "countAbortedBuilds": True,
    "collectCodeCoverage": False, "labeledBuildParameterNames": "", "perBuildMetricsMaxAgeInHours": 0,
    "perBuildMetricsMaxBuilds": 0,
}
PROMETHEUS_WHY = {
    "collectDiskUsage": "ours is off: it scans JENKINS_HOME; the volume alerts read the kubelet's volume stats",
    "fetchTestResults": "ours is off: the per-job test series are disabled metrics of ours",
}


@dataclass
class Skipped:
    path: str  # GENERATED:<JCasC path>
    reason: str


@dataclass
class JiroJcasc:
    """The settings mapped from one instance's generated JCasC (keys of fleet.yaml's `security`
    and of monitoring.prometheus); None where the JCasC had no such section."""

    security: dict | None = None
    prometheus: dict | None = None
    skipped: list[Skipped] = field(default_factory=list)


def read(instance_dir: str, fits_security, fits_prometheus) -> tuple[JiroJcasc | None, str | None]:
    """(mapped settings, None), or (None, why they are unknown).

    fits_security(key, value) / fits_prometheus(key, value): does a mapped value fit our schemas.
    """
    path = os.path.join(instance_dir, GENERATED)
    if not os.path.exists(path):
        return None, ("missing: the security and Prometheus settings Jiro writes into every controller's "
                      "JCasC are unknown; import from a checkout with its committed target/")
    try:
        generated = load(path).data
        own = load(os.path.join(instance_dir, HAND_WRITTEN)).data \
            if os.path.exists(os.path.join(instance_dir, HAND_WRITTEN)) else {}
    except FleetError as exc:
        return None, f"unreadable ({exc.diagnostics[0].message}): its security and Prometheus settings are unknown"
    if not isinstance(generated, dict):
        return None, "not a JCasC mapping: its security and Prometheus settings are unknown"
    own = own if isinstance(own, dict) else {}
    result = JiroJcasc()
    security = _without(generated.get("security"), own.get("security"))
    if isinstance(security, dict):
        result.security = _map_security(security, result.skipped, fits_security)
    prometheus = _without(_get(generated, ("unclassified", "prometheusConfiguration")),
                          _get(own, ("unclassified", "prometheusConfiguration")))
    if isinstance(prometheus, dict):
        result.prometheus = _map_prometheus(prometheus, result.skipped, fits_prometheus)
    return result, None


def _get(data, path):
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _without(generated, own):
    """`generated` minus the keys the hand-written file sets (maps merge key by key, the rest replaces)."""
    if own is None:
        return generated
    if not isinstance(generated, dict) or not isinstance(own, dict):
        return None
    out = {}
    for key, value in generated.items():
        if key not in own:
            out[key] = value
        elif isinstance(value, dict) and isinstance(own[key], dict):
            rest = _without(value, own[key])
            if rest:
                out[key] = rest
    return out


def _skip(skipped: list[Skipped], path: str, reason: str) -> None:
    skipped.append(Skipped(f"{GENERATED}:{path}", reason))


def _map_security(block: dict, skipped: list[Skipped], fits) -> dict:
    out: dict = {}

    def take(key: str, value, path: str) -> None:
        if fits(key, value):
            out[key] = value
        else:
            _skip(skipped, path, f"{_short(value)} does not fit fleet.yaml security.{key}")

    for name, value in block.items():
        if name == "apiToken" and isinstance(value, dict):
            legacy = [value[k] for k in LEGACY_TOKEN_KEYS if k in value]
            if legacy and len(legacy) == len(LEGACY_TOKEN_KEYS) and legacy[0] == legacy[1]:
                take("legacyApiTokens", legacy[0], SECURITY_PATHS["legacyApiTokens"])
            elif legacy:
                _skip(skipped, SECURITY_PATHS["legacyApiTokens"], "the two legacy-token switches differ or one is "
                      "missing; security.legacyApiTokens in fleet.yaml sets both")
            if "usageStatisticsEnabled" in value:
                take("apiTokenUsageStatistics", value["usageStatisticsEnabled"],
                     SECURITY_PATHS["apiTokenUsageStatistics"])
            for key in sorted(set(value) - {*LEGACY_TOKEN_KEYS, "usageStatisticsEnabled"}):
                _skip(skipped, f"security.apiToken.{key}", "no equivalent in fleet.yaml security")
        elif name == "queueItemAuthenticator":
            strategy = _global_strategy(value)
            if strategy in STRATEGIES:
                out["buildsRunAs"] = STRATEGIES[strategy]
            else:
                _skip(skipped, "security.queueItemAuthenticator", "only one global authenticator with the "
                      f"{' or '.join(STRATEGIES)} is expressed by fleet.yaml security.buildsRunAs")
        elif name == "sSHD" and isinstance(value, dict) and set(value) == {"port"}:
            take("sshdPort", value["port"], SECURITY_PATHS["sshdPort"])
        elif name == "gitHostKeyVerificationConfiguration":
            keys = _get(value, ("sshHostKeyVerificationStrategy", "manuallyProvidedKeyVerificationStrategy",
                                "approvedHostKeys"))
            if isinstance(keys, str) and set(value) == {"sshHostKeyVerificationStrategy"}:
                take("gitHostKeys", [line.strip() for line in keys.splitlines() if line.strip()],
                     SECURITY_PATHS["gitHostKeys"])
            else:
                _skip(skipped, "security.gitHostKeyVerificationConfiguration", "only manually provided host keys "
                      "are expressed by fleet.yaml security.gitHostKeys")
        else:
            _skip(skipped, f"security.{name}", "no equivalent in fleet.yaml security")
    return out


def _global_strategy(value) -> str | None:
    """The strategy of `authenticators: [{global: {strategy: X}}]` (X a symbol or `{X: {}}`), else None."""
    authenticators = value.get("authenticators") if isinstance(value, dict) else None
    if not isinstance(authenticators, list) or len(authenticators) != 1 or set(value) != {"authenticators"}:
        return None
    strategy = _get(authenticators[0], ("global", "strategy"))
    if isinstance(strategy, dict) and len(strategy) == 1 and not next(iter(strategy.values())):
        strategy = next(iter(strategy))
    return strategy if isinstance(strategy, str) else None


PROMETHEUS_ORDER = ("path", "collectingMetricsPeriodInSeconds", "defaultNamespace", "disabledMetrics")


def _map_prometheus(block: dict, skipped: list[Skipped], fits) -> dict:
    out = _map_prometheus_keys(block, skipped, fits)
    return {key: out[key] for key in PROMETHEUS_ORDER if key in out}  # in the order docs/monitoring.md shows


def _map_prometheus_keys(block: dict, skipped: list[Skipped], fits) -> dict:
    out: dict = {}
    base = "unclassified.prometheusConfiguration"
    for name, value in block.items():
        if name in ("path", "collectingMetricsPeriodInSeconds", "defaultNamespace"):
            if fits(name, value):
                out[name] = value
            else:
                _skip(skipped, f"{base}.{name}", f"{json.dumps(value)} does not fit monitoring.prometheus.{name}")
        elif name == "disabledMetricConfig":
            metrics = _disabled_metrics(value, skipped, f"{base}.{name}")
            if metrics is not None and fits("disabledMetrics", metrics):
                out["disabledMetrics"] = metrics
            elif metrics is not None:
                _skip(skipped, f"{base}.{name}", "does not fit monitoring.prometheus.disabledMetrics")
        elif name in PROMETHEUS_OURS:
            if value != PROMETHEUS_OURS[name]:
                why = PROMETHEUS_WHY.get(name, "not a setting of ours")
                _skip(skipped, f"{base}.{name}",
                      f"Jiro had {json.dumps(value)}, ours gives {json.dumps(PROMETHEUS_OURS[name])} ({why})")
        else:
            _skip(skipped, f"{base}.{name}", "not a setting of ours")
    return out


def _disabled_metrics(value, skipped: list[Skipped], path: str) -> list | None:
    entries = value.get("entries") if isinstance(value, dict) else None
    if not isinstance(entries, list):
        _skip(skipped, path, "not a list of entries")
        return None
    out = []
    for i, entry in enumerate(entries):
        regex = _get(entry, ("regexDisabledMetric", "regex"))
        name = _get(entry, ("namedDisabledMetric", "metricName"))
        if isinstance(entry, dict) and len(entry) == 1 and isinstance(regex, str):
            out.append({"regex": regex})
        elif isinstance(entry, dict) and len(entry) == 1 and isinstance(name, str):
            out.append({"name": name})
        else:
            _skip(skipped, f"{path}.entries[{i}]", "only regexDisabledMetric and namedDisabledMetric entries are "
                  "expressed by monitoring.prometheus.disabledMetrics")
    return out


def most_common(values: list[dict]) -> dict | None:
    """The settings most instances had (the first of equals, in import order): the fleet-wide value."""
    if not values:
        return None
    keyed = [repr(sorted(v.items())) for v in values]
    top = Counter(keyed).most_common(1)[0][1]
    return next(v for v, k in zip(values, keyed, strict=True) if keyed.count(k) == top)


def security_differences(jiro: dict, fleet: dict) -> tuple[list[Skipped], list[str]]:
    """What the fleet's security settings (fleet-wide only) cannot carry for this instance, and what they add."""
    skipped = []
    for key, value in jiro.items():
        if fleet.get(key) != value:
            have = f"gives {_short(fleet[key])}" if key in fleet else "does not set it"
            skipped.append(Skipped(f"{GENERATED}:{SECURITY_PATHS[key]}",
                                   f"Jiro had security.{key} {_short(value)}; fleet.yaml {have} (security settings "
                                   "are fleet-wide: change them in fleet.yaml or the hand-written jenkins.yaml)"))
    notes = [f"the fleet sets security.{key} ({_short(fleet[key])}), which Jiro's JCasC did not" for key in fleet
             if key not in jiro]
    return skipped, notes


def _short(value) -> str:
    """A value for a one-line message: host key lists are counted, not printed."""
    if isinstance(value, list) and len(value) > 2:
        return f"[{len(value)} entries]"
    return json.dumps(value)


def monitoring_settings(jiro: dict, monitoring: dict, url: str) -> tuple[dict, list[Skipped]]:
    """The instance's monitoring block that reproduces Jiro's plugin settings over what the fleet
    gives it (`monitoring` of its model), or why they cannot be."""
    if not jiro:
        return {}, []
    if not monitoring.get("enabled"):
        path = jiro.get("path", "prometheus")
        return {}, [Skipped(f"{GENERATED}:unclassified.prometheusConfiguration",
                            f"Jiro served metrics at {url}/{path}/; the fleet does not monitor this instance: "
                            "set monitoring.enabled in fleet.yaml to keep the endpoint")]
    have = monitoring.get("prometheus", {})
    own = {key: value for key, value in jiro.items() if have.get(key) != value}
    return ({"prometheus": own} if own else {}), []
