"""Walk a JCasC document through the model the way configuration-as-code would configure it.

Findings carry the key path, so the caller can point at the line of the generated file
or of the instance's hand-written override. Unlike the plugin, which stops at the first
problem, every problem is reported. Policies follow the plugin's defaults
(ConfigurationContext: unknown, deprecated and restricted attributes are rejected) unless
the document's own `configuration-as-code:` root relaxes them to `warn`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ERROR, WARNING
from .model import JENKINS, Attr, Conf, World, simple_name

# root elements the generated JCasC always writes (templates/jcasc/jenkins.yaml.j2)
GENERATED_ROOTS = ("jenkins", "unclassified", "appearance")
_PLACEHOLDER = re.compile(r"(?<!\^)\$\{")
_BOOLEAN = {"true", "false", "yes", "no", "on", "off", "y", "n", "1", "0"}
_INT = re.compile(r"[-+]?[0-9]+")
# One way to split the digits (not [0-9]+\.?[0-9]*, which backtracks quadratically on a long non-number)
_NUMBER = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?")


@dataclass(frozen=True)
class Finding:
    path: tuple
    message: str
    hint: str = ""
    severity: str = ERROR
    key: bool = False          # point at the key (an unknown name), not at its value
    # what kind of problem, about which class, and the names that were possible: enough for a
    # test double to phrase it the way the plugin does
    kind: str = ""             # unknown-root | unknown-attribute | unknown-symbol | deprecated | restricted |
    #                            required | value | "" (warnings)
    subject: str = ""          # the class whose attribute or implementation was looked up
    known: tuple = ()
    provider: str = ""         # a plugin, not installed here, that would make the name known


class Checker:
    """One JCasC document through one world (core and every modelled plugin).

    installed: the components this controller has ("core" and plugin ids); names that only a
    component outside it provides are unknown, with that plugin named in the hint. None: all.
    """

    def __init__(self, world: World, *, partial: bool = False, installed: frozenset[str] | None = None,
                 unmodelled: tuple[str, ...] = (), history: Callable[[str, str], str | None] | None = None,
                 closure_known: bool = True):
        self.world = world
        self.partial = partial          # an override alone: required attributes may come from the rest
        self.installed = installed
        self.unmodelled = unmodelled    # installed plugins the model has no facts for
        self.history = history          # (class, attribute) -> "removed in ..." when another core had it
        # False when only the requested plugins are known (no catalog): their dependencies may provide more
        self.closure_known = closure_known
        self.findings: list[Finding] = []
        self.visited: set[tuple[str, Attr]] = set()  # (owner class, attribute) of every key accepted
        self.policy = {"unknown": "reject", "deprecated": "reject", "restricted": "reject"}

    def _missing(self, cls: str) -> str | None:
        """The plugin providing `cls` when this controller does not install it."""
        if self.installed is None:
            return None
        origin = self.world.component_of(cls)
        return origin if origin and origin not in self.installed else None

    def run(self, data) -> list[Finding]:
        if not isinstance(data, dict):
            self._error((), "a JCasC document is a mapping of root elements")
            return self.findings
        roots = self.world.roots()
        self_conf = data.get("configuration-as-code")
        if isinstance(self_conf, dict):  # SelfConfigurator runs first (ordinal MAX_VALUE): it sets the policy
            for key in ("unknown", "deprecated", "restricted"):
                if isinstance(self_conf.get(key), str):
                    self.policy[key] = self_conf[key]
        used: dict[str, str] = {}
        for key, value in data.items():
            if key.startswith("x-"):
                continue  # ConfigurationAsCode.isNotAliasEntry: YAML anchors' holders
            conf = roots.get(key.lower())
            provider = self._missing(conf.target) if conf is not None else None
            if conf is None or provider:
                self._unknown((key,), key, "root element", sorted(n for n, c in roots.items()
                                                                  if not self._missing(c.target)),
                              open_ended=True, provider=provider)
                continue
            # invokeWith gives each root configurator the first key equal to its name ignoring case;
            # a second one is left over and fails as an unknown root
            if key.lower() in used:
                self._error((key,), f"'{key}' and '{used[key.lower()]}' name the same root element: "
                                    "configuration-as-code reads the first and rejects the other",
                            hint="merge them into one", key=True)
                continue
            used[key.lower()] = key
            if self.partial and key != key.lower() and key.lower() in GENERATED_ROOTS:
                self._error((key,), f"'{key}' is merged beside the generated '{key.lower()}' (keys are compared "
                                    "exactly), and configuration-as-code reads only one of the two",
                            hint=f"write '{key.lower()}'", key=True)
                continue
            self._mapping(conf, value, (key,), root=True)
        return self.findings

    # --- one node ------------------------------------------------------------------------
    def _value(self, attr: Attr, value, path: tuple) -> None:
        conf = self.world.configurator(attr.type)
        if attr.multiple:
            if value is None:
                return
            if not isinstance(value, list):
                self._error(path, f"'{attr.name}' is a list of {_what(conf)}, not {_kind(value)}",
                            hint=f"write it as a YAML list: '{attr.name}:' then '- ...' items")
                return
            for i, item in enumerate(value):
                self._node(conf, item, path + (i,))
        else:
            self._node(conf, value, path)

    def _node(self, conf: Conf, value, path: tuple) -> None:
        kind = conf.kind
        if kind == "opaque":
            return
        if kind == "scalar":
            self._scalar(conf, value, path)
        elif kind == "enum":
            self._enum(conf, value, path)
        elif kind == "hetero":
            self._hetero(conf, value, path)
        else:
            self._mapping(conf, value, path)

    def _scalar(self, conf: Conf, value, path: tuple) -> None:
        if isinstance(value, (dict, list)):
            self._error(path, f"expects a single {_scalar_name(conf)} value, not {_kind(value)}")
            return
        if value is None or (isinstance(value, str) and _PLACEHOLDER.search(value)):
            return  # resolved by JCasC on the controller
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if conf.scalar == "int" and not _INT.fullmatch(text.strip()):
            self._error(path, f"expects a whole number, not {value!r}")
        elif conf.scalar == "boolean" and text.strip().lower() not in _BOOLEAN:
            self._error(path, f"expects true or false, not {value!r}")
        elif conf.scalar == "number" and not _NUMBER.fullmatch(text.strip()):
            self._error(path, f"expects a number, not {value!r}")

    def _enum(self, conf: Conf, value, path: tuple) -> None:
        if isinstance(value, (dict, list)) or value is None:
            self._error(path, f"expects one of {', '.join(conf.values)}, not {_kind(value)}")
            return
        text = str(value)
        if text in conf.values or _PLACEHOLDER.search(text):
            return
        same = [v for v in conf.values if v.lower() == text.lower()]
        hint = f"did you mean '{same[0]}'? the names are case-sensitive (Enum.valueOf)" if same else \
            f"one of: {', '.join(conf.values)}"
        self._error(path, f"'{text}' is not a value of {simple_name(conf.target)}", hint=hint)

    def _hetero(self, conf: Conf, value, path: tuple) -> None:
        if isinstance(value, str):
            symbol, sub, sub_path = value, None, path
        elif isinstance(value, dict) and len(value) == 1:
            symbol, sub = next(iter(value.items()))
            sub_path = path + (symbol,)
        elif isinstance(value, dict):
            self._error(path, f"expects one {simple_name(conf.target)} as a single-key mapping, "
                              f"found {len(value)} keys: {', '.join(map(str, value))}",
                        hint="write one implementation name with its attributes below it")
            return
        else:
            self._error(path, f"expects the name of a {simple_name(conf.target)} implementation, not {_kind(value)}")
            return
        if not isinstance(symbol, str):
            self._error(path, f"expects the name of a {simple_name(conf.target)} implementation")
            return
        chosen = None
        available = [(symbols, klass) for symbols, klass in conf.candidates if not self._missing(klass)]
        for symbols, klass in available:
            if symbols[0].lower() == symbol.lower():
                chosen = (symbols, klass)
                break
        if chosen is None:
            for symbols, klass in available:
                if any(s.lower() == symbol.lower() for s in symbols):
                    chosen = (symbols, klass)
                    self._warn(sub_path, f"'{symbol}' is an obsolete name of {simple_name(klass)}",
                               hint=f"write '{symbols[0]}'", key=isinstance(value, dict))
                    break
        if chosen is None:
            names = sorted({s[0] for s, _ in available})
            provider = next((self._missing(klass) for symbols, klass in conf.candidates
                             if any(s.lower() == symbol.lower() for s in symbols)), None)
            self._unknown(sub_path, symbol, f"{simple_name(conf.target)} implementation", names,
                          open_ended=True, provider=provider, key=isinstance(value, dict),
                          detail=("unknown-symbol", conf.target))
            return
        target_conf = self.world.configurator(chosen[1])
        if target_conf.kind == "mapping":
            self._mapping(target_conf, sub, sub_path)
        elif sub is not None:
            self._node(target_conf, sub, sub_path)

    def _mapping(self, conf: Conf, value, path: tuple, root: bool = False) -> None:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self._error(path, f"expects the attributes of {self._owner(conf)} as a mapping, not {_kind(value)}")
            return
        seen = set()
        for key, sub in value.items():
            if not isinstance(key, str):
                self._error(path, f"attribute names are strings, not {key!r}")
                continue
            attr = conf.attrs.get(key.lower())
            category = root and conf.target != JENKINS  # unclassified, security...: one entry per descriptor
            provider = self._missing(attr.owner) if attr is not None and category else None
            if attr is None or provider:
                what = f"element of '{path[0]}'" if category else f"attribute of {self._owner(conf)}"
                names = sorted({a.name for a in conf.attrs.values() if not (category and self._missing(a.owner))})
                self._unknown(path + (key,), key, what, names, key=True, open_ended=category, provider=provider,
                              removed=self.history(conf.target, key) if self.history and not category else None,
                              detail=("unknown-attribute", conf.target))
                continue
            seen.add(attr.name)
            self.visited.add((conf.target, attr))
            sub_path = path + (key,)
            if attr.deprecated:
                self._policy("deprecated", sub_path, f"'{attr.name}' of {self._owner(conf)} is deprecated",
                             hint="remove it or use its replacement; configuration-as-code rejects deprecated "
                                  "attributes unless 'configuration-as-code: {deprecated: warn}'",
                             detail=("deprecated", conf.target, (attr.name,)))
            for r in attr.restricted:
                if r == "Beta" and self.policy["restricted"] == "beta":
                    continue
                self._policy("restricted", sub_path, f"'{attr.name}' of {self._owner(conf)} is restricted ({r})",
                             hint="it is not meant to be configured; configuration-as-code rejects it unless "
                                  "'configuration-as-code: {restricted: warn}'",
                             detail=("restricted", conf.target, (attr.name, r)))
            self._value(attr, sub, sub_path)
        if not self.partial:
            for attr in {a.name: a for a in conf.attrs.values()}.values():
                if attr.required and attr.name not in seen:
                    self.findings.append(Finding(tuple(path), f"'{attr.name}' is required to configure "
                                                 f"{self._owner(conf)}", f"add '{attr.name}:' under this key",
                                                 ERROR, False, "required", conf.target, (attr.name,)))

    def _owner(self, conf: Conf) -> str:
        """Mailer.DescriptorImpl (mailer): the class as written in its source, and where it comes from."""
        nested = conf.target.rsplit(".", 1)[-1].replace("$", ".")
        origin = self.world.origin.get(conf.target)
        return f"{nested} ({'Jenkins core' if origin == 'core' else 'plugin ' + origin})" if origin else nested

    # --- reporting -----------------------------------------------------------------------
    def _unknown(self, path, name, what, known, *, open_ended: bool, provider: str | None = None, key=True,
                 removed=None, detail=("unknown-root", "")) -> None:
        if provider and not self.closure_known:
            self.findings.append(Finding(
                tuple(path), f"'{name}' is not a known {what}; not checked",
                f"it comes from the plugin {provider}, which is not requested: without a plugin catalog for this "
                "Jenkins version, whether a requested plugin brings it in is not known; add it to jenkins.plugins "
                "to be sure", WARNING, key, provider=provider))
            return
        if open_ended and self.unmodelled and not provider and not removed:
            # a plugin the model has no facts for may provide it: say so rather than reject
            self._warn(path, f"'{name}' is not a known {what}; not checked",
                       hint="it may come from an installed plugin without a JCasC model: "
                            + ", ".join(self.unmodelled), key=key)
            return
        if removed:
            hint = removed
        elif provider:
            hint = f"'{name}' comes from the plugin {provider}, which this controller does not install: " \
                   f"add it to jenkins.plugins"
        else:  # the close match only now: difflib against hundreds of names took 1 ms a key
            close = [k for k in known if k.lower() == name.lower()] or difflib.get_close_matches(name, known, n=1,
                                                                                                 cutoff=0.8)
            hint = f"did you mean '{close[0]}'?" if close else "known: " + _shorten(known) if known else ""
        self._policy("unknown", path, f"'{name}' is not a known {what}", hint=hint, key=key,
                     detail=(detail[0], detail[1], tuple(known), provider or ""))

    def _policy(self, which: str, path, message: str, hint: str = "", key: bool = False,
                detail=("", "", (), "")) -> None:
        severity = WARNING if self.policy.get(which) in ("warn", "beta") else ERROR
        self.findings.append(Finding(tuple(path), message, hint, severity, key, *detail))

    def _error(self, path, message, hint="", key=False) -> None:
        # a value the attribute's type cannot take (the kind the double phrases as the plugin does)
        self.findings.append(Finding(tuple(path), message, hint, ERROR, key, "value"))

    def _warn(self, path, message, hint="", key=False) -> None:
        self.findings.append(Finding(tuple(path), message, hint, WARNING, key))


def _owner(conf: Conf) -> str:
    return simple_name(conf.target)


def _what(conf: Conf) -> str:
    if conf.kind == "scalar":
        return _scalar_name(conf) + " values"
    return simple_name(conf.target)


def _scalar_name(conf: Conf) -> str:
    return {"int": "whole-number", "boolean": "true/false", "number": "numeric", "secret": "secret"}.get(
        conf.scalar, "text")


def _kind(value) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "an empty value"
    return f"the value {value!r}"


def _shorten(names: list[str], limit: int = 12) -> str:
    return ", ".join(names[:limit]) + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")
