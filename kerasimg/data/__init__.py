"""The tf.data adapter: list image files, decode them safely in parallel, batch and prefetch.

Example:

>>> import kerasimg
>>> train, val = kerasimg.data.from_directory("photos/", image_size=(128, 128),
...                                           validation_split=0.2, subset="both", seed=7)
"""

from kerasimg.data.dataset import from_csv, from_directory, from_files
from kerasimg.data.decode import ImageDecoder
from kerasimg.data.errors import SkippedFileWarning

__all__ = ["ImageDecoder", "SkippedFileWarning", "from_csv", "from_directory", "from_files"]
