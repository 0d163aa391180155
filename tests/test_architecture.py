"""The package's shape, read from its source: imports flow one way (no circle) and no module grows past what a
reader takes in at once."""
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
