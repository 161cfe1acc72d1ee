"""kerasimg: fast, reproducible, exportable image pipelines for Keras 3.

Example:

>>> import kerasimg
>>> sorted(kerasimg.__all__)[:2]
['__version__', 'data']
"""

from kerasimg import layers

__version__ = "0.1.0.dev0"

__all__ = ["__version__", "layers"]
