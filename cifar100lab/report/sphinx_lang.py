"""A Sphinx extension that gives each language of the one bilingual book its own reading: a page under ``zh/``
reads in Chinese throughout, a page under ``en/`` in English (``jupyter-book build book/`` still builds one book).

* The theme's own words (Search, Contents, Previous, Next, the header buttons' tooltips) come from the
  zh_CN message catalogs that Sphinx and the themes ship, installed for the page being written, and
  ``<html lang>`` names the page's language. Sphinx has one language per project; only the page templates'
  words are switched here, so the content (written in both languages) is untouched.
* Previous/Next never lead into the other language, and the sidebar shows the page's own language's part
  (the bilingual parts, runs and references, stay in both).
* Every page with a twin (``en/x`` and ``zh/x``) starts with a link to it.
* A bilingual notebook page's Chinese part (a study's page, the analysis) is marked ``lang="zh-CN"``, and the page
  starts with a link to it ("中文 ↓"; the Chinese part with one back, "English ↑").
"""
from __future__ import annotations

import gettext
import posixpath
from functools import lru_cache
from pathlib import Path

from docutils import nodes
from sphinx import locale
from sphinx.transforms.post_transforms import SphinxPostTransform

from .i18n import LANGS, THEME_ZH, say

# The catalogs the theme's templates and header buttons read: Sphinx's (with pydata-sphinx-theme's words
# merged into it) and sphinx-book-theme's.
CATALOGS = ("sphinx", "booktheme")


def page_language(docname: str | None) -> str | None:
    """'en' or 'zh' for a page of one language (under en/ or zh/), None for a bilingual page."""
    head = (docname or "").split("/", 1)[0]
    return head if head in LANGS and "/" in (docname or "") else None


def twin(docname: str) -> str | None:
    """The same page in the other language ('en/results' <-> 'zh/results'), None for a bilingual page."""
    lang = page_language(docname)
    if lang is None:
        return None
    other = next(x for x in LANGS if x != lang)
    return other + docname[len(lang):]


class _Words(gettext.NullTranslations):
    """A few words of our own in front of a catalog: the theme words its zh catalog lacks, and the ones it gives in
    traditional rather than simplified Chinese."""

    def __init__(self, words: dict[str, str]):
        super().__init__()
        self.words = words

    def gettext(self, message: str) -> str:
        if message in self.words:
            return self.words[message]
        return self._fallback.gettext(message) if self._fallback else message


@lru_cache(maxsize=None)
def chinese_catalogs() -> dict[str, gettext.NullTranslations]:
    """The zh_CN catalogs of Sphinx, pydata-sphinx-theme and sphinx-book-theme, by catalog name."""
    import pydata_sphinx_theme
    import sphinx
    import sphinx_book_theme
    sphinx_zh = gettext.translation("sphinx", Path(sphinx.__file__).parent / "locale", ["zh_CN"])
    sphinx_zh.add_fallback(gettext.translation("sphinx", Path(pydata_sphinx_theme.__file__).parent / "locale",
                                               ["zh", "zh_CN"]))
    sphinx_zh.add_fallback(_Words(THEME_ZH))
    book = Path(sphinx_book_theme.__file__).parent / "theme" / "sphinx_book_theme" / "static" / "locales"
    book_zh = _Words(THEME_ZH)
    book_zh.add_fallback(gettext.translation("booktheme", book, ["zh_CN"]))
    return {"sphinx": sphinx_zh, "booktheme": book_zh}


def _remember_english(app) -> None:
    # The catalogs Sphinx set up for the project's language (English), to put back on English pages.
    app._cifar100lab_english = {name: locale.translators.get(("general", name), gettext.NullTranslations())
                                for name in CATALOGS}
    app._cifar100lab_english["templates"] = app.translator


def _use_language(app, docname: str) -> None:
    """The page's language for every word translated from now until the next page: Sphinx's HTML writer
    ("Link to this heading"), the themes' handlers (header buttons) and the templates (Jinja's gettext)."""
    if not hasattr(app, "_cifar100lab_english") or not hasattr(app.builder, "templates"):
        return
    english = app._cifar100lab_english
    zh = page_language(docname) == "zh"
    catalogs = chinese_catalogs() if zh else english
    for name in CATALOGS:
        locale.translators["general", name] = catalogs[name]
    app.builder.templates.environment.install_gettext_translations(
        catalogs["sphinx"] if zh else english["templates"])


