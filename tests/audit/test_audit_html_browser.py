"""The HTML audit as a browser shows it: bar colours by level, legible chart text.

The page is rendered by headless Chromium (Debian's `chromium` package; skipped where it is not
installed), with a small script added at the end of a copy of the page: it reads what the browser
computed (each bar's fill and box, each chart text's font size) into the DOM that --dump-dom
prints. The same run takes a screenshot (in a temporary directory, never in the repository) whose
pixels at the centre of each bar must be that bar's colour.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
import zlib

import pytest
from audittest import FLEETS

from generator import audit_formats

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium (Debian: apt-get install chromium); "
                                                          "the HTML audit's text is still tested in test_audit_cli.py")

WINDOW = "800,600"  # the charts stack and fit: every bar is on the screenshot
COLOURS = {"ok": (0x2D, 0xA4, 0x4E), "high": (0xBF, 0x87, 0x00), "critical": (0xCF, 0x22, 0x2E)}

# Reads the computed styles after layout and writes them into the page, where --dump-dom shows them.
PROBE = """<script>
window.addEventListener("load", () => {
  const bars = [...document.querySelectorAll("svg.chart rect.bar")].map(r => {
    const box = r.getBoundingClientRect();
    return {cluster: r.closest("svg").querySelector("text").textContent, resource: r.dataset.resource,
            level: r.getAttribute("class"), fill: getComputedStyle(r).fill,
            x: box.x + window.scrollX, y: box.y + window.scrollY, width: box.width, height: box.height};
  });
  const texts = [...document.querySelectorAll("svg.chart text")].map(
    t => ({text: t.textContent, fontSize: parseFloat(getComputedStyle(t).fontSize)}));
  const out = document.createElement("pre");
  out.id = "computed";
  out.textContent = JSON.stringify({bars, texts});
  document.body.appendChild(out);
});
</script>"""


def _doc() -> dict:
    """Two clusters whose bars sit on each side of the thresholds (80% and 95%, "above" meaning strictly)."""
    doc = json.loads((FLEETS / "basic" / "expected.json").read_text(encoding="utf-8"))
    main, big = doc["clusters"]
    main["capacity"] = {"cpuMillis": 100000, "memoryMiB": 100000, "pods": 100}
    main["totals"] = {"requestsCpuMillis": 80000, "requestsMemoryMiB": 80100, "pods": 95,
                      "limitsCpuMillis": 95100, "limitsMemoryMiB": 120000}
    big["capacity"] = {"cpuMillis": 1000, "memoryMiB": 1000, "pods": None}
    big["totals"] = {"requestsCpuMillis": 500, "requestsMemoryMiB": 999, "pods": 7,
                     "limitsCpuMillis": 1000, "limitsMemoryMiB": 10}
    return doc


EXPECTED_LEVELS = {
    ("main", "requests.cpu"): "ok",  # 80.0%: not above 80
    ("main", "requests.memory"): "high",  # 80.1%
    ("main", "pods"): "high",  # 95.0%: not above 95
    ("main", "limits.cpu"): "critical",  # 95.1%
    ("main", "limits.memory"): "critical",  # 120%, the bar full
    ("big", "requests.cpu"): "ok",
    ("big", "requests.memory"): "critical",  # 99.9%
    ("big", "limits.cpu"): "critical",  # 100%
    ("big", "limits.memory"): "ok",  # 1%
}  # big has no pods capacity: no bar


def _chromium(*args: str, cwd) -> str:
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--force-device-scale-factor=1", f"--window-size={WINDOW}", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _png_pixels(path, last_row: int) -> tuple[int, int, list[bytes]]:
    """Width, bytes per pixel and the rows up to `last_row` of an 8-bit non-interlaced RGB(A) PNG
    (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(min(height, last_row + 1)):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, bpp, rows


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    where = tmp_path_factory.mktemp("html-audit")
    page = audit_formats.render_html(_doc())
    assert "<script" not in page
    (where / "probe.html").write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _chromium("--dump-dom", f"--screenshot={where / 'audit.png'}", (where / "probe.html").as_uri(), cwd=where)
    found = re.search(r'<pre id="computed">(.*?)</pre>', dom, re.DOTALL)
    assert found, dom[-2000:]
    computed = json.loads(html.unescape(found.group(1)))
    return computed, where / "audit.png"


def test_each_bar_has_the_colour_of_its_level(rendered):
    computed, _ = rendered
    got = {(b["cluster"], b["resource"]): b for b in computed["bars"]}
    assert set(got) == set(EXPECTED_LEVELS)
    for key, level in EXPECTED_LEVELS.items():
        assert got[key]["level"] == f"bar {level}", key
        assert got[key]["fill"] == "rgb({}, {}, {})".format(*COLOURS[level]), (key, got[key]["fill"])
    assert got[("main", "limits.memory")]["width"] == pytest.approx(300)  # over capacity: full, not wider
    assert got[("big", "limits.memory")]["width"] == pytest.approx(3)


def test_chart_text_is_legible(rendered):
    computed, _ = rendered
    assert len(computed["texts"]) == 2 * (1 + 2 * 5)  # per cluster: the name, a label and a figure per bar
    small = [t for t in computed["texts"] if t["fontSize"] < 12]
    assert not small, small
    assert "80100 / 100000" not in json.dumps(computed)  # figures in units, not raw MiB
    assert {"text": "78.22Gi / 97.66Gi (80.1%)", "fontSize": 13} in computed["texts"]


def test_the_screenshot_shows_each_colour_where_the_bar_is(rendered):
    computed, png = rendered
    centres = [(bar, int(bar["x"] + bar["width"] / 2), int(bar["y"] + bar["height"] / 2)) for bar in computed["bars"]]
    width, bpp, rows = _png_pixels(png, max(y for _, _, y in centres))
    assert width == int(WINDOW.split(",")[0])
    for bar, x, y in centres:
        assert y < len(rows), f"bar {bar['cluster']} {bar['resource']} is below the screenshot"
        pixel = tuple(rows[y][x * bpp:x * bpp + 3])
        assert pixel == COLOURS[bar["level"].split()[1]], (bar["cluster"], bar["resource"], pixel)
