"""Scale decoding out with tf.data service: a dispatcher and two workers on localhost.

In production the servers run on other machines, started with
``kerasimg data-service dispatcher --port 5050`` and
``kerasimg data-service worker --dispatcher HOST:5050``; here they run in this process.

Run: python examples/distributed_service.py
"""

from __future__ import annotations

import socket

import keras
from _common import make_photo_folder

import kerasimg
from kerasimg.data import service


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


folder = make_photo_folder(per_class=16)
port = free_port()
dispatcher = service.start_dispatcher(port)
workers = [service.start_worker(f"localhost:{port}") for _ in range(2)]
print(f"dispatcher on localhost:{port}, {len(workers)} workers")

train = kerasimg.data.from_directory(folder, image_size=(64, 64), batch_size=8, seed=2,
                                     service=f"grpc://localhost:{port}")
count = sum(int(images.shape[0]) for images, _ in train)
print(f"one epoch through the service: {count} images of {len(train.file_paths)} files")

inputs = keras.Input((64, 64, 3), dtype="uint8")
x = kerasimg.layers.Normalize()(inputs)
x = keras.layers.GlobalAveragePooling2D()(x)
model = keras.Model(inputs, keras.layers.Dense(len(train.class_names), activation="softmax")(x))
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(train, epochs=2, verbose=0)
print("trained 2 epochs through tf.data service; loss:", [round(v, 3) for v in history.history["loss"]])
for worker in workers:
    worker.stop()
dispatcher.stop()
