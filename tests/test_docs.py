"""The Python code shown in README.md and docs/ runs; the site's own checks."""

import importlib.util
import re
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def python_blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)


BLOCKS = [
    pytest.param(block, id=f"{path.name}-{index}")
    for path in DOCUMENTS
    for index, block in enumerate(python_blocks(path))
]


def test_readme_shows_code():
    assert len(python_blocks(ROOT / "README.md")) >= 2


@pytest.mark.parametrize("block", BLOCKS)
def test_code_block_runs(block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks may write files
    exec(compile(block, "<markdown>", "exec"), {})


def _load(name):
    """A module of docs/ (the site's checks or its Sphinx configuration)."""
    spec = importlib.util.spec_from_file_location(
        f"docs_{name}", ROOT / "docs" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _site(tmp_path, script, example_output="k-means NMI: 0.812"):
    """A built site in miniature: a user guide with formulas loading MathJax
    from ``script``, and a gallery page whose example printed
    ``example_output``."""
    html = tmp_path / "html"
    (html / "auto_examples").mkdir(parents=True)
    (html / "_images").mkdir()
    formulas = '<span class="math notranslate">\\(x\\)</span>' * 20
    (html / "user_guide.html").write_text(
        f'<script async="async" src="{script}"></script>{formulas}'
    )
    (html / "auto_examples" / "plot_a.html").write_text(
        f'<div class="sphx-glr-script-out"><pre>{example_output}</pre></div>'
    )
    (html / "_images" / "sphx_glr_plot_a_001.png").write_bytes(b"\0" * 6000)
    return html


def test_site_check_passes_a_site_that_carries_its_mathjax(tmp_path):
    check_html = _load("check_html")
    script = "_static/mathjax/MathJax.js?config=TeX-AMS_CHTML-full"
    html = _site(tmp_path, script)
    (html / "_static" / "mathjax" / "config").mkdir(parents=True)
    (html / "_static" / "mathjax" / "MathJax.js").write_text("")
    (html / "_static" / "mathjax" / "config" / "TeX-AMS_CHTML-full.js").write_text("")
    assert list(check_html.problems(html)) == []


def test_site_check_fails_where_formulas_would_show_raw_latex(tmp_path, monkeypatch):
    check_html = _load("check_html")
    # a copy of MathJax that the site lacks
    html = _site(tmp_path, "_static/mathjax/MathJax.js?config=TeX-AMS_CHTML-full")
    (problem,) = check_html.problems(html)
    assert "would show as raw LaTeX" in problem
    assert "libjs-mathjax" in problem
    # a CDN that cannot be reached from here
    monkeypatch.setattr(check_html, "_reachable", lambda host: False)
    html = _site(tmp_path / "cdn", "https://cdn.jsdelivr.net/npm/mathjax@4/tex.js")
    (problem,) = check_html.problems(html)
    assert "cdn.jsdelivr.net" in problem
    assert "would show as raw LaTeX" in problem


def test_site_check_fails_on_an_example_that_prints_a_warning(tmp_path):
    check_html = _load("check_html")
    output = "/build/site-packages/x.py:3: ConvergenceWarning: maximum iterations"
    html = _site(tmp_path, "https://cdn.example/mathjax.js", example_output=output)
    problems = [p for p in check_html.problems(html) if "MathJax" not in p]
    assert problems == [
        "plot_a.html: the example prints a warning (ConvergenceWarning:)"
    ]


def test_docs_build_leaves_out_other_sites_that_cannot_be_reached(monkeypatch, capsys):
    monkeypatch.delenv("SKLEARN_DSC_DOCS_OFFLINE", raising=False)
    # no MathJax to copy into docs/_build
    monkeypatch.setenv("SKLEARN_DSC_MATHJAX", str(ROOT / "no-mathjax-here"))

    def unreachable(*args, **kwargs):
        raise OSError("no route to host")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    conf = _load("conf")
    assert conf.intersphinx_mapping == {}
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "SKLEARN_DSC_DOCS_OFFLINE=1" in line
