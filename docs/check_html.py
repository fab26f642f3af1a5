"""Checks of the built site that a reader would notice: run by ``make docs``.

- the user guide's formulas are rendered math, not code blocks, and the
  MathJax that renders them can be loaded (a copy in the site, or a CDN that
  answers from here): otherwise the page shows raw LaTeX;
- every gallery example that draws a figure has a non-empty image, and
  prints no warning (which would show the build machine's paths).
"""

import re
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

HTML = Path(__file__).resolve().parent / "_build" / "html"
MATHJAX_HELP = (
    "install Debian's libjs-mathjax (or set SKLEARN_DSC_MATHJAX to a MathJax 2 "
    "folder) and rebuild, so that the site carries its own MathJax"
)


def _reachable(host, timeout=3.0):
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def mathjax_problem(page, text):
    """Why ``page`` (its HTML ``text``) would show its formulas as raw LaTeX,
    or ``None``: no MathJax script, a local one missing from the site, or a
    remote one that cannot be reached."""
    sources = re.findall(r'<script[^>]*\bsrc="([^"]*mathjax[^"]*)"', text, re.I)
    if not sources:
        return f"{page.name}: formulas, but no MathJax script to render them"
    source = sources[0].replace("&amp;", "&")
    parts = urlsplit(source)
    if parts.scheme in ("http", "https") or source.startswith("//"):
        if _reachable(parts.hostname):
            return None
        return (
            f"{page.name}: MathJax comes from {parts.hostname}, which cannot be "
            f"reached, so the formulas would show as raw LaTeX; {MATHJAX_HELP}"
        )
    script = (page.parent / parts.path).resolve()
    needed = [script]
    config = re.search(r"config=([^&]+)", parts.query)
    if config:  # MathJax 2 loads its configuration beside MathJax.js
        needed.append(script.parent / "config" / f"{config[1]}.js")
    missing = [path for path in needed if not path.is_file()]
    if missing:
        return (
            f"{page.name}: the MathJax files {', '.join(map(str, missing))} are "
            f"missing, so the formulas would show as raw LaTeX; {MATHJAX_HELP}"
        )
    return None


def problems(html=HTML):
    guide_page = html / "user_guide.html"
    guide = guide_page.read_text(encoding="utf-8")
    if guide.count('class="math') < 20:
        yield "user_guide.html: fewer than 20 rendered formulas"
    for formula in ("1/4 ||P_F - P_Y||_F^2", "dloss/dF ="):
        if formula in guide:
            yield f"user_guide.html: the formula {formula!r} is shown as code"
    problem = mathjax_problem(guide_page, guide)
    if problem:
        yield problem
    for page in sorted((html / "auto_examples").glob("plot_*.html")):
        images = sorted((html / "_images").glob(f"sphx_glr_{page.stem}_*.png"))
        if not images or any(image.stat().st_size < 5_000 for image in images):
            yield f"{page.name}: a figure is missing or nearly empty"
        warning = re.search(r"\b[A-Z]\w*Warning: ", page.read_text(encoding="utf-8"))
        if warning:
            yield f"{page.name}: the example prints a warning ({warning[0].strip()})"


if __name__ == "__main__":
    found = list(problems())
    for problem in found:
        print(f"docs: {problem}", file=sys.stderr)
    print(f"docs checks: {'failed' if found else 'passed'}")
    sys.exit(1 if found else 0)
