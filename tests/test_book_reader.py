"""The book as a reader meets it (the session's ``reader_book``, tests/book_reader.py), read in one headless
Chromium at 1400 and 1000 px in both languages: tables fit, no column squeezed to a character, every image
described, every ablation page titled by its study; each language reads in its own words, with its own
Previous/Next and sidebar part and a switch to its twin page; search finds Chinese words."""
import json
import os
import re
from pathlib import Path

import pytest

from cifar100lab.report import i18n

PAGES = [f"{lang}/{p}.html" for lang in i18n.LANGS for p in ("introduction", "results", "ablations", "method", "design",
                                                              "performance", "conclusion")]
PAGES += ["runs/index.html", "runs/mini-resnet_20-s0.html", "generated/ablation-eca_kernel.html",
          "generated/analysis.html"]
WIDTHS = (1400, 1000)
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def browser_page():
    """One headless Chromium page for the module's tests: starting the browser is the costly part."""
    import chromium
    if not chromium.find():
        if os.environ.get("CI"):
            pytest.fail("chromium must be installed in CI (.ci/run installs it)")
        pytest.skip("chromium not installed")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the lab extra)")
    with chromium.session() as page:
        yield page


@pytest.fixture(scope="module")
def read_pages(reader_book, browser_page):
    """{(page, width): what Chromium read}: every page at both widths."""
    import chromium
    shots = Path(os.environ["BOOK_SHOTS"]) if os.environ.get("BOOK_SHOTS") else None  # a screenshot per page, width
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    return {(p, w): chromium.read(browser_page, reader_book / p, w,
                                  shot=shots / f"{p.replace('/', '_')}-{w}.png" if shots else None)
            for p in PAGES for w in WIDTHS}


@pytest.mark.slow
def test_each_ablation_page_is_titled_by_its_study_in_both_languages(reader_book):
    titles = {p.name: re.search(r"<title>(.*?) &#8212;", p.read_text()).group(1)
              for p in (reader_book / "generated").glob("ablation-*.html")}
    assert titles == {"ablation-eca_kernel.html": "Ablation: ECA kernel size on ResNet-20 · 消融实验：ResNet-20 上 ECA 卷积核大小",
                      "ablation-ghost_ratio.html": "Ablation: Ghost ratio on ResNet-20 · 消融实验：ResNet-20 上 Ghost 比例"}
    sidebar = (reader_book / "en" / "results.html").read_text()
    assert all(t in sidebar for t in titles.values())


@pytest.mark.slow
def test_pages_fit_describe_their_images_and_squeeze_no_column_at_both_widths(read_pages):
    too_wide = [(page, width, round(w), what[:20]) for (page, width), m in read_pages.items() for w, what in m["tables"]
                if w > m["column"] + 1]
    assert not too_wide, too_wide  # runs/index's Status and Top-1 columns stay in view too
    squeezed = [(page, width, m["narrowest_cell"]) for (page, width), m in read_pages.items()
                if m["narrowest_cell"] and m["narrowest_cell"][0] < 2]
    assert not squeezed, squeezed  # no "已/跳/过", one character per line
    broken = [(page, width, m["broken_words"]) for (page, width), m in read_pages.items() if m["broken_words"]]
    assert not broken, broken  # no "ImageNe/t weights unavaila/ble" in a narrow Note column
    undescribed = [(page, src, alt) for (page, _), m in read_pages.items() for src, alt in m["images"]
                   if "_images/" in src and (len(alt) < 20 or "/" in alt and alt.endswith(".png"))]
    assert not undescribed, undescribed
    zh = read_pages["zh/results.html", 1400]
    # in the page's language, after the heading that says what data it is when it is not CIFAR-100
    assert any(alt.split("。", 1)[-1].startswith("条形图") for _, alt in zh["images"])


def _theme_words(m: dict) -> list[str]:
    t = m["theme"]
    return t["search"] + t["search_box"] + t["prev_next"] + t["contents"] + t["buttons"]


