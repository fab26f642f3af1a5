"""Sphinx configuration of the sklearn_dsc documentation.

Build with ``make docs`` (warnings are errors; the example gallery runs).
Set ``SKLEARN_DSC_DOCS_OFFLINE=1`` where the scikit-learn, torch and NumPy
sites cannot be reached: links to them are then left out.
"""

import os
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

if os.environ.get("SKLEARN_DSC_DOCS_OFFLINE"):
    intersphinx_mapping = {}
else:
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "torch": ("https://docs.pytorch.org/docs/stable", None),
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
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_title = f"sklearn_dsc {version}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