def _language_before_writing(app, doctree, docname) -> None:
    # doctree-resolved comes just before the page's body is written (the writer translates as it goes).
    _use_language(app, docname)


def _install_theme_language(app, pagename, templatename, context, doctree) -> None:
    # First of the html-page-context handlers (pages with no doctree, search and genindex, come only here).
    _use_language(app, pagename)
    if page_language(pagename) == "zh":
        context["language"] = "zh-CN"


# The anchors of a bilingual page's two parts (on their headings), for the links between them: plain HTML ids,
# not MyST labels, which must be unique across the book (-W refuses a second "English" label on the next page).
PART_IDS = {lang: f"part-{lang}" for lang in LANGS}
_HTML_LANG = {"en": "en", "zh": "zh-CN"}


def part_link(lang: str, arrow: str) -> nodes.raw:
    """A link to the page's ``lang`` part, in that language ("中文 ↓"), styled as the twin page's switch."""
    return nodes.raw("", f'<p class="lang-jump"><a href="#{PART_IDS[lang]}" lang="{_HTML_LANG[lang]}" '
                         f'title="{say("lang_jump_tip", lang)}">{say("lang_name", lang)} {arrow}</a></p>\n',
                     format="html")


def _part_headings(output: nodes.Element) -> dict[str, nodes.rubric]:
    """The headings of a cell output's language parts ("## English", "## 中文": rubrics in an output), by language."""
    names = {say("lang_name", lang): lang for lang in LANGS}
    return {names[child.astext()]: child for child in output.children
            if isinstance(child, nodes.rubric) and child.astext() in names}


def mark_chinese_part(output: nodes.Element) -> bool:
    """Put a cell output's Chinese part in a ``<div lang="zh-CN">``: from its "## 中文" heading (a rubric in an
    output) to the output's end, for :func:`~cifar100lab.report.display.show_in_both_languages` shows it last.
    The page's ``<html lang>`` is en, so screen readers read the Chinese with English rules and browsers chose its
    font for English. Whether it had one."""
    chinese = _part_headings(output).get("zh")
    if chinese is None:
        return False
    output.insert(output.index(chinese), nodes.raw("", '<div lang="zh-CN">', format="html"))
    output.append(nodes.raw("", "</div>", format="html"))
    return True


def link_parts(output: nodes.Element) -> bool:
    """Make each part's heading an anchor (:data:`PART_IDS`) and put a link back to the English part before the
    Chinese heading; whether the output has both parts, English first. Once a page: the ids are the page's."""
    headings = _part_headings(output)
    if set(headings) != set(LANGS) or output.index(headings["en"]) > output.index(headings["zh"]):
        return False
    for lang, heading in headings.items():
        heading["ids"] = [PART_IDS[lang]]  # in place of the heading's slug ("english", "id1" for 中文)
    output.insert(output.index(headings["zh"]), part_link("en", "↑"))
    return True


class ChinesePartLanguage(SphinxPostTransform):
    """:func:`mark_chinese_part` on each cell output of a page, once myst-nb has put each output's chosen
    format (its Markdown, as nodes) in place (its SelectMimeType, priority 4); the first output with both parts
    gets :func:`link_parts`, and the page then starts with a link to its Chinese part, where a page with a twin
    has its switch: a reader of Chinese need not scroll through the English part to find it."""
    default_priority = 100
    formats = ("html",)

    def run(self, **kwargs) -> None:
        linked = False
        for output in list(self.document.findall(nodes.container)):
            if "cell_output" in output["classes"] and mark_chinese_part(output) and not linked:
                linked = link_parts(output)
        if linked:
            self.document.insert(0, part_link("zh", "↓"))


