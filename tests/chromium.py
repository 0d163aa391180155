"""Headless Chromium for book tests: screenshots; the width of every table against the text column, the
narrowest table cell, and every image's alt text."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

MEASURE = """<script>(() => {  // at the end of <body>: the stylesheets have loaded, layout is final
  const col = document.querySelector('.bd-article') || document.querySelector('main');
  const pad = getComputedStyle(col);
  const column = col.clientWidth - parseFloat(pad.paddingLeft) - parseFloat(pad.paddingRight);
  // A table counts by what it needs (scrollWidth), not by the box a scrolling wrapper gives it.
  // The most squeezed table cell: the fewest characters per rendered line (a squeezed Chinese column shows one).
  const cells = [...col.querySelectorAll('td, th')].filter(c => c.innerText.trim().length > 2).map(c => {
      const text = c.innerText.trim(), bottoms = new Set();  // its text's lines, whatever height the row gives it
      const walk = document.createTreeWalker(c, NodeFilter.SHOW_TEXT);
      for (let node = walk.nextNode(); node; node = walk.nextNode()) {
        const range = document.createRange();
        range.selectNodeContents(node);
        [...range.getClientRects()].filter(r => r.width > 0).forEach(r => bottoms.add(Math.round(r.bottom)));
      }
      const lines = Math.max(1, bottoms.size);
      return [text.replace(/\\s+/g, '').length / lines, text.slice(0, 20)];
  }).sort((a, b) => a[0] - b[0]);
  const out = {column: column, tables: [...col.querySelectorAll('table')].map(t => [
      Math.max(t.getBoundingClientRect().width, t.scrollWidth, t.parentElement.scrollWidth),
      t.innerText.slice(0, 40)]), narrowest_cell: cells[0] || null,
      images: [...document.querySelectorAll('img')].map(i => [i.getAttribute('src'), i.getAttribute('alt') || '']),
      title: document.title};
  const pre = document.createElement('pre'); pre.id = 'measure'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();</script>"""


def find() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _base(chromium: str, profile: Path, width: int, height: int = 2400) -> list[str]:
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
            f"--user-data-dir={profile}", f"--window-size={width},{height}"]


def screenshot(chromium: str, page: Path, out: Path, width: int, profile: Path) -> Path:
    out.unlink(missing_ok=True)
    subprocess.run(_base(chromium, profile, width) + [f"--screenshot={out}", page.as_uri()], capture_output=True,
                   timeout=120)
    return out


def table_widths(chromium: str, page: Path, width: int, profile: Path) -> dict:
    """{'column': px, 'tables': [[px, first text], ...], 'narrowest_cell': [characters per line, text] (cells of
    more than two characters), 'images': [[src, alt], ...], 'title': str} for ``page`` at ``width`` px (a measuring copy
    beside it)."""
    probe = page.with_name(f"_measure{width}_{page.name}")  # the same page may be measured at two widths at once
    head, tail = page.read_text(encoding="utf-8").rsplit("</body>", 1)
    probe.write_text(head + MEASURE + "</body>" + tail, encoding="utf-8")
    try:
        dom = subprocess.run(_base(chromium, profile, width) + ["--virtual-time-budget=5000", "--dump-dom",
                                                                probe.as_uri()],
                             capture_output=True, text=True, timeout=120).stdout
    finally:
        probe.unlink()
    found = re.search(r'<pre id="measure"[^>]*>(.*?)</pre>', dom, re.S)
    assert found, f"no measurement from {page}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
