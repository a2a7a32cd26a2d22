"""Read Java sources and keep what configuration-as-code's introspection looks at.

This is what JCasC does at run time with reflection (BaseConfigurator.describe,
DataBoundConfigurator, DescribableAttribute.getSymbols, the category configurators),
done offline on the source of core and of each plugin at a pinned tag. Per type it keeps:
the supertypes (with type arguments), the @Symbol values, @Extension, the public
@DataBoundConstructor parameters, the public one-argument setX and no-argument
getX/isX methods (with @Deprecated and @Restricted), public PersistedList fields,
enum constants, the category a descriptor's getCategory() returns, and which
Jelly/Groovy views its resources hold. Custom Configurator classes are read for
their getTarget(), getName() and the attributes their describe() builds.

Only the refresh (`make jcasc-model`) runs this; it needs tree-sitter-java.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

JAVA_LANG = {"String", "Object", "Integer", "Long", "Boolean", "Double", "Float", "Short", "Byte",
             "Character", "Number", "Enum", "Class", "Iterable", "Comparable", "Void", "Runnable",
             "CharSequence", "Deprecated", "Override", "Exception", "RuntimeException", "Cloneable"}
PRIMITIVES = {"int", "long", "boolean", "double", "float", "short", "byte", "char", "void"}
VIEW_SUFFIXES = (".jelly", ".groovy")
_SETTER = re.compile(r"set[A-Z_$0-9]")


@dataclass
class RawType:
    """One declared type before names are resolved (names as written, with their scope)."""
    name: str                      # binary name: pkg.Outer$Inner
    file: str
    line: int
    kind: str                      # class | interface | enum | record | annotation
    flags: set[str]
    type_params: list[str]
    superclass: object | None      # raw type node text tree (see _type)
    interfaces: list
    annotations: dict              # simple or qualified name -> list of string values
    ctor: list | None = None       # [(name, rawtype, flags)]
    ctor_public: bool = True
    setters: list = field(default_factory=list)   # [(property, rawtype, flags)]
    getters: list = field(default_factory=list)   # [(property, rawtype)]
    list_fields: list = field(default_factory=list)   # public fields: [(name, rawtype, flags)]
    enum_constants: list[str] = field(default_factory=list)
    category: object | None = None  # raw class literal returned by getCategory()
    global_page: str | None = None  # "null" when getGlobalConfigPage() returns null, "other" when overridden
    configurator: dict | None = None
    extension_fields: list = field(default_factory=list)  # [(rawtype, anonymous)]
    scope: object = None           # _Scope for name resolution


@dataclass
class _Scope:
    package: str
    imports: dict[str, str]        # simple name -> qualified
    wildcards: list[str]           # packages (or classes) imported with .*
    outer: list[str]               # binary names of enclosing types, innermost first
    type_params: set[str]


def _parser():
    import tree_sitter_java
    from tree_sitter import Language, Parser
    return Parser(Language(tree_sitter_java.language()))


def _text(node) -> str:
    return node.text.decode("utf-8", "replace")


def _string_values(node) -> list[str]:
    """String literals of an annotation argument: "a" or {"a", "b"} or value = ..."""
    out = []
    stack = [node]
    while stack:
        n = stack.pop(0)
        if n.type == "string_literal":
            out.append(_unquote(_text(n)))
        elif n.type in ("element_value_pair",):
            value = n.child_by_field_name("value")
            key = n.child_by_field_name("key")
            if key is not None and _text(key) == "value" and value is not None:
                stack.append(value)
        else:
            stack.extend(n.children)
    return out


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def _annotations(modifiers) -> dict:
    found = {}
    if modifiers is None:
        return found
    for child in modifiers.children:
        if child.type in ("marker_annotation", "annotation"):
            # annotation types are matched by simple name: @Extension and @hudson.Extension alike
            name = _text(child.child_by_field_name("name")).rsplit(".", 1)[-1]
            args = child.child_by_field_name("arguments")
            found[name] = _string_values(args) if args is not None else []
            if args is not None and name.endswith("Restricted"):
                found[name] = [re.sub(r"\.class$", "", _text(a)) for a in args.named_children]
    return found


def _modifier_words(modifiers) -> set[str]:
    if modifiers is None:
        return set()
    return {_text(c) for c in modifiers.children if c.type not in ("marker_annotation", "annotation")}


def _type(node):
    """A type node as a small tree: ('name', [args]) | ('array', t) | ('?', bound|None) | ('prim', name)."""
    t = node.type
    if t in ("type_identifier", "scoped_type_identifier"):
        return ("name", _strip_annotations(_text(node)), [])
    if t == "generic_type":
        base = node.named_children[0]
        args_node = next((c for c in node.named_children if c.type == "type_arguments"), None)
        args = [_type(a) for a in args_node.named_children] if args_node is not None else []
        return ("name", _strip_annotations(_text(base)), [a for a in args if a is not None])
    if t == "array_type":
        return ("array", _type(node.child_by_field_name("element")))
    if t in ("integral_type", "floating_point_type", "boolean_type", "void_type"):
        return ("prim", _text(node))
    if t == "wildcard":
        bound = [c for c in node.named_children if c.type not in ("super", "extends") and c.type != "annotation"
                 and c.type != "marker_annotation"]
        is_super = any(c.type == "super" for c in node.children)
        return ("?", None if not bound or is_super else _type(bound[-1]))
    if t == "annotated_type":
        return _type(node.named_children[-1])
    if t == "type_identifier":
        return ("name", _text(node), [])
    return None


def _strip_annotations(text: str) -> str:
    return re.sub(r"@\w+(\([^)]*\))?\s*", "", text).replace(" ", "")


def _field(member, raw: RawType, words: set, annotations: dict, public: bool) -> None:
    if "Extension" in annotations:
        # @Extension on a field: the instance it holds is registered (often an anonymous subclass)
        for node in _walk(member):
            if node.type == "object_creation_expression":
                ctype = node.child_by_field_name("type")
                if ctype is not None:
                    anonymous = any(c.type == "class_body" for c in node.named_children)
                    raw.extension_fields.append((_type(ctype), anonymous))
                break
    if public and "static" not in words:
        ftype = _type(member.child_by_field_name("type"))
        for decl in member.named_children:
            if decl.type == "variable_declarator":
                raw.list_fields.append((_text(decl.child_by_field_name("name")), ftype, {"transient"} & words))


def _accessor_flags(words: set, annotations: dict) -> set[str]:
    """What the model records of a public getter or setter: deprecated, restricted:<kind>, static, databound."""
    flags = set()
    if "Deprecated" in annotations:
        flags.add("deprecated")
    restricted = annotations.get("Restricted")
    if restricted:
        flags.update(f"restricted:{r.rsplit('.', 1)[-1]}" for r in restricted)
    if "static" in words:
        flags.add("static")
    if "DataBoundSetter" in annotations:
        flags.add("databound")
    return flags


class SourceReader:
    """Parses every .java file of one source tree into RawTypes."""

    def __init__(self):
        self.parser = _parser()

    def read_tree(self, root: str, java_dirs: list[str], resource_dirs: list[str]) -> tuple[list[RawType], set[str]]:
        types: list[RawType] = []
        for java_dir in java_dirs:
            base = os.path.join(root, java_dir)
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames.sort()
                for fn in sorted(filenames):
                    if fn.endswith(".java") and fn not in ("package-info.java", "module-info.java"):
                        path = os.path.join(dirpath, fn)
                        rel = os.path.relpath(path, root)
                        with open(path, "rb") as fh:
                            types.extend(self.read_file(fh.read(), rel))
        views: set[str] = set()
        for res_dir in resource_dirs:
            base = os.path.join(root, res_dir)
            for dirpath, _dirnames, filenames in os.walk(base):
                for fn in filenames:
                    if fn.endswith(VIEW_SUFFIXES):
                        rel = os.path.relpath(os.path.join(dirpath, fn), base)
                        views.add(rel.replace(os.sep, "/"))
        return types, views

    def read_file(self, data: bytes, rel: str) -> list[RawType]:
        tree = self.parser.parse(data)
        root = tree.root_node
        package = ""
        imports: dict[str, str] = {}
        wildcards: list[str] = []
        out: list[RawType] = []
        for node in root.named_children:
            if node.type == "package_declaration":
                package = _text(node.named_children[-1]) if node.named_children else ""
                package = _strip_annotations(package)
            elif node.type == "import_declaration":
                text = _text(node)
                is_static = " static " in f" {text} "
                body = text.removeprefix("import").strip().rstrip(";").strip()
                if is_static:
                    continue
                if body.endswith(".*"):
                    wildcards.append(body[:-2])
                else:
                    imports[body.rsplit(".", 1)[-1]] = body
        for node in root.named_children:
            if node.type in _DECLS:
                self._declaration(node, rel, _Scope(package, imports, wildcards, [], set()), package, out)
        return out

    def _declaration(self, node, rel, scope: _Scope, prefix: str, out: list[RawType]) -> None:
        name = _text(node.child_by_field_name("name"))
        binary = f"{prefix}.{name}" if prefix and not scope.outer else (f"{prefix}${name}" if scope.outer else name)
        modifiers = next((c for c in node.children if c.type == "modifiers"), None)
        flags = _modifier_words(modifiers)
        kind = _DECLS[node.type]
        if kind == "interface":
            flags.add("abstract")
        annotations = _annotations(modifiers)
        if "Deprecated" in annotations:
            flags.add("deprecated")
        tparams_node = node.child_by_field_name("type_parameters")
        tparams = [_text(p.named_children[0]) for p in tparams_node.named_children] if tparams_node else []
        superclass = None
        interfaces = []
        for child in node.children:
            if child.type == "superclass":
                superclass = _type(child.named_children[0])
            elif child.type in ("super_interfaces", "extends_interfaces"):
                type_list = child.named_children[0]
                interfaces = [t for t in (_type(x) for x in type_list.named_children) if t is not None]
        inner_scope = _Scope(scope.package, scope.imports, scope.wildcards, [binary] + scope.outer,
                             scope.type_params | set(tparams))
        raw = RawType(binary, rel, node.start_point[0] + 1, kind, flags, tparams, superclass, interfaces,
                      annotations, scope=inner_scope)
        out.append(raw)
        body = node.child_by_field_name("body")
        if body is None:
            return
        in_interface = kind in ("interface", "annotation")
        for member in body.named_children:
            if member.type == "enum_body_declarations":
                for inner in member.named_children:
                    self._member(inner, raw, rel, inner_scope, binary, out, in_interface)
            elif member.type == "enum_constant":
                raw.enum_constants.append(_text(member.child_by_field_name("name")))
            else:
                self._member(member, raw, rel, inner_scope, binary, out, in_interface)

    def _member(self, member, raw: RawType, rel, scope: _Scope, binary: str, out, in_interface: bool) -> None:
        if member.type in _DECLS:
            self._declaration(member, rel, scope, binary, out)
            return
        modifiers = next((c for c in member.children if c.type == "modifiers"), None)
        words = _modifier_words(modifiers)
        public = "public" in words or (in_interface and "private" not in words)
        annotations = _annotations(modifiers)
        if member.type == "constructor_declaration":
            self._constructor(member, raw, scope, annotations, public)
        elif member.type == "field_declaration":
            _field(member, raw, words, annotations, public)
        elif member.type == "method_declaration":
            self._method(member, raw, scope, words, annotations, public)

    def _constructor(self, member, raw: RawType, scope: _Scope, annotations: dict, public: bool) -> None:
        if "DataBoundConstructor" in annotations:
            raw.ctor = self._params(member, scope)
            raw.ctor_public = public
            if "Nonnull" in annotations or "ParametersAreNonnullByDefault" in annotations:
                raw.ctor = [(n, t, f | {"nonnull"}) for n, t, f in raw.ctor]

    def _method(self, member, raw: RawType, scope: _Scope, words: set, annotations: dict, public: bool) -> None:
        name = _text(member.child_by_field_name("name"))
        params = self._params(member, scope)
        if name == "getCategory" and not params:
            raw.category = _class_literal(member.child_by_field_name("body"))
        if name == "getGlobalConfigPage" and not params:
            body = member.child_by_field_name("body")
            raw.global_page = "null" if body is not None and re.fullmatch(
                r"\{\s*return\s+null\s*;\s*\}", _text(body)) else "other"
        if (name in _CONFIGURATOR_METHODS and not params) or (name == "canConfigure" and len(params) == 1):
            self._configurator_member(raw, name, member)
        if not public:
            return
        flags = _accessor_flags(words, annotations)
        if len(params) == 1 and _SETTER.match(name):
            raw.setters.append((name[3:], params[0][1], flags))
        elif not params and ((name.startswith("get") and len(name) > 3) or (name.startswith("is") and len(name) > 2)):
            ret = member.child_by_field_name("type")
            rtype = _type(ret) if ret is not None else None
            dims = member.child_by_field_name("dimensions")
            if dims is not None and rtype is not None:
                rtype = ("array", rtype)
            raw.getters.append((name, rtype, flags))

    def _params(self, member, scope) -> list:
        params_node = member.child_by_field_name("parameters")
        out = []
        if params_node is None:
            return out
        for p in params_node.named_children:
            if p.type == "formal_parameter":
                ptype = _type(p.child_by_field_name("type"))
                dims = p.child_by_field_name("dimensions")
                if dims is not None:
                    ptype = ("array", ptype)
                pname = _text(p.child_by_field_name("name"))
                anns = _annotations(next((c for c in p.children if c.type == "modifiers"), None))
            elif p.type == "spread_parameter":
                type_node = next(c for c in p.named_children if c.type not in ("modifiers",))
                ptype = ("array", _type(type_node))
                decl = next((c for c in p.named_children if c.type == "variable_declarator"), None)
                pname = _text(decl.child_by_field_name("name")) if decl is not None else "args"
                anns = _annotations(next((c for c in p.children if c.type == "modifiers"), None))
            else:
                continue
            pflags = set()
            if "Nonnull" in anns:
                pflags.add("nonnull")
            if "CheckForNull" in anns or "Nullable" in anns:
                pflags.add("nullable")
            out.append((pname, ptype, pflags))
        return out

    def _configurator_member(self, raw: RawType, name: str, member) -> None:
        """Facts of a hand-written Configurator: target, names and the attributes describe() builds."""
        cfg = raw.configurator if raw.configurator is not None else {}
        raw.configurator = cfg
        body = member.child_by_field_name("body")
        if body is None:
            return
        text = _text(body)
        if name == "getTarget":
            cfg["target"] = _class_literal(body)
        elif name == "getName":
            m = re.fullmatch(r'\{\s*return\s+"([^"]*)"\s*;\s*\}', text)
            if m:
                cfg["names"] = [m.group(1)]
        elif name == "getNames":
            names = re.findall(r'"([^"]+)"', text)
            if names:
                cfg["names"] = names
        elif name == "describe":
            attrs = []
            for node in _walk(body):
                if node.type == "object_creation_expression":
                    ctype = node.child_by_field_name("type")
                    cname = _strip_annotations(_text(ctype.named_children[0] if ctype.type == "generic_type"
                                                     else ctype)) if ctype is not None else ""
                    if cname.rsplit(".", 1)[-1] in _ATTRIBUTE_CLASSES:
                        args = node.child_by_field_name("arguments")
                        literal = args.named_children if args is not None else []
                        if len(literal) >= 2 and literal[0].type == "string_literal":
                            attrs.append((_unquote(_text(literal[0])), _class_literal(literal[1]),
                                          cname.rsplit(".", 1)[-1] != "Attribute"))
            cfg["attributes"] = attrs
            cfg["inherits"] = "super.describe()" in text
        elif name == "canConfigure":
            cfg["canConfigure"] = {"names": re.findall(r'"([^"]+)"', text),
                                   "classes": [_strip_annotations(_text(n.named_children[0])) for n in _walk(body)
                                               if n.type == "class_literal"]}
        elif name == "exclusions":
            cfg["exclusions"] = re.findall(r'"([^"]+)"', text)


_CONFIGURATOR_METHODS = {"getTarget", "getName", "getNames", "describe", "exclusions"}
_ATTRIBUTE_CLASSES = {"Attribute", "MultivaluedAttribute", "DescribableAttribute", "DescribableListAttribute",
                      "PersistedListAttribute"}
_DECLS = {"class_declaration": "class", "interface_declaration": "interface", "enum_declaration": "enum",
          "record_declaration": "record", "annotation_type_declaration": "annotation"}




def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.named_children))


def _class_literal(node) -> str | None:
    if node is None:
        return None
    for n in _walk(node):
        if n.type == "class_literal":
            return _strip_annotations(_text(n.named_children[0]))
    return None


# --- names -> fully qualified binary names ------------------------------------------------

JDK_TYPES = {
    "java.util": {"List", "ArrayList", "LinkedList", "Collection", "Set", "HashSet", "LinkedHashSet", "SortedSet",
                  "TreeSet", "Map", "HashMap", "TreeMap", "Optional", "Locale", "Date", "UUID", "Properties"},
    "java.util.concurrent": {"CopyOnWriteArrayList", "TimeUnit"},
    "java.io": {"File", "Serializable"},
    "java.net": {"URL", "URI"},
    "java.nio.charset": {"Charset"},
    "java.time": {"Duration"},
}
_JDK_INDEX = {f"{pkg}.{n}" for pkg, names in JDK_TYPES.items() for n in names} | {f"java.lang.{n}" for n in JAVA_LANG}


class NameResolver:
    """Resolves the names written in source against every type read in the same refresh."""

    def __init__(self, types: list[RawType]):
        self.by_name = {t.name: t for t in types}
        self.known = set(self.by_name) | _JDK_INDEX
        self._members: dict[str, set[str]] = {}
        for t in types:
            if "$" in t.name:
                outer, inner = t.name.rsplit("$", 1)
                self._members.setdefault(outer, set()).add(inner)
        self._super_cache: dict[str, list[str]] = {}

    def type_string(self, node, scope: _Scope) -> str:
        if node is None:
            return "!"
        kind = node[0]
        if kind == "prim":
            return node[1]
        if kind == "array":
            return self.type_string(node[1], scope) + "[]"
        if kind == "?":
            return "?" if node[1] is None else "? extends " + self.type_string(node[1], scope)
        name, args = node[1], node[2]
        base = self.resolve(name, scope)
        if args:
            base += "<" + ",".join(self.type_string(a, scope) for a in args) + ">"
        return base

    def resolve(self, written: str, scope: _Scope) -> str:
        parts = written.split(".")
        first = parts[0]
        if len(parts) == 1 and first in scope.type_params:
            return "~" + first
        head = self._resolve_simple(first, scope)
        if head is None:
            # a qualified name: the longest known prefix is the class, the rest nested types
            for i in range(len(parts), 0, -1):
                candidate = ".".join(parts[:i])
                if candidate in self.known:
                    return candidate + "".join("$" + p for p in parts[i:])
            return "!" + written
        return head + "".join("$" + p for p in parts[1:])

    def _resolve_simple(self, name: str, scope: _Scope) -> str | None:
        for outer in scope.outer:
            found = self._member_type(outer, name, set())
            if found:
                return found
        if name in scope.imports:
            return scope.imports[name]
        candidate = f"{scope.package}.{name}" if scope.package else name
        if candidate in self.known:
            return candidate
        for wildcard in scope.wildcards:
            for candidate in (f"{wildcard}.{name}", f"{wildcard}${name}"):
                if candidate in self.known:
                    return candidate
        if name in JAVA_LANG:
            return f"java.lang.{name}"
        return None

    def _member_type(self, owner: str, name: str, seen: set[str]) -> str | None:
        """A member type of `owner`, declared there or inherited from its supertypes."""
        if owner in seen:
            return None
        seen.add(owner)
        if name in self._members.get(owner, ()):
            return f"{owner}${name}"
        if owner.rsplit("$", 1)[-1].rsplit(".", 1)[-1] == name:
            return owner
        for sup in self.supertypes(owner):
            found = self._member_type(sup, name, seen)
            if found:
                return found
        return None

    def supertypes(self, binary: str) -> list[str]:
        if binary in self._super_cache:
            return self._super_cache[binary]
        self._super_cache[binary] = []  # cycle guard
        raw = self.by_name.get(binary)
        out = []
        if raw is not None:
            # supertypes are resolved in the scope enclosing the type (its own members are not visible there)
            outer_scope = _Scope(raw.scope.package, raw.scope.imports, raw.scope.wildcards, raw.scope.outer[1:],
                                 raw.scope.type_params)
            for node in ([raw.superclass] if raw.superclass else []) + raw.interfaces:
                if node and node[0] == "name":
                    out.append(self.resolve(node[1], outer_scope).split("<")[0])
        self._super_cache[binary] = out
        return out


def resolve_types(types: list[RawType], resolver: NameResolver, views: set[str]) -> dict[str, dict]:
    """RawTypes -> the JSON facts of the model (names resolved, empty fields left out)."""
    out = {}
    # Stapler.lookupConverter loads <type>$StaplerConverterImpl: such a type is a scalar
    converters = {t.name.rsplit("$", 1)[0] for t in types if t.name.endswith("$StaplerConverterImpl")}
    for t in types:
        scope = t.scope
        outer_scope = _Scope(scope.package, scope.imports, scope.wildcards, scope.outer[1:], scope.type_params)
        out[t.name] = {"at": f"{t.file}:{t.line}", "kind": t.kind,
                       **_declaration_facts(t, resolver, outer_scope),
                       **_binding_facts(t, resolver, scope, t.name in converters),
                       **_configuration_facts(t, resolver, scope, views)}
    return out


def _declaration_facts(t: RawType, resolver: NameResolver, outer_scope: _Scope) -> dict:
    """Modifiers, type parameters, supertypes, @Symbol and @Extension."""
    entry: dict = {}
    flags = sorted(f for f in t.flags if f in ("abstract", "public", "static", "deprecated", "final"))
    if flags:
        entry["flags"] = flags
    if t.type_params:
        entry["typeParams"] = t.type_params
    if t.superclass:
        entry["super"] = resolver.type_string(t.superclass, outer_scope)
    if t.interfaces:
        entry["interfaces"] = [resolver.type_string(i, outer_scope) for i in t.interfaces]
    symbols = next((v for k, v in t.annotations.items() if k.rsplit(".", 1)[-1] == "Symbol"), None)
    if symbols:
        entry["symbols"] = symbols
    if any(k.rsplit(".", 1)[-1] == "Extension" for k in t.annotations):
        entry["extension"] = True
    return entry


def _binding_facts(t: RawType, resolver: NameResolver, scope: _Scope, converter: bool) -> dict:
    """How Stapler and JCasC bind the type: constructor, setters, getters, fields, converter, enum."""
    entry: dict = {}
    if t.ctor is not None:
        entry["constructor"] = [[n, resolver.type_string(ty, scope), sorted(f)] for n, ty, f in t.ctor]
        if not t.ctor_public:
            entry["constructorNotPublic"] = True
    if t.setters:
        entry["setters"] = [[p, resolver.type_string(ty, scope), sorted(f)] for p, ty, f in t.setters]
    if t.getters:
        entry["getters"] = [[n, resolver.type_string(ty, scope)] for n, ty, _f in t.getters]
    fields = [[n, resolver.type_string(ty, scope), sorted(f)] for n, ty, f in t.list_fields]
    if fields:
        entry["fields"] = fields
    if converter:
        entry["converter"] = True
    if t.enum_constants:
        entry["enum"] = t.enum_constants
    return entry


def _configuration_facts(t: RawType, resolver: NameResolver, scope: _Scope, views: set[str]) -> dict:
    """Where the type appears in the configuration: category, global page, registered extension
    fields, its JCasC configurator and its views."""
    entry: dict = {}
    if t.category:
        entry["category"] = resolver.resolve(t.category, scope)
    if t.global_page:
        entry["globalPage"] = t.global_page
    cfg = t.configurator
    if t.extension_fields:
        entry["extensionFields"] = [[resolver.type_string(ty, scope), anon] for ty, anon in t.extension_fields]
    if cfg and (cfg.get("target") or cfg.get("names") or cfg.get("attributes")):
        entry["configurator"] = {
            **({"canConfigure": sorted(set(cfg["canConfigure"]["names"]) | {
                resolver.resolve(c, scope) for c in cfg["canConfigure"]["classes"]})}
               if "canConfigure" in cfg else {}),
            **({"target": resolver.resolve(cfg["target"], scope)} if cfg.get("target") else {}),
            **({"names": cfg["names"]} if cfg.get("names") else {}),
            **({"attributes": [[n, resolver.resolve(c, scope) if c else "!", multi]
                               for n, c, multi in cfg["attributes"]]} if "attributes" in cfg else {}),
            **({"inherits": True} if cfg.get("inherits") else {}),
            **({"exclusions": cfg["exclusions"]} if cfg.get("exclusions") else {}),
        }
    path = t.name.replace(".", "/").replace("$", "/")
    pages = sorted({v.rsplit("/", 1)[1].split(".")[0] for v in views
                    if v.rsplit("/", 1)[0] == path and v.rsplit("/", 1)[1].split(".")[0] in ("global", "config")})
    if pages:
        entry["views"] = pages
    return entry
