"""The end-to-end demo behind ``kerasimg demo`` and ``make demo``.

It writes scikit-learn's digits (1,797 real handwritten digits shipped inside
scikit-learn, 10 classes) as 32x32 PNG files into class folders, adds a few broken
files, trains a small CNN on ``kerasimg.data.from_directory`` with kerasimg layers
inside the model, exports it with ``kerasimg.export``, reloads the SavedModel in a
new process and classifies PNG files from their bytes.

Example:

>>> from kerasimg.demo import write_digits
>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> counts = write_digits(root / "digits", limit=20)
>>> sum(counts.values())
20
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: Files written next to the digits that the pipeline must skip and report.
BROKEN_FILES = {
    "0/empty.png": b"",
    "1/notes.png": b"these are not the pixels you are looking for\n",
    "2/truncated.png": None,  # the first half of a real PNG, filled in by write_digits
}

# Runs in a fresh interpreter: TensorFlow and the SavedModel only (no kerasimg, no Keras).
_PREDICT = r"""
import json, sys
import tensorflow as tf
request = sys.stdin.readline()  # the export folder and the files, once the model is exported
if not request:
    sys.exit(0)  # the parent went away
export_dir, paths = json.loads(request)
model = tf.saved_model.load(export_dir)
serve = model.signatures["serving_bytes"]
blobs = [open(p, "rb").read() for p in paths]
out = serve(image_bytes=tf.constant(blobs))
scores = next(iter(out.values())).numpy()
print(json.dumps(scores.tolist()))
"""


class _Predictor:
    """A new Python process that imports TensorFlow at once (~5-7 s on 2 cores) and then waits
    for one request: the demo starts it before training, so the import overlaps the training."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _PREDICT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )  # fmt: skip

    def predict(self, export_dir: str | os.PathLike, paths: Sequence[str | os.PathLike]) -> list[list[float]]:
        request = json.dumps([str(export_dir), [str(p) for p in paths]]) + "\n"
        out, err = self.process.communicate(request)
        if self.process.returncode != 0:
            raise RuntimeError(f"kerasimg: reloading the SavedModel failed:\n{err[-2000:]}")
        return json.loads(out.strip().splitlines()[-1])

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def write_digits(
    root: str | os.PathLike, limit: int | None = None, class_names: Sequence[str] | None = None
) -> dict[str, int]:
    """Write scikit-learn's digits as 32x32 grayscale PNG files under ``root/<class name>/``.

    Args:
        root: output folder (created).
        limit: write only the first ``limit`` digits (default: all 1,797).
        class_names: the folder name of each digit 0-9 (default: ``"0"`` ... ``"9"``).

    Returns:
        ``{class name: number of files}``.

    Example:

    >>> import tempfile
    >>> write_digits(tempfile.mkdtemp(), limit=3, class_names=[f"digit{d}" for d in range(10)])
    {'digit0': 1, 'digit1': 1, 'digit2': 1}
    """
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    root = Path(root)
    counts: dict[str, int] = {}
    images = digits.images if limit is None else digits.images[:limit]
    names = [str(d) for d in range(10)] if class_names is None else list(class_names)
    if len(names) != 10:
        raise ValueError(f"class_names must name the 10 digits, received {class_names!r}")
    for i, (image, target) in enumerate(zip(images, digits.target, strict=False)):
        pixels = np.clip(np.round(image * (255.0 / 16.0)), 0, 255).astype("uint8")
        name = names[int(target)]
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels, mode="L").resize((32, 32), Image.BILINEAR).save(folder / f"digit_{i:04d}.png")
        counts[name] = counts.get(name, 0) + 1
    return counts


def write_broken_files(root: str | os.PathLike) -> list[Path]:
    """Add the deliberately broken files of ``BROKEN_FILES`` under ``root``."""
    root = Path(root)
    written = []
    for name, content in BROKEN_FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            good = next(iter(sorted(path.parent.glob("digit_*.png"))))
            data = good.read_bytes()
            content = data[: len(data) // 2]
        path.write_bytes(content)
        written.append(path)
    return written


def build_model(num_classes: int, image_size: tuple[int, int] = (32, 32), seed: int = 7):
    """A small CNN with kerasimg augmentation and normalization inside the model.

    It takes uint8 grayscale images ``(*image_size, 1)`` (input ``"images"``) and returns
    class probabilities (output ``"outputs"``); ``seed`` seeds the random layers.

    Example:

    >>> build_model(10, image_size=(24, 24)).output_shape
    (None, 10)
    """
    import keras

    from kerasimg import layers

    inputs = keras.Input((*image_size, 1), dtype="uint8", name="images")
    x = layers.RandomBrightness(0.1, seed=seed)(inputs)
    x = layers.RandomContrast(0.2, seed=seed + 1)(x)
    x = layers.Normalize()(x)
    for filters in (16, 32):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.3, seed=seed)(x)
    x = keras.layers.Dense(128, activation="relu")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="outputs")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


