"""The package's shape, read from its source: imports flow one way (no circle) and no module grows past what a
reader takes in at once."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_registry_recipes import PACKAGE, imported_modules

MAX_MODULE_LINES = 450


def module_graph(package_dir: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the package's modules it imports (a name imported from a module counts as that module)."""
    files = {".".join(p.relative_to(package_dir.parent).with_suffix("").parts).removesuffix(".__init__"): p
             for p in package_dir.rglob("*.py")}

    def owner(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None
    return {mod: {o for m in imported_modules(path, package_dir) if (o := owner(m)) and o != mod}
            for mod, path in files.items()}


def find_circle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle as [a, b, ..., a], or [] when the graph has none (depth-first, colouring nodes)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (circle := visit(nxt)):
                return circle
        path.pop()
        state[node] = 2
        return []
    for start in sorted(graph):
        if start not in state and (circle := visit(start)):
            return circle
    return []


def test_the_package_has_no_import_circle():
    assert find_circle(module_graph()) == []


def part_graph(package_dir: Path = PACKAGE) -> dict[str, set[str]]:
    """The same imports between the package's parts (a top-level module, or a sub-package as a whole)."""
    part = lambda mod: ".".join(mod.split(".")[:2])  # noqa: E731
    parts: dict[str, set[str]] = {}
    for mod, deps in module_graph(package_dir).items():
        parts.setdefault(part(mod), set()).update(p for d in deps if (p := part(d)) != part(mod))
    return parts


def test_the_packages_parts_have_no_import_circle():
    """A sub-package is one part: a trainer that imports one module of the search that runs it is a circle too."""
    assert find_circle(part_graph()) == []


def test_the_circle_finder_finds_a_planted_circle(tmp_path):
    pkg = tmp_path / "cifar100lab"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..c import g\n")
    (pkg / "c.py").write_text("from cifar100lab.a import x\n")
    assert find_circle(module_graph(pkg)) == ["cifar100lab.a", "cifar100lab.sub.b", "cifar100lab.c", "cifar100lab.a"]
    (pkg / "sub" / "b.py").write_text("")  # no circle between modules; between parts, through sub's other module:
    (pkg / "sub" / "d.py").write_text("from ..c import g\n")
    assert find_circle(module_graph(pkg)) == [] and find_circle(part_graph(pkg)) == [
        "cifar100lab.a", "cifar100lab.sub", "cifar100lab.c", "cifar100lab.a"]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_longer_than_a_reader_takes_in(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_MODULE_LINES


# What builds the book and the analysis pages, and the book command's signal handling: none of it trains, so none
# of it imports torch (about 4 CPU-s in every book build and analysis kernel when it did, through the model
# registry, the dataset registry and the seeds).
TORCH_FREE = ["cifar100lab.report", "cifar100lab.report.sphinx_ext", "cifar100lab.report.display",
              "cifar100lab.report.explorer", "cifar100lab.report.pages", "cifar100lab.report.robustness",
              "cifar100lab.report.tuning", "cifar100lab.report.studies", "cifar100lab.report.performance",
              "cifar100lab.model_catalog", "cifar100lab.data", "cifar100lab.stopping", "cifar100lab.cli"]


def test_the_report_and_the_book_import_no_torch():
    code = (f"import importlib, sys\nfor name in {TORCH_FREE!r}:\n    importlib.import_module(name)\n"
            "print(sorted(m for m in ('torch', 'timm', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent).stdout
    assert out.strip() == "[]"


def test_a_report_reads_model_facts_from_the_catalog_and_the_dataset_registry_without_torch():
    """The facts the report needs of a model and a dataset, asked for in a process that imported no torch."""
    code = ("import sys\nfrom cifar100lab.report.sources import row_name\nfrom cifar100lab.model_catalog import "
            "catalog_rows\nfrom cifar100lab.report.i18n import dataset_label\nfrom cifar100lab.model_facts import "
            "resolve_model_set\nc = catalog_rows()\nprint(row_name('convnext_tiny_timm', None, c), row_name('resnet_20', None, "
            "c), dataset_label('fashion-mnist')['en'], len(resolve_model_set('study', list)), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent).stdout.split()
    assert out[:2] == ["convnext_tiny_timm-scratch", "resnet_20"] and out[-2:] == ["18", "False"]
    assert "stand-in" in " ".join(out)


# The Design page's module map (book/{en,zh}/design.md, "Module map" / "模块图"): a table `| module | job | uses |`
# a new contributor walks the package by. One row names one or a few modules, or a sub-package as a whole.
MAP_HEADING = {"en": "## Module map", "zh": "## 模块图"}
STDLIB = {"en": "stdlib", "zh": "标准库"}


def package_parts(package_dir: Path = PACKAGE) -> set[str]:
    """What the module map has a row for: every top-level module ("config", "__main__") and every sub-package
    ("report", its modules with it); the package's own ``__init__`` is the package, not a part of it."""
    return ({p.stem for p in package_dir.glob("*.py") if p.name != "__init__.py"}
            | {p.parent.name for p in package_dir.glob("*/__init__.py")})


def module_map(design: Path, lang: str) -> list[tuple[list[str], list[str]]]:
    """The map's rows as (modules, uses): the module column's code names (`models/` -> "models"), the uses column
    split at its commas with any (note) dropped: "train (evaluation only)" -> "train"."""
    text = design.read_text(encoding="utf-8").split(MAP_HEADING[lang] + "\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip().strip("|").split("|") for line in text.splitlines() if line.startswith("| `")]
    return [([m.rstrip("/") for m in re.findall(r"`([^`]+)`", module)],
             [u.strip() for u in re.split(r"[,、，]", re.sub(r"[(（][^)）]*[)）]", "", uses)) if u.strip()])
            for module, _job, uses in rows]


def map_problems(design: Path, lang: str, package_dir: Path = PACKAGE) -> list[str]:
    """What the module map says that the package does not: a part without a row (or with two), a row naming no
    part, a use the row's modules do not import (a package module, or a third-party one such as torch), a package
    module they import that the row does not name, "stdlib" beside a package import."""
    parts, graph = package_parts(package_dir), module_graph(package_dir)
    rows, pkg = module_map(design, lang), package_dir.name
    named = [m for modules, _ in rows for m in modules]
    problems = [f"no row for {p}" for p in sorted(parts - set(named))]
    problems += [f"{m} named in two rows" for m in sorted({m for m in named if named.count(m) > 1})]
    problems += [f"{m} is no module of the package" for m in named if m not in parts]
    for modules, uses in rows:
        mine = lambda mod: any(mod == f"{pkg}.{m}" or mod.startswith(f"{pkg}.{m}.") for m in modules)  # noqa: E731
        files = [p for m in set(modules) & parts
                 for p in ((package_dir / m).rglob("*.py") if (package_dir / m).is_dir() else [package_dir / f"{m}.py"])]
        used = {dep.split(".")[1] for mod, deps in graph.items() if mine(mod) for dep in deps
                if not mine(dep) and dep != pkg}
        other = {name.split(".")[0] for f in files for name in imported_modules(f, package_dir, package_only=False)}
        row = "/".join(modules)
        problems += [f"{row}: says {u}, imports no such module" for u in uses
                     if u != STDLIB[lang] and u not in used and (u in parts or u not in other)]
        problems += [f"{row}: imports {u}, not in its uses" for u in sorted(used - set(uses))]
        if STDLIB[lang] in uses and used:
            problems.append(f"{row}: says {STDLIB[lang]}, imports {sorted(used)}")
    return problems


@pytest.mark.parametrize("lang", sorted(MAP_HEADING))
def test_the_design_pages_module_map_names_every_module_and_what_each_really_uses(lang):
    """Every top-level module and sub-package has a row, and each row's "uses" is exactly the package modules its
    modules import (every import statement, function-local ones included; a sub-package's imports of its own
    modules are its business), with any third-party module it names really imported too.

    Exact, not only true: a column that may leave a use out drifts the way this one did (a new import is the
    common change, and nothing would fail on it), and the order a reader walks the map by is the order of these
    uses. The long rows (`cli`, `train`, `bench/`, `tune/`) are long because those modules sit on much of the
    package, which is what a reader of that row needs to know; "all of the above" said less and was not true
    (the command line imports no `learner`). The check is at the level of the map's rows, a top-level module or
    a sub-package, so a row says `data`, with a note where the part it uses matters, e.g. `robustness
    (settings)`; third-party modules are named where they say something, not required."""
    design = PACKAGE.parent / "book" / lang / "design.md"
    assert map_problems(design, lang) == []


def test_the_module_maps_two_languages_have_the_same_rows_and_uses():
    en, zh = (module_map(PACKAGE.parent / "book" / lang / "design.md", lang) for lang in ("en", "zh"))
    same = lambda rows, lang: [(m, sorted("stdlib" if u == STDLIB[lang] else u for u in uses))  # noqa: E731
                               for m, uses in rows]
    assert same(en, "en") == same(zh, "zh")


def test_the_module_map_check_finds_a_missing_row_a_claimed_use_and_a_left_out_one(tmp_path):
    pkg = tmp_path / "cifar100lab"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("import yaml\nfrom . import b\n")
    (pkg / "b.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("def f():\n    from ..a import x\n")
    design = tmp_path / "design.md"
    design.write_text("## Module map\n\n| module | job | uses |\n|---|---|---|\n| `a` | A | b, yaml |\n"
                      "| `b` | B | stdlib |\n| `sub/` | S | a (a function-local import) |\n")
    assert map_problems(design, "en", pkg) == []
    design.write_text("## Module map\n\n| module | job | uses |\n|---|---|---|\n| `a` | A | torch |\n"
                      "| `sub/`, `c` | S | b |\n")
    assert map_problems(design, "en", pkg) == [
        "no row for b", "c is no module of the package", "a: says torch, imports no such module",
        "a: imports b, not in its uses", "sub/c: says b, imports no such module", "sub/c: imports a, not in its uses"]
