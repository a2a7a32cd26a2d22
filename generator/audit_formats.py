"""Renderings of an audit report: every format is a view of the JSON document (docs/audit.md).

Renderers take the dict of `Report.to_json()`, so what a table shows and what
a tool reads from the JSON cannot drift apart.
"""

from __future__ import annotations

import csv
import html
import io
import itertools
import json
from dataclasses import dataclass
from functools import cached_property

from .errors import plural

FORMATS = ("table", "json", "csv", "markdown", "html")


# --- numbers for people -------------------------------------------------------------------------

def cores(millis: int | None) -> str:
    if millis is None:
        return "-"
    text = f"{millis / 1000:.3f}".rstrip("0").rstrip(".")
    return text if text != "-0" else "0"


def gib(mib: int | None) -> str:
    if mib is None:
        return "-"
    if mib % 1024 == 0:
        return f"{mib // 1024}Gi"
    if mib < 1024:
        return f"{mib}Mi"
    return f"{mib / 1024:.2f}".rstrip("0").rstrip(".") + "Gi"


def count(n: int | None) -> str:
    return "-" if n is None else str(n)


def pct(p: float | None) -> str:
    return "-" if p is None else f"{p:.1f}%"


def signed(value: int, fmt) -> str:
    if value == 0:
        return "0"
    return ("+" if value > 0 else "-") + fmt(abs(value))


def res_pair(r: dict) -> tuple[str, str]:
    return (f"{cores(r['cpuRequestMillis'])}/{cores(r['cpuLimitMillis'])}",
            gib(r["memoryRequestMiB"]) if r["memoryRequestMiB"] == r["memoryLimitMiB"]
            else f"{gib(r['memoryRequestMiB'])}/{gib(r['memoryLimitMiB'])}")


# --- shared row building --------------------------------------------------------------------------

INSTANCE_HEADERS = ["instance", "cluster", "namespace", "packs", "conc", "static", "ctl cpu", "ctl mem",
                    "agent cpu", "agent mem", "pods", "req cpu", "req mem", "lim cpu", "lim mem"]


def instance_cells(row: dict) -> list[str]:
    ctl_cpu, ctl_mem = res_pair(row["controller"])
    agent_cpu, agent_mem = res_pair(row["agent"])
    q = row["quota"]
    packs = str(row["packs"]) + ("*" if row.get("packsApproval") else "")
    return [row["name"], row["cluster"], row["namespace"], packs, str(row["maxConcurrency"]),
            str(row["staticAgents"]), ctl_cpu, ctl_mem, agent_cpu, agent_mem, count(q["pods"]),
            cores(q["requestsCpuMillis"]), gib(q["requestsMemoryMiB"]), cores(q["limitsCpuMillis"]),
            gib(q["limitsMemoryMiB"])]


CLUSTER_HEADERS = ["cluster", "instances", "req cpu / cap", "cpu %", "req mem / cap", "mem %", "pods / cap",
                   "pods %", "lim cpu %", "lim mem %", "free cpu", "free mem", "free pods", "+1-pack"]


def cluster_cells(c: dict) -> list[str]:
    t, cap, u, h = c["totals"], c["capacity"], c["utilisation"], c["headroom"]
    return [c["name"], str(c["instances"]),
            f"{cores(t['requestsCpuMillis'])} / {cores(cap['cpuMillis'])}", pct(u["requestsCpuPercent"]),
            f"{gib(t['requestsMemoryMiB'])} / {gib(cap['memoryMiB'])}", pct(u["requestsMemoryPercent"]),
            f"{t['pods']} / {count(cap['pods'])}", pct(u["podsPercent"]),
            pct(u["limitsCpuPercent"]), pct(u["limitsMemoryPercent"]),
            cores(h["cpuMillis"]), gib(h["memoryMiB"]), count(h["pods"]), count(c["onePackInstancesFit"])]


BASE_HEADERS = ["instance", "change", "cluster", "packs", "conc", "pods", "req cpu", "req mem",
                "lim cpu", "lim mem"]


def _before_after(entry: dict, key: str) -> str:
    before = entry["before"][key] if entry["before"] else None
    after = entry["after"][key] if entry["after"] else None
    if before == after:
        return count(after)
    return f"{count(before)} → {count(after)}"


