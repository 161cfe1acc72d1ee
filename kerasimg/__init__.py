"""kerasimg: fast, reproducible, exportable image pipelines for Keras 3.

Example:

>>> import kerasimg
>>> sorted(kerasimg.__all__)
['__version__', 'data', 'export', 'layers']
"""

from kerasimg import data, layers
from kerasimg.export import export

__version__ = "0.1.0.dev0"

__all__ = ["__version__", "data", "export", "layers"]
