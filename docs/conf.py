"""Sphinx configuration of the API reference, built from the numpydoc docstrings (CI: ``-W``)."""

import s4forecast

project = "s4forecast"
version = release = s4forecast.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
exclude_patterns = ["_build"]
html_theme = "alabaster"
autodoc_inherit_docstrings = False  # Lightning and Darts hooks keep their own docs