def base_cells(entry: dict) -> list[str]:
    d = entry["delta"]
    return [entry["name"], entry["change"], entry["cluster"], _before_after(entry, "packs"),
            _before_after(entry, "maxConcurrency"), signed(d["pods"], str),
            signed(d["requestsCpuMillis"], cores), signed(d["requestsMemoryMiB"], gib),
            signed(d["limitsCpuMillis"], cores), signed(d["limitsMemoryMiB"], gib)]


BASE_CLUSTER_HEADERS = ["cluster", "pods", "req cpu", "req mem", "lim cpu", "lim mem"]


def base_cluster_cells(c: dict) -> list[str]:
    def cell(key, fmt):
        b, a, d = c["before"][key], c["after"][key], c["delta"][key]
        return fmt(a) if d == 0 else f"{fmt(b)} → {fmt(a)} ({signed(d, fmt)})"
    return [c["name"], cell("pods", str), cell("requestsCpuMillis", cores), cell("requestsMemoryMiB", gib),
            cell("limitsCpuMillis", cores), cell("limitsMemoryMiB", gib)]


LIVE_HEADERS = ["instance", "cluster", "namespace", "status", "differences"]


def live_rows(live: dict) -> list[list[str]]:
    rows = []
    for entry in live["instances"]:
        diffs = "; ".join(f"{d['object']} {d['field']}: {d['expected']} ≠ {d['actual']}"
                          if d["actual"] is not None and d["expected"] is not None
                          else f"{d['object']} {d['field']}: " + ("missing" if d["actual"] is None else "unexpected")
                          for d in entry["differences"])
        rows.append([entry["name"], entry["cluster"], entry["namespace"], entry["status"], diffs])
    for extra in live["unknownNamespaces"]:
        rows.append(["(none)", extra["cluster"], extra["namespace"], "unknown", ", ".join(extra["objects"])])
    return rows


def summary_line(doc: dict) -> str:
    s = doc["summary"]
    return (f"{plural(s['instances'], 'instance')}, {plural(s['errors'], 'error')}, "
            f"{plural(s['warnings'], 'warning')}, {plural(s['infos'], 'info')} (exit {s['exitCode']})")


def source_line(doc: dict) -> str:
    src = doc["source"]
    return ("artifacts generated in memory from the working tree" if src["kind"] == "generated"
            else f"artifacts read from {src['path']}")


def base_title(base: dict) -> str:
    rev = base["revision"]
    return f"Changes since {rev.get('ref') or 'the base'} ({rev['commit'][:12]})"


# --- json / csv --------------------------------------------------------------------------------

