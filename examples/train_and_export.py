"""Train briefly, export a SavedModel with the decode built in, serve it from file bytes.

1. Writes scikit-learn's handwritten digits (1,797 real 8x8 scans shipped inside
   scikit-learn) as grayscale PNG files into one folder per class (``zero`` ... ``nine``).
2. Trains a small CNN on ``kerasimg.data.from_directory`` (the decoder upsamples every
   PNG to 24x24; augmentation and normalization are kerasimg layers inside the model).
3. Exports it with ``kerasimg.export`` and the training dataset's decoder.
4. Starts a NEW Python process that only loads the SavedModel with ``tf.saved_model.load``
   (no kerasimg, no Keras code needed) and classifies held-out PNG files from their bytes
   through the ``serving_bytes`` signature.

Run: python examples/train_and_export.py [--out DIR] [--epochs N]
(about 25 s on 2 CPU cores). Each prediction is printed as
``prediction <file> -> <class name> (<probability>)``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import keras
import numpy as np

import kerasimg
from kerasimg.export import export

CLASS_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

# Runs in a fresh interpreter: TensorFlow and the SavedModel only.
PREDICT = r"""
import json, sys
import tensorflow as tf

export_dir, names_file, *paths = sys.argv[1:]
class_names = json.load(open(names_file))
served = tf.saved_model.load(export_dir)
blobs = [open(path, "rb").read() for path in paths]
scores = served.signatures["serving_bytes"](image_bytes=tf.constant(blobs))["outputs"].numpy()
for path, row in zip(paths, scores):
    best = int(row.argmax())
    print(f"prediction {path} -> {class_names[best]} ({row[best]:.3f})")
"""


def write_digits(root: Path) -> None:
    """Write the 1,797 digits as 8x8 grayscale PNGs under ``root/<class name>/``."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i, (image, target) in enumerate(zip(digits.images, digits.target, strict=True)):
        folder = root / CLASS_NAMES[int(target)]
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.round(image * (255.0 / 16.0)).astype("uint8")  # 0..16 -> 0..255
        Image.fromarray(pixels, mode="L").save(folder / f"digit_{i:04d}.png")


def build_model(image_size: tuple[int, int], num_classes: int) -> keras.Model:
    """A small CNN taking uint8 grayscale images, augmentation and scaling built in."""
    inputs = keras.Input((*image_size, 1), dtype="uint8", name="images")
    x = kerasimg.layers.RandomBrightness(0.1, seed=1)(inputs)
    x = kerasimg.layers.RandomContrast(0.2, seed=2)(x)
    x = kerasimg.layers.Normalize()(x)  # 0..255 -> 0..1
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="digits")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: a temp dir)")
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="kerasimg-export-"))
    data_dir = out / "digits"
    write_digits(data_dir)
    train, val = kerasimg.data.from_directory(
        data_dir, image_size=(24, 24), channels=1, batch_size=64, class_names=CLASS_NAMES,
        validation_split=0.2, subset="both", seed=0, cache=True,
    )  # fmt: skip  (cache: the small PNGs are decoded once, not every epoch)
    print(f"{len(train.file_paths)} training and {len(val.file_paths)} validation PNG files")
    keras.utils.set_random_seed(0)  # the model's initial weights; the data has its own seed

    model = build_model((24, 24), len(train.class_names))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    with warnings.catch_warnings():
        # Keras learns the dataset's length in the first epoch and says so; harmless here.
        warnings.filterwarnings("ignore", "Your input ran out of data", UserWarning)
        # shuffle=False: the dataset reshuffles its files every epoch itself.
        history = model.fit(train, validation_data=val, epochs=args.epochs, shuffle=False, verbose=0)
    print(f"validation accuracy after {args.epochs} epochs: {history.history['val_accuracy'][-1]:.3f}")

    export_dir = export(model, out / "saved_model", decoder=train.decoder)
    names_file = out / "class_names.json"
    names_file.write_text(json.dumps(train.class_names))
    print(f"exported SavedModel to {export_dir}")

    # One held-out file per class, classified from its bytes by a fresh process.
    samples = [next(p for p in val.file_paths if Path(p).parent.name == name) for name in CLASS_NAMES]
    result = subprocess.run(
        [sys.executable, "-c", PREDICT, str(export_dir), str(names_file), *samples],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        sys.exit(f"the serving process failed:\n{result.stderr}")
    print(result.stdout, end="")


if __name__ == "__main__":
    main()