@pytest.mark.slow
def test_a_bilingual_pages_chinese_part_is_marked_chinese(reader_book):
    """A study page under Runs shows its English part, then its Chinese part, under <html lang="en">: screen
    readers read the Chinese with English rules and browsers chose its font for English."""
    from bs4 import BeautifulSoup
    page = BeautifulSoup((reader_book / "generated" / "ablation-eca_kernel.html").read_text(encoding="utf-8"),
                         "html.parser")
    assert page.html["lang"] == "en"
    [chinese] = page.select('article div[lang="zh-CN"]')
    headings = [h.get_text() for h in page.select("article .rubric")]
    assert headings[0] == "English" and "中文" in headings
    assert [h.get_text() for h in chinese.select(".rubric")][0] == "中文"  # it starts at the Chinese heading
    assert "English" not in [h.get_text() for h in chinese.select(".rubric")]
    # the Chinese text and figure are inside it, the English ones outside
    assert CJK.search(chinese.get_text()) and [CJK.search(i["alt"]) is not None for i in chinese.select("img")] == [True]
    english = chinese.find_previous("img")
    assert english is not None and not CJK.search(english["alt"]) and not english.find_parent(attrs={"lang": "zh-CN"})


@pytest.mark.slow
def test_each_language_reads_the_themes_words_in_its_own_language_at_both_widths(read_pages):
    for (page, width), m in read_pages.items():
        lang = page.split("/")[0]
        if lang not in i18n.LANGS:
            continue
        words = _theme_words(m)
        assert m["theme"]["search_box"] and m["theme"]["prev_next"], (page, width, m["theme"])
        if lang == "zh":
            assert m["lang"] == "zh-CN", page
            assert all(CJK.search(w) for w in words), (page, width, [w for w in words if not CJK.search(w)])
        else:
            assert m["lang"] == "en", page
            assert not any(CJK.search(w) for w in words), (page, width, words)
    assert "目录" in read_pages["zh/method.html", 1400]["theme"]["contents"][0]
    assert read_pages["zh/results.html", 1000]["theme"]["prev_next"] == ["上一页", "下一页"]
    assert [w.lower() for w in read_pages["en/results.html", 1000]["theme"]["prev_next"]] == ["previous", "next"]


@pytest.mark.slow
def test_the_language_switch_leads_to_the_twin_page_and_navigation_stays_in_one_language(read_pages, reader_book):
    def under(path: str | None) -> str | None:  # 'en/results.html' for a link into the book
        return os.path.relpath(path, reader_book) if path else None

    for (page, width), m in read_pages.items():
        lang = page.split("/")[0]
        if lang not in i18n.LANGS:
            continue
        other = "zh" if lang == "en" else "en"
        assert under(m["switch"]) == other + page[len(lang):], (page, width)
        for key in ("prev", "next"):  # never into the other language (en Conclusion no longer leads to 引言)
            assert not (under(m[key]) or "").startswith(other + "/"), (page, width, key, m[key])
        assert not [x for x in m["sidebar_links"] if under(x).startswith(other + "/")], (page, width)
        assert {"English": "en", "中文": "zh"}.get(m["sidebar_parts"][0]) == lang  # its own part, first
    # the last English page leads on to the runs (past the Chinese part), the first Chinese page back to the start
    assert under(read_pages["en/conclusion.html", 1400]["next"]) == "generated/analysis.html"
    assert under(read_pages["zh/introduction.html", 1400]["prev"]) == "index.html"
    assert under(read_pages["zh/introduction.html", 1400]["next"]) == "zh/related_work.html"