def render_json(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


CSV_COLUMNS = [
    "name", "cluster", "namespace", "packs", "packs_approval", "max_concurrency", "container_cap", "static_agents",
    "controller_cpu_request_millis", "controller_cpu_limit_millis", "controller_memory_request_mib",
    "controller_memory_limit_mib", "agent_cpu_request_millis", "agent_cpu_limit_millis",
    "agent_memory_request_mib", "agent_memory_limit_mib", "quota_pods", "quota_requests_cpu_millis",
    "quota_requests_memory_mib", "quota_limits_cpu_millis", "quota_limits_memory_mib", "findings",
]
BASE_CSV_COLUMNS = ["base_change", "delta_pods", "delta_requests_cpu_millis", "delta_requests_memory_mib",
                    "delta_limits_cpu_millis", "delta_limits_memory_mib"]


def render_csv(doc: dict) -> str:
    """One row per instance; with --base the delta columns, with --live the drift status."""
    base = {e["name"]: e for e in doc["base"]["instances"]} if "base" in doc else None
    live = {e["name"]: e["status"] for e in doc["live"]["instances"]} if "live" in doc else None
    columns = (CSV_COLUMNS + (BASE_CSV_COLUMNS if base is not None else [])
               + (["live_status"] if live is not None else []))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    rules: dict[str, list[str]] = {}
    for f in doc["findings"]:
        if f["instance"]:
            rules.setdefault(f["instance"], []).append(f["rule"])
    for row in doc["instances"]:
        ctl, agent, q = row["controller"], row["agent"], row["quota"]
        values = [row["name"], row["cluster"], row["namespace"], row["packs"], row.get("packsApproval") or "",
                  row["maxConcurrency"], "" if row["containerCap"] is None else row["containerCap"],
                  row["staticAgents"], ctl["cpuRequestMillis"], ctl["cpuLimitMillis"], ctl["memoryRequestMiB"],
                  ctl["memoryLimitMiB"], agent["cpuRequestMillis"], agent["cpuLimitMillis"],
                  agent["memoryRequestMiB"], agent["memoryLimitMiB"]]
        values += ["" if q[k] is None else q[k] for k in
                   ("pods", "requestsCpuMillis", "requestsMemoryMiB", "limitsCpuMillis", "limitsMemoryMiB")]
        values.append(";".join(sorted(set(rules.get(row["name"], [])))))
        if base is not None:
            entry = base.get(row["name"])
            d = entry["delta"] if entry else {}
            values += [entry["change"] if entry else "unchanged"] + [d.get(k, 0) for k in (
                "pods", "requestsCpuMillis", "requestsMemoryMiB", "limitsCpuMillis", "limitsMemoryMiB")]
        if live is not None:
            values.append(live.get(row["name"], ""))
        writer.writerow(values)
    return out.getvalue()


# --- markdown ----------------------------------------------------------------------------------

def _md_escape(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def _md_table(headers: list[str], rows: list[list[str]], right_from: int = 1) -> list[str]:
    align = ["---" if i < right_from else "---:" for i in range(len(headers))]
    lines = ["| " + " | ".join(_md_escape(h) for h in headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return lines


_ICON = {"error": "❌", "warning": "⚠️", "info": "ℹ️"}


def render_markdown(doc: dict) -> str:
    """GitHub-flavoured markdown, short enough for a pull-request comment."""
    lines = ["## Fleet quota audit", "", f"{summary_line(doc)}; {source_line(doc)}.", ""]
    if "base" in doc:
        base = doc["base"]
        lines += [f"### {base_title(base)}", ""]
        if base["instances"]:
            lines += _md_table(BASE_HEADERS, [base_cells(e) for e in base["instances"]], right_from=3)
        else:
            lines.append("No instance's quota changed.")
        lines += ["", f"{base['unchanged']} instance(s) unchanged.", ""]
        lines += _md_table(BASE_CLUSTER_HEADERS, [base_cluster_cells(c) for c in base["clusters"]])
        lines.append("")
    if doc["findings"]:
        lines += ["### Findings", ""]
        for f in doc["findings"]:
            who = f["instance"] or (f"cluster {f['cluster']}" if f["cluster"] else "fleet")
            lines.append(f"- {_ICON[f['severity']]} **{f['severity']}** `{f['rule']}` {_md_escape(who)}: "
                         f"{_md_escape(f['message'])}")
        lines.append("")
    lines += ["### Clusters", ""]
    lines += _md_table(CLUSTER_HEADERS, [cluster_cells(c) for c in doc["clusters"]])
    lines += ["", "### Instances", ""]
    lines += _md_table(INSTANCE_HEADERS, [instance_cells(r) for r in doc["instances"]], right_from=3)
    lines += ["", "CPU in cores, memory in GiB; `*` marks packs above the policy with an approval."]
    if "live" in doc:
        lines += ["", "### Live drift", ""]
        rows = live_rows(doc["live"])
        lines += _md_table(LIVE_HEADERS, rows, right_from=len(LIVE_HEADERS)) if rows else ["No live objects compared."]
    return "\n".join(lines) + "\n"


# --- html --------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1f2328;background:#fff}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:right;white-space:nowrap}
th{background:#f6f8fa}td.l,th.l{text-align:left}
.error{color:#cf222e}.warning{color:#9a6700}.info{color:#0969da}
.chart{display:inline-block;margin:0 2rem 1rem 0;vertical-align:top}
.chart text{font-size:13px;fill:#1f2328}
.chart .track{fill:#eaeef2;stroke:#d0d7de}
rect.ok{fill:#2da44e}rect.high{fill:#bf8700}rect.critical{fill:#cf222e}
.legend{font-size:.85rem;color:#57606a}
.swatch{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 .8rem;vertical-align:-.1rem}
.swatch.ok{background:#2da44e}.swatch.high{background:#bf8700}.swatch.critical{background:#cf222e}
ul.findings li{margin:.2rem 0}
"""


def _h(text) -> str:
    return html.escape(str(text), quote=True)


def _html_table(headers: list[str], rows: list[list[str]], left: int = 1) -> str:
    head = "".join(f'<th class="l">{_h(h)}</th>' if i < left else f"<th>{_h(h)}</th>" for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="l">{_h(c)}</td>' if i < left else f"<td>{_h(c)}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# A bar's colour says how close to the capacity it is: amber above 80%, red above 95%.
BAR_LEVELS = ((95.0, "critical", "above 95%"), (80.0, "high", "above 80%"), (None, "ok", "up to 80%"))


def bar_level(percent: float) -> str:
    return next(level for limit, level, _ in BAR_LEVELS if limit is None or percent > limit)


def _bar_chart(c: dict) -> str:
    """Capacity vs allocated, one bar per resource, as inline SVG (no script, no network)."""
    t, cap = c["totals"], c["capacity"]
    bars = [("requests.cpu", t["requestsCpuMillis"], cap["cpuMillis"], cores, " cores"),
            ("requests.memory", t["requestsMemoryMiB"], cap["memoryMiB"], gib, ""),
            ("pods", t["pods"], cap["pods"], count, ""),
            ("limits.cpu", t["limitsCpuMillis"], cap["cpuMillis"], cores, " cores"),
            ("limits.memory", t["limitsMemoryMiB"], cap["memoryMiB"], gib, "")]
    width, label_w, bar_w, row_h = 720, 130, 300, 28
    height = row_h * len(bars) + 26
    svg = (f'<svg class="chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           'xmlns="http://www.w3.org/2000/svg">')
    parts = [svg,
             f"<title>{_h(c['name'])}: allocated vs capacity</title>",
             f'<text x="0" y="15" font-weight="bold">{_h(c["name"])}</text>']
    for i, (label, used, total, fmt, unit) in enumerate(bars):
        y = 24 + i * row_h
        parts.append(f'<text x="0" y="{y + 14}">{_h(label)}</text>')
        parts.append(f'<rect class="track" x="{label_w}" y="{y}" width="{bar_w}" height="18"/>')
        if total:
            percent = 100 * used / total
            w = round(min(percent / 100, 1.0) * bar_w, 1)
            parts.append(f'<rect class="bar {bar_level(percent)}" data-resource="{_h(label)}" x="{label_w}" y="{y}" '
                         f'width="{w}" height="18"/>')
            text = f"{fmt(used)} / {fmt(total)}{unit} ({percent:.1f}%)"
        else:
            text = f"{fmt(used)}{unit} (no capacity set)"
        parts.append(f'<text x="{label_w + bar_w + 8}" y="{y + 14}">{_h(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _legend() -> str:
    return '<p class="legend">Bars:' + "".join(f'<span class="swatch {level}"></span>{_h(words)}'
                                               for _, level, words in reversed(BAR_LEVELS)) + " of the capacity</p>"


def render_html(doc: dict) -> str:
    """One self-contained page: inline CSS and SVG, no script, nothing fetched."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>Fleet quota audit</title>", f"<style>{_CSS}</style></head><body>",
           "<h1>Fleet quota audit</h1>", f"<p>{_h(summary_line(doc))}; {_h(source_line(doc))}.</p>"]
    if "base" in doc:
        base = doc["base"]
        out.append(f"<h2>{_h(base_title(base))}</h2>")
        out.append(_html_table(BASE_HEADERS, [base_cells(e) for e in base["instances"]], left=3)
                   if base["instances"] else "<p>No instance's quota changed.</p>")
        out.append(_html_table(BASE_CLUSTER_HEADERS, [base_cluster_cells(c) for c in base["clusters"]]))
    out.append("<h2>Clusters</h2>")
    out.append('<div class="charts">' + "".join(_bar_chart(c) for c in doc["clusters"]) + "</div>")
    out.append(_legend())
    out.append(_html_table(CLUSTER_HEADERS, [cluster_cells(c) for c in doc["clusters"]]))
    if doc["findings"]:
        out.append('<h2>Findings</h2><ul class="findings">')
        for f in doc["findings"]:
            who = f["instance"] or (f"cluster {f['cluster']}" if f["cluster"] else "fleet")
            out.append(f'<li><span class="{_h(f["severity"])}"><b>{_h(f["severity"])}</b></span> '
                       f"<code>{_h(f['rule'])}</code> {_h(who)}: {_h(f['message'])}</li>")
        out.append("</ul>")
    out.append("<h2>Instances</h2>")
    out.append(_html_table(INSTANCE_HEADERS, [instance_cells(r) for r in doc["instances"]], left=3))
    out.append("<p>CPU in cores, memory in GiB; * marks packs above the policy with an approval.</p>")
    if "live" in doc:
        out.append("<h2>Live drift</h2>")
        out.append(_html_table(LIVE_HEADERS, live_rows(doc["live"]), left=len(LIVE_HEADERS)))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# --- the terminal view: fitted to the width, never a figure cut -------------------------------------
#
# A quota audit must never hide a figure, so columns are never shrunk: the whole table when it
# fits, else the same rows in parts (the name column repeated, related columns kept together),
# else one block per row. Only free text (live differences, findings, titles) wraps.

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_GAP = 2  # spaces between columns
_WRAP_MIN = 24  # a free-text column is given at least this width before a table is split


@dataclass(frozen=True)
class TableSpec:
    title: str
    headers: list[str]
    rows: list[list[str]]
    left: int = 1  # the first `left` columns are names (left-aligned); the others figures (right)
    groups: tuple[tuple[int, ...], ...] = ()  # columns shown together when split; column 0 is in every part
    wrap: frozenset[int] = frozenset()  # free-text columns that may wrap (never a figure)

    @cached_property
    def _widths(self) -> list[int]:
        """Per column the width it needs: the longest cell, or for free text what it can wrap to."""
        from rich.cells import cell_len
        out = []
        for c, header in enumerate(self.headers):
            natural = max([cell_len(header)] + [cell_len(r[c]) for r in self.rows])
            if c in self.wrap:
                word = max((cell_len(w) for r in self.rows for w in r[c].split()), default=0)
                natural = min(natural, max(_WRAP_MIN, word))
            out.append(natural)
        return out

    def width(self, cols: list[int]) -> int:
        return sum(self._widths[c] for c in cols) + _GAP * (len(cols) - 1)


MAX_PARTS = 3  # beyond this many parts, a block per row reads better than a table


def split_columns(spec: TableSpec, width: int | None) -> list[list[int]] | None:
    """The columns of each part: [all] when the table fits (or the width is unlimited), else the
    fewest parts that each fit, as even as possible (the name column first in each), or None for
    the block layout (more than MAX_PARTS parts, or the name and one column do not fit)."""
    every = list(range(len(spec.headers)))
    if width is None or spec.width(every) <= width:
        return [every]
    chunks: list[list[int]] = []  # groups, or their columns where a group alone is too wide
    for group in spec.groups or tuple((c,) for c in every[1:]):
        chunks += [list(group)] if spec.width([0, *group]) <= width else [[c] for c in group]
    if any(spec.width([0, *chunk]) > width for chunk in chunks):
        return None

    def part(i: int, j: int) -> list[int]:
        return [0, *(c for chunk in chunks[i:j] for c in chunk)]

    for count in range(2, MAX_PARTS + 1):
        best = None
        for cuts in itertools.combinations(range(1, len(chunks)), count - 1):
            bounds = list(itertools.pairwise((0, *cuts, len(chunks))))
            widths = [spec.width(part(i, j)) for i, j in bounds]
            if max(widths) <= width and (best is None or max(widths) < best[0]):
                best = (max(widths), bounds)
        if best:
            return [part(i, j) for i, j in best[1]]
    return None


def _wrap(text: str, width: int | None, indent: str = "  ") -> list[str]:
    """Words wrapped at `width` with a hanging indent; a word longer than the line is kept whole."""
    if width is None:
        return [text]
    import textwrap
    return textwrap.wrap(text, width=max(width, len(indent) + 8), subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False) or [""]


def _print_wrapped(console, text: str, width: int | None, style_prefix: list[tuple[int, str]] = ()) -> None:
    """Print `text` wrapped by _wrap (not by rich, which would break a long word), styling the first
    characters of the first line: (end offset, style) pairs."""
    from rich.text import Text
    for i, line in enumerate(_wrap(text, width)):
        out = Text(line)
        if i == 0:
            begin = 0
            for end, style in style_prefix:
                out.stylize(style, begin, end)
                begin = end
        console.print(out, soft_wrap=True)


def print_spec(spec: TableSpec, console, width: int | None) -> None:
    """One table of the terminal view, in the layout the width allows."""
    from rich.table import Table
    from rich.text import Text

    console.print()
    _print_wrapped(console, spec.title, width, [(len(spec.title), "italic")])
    parts = split_columns(spec, width)
    if parts is None:  # one block per row: "  header  value" lines under the row's name
        label = max(len(spec.headers[c]) for c in range(1, len(spec.headers)))
        for row in spec.rows:
            console.print(Text(row[0], style="bold"), soft_wrap=True)
            for c in range(1, len(spec.headers)):
                head = f"  {spec.headers[c]:<{label}}  "
                widest = max((len(w) for w in row[c].split()), default=0) if c in spec.wrap else len(row[c])
                if len(head) + widest > width:  # too narrow beside the label: under it
                    console.print(Text(f"  {spec.headers[c]}"), soft_wrap=True)
                    head = "    "
                lines = _wrap(row[c], width - len(head), "") if c in spec.wrap else [row[c]]
                for i, line in enumerate(lines):
                    console.print(Text((head if i == 0 else " " * len(head)) + line), soft_wrap=True)
        return
    for n, cols in enumerate(parts):
        if n:
            console.print()
        table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold", collapse_padding=False)
        for c in cols:
            figure = c >= spec.left and c not in spec.wrap
            table.add_column(spec.headers[c], justify="right" if figure else "left",
                             no_wrap=c not in spec.wrap, overflow="fold")
        for row in spec.rows:
            table.add_row(*(Text(row[c]) for c in cols))
        console.print(table, width=width if width is not None else spec.width(cols) + 1)


def table_specs(doc: dict) -> list[TableSpec]:
    """The terminal view's tables, in order (base, clusters, instances, live)."""
    specs = []
    if "base" in doc and doc["base"]["instances"]:
        base = doc["base"]
        specs.append(TableSpec(base_title(base), BASE_HEADERS, [base_cells(e) for e in base["instances"]], left=3,
                               groups=((1, 2), (3, 4), (5,), (6, 7), (8, 9))))
    if "base" in doc:
        specs.append(TableSpec("Cluster totals, base → working tree", BASE_CLUSTER_HEADERS,
                               [base_cluster_cells(c) for c in doc["base"]["clusters"]]))
    specs.append(TableSpec("Clusters (requests against capacity)", CLUSTER_HEADERS,
                           [cluster_cells(c) for c in doc["clusters"]],
                           groups=((1,), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11, 12), (13,))))
    specs.append(TableSpec("Instances (CPU in cores, memory in GiB; * = packs approved above the policy)",
                           INSTANCE_HEADERS, [instance_cells(r) for r in doc["instances"]], left=3,
                           groups=((1, 2), (3, 4, 5, 10), (6, 7), (8, 9), (11, 12), (13, 14))))
    if "live" in doc and live_rows(doc["live"]):
        specs.append(TableSpec("Live drift", LIVE_HEADERS, live_rows(doc["live"]), left=len(LIVE_HEADERS),
                               groups=((1, 2, 3), (4,)), wrap=frozenset({4})))
    return specs


def print_table(doc: dict, console, width: int | None = None) -> None:
    """The terminal view at `width` columns (None: unlimited, one line per row): clusters, instances,
    findings, and the base and live sections when present."""
    head = "Fleet quota audit"
    _print_wrapped(console, f"{head}: {summary_line(doc)}; {source_line(doc)}.", width, [(len(head), "bold")])
    if "base" in doc and not doc["base"]["instances"]:
        _print_wrapped(console, f"{base_title(doc['base'])}: no instance's quota changed.", width)
    for spec in table_specs(doc):
        print_spec(spec, console, width)
    if "live" in doc and not live_rows(doc["live"]):
        console.print("\nLive drift: no live objects compared.", soft_wrap=True)
    if doc["findings"]:
        console.print()
    for f in doc["findings"]:
        who = f["instance"] or (f"cluster {f['cluster']}" if f["cluster"] else "fleet")
        severity, rule = f["severity"], f["rule"]
        text = f"{severity} {rule} {who}: {f['message']}"
        _print_wrapped(console, text, width, [(len(severity), _STYLE[severity]), (len(severity) + 1, ""),
                                              (len(severity) + 1 + len(rule), "bold")])


def render_table(doc: dict, width: int | None = None) -> str:
    """The table view as plain text (for --output FILE: unlimited width unless given)."""
    from rich.console import Console
    buf = io.StringIO()
    console = Console(file=buf, width=width or 10_000, color_system=None, force_terminal=False,
                      legacy_windows=False, highlight=False)
    print_table(doc, console, width)
    return "".join(line.rstrip() + "\n" for line in buf.getvalue().splitlines())


RENDERERS = {"json": render_json, "csv": render_csv, "markdown": render_markdown, "html": render_html,
             "table": render_table}


def render(doc: dict, fmt: str) -> str:
    return RENDERERS[fmt](doc)
