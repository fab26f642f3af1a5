"""Sphinx configuration of the sklearn_dsc documentation.

Build with ``make docs`` (warnings are errors; the example gallery runs).

- Links to the Python, NumPy, scikit-learn and torch docs need those sites.
  Where they cannot be reached, the build says so in one line and leaves the
  links out; ``SKLEARN_DSC_DOCS_OFFLINE=1`` leaves them out without trying.
- Formulas are rendered by MathJax. Where Debian's ``libjs-mathjax`` is
  installed (or ``SKLEARN_DSC_MATHJAX`` names a MathJax 2 folder), the site
  carries its own copy and shows them offline; otherwise pages load MathJax
  from a CDN when read.
"""

import os
import shutil
import socket
import sys
from pathlib import Path

import sklearn_dsc

sys.path.insert(0, str(Path(__file__).resolve().parent))

project = "sklearn_dsc"
author = "The sklearn_dsc developers"
copyright = "The sklearn_dsc developers"
release = version = sklearn_dsc.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "generated/*.examples"]
myst_heading_anchors = 3
# $...$ and $$...$$ are rendered as formulas (MathJax), as in scikit-learn's guide
myst_enable_extensions = ["dollarmath", "amsmath"]

autosummary_generate = True
autodoc_default_options = {
    "members": True,
    "inherited-members": False,
    # scikit-learn's metadata-routing setters, documented by scikit-learn
    "exclude-members": ",".join(
        f"set_{method}_request"
        for method in ("fit", "partial_fit", "predict", "score", "transform")
    ),
}
numpydoc_show_class_members = False
numpydoc_validation_checks = set()

DOCS = Path(__file__).resolve().parent
LINKED_DOCS = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "torch": ("https://docs.pytorch.org/docs/stable", None),
}


def reachable(url, timeout=3.0):
    """Whether a connection to ``url``'s host on port 443 opens in time."""
    host = url.split("/")[2]
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def linked_docs():
    """The other projects' docs to link to: none offline."""
    if os.environ.get("SKLEARN_DSC_DOCS_OFFLINE"):
        return {}
    unreachable = [name for name, (url, _) in LINKED_DOCS.items() if not reachable(url)]
    if unreachable:
        print(
            f"docs: the {', '.join(unreachable)} docs cannot be reached: building "
            "without links to other projects (SKLEARN_DSC_DOCS_OFFLINE=1 skips "
            "this check)",
            file=sys.stderr,
        )
        return {}
    return LINKED_DOCS


# MathJax 2's files for TeX input and CommonHTML output, copied into the site
MATHJAX_FILES = (
    "MathJax.js",
    "config/TeX-AMS_CHTML-full.js",
    "extensions",
    "jax/element",
    "jax/input/TeX",
    "jax/output/CommonHTML",
    "fonts/HTML-CSS/TeX/woff",
    "localization/en",
)


def local_mathjax(source, target):
    """Copy MathJax 2 from ``source`` into ``target/mathjax`` (a folder of
    static files); ``False`` if ``source`` holds none."""
    source = Path(source)
    if not (source / "MathJax.js").is_file():
        return False
    for name in MATHJAX_FILES:
        origin, copy = source / name, target / "mathjax" / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, copy, dirs_exist_ok=True)
        else:
            shutil.copy2(origin, copy)
    return True


intersphinx_mapping = linked_docs()

MATHJAX_STATIC = DOCS / "_build" / "mathjax_static"
LOCAL_MATHJAX = local_mathjax(
    os.environ.get("SKLEARN_DSC_MATHJAX", "/usr/share/javascript/mathjax"),
    MATHJAX_STATIC,
)
if LOCAL_MATHJAX:
    mathjax_path = "mathjax/MathJax.js?config=TeX-AMS_CHTML-full"
    # Sphinx marks formulas with the class "math"; MathJax 2 reads only those
    mathjax2_config = {
        "tex2jax": {"processClass": "math", "ignoreClass": "document"},
    }

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "show_memory": False,
    "remove_config_comments": True,
}

html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"] + ([str(MATHJAX_STATIC)] if LOCAL_MATHJAX else [])
html_css_files = ["custom.css"]
html_title = f"sklearn_dsc {version}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
