"""Keras layers that resize, normalize and augment images inside the model.

Example:

>>> import keras, kerasimg
>>> model = keras.Sequential([
...     keras.Input((None, None, 3), dtype="uint8"),
...     kerasimg.layers.Resize(32, 32),
...     kerasimg.layers.RandomFlip(),
...     kerasimg.layers.Normalize(),
... ])
"""

from kerasimg.layers.base import BaseImageLayer, apply_layers
from kerasimg.layers.center_crop import CenterCrop
from kerasimg.layers.normalize import Normalize
from kerasimg.layers.random_brightness import RandomBrightness
from kerasimg.layers.random_contrast import RandomContrast
from kerasimg.layers.random_crop import RandomCrop
from kerasimg.layers.random_flip import RandomFlip
from kerasimg.layers.random_resized_crop import RandomResizedCrop, sample_resized_crop_box
from kerasimg.layers.resize import Resize

__all__ = [
    "BaseImageLayer",
    "CenterCrop",
    "Normalize",
    "RandomBrightness",
    "RandomContrast",
    "RandomCrop",
    "RandomFlip",
    "RandomResizedCrop",
    "Resize",
    "apply_layers",
    "sample_resized_crop_box",
]
