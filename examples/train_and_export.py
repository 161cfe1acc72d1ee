"""Train briefly, export a SavedModel with the decode built in, serve it from file bytes.

1. Writes scikit-learn's handwritten digits (1,797 real 8x8 scans shipped inside
   scikit-learn) as 32x32 grayscale PNG files into one folder per class (``zero`` ...
   ``nine``), with ``kerasimg.demo.write_digits``.
2. Trains the demo's small CNN (``kerasimg.demo.build_model``: augmentation and
   normalization are kerasimg layers inside the model) on ``kerasimg.data.from_directory``,
   whose decoder resizes every PNG to 24x24.
3. Exports it with ``kerasimg.export`` and the training dataset's decoder.
4. Starts a NEW Python process that only loads the SavedModel with ``tf.saved_model.load``
   (no kerasimg, no Keras code needed) and classifies held-out PNG files from their bytes
   through the ``serving_bytes`` signature (``kerasimg.demo.predict_in_new_process``).

Run: python examples/train_and_export.py [--out DIR] [--epochs N]
(about 25 s on 2 CPU cores). Each prediction is printed as
``prediction <file> -> <class name> (<probability>)``.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import keras
import numpy as np

import kerasimg
from kerasimg.demo import build_model, predict_in_new_process, write_digits
from kerasimg.export import export

CLASS_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: a temp dir)")
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="kerasimg-export-"))
    data_dir = out / "digits"
    write_digits(data_dir, class_names=CLASS_NAMES)
    train, val = kerasimg.data.from_directory(
        data_dir, image_size=(24, 24), channels=1, batch_size=64, class_names=CLASS_NAMES,
        validation_split=0.2, subset="both", seed=0, cache=True,
    )  # fmt: skip  (cache: the small PNGs are decoded once, not every epoch)
    print(f"{len(train.file_paths)} training and {len(val.file_paths)} validation PNG files")
    keras.utils.set_random_seed(0)  # the model's initial weights; the data has its own seed

    model = build_model(len(train.class_names), image_size=(24, 24), seed=1)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    with warnings.catch_warnings():
        # Keras learns the dataset's length in the first epoch and says so; harmless here.
        warnings.filterwarnings("ignore", "Your input ran out of data", UserWarning)
        # shuffle=False: the dataset reshuffles its files every epoch itself.
        history = model.fit(train, validation_data=val, epochs=args.epochs, shuffle=False, verbose=0)
    print(f"validation accuracy after {args.epochs} epochs: {history.history['val_accuracy'][-1]:.3f}")

    export_dir = export(model, out / "saved_model", decoder=train.decoder)
    print(f"exported SavedModel to {export_dir}")

    # One held-out file per class, classified from its bytes by a fresh process.
    samples = [next(p for p in val.file_paths if Path(p).parent.name == name) for name in CLASS_NAMES]
    for path, row in zip(samples, predict_in_new_process(export_dir, samples), strict=True):
        best = int(np.argmax(row))
        print(f"prediction {path} -> {CLASS_NAMES[best]} ({row[best]:.3f})")


if __name__ == "__main__":
    main()
