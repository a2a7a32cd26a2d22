"""The JCasC model: what configuration-as-code accepts, for one core version and a set of plugins.

The facts come from schemas/jcasc-model/ (extracted from the source at pinned tags by
refresh.py); this module replays, offline, the decisions configuration-as-code makes
with reflection at run time. Each rule names the class of the plugin it reproduces
(configuration-as-code 2117.vc05a_0b_e6b_f4e unless said otherwise):

- attributes of a type: BaseConfigurator.describe (public setX with a getX/isX, public
  PersistedList fields and getters), plus the @DataBoundConstructor parameters
  (DataBoundConfigurator.describe); Map-typed properties are skipped; an abstract
  non-Describable element type drops the attribute (createAttribute);
- which configurator a type gets: DefaultConfiguratorRegistry.internalLookup, in order:
  a hand-written Configurator, a collection's element, a Descriptor extension, a
  @DataBoundConstructor, an abstract Describable (HeteroDescribableConfigurator), an
  enum or a Stapler-converted scalar;
- how a describable is named: DescribableAttribute.getSymbols (the descriptor's @Symbol,
  then the class name without the extension point's name, then the class name) and
  HeteroDescribableConfigurator (descriptors whose Descriptor<T> is exactly the target,
  else those of the nearest superclass that has some);
- root elements: `jenkins` (JenkinsConfigurator), one per GlobalConfigurationCategory
  (GlobalConfigurationCategoryConfigurator: descriptors of that category with a global
  configuration page) and hand-written RootElementConfigurators.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache

import orjson

MODEL_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "schemas", "jcasc-model")

DESCRIBABLE = "hudson.model.Describable"
DESCRIPTOR = "hudson.model.Descriptor"
GLOBAL_CONFIGURATION = "jenkins.model.GlobalConfiguration"
CATEGORY = "jenkins.model.GlobalConfigurationCategory"
UNCLASSIFIED = "jenkins.model.GlobalConfigurationCategory$Unclassified"
PERSISTED_LIST = "hudson.util.PersistedList"
CONFIGURATOR = "io.jenkins.plugins.casc.Configurator"
ROOT_CONFIGURATOR = "io.jenkins.plugins.casc.RootElementConfigurator"
JENKINS = "jenkins.model.Jenkins"

COLLECTIONS = {"java.util.Collection", "java.util.List", "java.util.Set", "java.util.SortedSet",
               "java.util.ArrayList", "java.util.LinkedList", "java.util.HashSet", "java.util.LinkedHashSet",
               "java.util.TreeSet", "java.util.AbstractList", "java.util.AbstractCollection",
               "java.util.concurrent.CopyOnWriteArrayList", "java.lang.Iterable"}
MAPS = {"java.util.Map", "java.util.HashMap", "java.util.TreeMap", "java.util.Properties"}

# Scalars: what Stapler's converters read (Stapler.lookupConverter / PrimitiveConfigurator).
SCALARS = {
    "java.lang.String": "string", "java.lang.CharSequence": "string", "hudson.util.Secret": "secret",
    "int": "int", "java.lang.Integer": "int", "long": "int", "java.lang.Long": "int",
    "short": "int", "java.lang.Short": "int", "byte": "int", "java.lang.Byte": "int",
    "boolean": "boolean", "java.lang.Boolean": "boolean",
    "double": "number", "java.lang.Double": "number", "float": "number", "java.lang.Float": "number",
    "char": "string", "java.lang.Character": "string",
    "java.io.File": "string", "java.net.URL": "string", "java.net.URI": "string", "java.util.Locale": "string",
    "java.nio.charset.Charset": "string", "java.lang.Class": "string",
}

# JenkinsConfigurator.describe adds these to what introspection finds on Jenkins.
JENKINS_EXTRA = {"remotingSecurity": ("jenkins.security.s2m.AdminWhitelistRule", False),
                 "updateCenter": ("hudson.model.UpdateCenter", False),
                 "labelAtoms": ("hudson.model.labels.LabelAtom", True),
                 "proxy": ("hudson.ProxyConfiguration", False),
                 "nodeMonitors": ("hudson.node_monitors.NodeMonitor", True)}
JENKINS_EXCLUDED = {"installState"}


def component_file(component: str, version: str) -> str:
    return f"{component}-{version}.json"


# --- type strings -------------------------------------------------------------------------

@dataclass(frozen=True)
class JType:
    """A parsed type: kind is class | array | var | wild | prim | unknown."""
    kind: str
    name: str = ""
    args: tuple = ()

    def __str__(self) -> str:
        if self.kind == "array":
            return f"{self.args[0]}[]"
        if self.kind == "wild":
            return "?" if not self.args else f"? extends {self.args[0]}"
        if self.kind == "class" and self.args:
            return f"{self.name}<{','.join(str(a) for a in self.args)}>"
        return self.name


@lru_cache(maxsize=65536)
def parse_type(text: str) -> JType:
    return _parse(text.replace(" extends ", "+"), 0)[0]


def _parse(s: str, i: int) -> tuple[JType, int]:
    if s.startswith("?", i):
        i += 1
        if s.startswith("+", i):
            bound, i = _parse(s, i + 1)
            t = JType("wild", args=(bound,))
        else:
            t = JType("wild")
    else:
        j = i
        while j < len(s) and s[j] not in "<>,[":
            j += 1
        name = s[i:j]
        args: list[JType] = []
        if j < len(s) and s[j] == "<":
            j += 1
            while True:
                arg, j = _parse(s, j)
                args.append(arg)
                if s[j] == ",":
                    j += 1
                    continue
                j += 1  # '>'
                break
        if name.startswith("~"):
            t = JType("var", name[1:])
        elif name.startswith("!"):
            t = JType("unknown", name[1:])
        elif name in ("int", "long", "boolean", "double", "float", "short", "byte", "char", "void"):
            t = JType("prim", name)
        else:
            t = JType("class", name, tuple(args))
        i = j
    while s.startswith("[]", i):
        t = JType("array", args=(t,))
        i += 2
    return t, i


def erasure(t: JType) -> str:
    if t.kind == "array":
        return erasure(t.args[0]) + "[]"
    if t.kind in ("class", "prim"):
        return t.name
    if t.kind == "wild":
        return erasure(t.args[0]) if t.args else "java.lang.Object"
    return "java.lang.Object" if t.kind == "var" else "!" + t.name


def simple_name(binary: str) -> str:
    return binary.rsplit(".", 1)[-1].rsplit("$", 1)[-1]


def normalize(name: str) -> str:
    """Configurator.normalize: ALLCAPS -> lower case, otherwise the first letter lowered."""
    if name.upper() == name:
        return name.lower()
    return name[:1].lower() + name[1:]


def uncapitalize(name: str) -> str:
    return name[:1].lower() + name[1:]


# --- what a configurator accepts ----------------------------------------------------------

@dataclass(frozen=True)
class Attr:
    name: str
    type: str                 # binary name of the element type ("!" when unknown)
    multiple: bool = False
    deprecated: bool = False
    restricted: tuple = ()
    aliases: tuple = ()
    owner: str = ""           # the class whose method or parameter declares it
    required: bool = False    # a @Nonnull constructor parameter


@dataclass
class Conf:
    """How one type is configured. kind: scalar | enum | mapping | hetero | opaque."""
    kind: str
    target: str
    scalar: str = ""
    values: tuple = ()
    attrs: dict[str, Attr] = field(default_factory=dict)   # lower-cased name -> attribute
    candidates: list = field(default_factory=list)         # hetero: [(symbols, class)]
    why: str = ""                                          # opaque: why it cannot be checked


class World:
    """The types of one core version and some plugin versions, seen as JCasC sees them."""

    def __init__(self, components: list[dict]):
        self.types: dict[str, dict] = {}
        self.origin: dict[str, str] = {}
        self.components = [(c["component"], c["version"]) for c in components]
        for comp in components:
            for name, entry in comp["types"].items():
                self.types.setdefault(name, entry)
                self.origin.setdefault(name, comp["component"])
        self._sub: dict[tuple[str, str], bool] = {}
        self._pending = threading.local()  # is_sub's questions in progress, per thread
        self._conf: dict[str, Conf] = {}
        self._descriptors = None
        self._custom = None
        self._roots = None
        self._by_category: dict[str, list[dict]] | None = None

    def component_of(self, name: str) -> str | None:
        """The component (core or a plugin id) that declares a type; an anonymous descriptor is its owner's."""
        return self.origin.get(name.split("$anonymous", 1)[0])

    # hierarchy ----------------------------------------------------------------------------
    def supertypes(self, name: str) -> list[JType]:
        entry = self.types.get(name)
        if entry is None:
            return []
        out = []
        if "super" in entry:
            out.append(parse_type(entry["super"]))
        out.extend(parse_type(i) for i in entry.get("interfaces", ()))
        return out

    def is_sub(self, name: str, base: str) -> bool:
        if name == base:
            return True
        key = (name, base)
        known = self._sub.get(key)
        if known is not None:
            return known
        # The questions this thread is answering: met again, the type graph has a cycle (not Java,
        # but the model is read from source). Kept per thread, not as a False in the shared table
        # that another thread would take for the answer (the doubles' threads share a world).
        pending = self._pending.__dict__.setdefault("keys", set())
        if key in pending:
            return False
        pending.add(key)
        try:
            result = any(s.kind == "class" and self.is_sub(s.name, base) for s in self.supertypes(name))
        finally:
            pending.discard(key)
        if not result and base in ("java.util.Collection", "java.lang.Iterable"):
            result = name in COLLECTIONS
        self._sub[key] = result
        return result

    def is_abstract(self, name: str) -> bool:
        return "abstract" in self.types.get(name, {}).get("flags", ())

    def generic_super(self, t: JType) -> JType | None:
        """The generic superclass of a class type, its type variables replaced by t's arguments."""
        entry = self.types.get(t.name)
        if entry is None or "super" not in entry:
            return None
        bindings = dict(zip(entry.get("typeParams", ()), t.args, strict=False))
        return _substitute(parse_type(entry["super"]), bindings)

    def ancestor_args(self, t: JType, base: str) -> tuple | None:
        """The type arguments `t` gives to its ancestor `base` (Types.getBaseClass)."""
        seen = set()
        stack = [t]
        while stack:
            cur = stack.pop()
            if cur.kind != "class" or cur.name in seen:
                continue
            seen.add(cur.name)
            if cur.name == base:
                return cur.args
            entry = self.types.get(cur.name)
            if entry is None:
                continue
            bindings = dict(zip(entry.get("typeParams", ()), cur.args, strict=False))
            stack.extend(_substitute(s, bindings) for s in self.supertypes(cur.name))
        return None

    # descriptors --------------------------------------------------------------------------
    def descriptors(self) -> list[dict]:
        """Every registered Descriptor: @Extension, concrete, a subclass of Descriptor."""
        if self._descriptors is None:
            registered = {name for name, entry in self.types.items() if entry.get("extension")}
            anonymous = []  # (owner, base class): `@Extension static final X D = new X() {...}`
            for owner, entry in sorted(self.types.items()):
                for type_string, anon in entry.get("extensionFields", ()):
                    cls = erasure(parse_type(type_string))
                    if anon:
                        anonymous.append((owner, cls))
                    else:
                        registered.add(cls)
            found = []
            for name in sorted(registered):
                entry = self.types.get(name)
                if entry is None or self.is_abstract(name) or entry["kind"] != "class":
                    continue
                if self.is_sub(name, DESCRIPTOR):
                    found.append(self._descriptor(name, name, name.rsplit("$", 1)[0] if "$" in name else None,
                                                  list(entry.get("symbols", ()))))
            for i, (owner, base) in enumerate(anonymous):
                if base in self.types and self.is_sub(base, DESCRIPTOR):
                    # Descriptor(): clazz = getClass().getEnclosingClass(), the field's owner; an
                    # anonymous class carries no @Symbol of its own
                    found.append(self._descriptor(f"{owner}$anonymous{i}", base, owner, []))
            self._descriptors = found
        return self._descriptors

    def _descriptor(self, name: str, base: str, outer: str | None, symbols: list[str]) -> dict:
        args = self.ancestor_args(JType("class", base), DESCRIPTOR) or ()
        t = erasure(args[0]) if args and args[0].kind in ("class", "wild") else None
        if self.is_sub(base, DESCRIBABLE):
            klass = base
        elif outer and self.is_sub(outer, DESCRIBABLE):
            klass = outer
        else:
            klass = t
        return {"class": name, "base": base, "t": t, "klass": klass, "symbols": symbols}

    def symbols(self, d: dict, extension_point: str) -> list[str]:
        """DescribableAttribute.getSymbols(descriptor, extensionPoint, target)."""
        out = list(d["symbols"])
        ext = simple_name(extension_point)
        cn = simple_name(d["klass"] or d["class"])
        if cn.endswith(ext) and cn != ext:
            out.append(normalize(cn[: -len(ext)]))
        if cn.endswith(ext + "Impl") and cn != ext + "Impl":
            out.append(normalize(cn[: -len(ext) - 4]))
        out.append(normalize(cn))
        return out

    # hand-written configurators -------------------------------------------------------------
    def custom(self) -> dict[str, dict]:
        """Configurator classes registered as extensions, by the type they configure."""
        if self._custom is None:
            custom: dict[str, dict] = {}  # assigned whole when complete, as _global_descriptors says why
            for name, entry in sorted(self.types.items()):
                if not entry.get("extension") or self.is_abstract(name) or not self.is_sub(name, CONFIGURATOR):
                    continue
                target = self.inherited_cfg(name, "target")
                if not target:
                    continue
                facts = {key: self.inherited_cfg(name, key)
                         for key in ("names", "attributes", "inherits", "exclusions")}
                facts.update({"class": name, "root": self.is_sub(name, ROOT_CONFIGURATOR), "target": target})
                # Configurator.canConfigure: getTarget() unless overridden
                handled = self.inherited_cfg(name, "canConfigure")
                for t in (handled if handled is not None else [target]):
                    custom.setdefault(t, facts)
            self._custom = custom
        return self._custom

    def inherited_cfg(self, name: str, key: str):
        """A configurator fact declared on the class or inherited from its configurator superclasses."""
        seen = set()
        while name and name not in seen:
            seen.add(name)
            entry = self.types.get(name, {})
            cfg = entry.get("configurator") or {}
            if key in cfg:
                return cfg[key]
            sup = entry.get("super")
            name = parse_type(sup).name if sup else None
        return None

    # attributes ---------------------------------------------------------------------------
    def methods(self, name: str) -> tuple[dict, dict, list]:
        """Class.getMethods(): public setters and getters of the type and all its supertypes
        (the most derived declaration wins), and public PersistedList fields."""
        setters: dict[str, list] = {}
        getters: dict[str, tuple] = {}
        fields: list = []
        seen_sigs: set = set()
        order = self._linearize(name)
        for cls in order:
            entry = self.types.get(cls, {})
            for prop, ptype, flags in entry.get("setters", ()):
                sig = (prop, erasure(parse_type(ptype)))
                if sig in seen_sigs:
                    continue
                seen_sigs.add(sig)
                setters.setdefault(prop, []).append((ptype, flags, cls))
            for getter, rtype in entry.get("getters", ()):
                getters.setdefault(getter, (rtype, cls))
            for fname, ftype, fflags in entry.get("fields", ()):
                fields.append((fname, ftype, fflags, cls))
        return setters, getters, fields

    def _linearize(self, name: str) -> list[str]:
        out, seen, stack = [], set(), [name]
        while stack:
            cur = stack.pop(0)
            if cur in seen or cur not in self.types:
                continue
            seen.add(cur)
            out.append(cur)
            stack.extend(s.name for s in self.supertypes(cur) if s.kind == "class")
        return out

    def introspect(self, target: str, exclusions=frozenset()) -> dict[str, Attr]:
        """BaseConfigurator.describe() for `target`."""
        attrs: dict[str, Attr] = {}
        setters, getters, fields = self.methods(target)
        for fname, ftype, fflags, owner in fields:
            if fname in exclusions or "transient" in fflags:
                continue
            a = self.attribute(fname, parse_type(ftype), target, owner)
            if a:
                attrs[fname] = a
        for getter, (rtype, owner) in getters.items():
            if not getter.startswith("get") or not rtype:
                continue
            rt = parse_type(rtype)
            if rt.kind == "class" and self.is_sub(rt.name, PERSISTED_LIST):
                name = uncapitalize(getter[3:])
                if name not in exclusions and name not in attrs:
                    a = self.attribute(name, rt, target, owner)
                    if a:
                        attrs[name] = a
        for suffix, candidates in setters.items():
            name = uncapitalize(suffix)
            if name in exclusions:
                continue
            a = self._setter_attribute(name, suffix, candidates, getters, target)
            if a is None:
                continue
            prev = attrs.get(name)
            if prev is None or self.is_sub(a.type, prev.type):
                attrs[name] = a
        return attrs

    def _setter_attribute(self, name: str, suffix: str, candidates: list, getters: dict, target: str) -> Attr | None:
        """The attribute of a setter with its getter; None when JCasC would not describe it."""
        getter = getters.get("get" + suffix)
        if getter is None:
            boolean = getters.get("is" + suffix)
            if boolean and boolean[0] in ("boolean", "java.lang.Boolean"):
                getter = boolean
        if getter is None or not getter[0]:
            return None
        g_type = parse_type(getter[0])
        ptype, flags, owner = self._best_setter(candidates, erasure(g_type))
        stype = parse_type(ptype)
        raw = erasure(stype)
        if raw in MAPS or self.is_sub(raw, "java.util.Map"):
            return None
        if self._multiple(stype) and self._untyped(stype) and self._multiple(g_type) and not self._untyped(g_type):
            stype = g_type
        a = self.attribute(name, stype, target, owner)
        if a is None:
            return None
        return replace(a, deprecated="deprecated" in flags,
                       restricted=tuple(f.split(":", 1)[1] for f in flags if f.startswith("restricted:")
                                        and not f.endswith(":None")))

    def _best_setter(self, candidates: list, getter_raw: str):
        for c in candidates:
            if _same_type(erasure(parse_type(c[0])), getter_raw):
                return c
        arrays = [c for c in candidates if parse_type(c[0]).kind == "array"]
        return (arrays or candidates)[0]

    def _multiple(self, t: JType) -> bool:
        if t.kind == "array":
            return True
        return t.kind == "class" and (t.name in COLLECTIONS or self.is_sub(t.name, "java.util.Collection")
                                      or self.is_sub(t.name, PERSISTED_LIST))

    def _untyped(self, t: JType) -> bool:
        c = self.component_type(t, "")
        return c is None or c == "java.lang.Object" or c == erasure(t)

    def attribute(self, name: str, t: JType, target: str, owner: str) -> Attr | None:
        """BaseConfigurator.createAttribute: None when JCasC would drop the attribute."""
        multiple = self._multiple(t)
        c = self.component_type(t, target) if multiple else erasure(t)
        if c is None:
            return None
        if c.startswith("!"):
            return Attr(name, c, multiple, owner=owner)
        if c in self.types and self.is_abstract(c) and "enum" not in self.types[c] \
                and not self.is_sub(c, DESCRIBABLE):
            return None
        return Attr(name, c, multiple, owner=owner)

    def component_type(self, t: JType, target: str) -> str | None:
        """BaseConfigurator.getComponentType."""
        cur = t
        while cur.kind == "class" and not cur.args:
            sup = self.generic_super(cur)
            if sup is None:
                cur = t
                break
            cur = sup
            if cur.args:
                break
        if cur.kind == "array":
            cur = cur.args[0]
        while cur.kind == "class" and cur.args:
            pt = cur
            cur = pt.args[0]
            if cur.kind == "wild":
                cur = cur.args[0] if cur.args else JType("class", pt.name)
        for _ in range(4):
            if cur.kind == "var":
                sup = self.types.get(target, {}).get("super")
                st = parse_type(sup) if sup else None
                if st is not None and st.kind == "class" and st.args:
                    cur = st.args[0]
                    if cur.kind == "wild":
                        cur = cur.args[0] if cur.args else JType("class", "java.lang.Object")
                    continue
                return "java.lang.Object"
            break
        if cur.kind == "array":
            cur = cur.args[0]
        if cur.kind in ("class", "prim"):
            return cur.name
        if cur.kind == "unknown":
            return "!" + cur.name
        return None

    # configurators -------------------------------------------------------------------------
    def configurator(self, name: str) -> Conf:
        if name in self._conf:
            return self._conf[name]
        conf = self._lookup(name)
        self._conf[name] = conf
        return conf

    def _lookup(self, name: str) -> Conf:
        custom = self.custom().get(name)
        if custom is not None:
            attrs = {}
            if custom.get("inherits"):
                attrs.update(self.introspect(name, frozenset(custom.get("exclusions", ()))))
            for attr_name, cls, multi in custom.get("attributes") or ():
                attrs[attr_name] = Attr(attr_name, cls, multi, owner=custom["class"])
            if not custom.get("attributes") and not custom.get("inherits"):
                attrs = self._databound_attrs(name) if "constructor" in self.types.get(name, {}) else \
                    self.introspect(name)
            return Conf("mapping", name, attrs={k.lower(): v for k, v in attrs.items()})
        if name.startswith("!"):
            return Conf("opaque", name, why=f"type {name[1:]} is not in the JCasC model")
        if name in SCALARS:
            return Conf("scalar", name, scalar=SCALARS[name])
        entry = self.types.get(name)
        if entry is None and "$anonymous" not in name:
            return Conf("opaque", name, why=f"{name} is not in the JCasC model")
        if "$anonymous" in name:
            name = next(d["base"] for d in self.descriptors() if d["class"] == name)
            entry = self.types[name]
        if self.is_sub(name, DESCRIPTOR) and any(d["base"] == name for d in self.descriptors()):
            return Conf("mapping", name, attrs={k.lower(): v for k, v in self.introspect(name).items()})
        if "constructor" in entry and not entry.get("constructorNotPublic"):
            return Conf("mapping", name, attrs=self._databound_attrs(name))
        if self.is_abstract(name) and self.is_sub(name, DESCRIBABLE):
            return Conf("hetero", name, candidates=self._candidates(name))
        if "enum" in entry:
            return Conf("enum", name, values=tuple(entry["enum"]))
        if entry.get("converter"):
            return Conf("scalar", name, scalar="string")
        return Conf("opaque", name, why=f"no configurator for {name}")

    def _databound_attrs(self, name: str) -> dict[str, Attr]:
        attrs = self.introspect(name)
        for pname, ptype, pflags in self.types[name].get("constructor", ()):
            a = self.attribute(pname, parse_type(ptype), name, name)
            if a is None:
                continue
            t = parse_type(ptype)
            is_list = self._multiple(t) and t.kind != "array"
            a = replace(a, required="nonnull" in pflags and "nullable" not in pflags and not is_list)
            # the constructor consumes its parameters first (DataBoundConfigurator.tryConstructor): a
            # setter of the same name, deprecated or not, never sees them
            attrs[pname] = a
        return {k.lower(): v for k, v in attrs.items()}

    def _candidates(self, target: str) -> list[tuple[list[str], str]]:
        """HeteroDescribableConfigurator.getDescriptors(): exact Descriptor<T> first, then parents."""
        descriptors = self.descriptors()
        chosen = [d for d in descriptors if d["t"] == target]
        cur = target
        while not chosen:
            sup = self.types.get(cur, {}).get("super")
            if not sup:
                break
            cur = parse_type(sup).name
            if cur == "java.lang.Object":
                break
            chosen = [d for d in descriptors if d["t"] == cur]
        out = []
        for d in chosen:
            klass = d["klass"] or d["class"]
            out.append((self.symbols(d, target), klass))
        return out

    # roots -------------------------------------------------------------------------------
    def roots(self) -> dict[str, Conf]:
        """Root elements by lower-cased name."""
        if self._roots is None:
            self._roots = self._find_roots()
        return self._roots

    def _find_roots(self) -> dict[str, Conf]:
        roots: dict[str, Conf] = {}
        jenkins = self.introspect(JENKINS, frozenset(JENKINS_EXCLUDED))
        for attr_name, (cls, multi) in JENKINS_EXTRA.items():
            jenkins[attr_name] = Attr(attr_name, cls, multi, owner="io.jenkins.plugins.casc.core.JenkinsConfigurator")
        roots["jenkins"] = Conf("mapping", JENKINS, attrs={k.lower(): v for k, v in jenkins.items()})
        for name, entry in sorted(self.types.items()):
            if entry["kind"] != "class" or self.is_abstract(name) or name == CATEGORY:
                continue
            if not self.is_sub(name, CATEGORY) or not (entry.get("extension") or "$" in name):
                continue
            names = entry.get("symbols") or [_category_name(name)]
            conf = Conf("mapping", name, attrs=self._category_children(name))
            for n in names:
                roots.setdefault(n.lower(), conf)
        for target, cfg in self.custom().items():
            if cfg["root"] and cfg.get("names"):
                conf = self.configurator(target)
                for n in cfg["names"]:
                    roots.setdefault(n.lower(), conf)
        return roots

    def _global_descriptors(self, category: str) -> list[dict]:
        """The descriptors with a global configuration page under `category`, in descriptors() order;
        grouped in one pass over all of them (once per category cost 40 ms per world)."""
        if self._by_category is None:
            grouped: dict[str, list[dict]] = {}
            for d in self.descriptors():
                if self._has_global_page(d):
                    grouped.setdefault(self._category_of(d["base"]), []).append(d)
            # Assigned whole: a world is shared by threads (the Jenkins doubles of a test run
            # answer /check from one), and a half-filled table would hide a category's children.
            self._by_category = grouped
        return self._by_category.get(category, [])

    def _category_children(self, category: str) -> dict[str, Attr]:
        attrs: dict[str, Attr] = {}
        for d in self._global_descriptors(category):
            if d["symbols"]:
                names = list(d["symbols"])
            else:
                klass = d["klass"] or d["class"]
                names = [uncapitalize(simple_name(klass))]
                derived = self._descriptor_type_param(d["base"])
                if derived and uncapitalize(simple_name(derived)) != names[0]:
                    names.append(uncapitalize(simple_name(derived)))
            attr = Attr(names[0], d["class"], aliases=tuple(names[1:]), owner=d["class"])
            for n in names:
                attrs.setdefault(n.lower(), attr)
        return attrs

    def _descriptor_type_param(self, name: str) -> str | None:
        cur = name
        while cur in self.types:
            sup = self.types[cur].get("super")
            if not sup:
                return None
            st = parse_type(sup)
            if st.kind == "class" and self.is_sub(st.name, DESCRIPTOR) and st.args:
                arg = st.args[0]
                return arg.name if arg.kind == "class" else None
            cur = st.name
        return None

    def _category_of(self, name: str) -> str:
        cur = name
        while cur in self.types:
            entry = self.types[cur]
            if "category" in entry:
                return entry["category"]
            sup = entry.get("super")
            if not sup:
                break
            cur = parse_type(sup).name
        return UNCLASSIFIED

    def _has_global_page(self, d: dict) -> bool:
        """Descriptor.getGlobalConfigPage() != null: an override decides, else a global view."""
        cur = d["base"]
        while cur in self.types:
            entry = self.types[cur]
            page = entry.get("globalPage")
            if page == "null":
                return False
            if page == "other" or cur == GLOBAL_CONFIGURATION:
                return True
            sup = entry.get("super")
            if not sup:
                break
            cur = parse_type(sup).name
        klass = d["klass"] or d["class"]
        while klass in self.types:
            if "global" in self.types[klass].get("views", ()):
                return True
            sup = self.types[klass].get("super")
            if not sup:
                break
            klass = parse_type(sup).name
        return False


