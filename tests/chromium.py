"""Headless Chromium for book tests: the width of every table against the text column, the
narrowest table cell, every image's alt text; the theme's words, the language switch and Previous/Next.

:func:`session` drives one browser for every page a test module reads (Playwright, Debian's Chromium, no
browser download); :func:`read` measures one page in it at one width."""
from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

# The layout a reader gets: the text column, every table, the narrowest cell, every image.
MEASURE = """
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
  // A prose word broken across lines in a table cell ("ImageNe/t"): a word of letters whose rendered boxes sit on
  // two lines. Identifiers (run ids, paths, URLs, names with _ or digits) may break anywhere and are not words.
  out.broken_words = [];
  for (const c of col.querySelectorAll('td, th')) {
    const walk = document.createTreeWalker(c, NodeFilter.SHOW_TEXT);
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
      for (const m of node.data.matchAll(/(?<=^|\\s|[(])[A-Za-z]{4,15}(?=[.,;:)]?(\\s|$))/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (tops.size > 1) out.broken_words.push(m[0]);
      }
    }
  }
"""


def find() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


# Read in the page, after its scripts ran: what MEASURE finds, and what the reader sees of the page's language.
READ = "() => {" + MEASURE + """
  const texts = sel => [...document.querySelectorAll(sel)].map(e => e.innerText.trim()).filter(t => t);
  const link = sel => { const a = document.querySelector(sel); return a ? a.href : null; };
  out.lang = document.documentElement.lang;
  out.theme = {  // the theme's own words, as the reader meets them
    search: texts('.search-button__default-text'),
    search_box: [...document.querySelectorAll('input[name=q]')].map(i => i.placeholder),
    prev_next: texts('.prev-next-subtitle'),
    contents: texts('.page-toc.tocsection'),
    buttons: [...document.querySelectorAll('.btn-fullscreen-button, .theme-switch-button, .btn-download-source-button, .primary-toggle, .secondary-toggle')]
      .map(b => b.getAttribute('title') || b.getAttribute('aria-label')).filter(t => t)};
  out.switch = link('.lang-switch a');
  out.prev = link('a.left-prev'); out.next = link('a.right-next');
  out.sidebar_parts = texts('.bd-sidebar-primary p.caption');
  out.sidebar_links = [...document.querySelectorAll('.bd-sidebar-primary nav a.reference.internal')].map(a => a.href);
  return out;
}"""


@contextlib.contextmanager
def session():
    """One headless Chromium page for a whole module's reading (Playwright drives the system browser)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find(), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def read(page, html: Path, width: int, shot: Path | None = None) -> dict:
    """What :data:`READ` reports of ``html`` at ``width`` px (links as file paths); a full-page screenshot to
    ``shot`` if given."""
    page.set_viewport_size({"width": width, "height": 1200})
    page.goto(html.resolve().as_uri())
    found = page.evaluate(READ)
    if shot is not None:
        page.screenshot(path=str(shot), full_page=True)
    for key in ("switch", "prev", "next"):
        found[key] = _local(found[key])
    found["sidebar_links"] = [_local(x) for x in found["sidebar_links"]]
    return found


def _local(url: str | None) -> str | None:
    from urllib.parse import unquote, urlparse
    return unquote(urlparse(url).path) if url else None
