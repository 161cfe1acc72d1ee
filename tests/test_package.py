"""The package's public surface: __all__ is exactly what it exports, with docstrings."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

import kerasimg

PUBLIC_MODULES = ["kerasimg", "kerasimg.layers", "kerasimg.data"]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_is_what_the_module_exports(module_name):
    module = importlib.import_module(module_name)
    # A submodule loaded on first use (``kerasimg.data``, through the module's ``__getattr__``)
    # is in vars(module) only once something has imported it: resolve the names of __all__
    # that are not there yet as ``from kerasimg import data`` would, so that the result does
    # not depend on what earlier tests imported.
    exported = dict(vars(module))
    exported.update({name: getattr(module, name) for name in module.__all__ if name not in exported})
    public = {
        name for name, value in exported.items()
        if not name.startswith("_") and not inspect.ismodule(value)
        and getattr(value, "__module__", module_name).startswith("kerasimg")
    }
    public |= {name for name, value in exported.items()
               if inspect.ismodule(value) and value.__name__ == f"{module_name}.{name}"
               and name in getattr(module, "__all__", [])}
    assert set(module.__all__) - {"__version__"} == public
    for name in module.__all__:
        assert hasattr(module, name), name


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_has_a_docstring_with_an_example(module_name):
    module = importlib.import_module(module_name)
    assert module.__doc__
    for name in module.__all__:
        value = getattr(module, name)
        if name == "__version__" or inspect.ismodule(value):
            continue
        doc = inspect.getdoc(value) or ""
        assert ">>>" in doc or "```" in doc, f"{module_name}.{name} has no example in its docstring"


def test_version_is_pep440():
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|a\d+|b\d+|rc\d+)?", kerasimg.__version__)