def _category_name(name: str) -> str:
    """GlobalConfigurationCategoryConfigurator.getNames() without a @Symbol."""
    simple = simple_name(name)
    for word in ("Global", "Configuration", "Category"):
        simple = simple.replace(word, "")
    return simple.lower()


def _same_type(a: str, b: str) -> bool:
    boxes = {"int": "java.lang.Integer", "boolean": "java.lang.Boolean", "long": "java.lang.Long",
             "double": "java.lang.Double", "float": "java.lang.Float", "byte": "java.lang.Byte",
             "char": "java.lang.Character", "short": "java.lang.Short"}
    return a == b or boxes.get(a) == b or boxes.get(b) == a


def _substitute(t: JType, bindings: dict) -> JType:
    if t.kind == "var" and t.name in bindings:
        return bindings[t.name]
    if t.args:
        return JType(t.kind, t.name, tuple(_substitute(a, bindings) for a in t.args))
    return t


# --- loading ------------------------------------------------------------------------------

@lru_cache(maxsize=8)
def index(model_dir: str = MODEL_DIR) -> dict:
    with open(os.path.join(model_dir, "index.json"), "rb") as fh:
        return orjson.loads(fh.read())


@cache
def _component(model_dir: str, file: str) -> dict:
    with open(os.path.join(model_dir, file), "rb") as fh:
        return orjson.loads(fh.read())  # a whole world's files are 2.4 MB: 3x faster than json


@lru_cache(maxsize=32)
def world(core: str, plugins: tuple[tuple[str, str], ...], model_dir: str = MODEL_DIR) -> World:
    """The world of core `core` and the plugin versions given (only those the model has)."""
    available = {(c["id"], c["version"]): c["file"] for c in index(model_dir)["components"]}
    files = [available[("core", core)]]
    files.extend(available[p] for p in plugins if p in available)
    return World([_component(model_dir, f) for f in files])
