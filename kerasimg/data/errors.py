"""Warnings (and errors) that ``kerasimg.data`` issues, importable on their own.

Example:

>>> from kerasimg.data.errors import SkippedFileWarning
>>> issubclass(SkippedFileWarning, UserWarning)
True
"""

from __future__ import annotations

__all__ = ["SkippedFileWarning"]


class SkippedFileWarning(UserWarning):
    """A file was left out of a kerasimg dataset (``on_error="skip"``); issued once per file.

    The message names the file and the reason. To turn skips into errors in a test, or to
    collect them::

    ```python
    import warnings
    from kerasimg.data import SkippedFileWarning, from_directory

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkippedFileWarning)
        for images, labels in from_directory("photos/", image_size=(224, 224)):
            pass
    skipped = [str(w.message) for w in caught if w.category is SkippedFileWarning]
    ```
    """
