"""kerasimg: fast, reproducible, exportable image pipelines for Keras 3.

``import kerasimg`` does not import TensorFlow: ``kerasimg.layers`` runs on Keras alone
(under JAX or PyTorch too), and ``kerasimg.data`` and ``kerasimg.export``, which need
TensorFlow, import it on first use.

Example:

>>> import kerasimg
>>> sorted(kerasimg.__all__)
['__version__', 'data', 'export', 'layers']
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from typing import Any

from kerasimg import layers

__version__ = "0.1.0.dev0"

__all__ = ["__version__", "data", "export", "layers"]


def __getattr__(name: str) -> Any:
    """``kerasimg.data`` is imported on first use (PEP 562), so that ``import kerasimg`` alone
    does not import TensorFlow. (A ``LazyLoader`` module here made ``kerasimg.data.decode``
    load twice when ``kerasimg.export`` was imported first: two ``ImageDecoder`` classes.)"""
    if name == "data":
        return importlib.import_module("kerasimg.data")
    raise AttributeError(f"module 'kerasimg' has no attribute {name!r}")


def export(
    model: Any,
    path: str | os.PathLike,
    decoder: Any = None,
    format: str = "tf_saved_model",
    **kwargs: Any,
) -> str:
    """Write ``model`` as a SavedModel serving raw uint8 images and encoded image bytes.

    This is ``kerasimg.export.export`` (every argument is documented there), imported on
    the first call so that ``import kerasimg`` alone does not import TensorFlow.

    Example:

    ```python
    train = kerasimg.data.from_directory("photos/", image_size=(128, 128))
    model.fit(train, epochs=5)
    kerasimg.export(model, "exported/", decoder=train.decoder)
    ```
    """
    from kerasimg.export import export as _export

    return _export(model, path, decoder=decoder, format=format, **kwargs)


class _Package(types.ModuleType):
    """The ``kerasimg`` module: importing the ``kerasimg.export`` submodule leaves
    ``kerasimg.export`` the function (the submodule stays in ``sys.modules``)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "export" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
