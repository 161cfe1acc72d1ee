"""List files, decode in parallel, resize, normalize, batch, prefetch — the kerasimg way.

The classic tf.data tutorial writes this pipeline by hand (list_files -> map(decode_jpeg,
resize, /255) -> batch -> prefetch). With kerasimg the adapter lists, decodes (guarded,
in parallel, at a reduced JPEG DCT scale when it can), resizes, batches and prefetches;
normalization runs inside the model, on the accelerator, from uint8.

Run: python examples/basic_pipeline.py
"""

from __future__ import annotations

import keras
from _common import make_photo_folder

import kerasimg

folder = make_photo_folder()
ds = kerasimg.data.from_directory(folder, image_size=(128, 128), batch_size=16, seed=1)
images, labels = next(iter(ds))
print(f"classes: {ds.class_names}; files: {len(ds.file_paths)}")
print(f"one batch: images {tuple(images.shape)} {images.dtype.name}, labels {tuple(labels.shape)}")

normalize = kerasimg.layers.Normalize()
normalize.adapt(ds, steps=2)  # per-channel mean/std, streamed over two batches
print("adapted mean:", [round(m, 1) for m in normalize.mean], "std:", [round(s, 1) for s in normalize.std])

inputs = keras.Input((128, 128, 3), dtype="uint8")
x = normalize(inputs)
x = keras.layers.Conv2D(8, 3, strides=4, activation="relu")(x)
x = keras.layers.GlobalAveragePooling2D()(x)
model = keras.Model(inputs, keras.layers.Dense(len(ds.class_names))(x))
out = model.predict(ds, verbose=0)
print(f"predicted on {out.shape[0]} images; skipped files: {len(ds.skipped)}")