def _one_language_relations(app, pagename, context) -> None:
    """Previous/Next skip the other language's pages: en Conclusion leads on to the runs, not to 引言."""
    lang = page_language(pagename)
    relations = getattr(app.builder, "relations", {})
    if lang is None:
        return
    for key, step in (("prev", 1), ("next", 2)):
        linked = (relations.get(pagename) or [None, None, None])[step]
        if page_language(linked) in (None, lang):
            continue
        while linked and page_language(linked) not in (None, lang):
            linked = (relations.get(linked) or [None, None, None])[step]
        context[key] = {"link": context["pathto"](linked),
                        "title": app.builder.render_partial(app.env.titles[linked])["title"]} if linked else None


def _own_sidebar(pagename: str, toctree_html):
    """The sidebar without the other language's part; a part's language is that of the pages it links."""
    from bs4 import BeautifulSoup
    lang = page_language(pagename)
    if lang is None:
        return toctree_html
    soup = BeautifulSoup(toctree_html, "html.parser") if isinstance(toctree_html, str) else toctree_html
    for caption in soup.find_all("p", class_="caption"):
        part = caption.find_next_sibling("ul")
        first = part.find("a", href=True) if part else None
        if first is None:
            continue
        target = posixpath.normpath(posixpath.join(posixpath.dirname(pagename), first["href"].split("#")[0]))
        if page_language(target) not in (None, lang):
            caption.decompose()
            part.decompose()
    return soup if soup is toctree_html else str(soup)


def _switch_link(app, pagename: str, context) -> None:
    other = twin(pagename)
    if other is None or other not in app.env.all_docs:
        return
    lang = page_language(pagename)
    other_lang = page_language(other)
    href = context["pathto"](other)
    link = (f'<p class="lang-switch"><a href="{href}" hreflang="{other_lang}" lang="{other_lang}" '
            f'title="{say("lang_switch_tip", lang)}">{say("lang_name", other_lang)}</a></p>\n')
    context["body"] = link + context.get("body", "")
    context["metatags"] = context.get("metatags", "") + f'<link rel="alternate" hreflang="{other_lang}" href="{href}">\n'


def _one_language_navigation(app, pagename, templatename, context, doctree) -> None:
    # After pydata-sphinx-theme has put its toctree function into the context (default priority).
    _one_language_relations(app, pagename, context)
    if page_language(pagename):  # Jupyter Book sets one search-box text for the whole book
        context["theme_search_bar_text"] = say("search_bar", page_language(pagename))
    build_toctree = context.get("generate_toctree_html")
    if build_toctree is not None and page_language(pagename):
        context["generate_toctree_html"] = lambda *a, **kw: _own_sidebar(pagename, build_toctree(*a, **kw))
    if "body" in context:
        _switch_link(app, pagename, context)


def _quiet_jieba() -> None:
    # Sphinx's Chinese search imports jieba, which imports the deprecated pkg_resources (a UserWarning on every
    # build) and logs its dictionary loading to stderr: imported here first, quietly, a build's output stays clean.
    import logging
    import warnings
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        try:
            import jieba
        except ImportError:  # Sphinx then reports the missing segmenter itself
            return
    jieba.setLogLevel(logging.WARNING)


class _TermSet(set):
    extend = set.update  # what Sphinx's Chinese splitter calls on it


def _chinese_search():
    """Sphinx 7's Chinese search, its Latin terms kept in a set of its own. Sphinx keeps them in a list shared
    by the class and tests every indexed word against it, so the index costs the square of the book's words:
    10 of the 80 CPU-seconds of this book's build (profiled). Same index."""
    from sphinx.search.zh import SearchChinese

    class ChineseSearch(SearchChinese):
        def init(self, options: dict[str, str]) -> None:
            super().init(options)
            self.latin_terms = _TermSet()

    return ChineseSearch


def setup(app):
    _quiet_jieba()
    from sphinx import search
    search.languages["zh"] = _chinese_search()
    app.connect("builder-inited", _remember_english)
    app.connect("doctree-resolved", _language_before_writing)
    app.connect("html-page-context", _install_theme_language, priority=1)
    app.connect("html-page-context", _one_language_navigation, priority=900)
    app.add_post_transform(ChinesePartLanguage)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
