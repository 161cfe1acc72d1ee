"""Train the demo's CNN, export it for phones (LiteRT), check the file against Keras.

1. Writes scikit-learn's handwritten digits as 32x32 grayscale PNG files (as ``make demo``)
   and trains ``kerasimg.demo.build_model`` (RandomBrightness, RandomContrast and Normalize
   inside the model) on ``kerasimg.data.from_directory``.
2. Exports it with ``kerasimg.export(model, "digits.tflite", decoder=train.decoder,
   format="litert")``: uint8 ``[N, 32, 32, 1]`` in, built-in LiteRT ops only, the random
   layers gone.
3. Runs the ``.tflite`` file with the LiteRT interpreter (``ai-edge-litert``) on the held-out
   validation images and compares it with ``model(images, training=False)``.

Run: python examples/export_litert.py [--out DIR] [--epochs N]
(about 40 s on 2 CPU cores with the default 8 epochs). It prints the file size, the max |Δ|
between LiteRT and Keras, how many predictions agree and both accuracies.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import keras
import numpy as np

import kerasimg
from kerasimg.demo import build_model, write_digits


def litert_runner(path: Path):
    """The ``serving_default`` signature of a ``.tflite`` file, run by the LiteRT interpreter."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # without ai-edge-litert: TensorFlow's own (deprecated) copy
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    return Interpreter(model_path=str(path)).get_signature_runner("serving_default")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: a temp dir)")
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="kerasimg-litert-"))
    if not (out / "digits").exists():
        write_digits(out / "digits")
    train, val = kerasimg.data.from_directory(
        out / "digits", image_size=(32, 32), channels=1, batch_size=64, validation_split=0.2,
        subset="both", seed=7, cache=True,
    )  # fmt: skip
    keras.utils.set_random_seed(7)
    model = build_model(len(train.class_names))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Your input ran out of data", UserWarning)
        model.fit(train, epochs=args.epochs, shuffle=False, verbose=0)

    path = Path(kerasimg.export(model, out / "digits.tflite", decoder=train.decoder, format="litert"))
    print(f"LiteRT file: {path.name}, {path.stat().st_size} bytes")

    run = litert_runner(path)
    deltas, right_litert, right_keras, same, count = [], 0, 0, 0, 0
    for images, labels in val:  # held out: never trained on
        images, labels = images.numpy(), labels.numpy()
        got = run(images=images)["outputs"]
        want = keras.ops.convert_to_numpy(model(images, training=False))
        deltas.append(np.abs(got - want).max())
        right_litert += int((got.argmax(-1) == labels).sum())
        right_keras += int((want.argmax(-1) == labels).sum())
        same += int((got.argmax(-1) == want.argmax(-1)).sum())
        count += len(labels)
    print(f"validation images: {count}")
    print(f"max |LiteRT - Keras|: {max(deltas):.3g}")
    print(f"same prediction: {same}/{count}")
    print(f"accuracy: LiteRT {right_litert / count:.4f}, Keras {right_keras / count:.4f}")


if __name__ == "__main__":
    main()
