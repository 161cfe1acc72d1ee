"""Random flip, brightness and contrast inside the model: per-image draws, off at inference.

Run: python examples/augmentation.py
"""

from __future__ import annotations

import keras
import numpy as np
from _common import make_photo_folder

import kerasimg

folder = make_photo_folder(per_class=16)
train = kerasimg.data.from_directory(folder, image_size=(96, 96), batch_size=16, seed=5)

inputs = keras.Input((96, 96, 3), dtype="uint8")
x = kerasimg.layers.RandomFlip("horizontal", seed=1)(inputs)
x = kerasimg.layers.RandomBrightness(0.2, seed=2)(x)
x = kerasimg.layers.RandomContrast(0.3, seed=3)(x)
x = kerasimg.layers.Normalize()(x)
x = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(x)
x = keras.layers.GlobalAveragePooling2D()(x)
model = keras.Model(inputs, keras.layers.Dense(len(train.class_names), activation="softmax")(x))
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(train, epochs=2, verbose=0)
print("training accuracy per epoch:", [round(a, 3) for a in history.history["accuracy"]])

images, _ = next(iter(train))
augment = keras.Sequential(model.layers[1:4])
a, b = augment(images, training=True), augment(images, training=True)
print("two training passes differ:", not np.array_equal(np.asarray(a), np.asarray(b)))
same = np.array_equal(np.asarray(augment(images, training=False)), np.asarray(images, "float32"))
print("inference pass is the identity:", same)