def run(out: str | os.PathLike = "kerasimg-demo", epochs: int = 8, seed: int = 7, print_fn=print) -> dict:
    """Run the demo end to end; returns a summary dict (also written to ``out/summary.json``).

    Args:
        out: the folder everything is written to.
        epochs: training epochs.
        seed: the seed of the split, the shuffling and the augmentation.
        print_fn: where progress lines go.
    """
    import keras

    import kerasimg

    keras.utils.set_random_seed(seed)
    out = Path(out)
    data_dir = out / "digits"
    started = time.perf_counter()
    # The serving process starts now: its TensorFlow import overlaps the training, and it
    # loads the SavedModel (without kerasimg or Keras) once it is exported.
    predictor = _Predictor()
    try:
        if not data_dir.exists():
            counts = write_digits(data_dir)
            write_broken_files(data_dir)
            print_fn(f"wrote {sum(counts.values())} digit PNGs in {len(counts)} classes + "
                     f"{len(BROKEN_FILES)} broken files to {data_dir}")
        train, val = kerasimg.data.from_directory(
            data_dir, image_size=(32, 32), channels=1, batch_size=64, validation_split=0.2,
            subset="both", seed=seed,
        )
        model = build_model(len(train.class_names), seed=seed)
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        with warnings.catch_warnings():
            # The demo lists the skipped files itself after training, rather than in the middle
            # of the progress bar; and Keras warns "Your input ran out of data" at the end of the
            # first epoch of any dataset whose length is unknown up front (a bad file can drop
            # out of ours), although nothing ran out early.
            warnings.simplefilter("ignore", kerasimg.data.SkippedFileWarning)
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            # the dataset reshuffles its file list every epoch itself
            history = model.fit(train, validation_data=val, epochs=epochs, verbose=1, shuffle=False)
        skipped = sorted({(str(p), r) for p, r in list(train.skipped) + list(val.skipped)})
        print_fn(f"skipped {len(skipped)} bad files:")
        for path, reason in skipped:
            print_fn(f"  {path}: {reason}")
        accuracy = float(history.history["val_accuracy"][-1])
        print_fn(f"validation accuracy: {accuracy:.4f}")

        export_dir = out / "saved_model"
        kerasimg.export(model, export_dir, decoder=train.decoder)
        print_fn(f"exported SavedModel to {export_dir}")

        first_of_class: dict[str, Path] = {}  # one validation file of each class
        for p in map(Path, val.file_paths):
            first_of_class.setdefault(p.parent.name, p)
        samples = [first_of_class[name] for name in train.class_names if name in first_of_class]
        predicted = [int(np.argmax(row)) for row in predictor.predict(export_dir, samples)]
        print_fn("predictions from PNG bytes, reloaded in a new process:")
        rows = []
        for path, index in zip(samples, predicted, strict=True):
            name = train.class_names[index]
            rows.append({"file": str(path), "predicted": name, "true": path.parent.name})
            print_fn(f"  {path.relative_to(out)} -> {name}")
    finally:
        predictor.close()
    summary = {
        "val_accuracy": accuracy, "epochs": epochs, "skipped": [list(s) for s in skipped],
        "predictions": rows, "seconds": round(time.perf_counter() - started, 1),
        "saved_model": str(export_dir),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print_fn(f"done in {summary['seconds']} s; summary in {out / 'summary.json'}")
    return summary


def predict_in_new_process(export_dir: str | os.PathLike, paths: Sequence[str | os.PathLike]) -> list[list[float]]:
    """Scores of the image files ``paths`` from an exported SavedModel, in a new Python process.

    The process loads ``export_dir`` with ``tf.saved_model.load`` alone (no kerasimg, no Keras)
    and feeds the files' bytes to the ``serving_bytes`` signature: what a serving system does.

    Returns:
        One row of scores (the model's output) per file.

    Raises:
        RuntimeError: the process failed (the end of its stderr is in the message).

    Example:

    >>> scores = predict_in_new_process("kerasimg-demo/saved_model", ["digit.png"])  # doctest: +SKIP
    >>> int(np.argmax(scores[0]))  # doctest: +SKIP
    7
    """
    predictor = _Predictor()
    try:
        return predictor.predict(export_dir, paths)
    finally:
        predictor.close()