@pytest.mark.slow
def test_search_finds_a_chinese_word_on_every_page_that_has_it_and_english_words_still(reader_book):
    from bs4 import BeautifulSoup
    text = (reader_book / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(text[text.index("(") + 1:text.rindex(")")])

    def found(term: str) -> set[str]:
        hits = set()
        for table in ("terms", "titleterms"):
            docs = index[table].get(term, [])
            hits |= {index["docnames"][i] for i in ([docs] if isinstance(docs, int) else docs)}
        return hits

    having = {p.relative_to(reader_book).with_suffix("").as_posix() for p in (reader_book / "zh").glob("*.html")
              if "种子" in BeautifulSoup(p.read_text(encoding="utf-8"), "html.parser").select_one("article").get_text()}
    assert len(having) >= 5 and having <= found("种子")
    assert {"en/results", "en/method"} <= found("seed")  # English words are still stemmed and found


@pytest.mark.slow
def test_a_bilingual_page_links_from_its_top_to_its_chinese_part_and_back(reader_book):
    """A reader of Chinese reached a study page's Chinese part only by scrolling through the whole English part."""
    from bs4 import BeautifulSoup
    page = BeautifulSoup((reader_book / "generated" / "ablation-eca_kernel.html").read_text(encoding="utf-8"),
                         "html.parser")
    article = page.select_one("article")
    to_chinese = article.select_one(".lang-jump a")
    assert article.find(True) is to_chinese.parent  # the page's first element, where a twin page has its switch
    assert to_chinese.get_text() == "中文 ↓" and to_chinese["lang"] == "zh-CN"
    [chinese_heading] = page.find_all(id=to_chinese["href"][1:])
    part = chinese_heading.find_parent(attrs={"lang": "zh-CN"})
    assert chinese_heading.get_text() == "中文" and part is not None
    to_english = part.select_one(".lang-jump a")
    assert to_english.get_text() == "English ↑" and to_english["lang"] == "en"
    [english_heading] = page.find_all(id=to_english["href"][1:])
    assert english_heading.get_text() == "English" and not english_heading.find_parent(attrs={"lang": "zh-CN"})
    for other in ("generated/analysis.html", "generated/ablation-ghost_ratio.html", "en/results.html"):  # one language each
        assert "lang-jump" not in (reader_book / other).read_text(encoding="utf-8"), other


@pytest.mark.slow
def test_following_a_part_link_brings_that_parts_heading_into_view_below_the_header(reader_book, browser_page):
    page, seen = browser_page, {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1200})
        page.goto((reader_book / "generated" / "ablation-eca_kernel.html").as_uri())
        for link, heading in (("中文 ↓", "中文"), ("English ↑", "English")):
            page.get_by_text(link, exact=True).click()
            seen[width, link] = page.evaluate("""async heading => {
                for (let last = -1; window.scrollY !== last; await new Promise(r => setTimeout(r, 150)))
                    last = window.scrollY;  // a smooth scroll has come to rest
                const h = [...document.querySelectorAll('.rubric')].find(r => r.innerText.trim() === heading);
                const box = h.getBoundingClientRect();
                return [box.top - document.querySelector('.bd-header').getBoundingClientRect().bottom,
                        window.innerHeight - box.bottom, window.scrollY];}""", heading)
    for (width, link), (below_header, above_bottom, scrolled) in seen.items():  # in view, not under the header
        assert below_header >= 0 and above_bottom >= 0, (width, link, below_header, above_bottom)
        assert scrolled > 0 and (link == "English ↑" or scrolled > seen[width, "English ↑"][2]), (width, link, scrolled)


@pytest.mark.slow
def test_every_id_is_once_on_its_page_and_every_link_to_an_anchor_finds_it(reader_book):
    """The part links are plain HTML anchors on every bilingual page (the Runs part, beside both languages' own
    parts): an id twice on one page, or a link to an id the page lacks, would land the reader elsewhere."""
    from urllib.parse import unquote

    from bs4 import BeautifulSoup
    root = reader_book.resolve()
    pages = {p: BeautifulSoup(p.read_text(encoding="utf-8"), "html.parser")
             for p in root.rglob("*.html") if p.relative_to(root).parts[0] not in ("_static", "_sources")}
    ids = {p: [e["id"] for e in soup.find_all(id=True)] for p, soup in pages.items()}
    doubled = {str(p.relative_to(root)): sorted({i for i in found if found.count(i) > 1})
               for p, found in ids.items() if len(found) != len(set(found))}
    assert not doubled, doubled
    links, missing = 0, []
    for p, soup in pages.items():
        for a in soup.find_all("a", href=re.compile(r"^[^:]*#.")):
            target, anchor = a["href"].split("#", 1)
            page = (p.parent / unquote(target)).resolve() if target else p
            links += 1
            if unquote(anchor) not in ids.get(page, []):
                missing.append((str(p.relative_to(root)), a["href"]))
    assert not missing, missing[:20]
    assert links > 100  # the theme's heading links, the sidebar's, the bibliography's, the part links
