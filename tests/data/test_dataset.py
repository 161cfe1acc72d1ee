"""The tf.data adapter: outputs, arguments, splits, shuffling, seeds, augmentation, cache,
input_context (tf.distribute) and Keras fit.

Most tests use "tagged" images: the left half of image ``i`` has the colour
``(i % 256, i // 256, 200)``, the right half is black, so any output (shuffled, flipped,
resized) says which file it came from and whether it was flipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import kerasimg.data as kd
from kerasimg.layers import RandomBrightness, RandomContrast, RandomFlip

N = 40
SIZE = (16, 16)
REPO = Path(__file__).resolve().parents[2]


def make_tagged(root: Path, n: int = N, classes: tuple[str, ...] = ("ants", "bees")) -> list[Path]:
    """``n`` tagged PNGs, image ``i`` in ``root/classes[i % len(classes)]/``; returns paths by id."""
    paths = []
    for i in range(n):
        image = np.zeros((32, 32, 3), np.uint8)
        image[:, :16] = (i % 256, i // 256, 200)
        path = root / classes[i % len(classes)] / f"img_{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


def tag_of(image: np.ndarray) -> tuple[int, bool]:
    """(file id, flipped) of a tagged image."""
    h, w = image.shape[:2]
    left, right = image[h // 2, 1], image[h // 2, w - 2]
    flipped = int(right[2]) > int(left[2])
    px = right if flipped else left
    return int(px[0]) + 256 * int(px[1]), flipped


def epoch_tags(ds: tf.data.Dataset) -> list[tuple[int, bool]]:
    out = []
    for batch in ds:
        images = batch[0] if isinstance(batch, tuple) else batch
        out.extend(tag_of(im) for im in np.asarray(images))
    return out


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("tagged")
    return root, make_tagged(root)


def test_outputs_and_attributes(tagged) -> None:
    root, paths = tagged
    ds = kd.from_directory(root, image_size=SIZE, batch_size=8, seed=1)
    assert ds.class_names == ["ants", "bees"]
    assert sorted(ds.file_paths) == sorted(map(str, paths)) and len(ds.file_paths) == N
    assert isinstance(ds.decoder, kd.ImageDecoder) and ds.decoder.image_size == SIZE
    assert ds.skipped == []
    images, labels = next(iter(ds))
    assert images.dtype == tf.uint8 and images.shape == (8, 16, 16, 3)
    assert labels.dtype == tf.int32 and labels.shape == (8,)
    for image, label in zip(images.numpy(), labels.numpy(), strict=True):
        assert label == tag_of(image)[0] % 2  # class ants = even ids
    sizes = [int(b[0].shape[0]) for b in ds]
    assert sizes == [8] * 5


@pytest.mark.parametrize(
    "label_mode, shape, dtype", [("categorical", (8, 2), tf.float32), ("binary", (8, 1), tf.float32)]
)
def test_label_modes(tagged, label_mode: str, shape: tuple, dtype: tf.DType) -> None:
    ds = kd.from_directory(tagged[0], image_size=SIZE, batch_size=8, label_mode=label_mode, seed=1)
    images, labels = next(iter(ds))
    assert labels.shape == shape and labels.dtype == dtype
    ids = [tag_of(im)[0] % 2 for im in images.numpy()]
    expected = np.eye(2)[ids] if label_mode == "categorical" else np.array(ids)[:, None]
    np.testing.assert_array_equal(labels.numpy(), expected)


def test_images_only_native_size_and_grey(tmp_path: Path) -> None:
    Image.fromarray(np.full((20, 30, 3), 9, np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.full((7, 5), 50, np.uint8)).save(tmp_path / "b.png")
    ds = kd.from_directory(tmp_path, image_size=None, label_mode=None, shuffle=False)
    shapes = [tuple(image.shape) for image in ds]
    assert shapes == [(20, 30, 3), (7, 5, 3)] and ds.class_names is None
    grey = kd.from_files([tmp_path / "b.png"], image_size=(4, 4), channels=1)
    batch = next(iter(grey))
    assert not isinstance(batch, tuple) and batch.shape == (1, 4, 4, 1) and batch.dtype == tf.uint8


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"image_size": (0, 5)}, "image_size"),
        ({"channels": 2}, "channels=2"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"shuffle": "yes"}, "shuffle='yes'"),
        ({"seed": -1}, "seed=-1"),
        ({"validation_split": 1.5, "subset": "training", "seed": 1}, "validation_split=1.5"),
        ({"validation_split": 0.2, "subset": "train", "seed": 1}, "subset='train'"),
        ({"subset": "training", "seed": 1}, "validation_split=None, subset='training'"),
        ({"validation_split": 0.2}, "validation_split=0.2, subset=None"),
        ({"validation_split": 0.2, "subset": "both"}, "needs a seed"),
        ({"label_mode": "sparse"}, "label_mode='sparse'"),
        ({"class_names": "ants"}, "class_names='ants'"),
        ({"class_names": ["ants"], "label_mode": None}, "label_mode=None"),
        ({"formats": ("tiff",)}, "formats"),
        ({"on_error": "ignore"}, "on_error='ignore'"),
        ({"max_pixels": 0}, "max_pixels=0"),
        ({"cache": 3}, "cache=3"),
        ({"cache": "/no/such/folder/c"}, "cache='/no/such/folder/c'"),
        ({"augment": [object()]}, "augment="),
        ({"input_context": 2}, "input_context=2"),
        ({"service": "nowhere"}, "service='nowhere'"),
        ({"service": "grpc://h:5050", "cache": True}, "cannot be used with service"),
        ({"crop_to_aspect_ratio": True, "image_size": None}, "crop_to_aspect_ratio"),
    ],
)
def test_invalid_arguments_are_named(tagged, kwargs: dict, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        kd.from_directory(tagged[0], **kwargs)
    assert fragment in str(info.value)


def test_source_errors(tmp_path: Path, tagged) -> None:
    with pytest.raises(ValueError, match="not an existing directory"):
        kd.from_directory(tmp_path / "missing")
    three = tmp_path / "three"
    make_tagged(three, 6, ("a", "b", "c"))
    with pytest.raises(ValueError, match='label_mode="binary" needs exactly 2 classes, found 3'):
        kd.from_directory(three, label_mode="binary")
    with pytest.raises(TypeError, match="unexpected keyword"):
        kd.from_files(tagged[1], image_sise=(3, 3))
    with pytest.raises(ValueError, match="class_names=.*needs labels"):
        kd.from_files(tagged[1], class_names=["a"])


def _public_callables():
    """Public functions and methods (``__init__`` included) defined in kerasimg.data's public modules."""
    import importlib
    import inspect
    import pkgutil

    for info in pkgutil.iter_modules(kd.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"kerasimg.data.{info.name}")
        for name, value in vars(module).items():
            if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(value):
                yield f"{module.__name__}.{name}", value
            elif inspect.isclass(value):
                for attr, method in vars(value).items():
                    if inspect.isfunction(method) and (attr == "__init__" or not attr.startswith("_")):
                        yield f"{module.__name__}.{name}.{attr}", method


def test_no_public_function_takes_var_keyword() -> None:
    """Every option is an explicit, typed keyword: a typo is a TypeError from Python itself."""
    import inspect

    found = dict(_public_callables())
    assert {"kerasimg.data.dataset.from_csv", "kerasimg.data.dataset.from_files"} <= set(found)
    bags = [name for name, fn in found.items()
            if any(p.kind is p.VAR_KEYWORD for p in inspect.signature(fn).parameters.values())]
    assert bags == []


def test_the_three_sources_share_their_keyword_arguments() -> None:
    """from_directory, from_csv and from_files: the same shared keywords, defaults and hints."""
    import inspect

    def shared(fn, own):
        params = inspect.signature(fn).parameters.values()
        assert all(p.kind is p.KEYWORD_ONLY for p in params if p.name not in own)
        return [(p.name, p.default, p.annotation) for p in params if p.name not in own]

    reference = shared(kd.from_directory, {"directory"})
    assert len(reference) == 20 and reference[0] == ("image_size", (224, 224), "tuple[int, int] | None")
    assert shared(kd.from_csv, {"csv_path", "image_dir", "header", "encoding"}) == reference
    assert shared(kd.from_files, {"paths", "labels"}) == reference


def test_options_are_frozen_and_normalised(tagged) -> None:
    """One validation builds a frozen object; from_files without labels has label_mode None."""
    import dataclasses

    from kerasimg.data._options import _options
    from kerasimg.layers import RandomCrop

    opts = _options(
        image_size=None, channels=np.int64(3), crop_to_aspect_ratio=False, batch_size=np.int32(4),
        shuffle=True, seed=np.uint8(5), validation_split=None, subset=None, label_mode="int",
        class_names=["b", "a"], formats=("png",), on_error="skip", max_pixels=10**6,
        max_file_bytes=2**20, exif_orientation=True, cache=False, augment=[RandomCrop(6, 8)],
        input_context=None, service=None, interpolation="bilinear",
    )
    assert (opts.image_size, opts.batch_size, opts.seed, opts.label_mode) == ((6, 8), 4, 5, "int")
    assert type(opts.batch_size) is int and type(opts.seed) is int and type(opts.channels) is int
    assert opts.decoder.image_size == (6, 8) and isinstance(opts.augment, tuple)
    assert opts.class_names == ("b", "a") and opts.formats == ("png",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.seed = 1  # type: ignore[misc]
    unlabeled = kd.from_files(tagged[1][:2], image_size=SIZE, label_mode="categorical", shuffle=False)
    assert not isinstance(next(iter(unlabeled)), tuple)


@pytest.mark.parametrize("seed", [2**63, np.uint64(2**63), True])
def test_the_seed_rule_of_the_layers(tagged, seed) -> None:
    with pytest.raises(ValueError, match=r"expected an integer 0 <= seed < 2\*\*63, or None"):
        kd.from_directory(tagged[0], seed=seed)


def test_validation_split_subsets(tagged) -> None:
    root = tagged[0]
    train, val = kd.from_directory(root, validation_split=0.25, subset="both", seed=5, image_size=SIZE)
    assert len(val.file_paths) == 10 and len(train.file_paths) == 30
    assert set(train.file_paths).isdisjoint(val.file_paths)
    again = kd.from_directory(root, validation_split=0.25, subset="validation", seed=5, image_size=SIZE)
    assert again.file_paths == val.file_paths
    delivered = {tag_of(im)[0] for im, _ in val.unbatch()}
    assert delivered == {int(Path(p).stem[-3:]) for p in val.file_paths}


def test_each_epoch_is_a_new_full_permutation(tagged) -> None:
    ds = kd.from_directory(tagged[0], image_size=SIZE, batch_size=8, seed=3)
    epochs = [[t for t, _ in epoch_tags(ds)] for _ in range(3)]
    for order in epochs:
        assert sorted(order) == list(range(N))
    assert epochs[0] != epochs[1] != epochs[2]
    same = kd.from_directory(tagged[0], image_size=SIZE, batch_size=8, seed=3)
    assert [[t for t, _ in epoch_tags(same)] for _ in range(2)] == epochs[:2]
    other = kd.from_directory(tagged[0], image_size=SIZE, batch_size=8, seed=4)
    assert [t for t, _ in epoch_tags(other)] != epochs[0]


def test_no_shuffle_keeps_sorted_order(tagged) -> None:
    ds = kd.from_directory(tagged[0], image_size=SIZE, batch_size=7, shuffle=False)
    expected = [int(Path(p).stem[-3:]) for p in ds.file_paths]
    assert ds.file_paths == sorted(ds.file_paths)
    assert [t for t, _ in epoch_tags(ds)] == expected == [t for t, _ in epoch_tags(ds)]


def augment_layers() -> list:
    return [RandomFlip(), RandomBrightness(0.3), RandomContrast(0.3)]


def test_augment_per_epoch_and_independent_of_order(tagged) -> None:
    kwargs = dict(image_size=SIZE, batch_size=8, seed=9, augment=[RandomFlip()])
    shuffled, ordered = kd.from_directory(tagged[0], **kwargs), kd.from_directory(
        tagged[0], shuffle=False, **kwargs
    )
    flips = []
    for _ in range(2):
        a, b = dict(epoch_tags(shuffled)), dict(epoch_tags(ordered))
        assert len(a) == N and a == b  # the flip of a file depends on (seed, epoch, file) only
        flips.append(a)
    assert flips[0] != flips[1]
    assert 0 < sum(flips[0].values()) < N


@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_flip_in_the_adapter_is_the_layers_own_output(tagged, mode) -> None:
    """The adapter flips uint8 pixels without the float32 round trip (``RandomFlip._move_one``):
    the same values as the layer applied with the seed the pipeline gives each image."""
    from kerasimg._seeds import layer_seed

    flip = RandomFlip(mode)
    kwargs = dict(image_size=SIZE, batch_size=None, seed=4, shuffle=False)
    plain = kd.from_directory(tagged[0], **kwargs)
    flipped = kd.from_directory(tagged[0], augment=[flip], **kwargs)
    pipeline = flipped._kerasimg_pipeline
    key = tf.constant(pipeline.epoch_key(0), tf.int64)
    changed = 0
    for index, ((image, _), (got, _)) in enumerate(zip(plain, flipped, strict=True)):
        seed = layer_seed(pipeline.image_seed(key, tf.constant(index, tf.int64)), 0)
        want = flip.apply_with_seed(image, seed, training=True)
        assert got.dtype == tf.uint8
        np.testing.assert_array_equal(got.numpy(), np.asarray(want).astype("uint8"))
        coins = flip.get_random_transformation(image, training=True, seed=seed)
        changed += int(any(bool(np.asarray(v).any()) for v in coins.values()))
    assert 0 < changed < N  # some images flipped, some not


def test_autotuning_is_off_and_parallelism_is_the_cpus(tagged) -> None:
    """tf.data's autotuning thread held up each new epoch in ``model.fit`` by its optimisation
    period (1-2.5 s on the demo); the pipeline sets its parallelism and prefetch depth itself."""
    from kerasimg.data import _pipeline

    ds = kd.from_directory(tagged[0], image_size=SIZE, batch_size=8, seed=1)
    assert ds.options().autotune.enabled is False
    assert _pipeline._PARALLEL >= 1 and _pipeline._PREFETCH >= 1
    from tensorflow.core.framework import graph_pb2

    graph = graph_pb2.GraphDef.FromString(ds._as_serialized_graph().numpy())
    # the graph's nodes and each function's (the decode map is built per epoch, in flat_map's)
    scopes = [list(graph.node)] + [list(f.node_def) for f in graph.library.function]

    def const_inputs(op: str, position: int) -> list[int]:
        values = []
        for scope in scopes:
            nodes = {node.name: node for node in scope}
            for node in (n for n in scope if n.op == op):
                inputs = [name for name in node.input if not name.startswith("^")]
                source = nodes[inputs[position].split(":")[0]]
                values.append(int(tf.make_ndarray(source.attr["value"].tensor)))
        return values

    maps, prefetches = const_inputs("ParallelMapDatasetV2", -1), const_inputs("PrefetchDataset", 1)
    assert maps and prefetches
    assert maps == [_pipeline._PARALLEL] * len(maps)  # not AUTOTUNE (-1)
    assert prefetches == [_pipeline._PREFETCH] * len(prefetches)


@pytest.mark.parametrize("label_mode", ["int", "categorical", None])
def test_a_user_may_turn_autotuning_back_on(tagged, label_mode) -> None:
    """With autotuning on, tf.data's inject_prefetch pass failed at iterator creation on the
    labels' single-device map (an int32 output beside the images: "Expected only one fetch
    node but there were 2"); the datasets keep that pass off, and the user's options apply."""
    ds = kd.from_directory(tagged[0], image_size=SIZE, batch_size=8, seed=1, label_mode=label_mode)
    options = tf.data.Options()
    options.autotune.enabled = True
    tuned = ds.with_options(options)
    assert tuned.options().autotune.enabled is True
    want = [np.asarray(b[0] if label_mode else b) for b in ds]
    got = [np.asarray(b[0] if label_mode else b) for b in tuned]
    assert len(got) == len(want) > 0

    def rows(batches: list) -> list:  # each epoch is a new permutation: compare the images, sorted
        return sorted(image.tobytes() for image in np.concatenate(batches))

    assert rows(got) == rows(want)


@pytest.mark.parametrize("cache", [False, True])
def test_every_pipeline_function_is_single_device(tagged, cache) -> None:
    """tf.data instantiates each function again for every epoch's iterator; as multi-device
    functions that ran Grappler each time (60-90 ms per epoch on 2 cores, the first batch
    waits for it). Each of the pipeline's own functions carries the attribute that makes
    tf.data instantiate it on the CPU without Grappler (``_compat.single_device_dataset_functions``);
    the service's per-epoch dataset too. (Branch functions of a ``cond`` run inside them, and
    so does the function call that decodes a dropped batch again, a node whose op is the
    function, run by its caller's single-device runtime: only when one is dropped.)"""
    from tensorflow.core.framework import graph_pb2

    from kerasimg._compat import INTS_ON_DEVICE

    def attributes(ds: tf.data.Dataset) -> dict[str, bool]:
        graph = graph_pb2.GraphDef.FromString(ds._as_serialized_graph().numpy())
        called = {n.attr[a].func.name for f in graph.library.function for n in f.node_def for a in n.attr
                  if n.attr[a].HasField("func") and n.op in ("If", "StatelessIf", "While", "StatelessWhile",
                                                              "PartitionedCall", "StatefulPartitionedCall")}  # fmt: skip
        called |= {n.op for f in graph.library.function for n in f.node_def}  # direct calls (``direct_call``)
        return {
            f.signature.name: INTS_ON_DEVICE in f.attr and f.attr[INTS_ON_DEVICE].b
            for f in graph.library.function if f.signature.name not in called and "cond" not in f.signature.name
        }  # fmt: skip

    ds = kd.from_directory(tagged[0], image_size=SIZE, batch_size=8, seed=1, cache=cache,
                           augment=[RandomFlip(seed=1)])  # fmt: skip
    found = attributes(ds)
    assert len(found) >= 4 and all(found.values()), found
    assert [int(x.shape[0]) for x, _ in ds][0] == 8  # and the pipeline runs
    epoch = attributes(ds._kerasimg_pipeline.epoch(tf.constant(3, tf.int64)))
    assert epoch and all(epoch.values()), epoch


def test_per_epoch_graph_stays_small(tagged) -> None:
    """Every node of the pipeline's functions is instantiated again for each epoch's iterator:
    what the first batch of an epoch waits for (with Grappler until stop 12, ~0.2-0.5 ms per
    node on 2 cores; as single-device functions since, ~10 ms for the whole PNG pipeline). A
    folder of PNGs: 153 nodes at stop 11 (206 before it). Raise only with a measurement.
    Since stop 16 the library also holds what decodes a dropped batch again (a function call
    instantiated only when it runs): not counted, and checked to be apart. The fused map and
    batch, built per epoch with a sentinel that carries the epoch's key, and their bookkeeping:
    151 -> 193 nodes, +1.5 CPU ms at an epoch's start (a first batch of 2 BMPs: 9.3 -> 10.8
    ms) against 15-28 CPU µs less per image. Stop 20: 193 -> 200, the copy of a short batch's
    rows before ``rebatch`` (which logged an error line for a view into a larger buffer)."""
    from tensorflow.core.framework import graph_pb2

    ds = kd.from_directory(tagged[0], image_size=SIZE, batch_size=8, seed=1)
    graph = graph_pb2.GraphDef.FromString(ds._as_serialized_graph().numpy())
    functions = {f.signature.name: f for f in graph.library.function}

    def called(name: str) -> set[str]:  # the functions ``name`` reaches through its nodes' attributes
        seen, todo = set(), [name]
        while todo:
            for node in functions[todo.pop()].node_def:
                for attr in node.attr.values():
                    names = [attr.func.name] if attr.HasField("func") else [f.name for f in attr.list.func]
                    todo += [n for n in names if n in functions and n not in seen]
                    seen.update(n for n in names if n in functions)
        return seen

    again = [name for name in functions if "again" in name]
    apart = set(again).union(*(called(name) for name in again))
    assert len(again) == 1 and len(apart) >= 3, sorted(functions)  # the recovery and its decode
    nodes = sum(len(f.node_def) for name, f in functions.items() if name not in apart)
    assert nodes <= 200, nodes
    # Since stop 19 the recovery calls the epoch map's own trace of ``read`` (a node whose op
    # is that function) instead of tracing it again: one trace, ~0.15 s less to build.
    reads = [name for name in functions if "_read_" in name]
    assert len(reads) == 1, sorted(functions)
    assert reads[0] in {node.op for name in apart for node in functions[name].node_def}
    # ... and its dataset runs without tf.data's static optimizations: ``reduce`` ran Grappler
    # over the dataset's graph at every call (~0.25 s per epoch with a bad file until stop 19)
    from tensorflow.core.framework import dataset_options_pb2

    options = [
        dataset_options_pb2.Options.FromString(node.attr["serialized_options"].s)
        for node in functions[again[0]].node_def if node.op == "OptionsDataset"
    ]  # fmt: skip
    assert [o.optimization_options.apply_default_optimizations for o in options] == [False], options


_REPRO = textwrap.dedent(
    """
    import hashlib, json, sys
    import kerasimg.data as kd
    from kerasimg.layers import RandomBrightness, RandomContrast, RandomFlip
    augment = [RandomFlip(), RandomBrightness(0.3), RandomContrast(0.3)]
    ds = kd.from_directory(sys.argv[1], image_size=(16, 16), batch_size=8, seed=21, augment=augment)
    out = []
    for _ in range(2):
        h = hashlib.sha256()
        for images, labels in ds:
            h.update(images.numpy().tobytes()); h.update(labels.numpy().tobytes())
        out.append(h.hexdigest())
    print(json.dumps(out))
    """
)


def test_two_processes_give_identical_epochs(tagged) -> None:
    """Order and augmentation: the same in two processes, one under the JAX backend (the
    layers run with TF ops inside tf.data whatever the backend)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _REPRO, str(tagged[0])],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env=dict(os.environ, PYTHONPATH=str(REPO), KERAS_BACKEND=backend),
        )  # fmt: skip
        for backend in ("tensorflow", "jax")
    ]  # two processes at once
    try:
        outs = [p.communicate(timeout=180)[0] for p in procs]
    finally:
        for proc in procs:
            proc.kill()
    hashes = [json.loads(out.strip().splitlines()[-1]) for out in outs]
    assert hashes[0] == hashes[1]  # order and augmentation, with AUTOTUNE parallelism
    assert hashes[0][0] != hashes[0][1]  # epochs differ


def test_memory_cache_decodes_once_and_still_reshuffles(tmp_path: Path) -> None:
    paths = make_tagged(tmp_path / "c")
    kwargs = dict(image_size=SIZE, batch_size=8, seed=2, augment=[RandomFlip()])
    ds = kd.from_directory(tmp_path / "c", cache=True, **kwargs)
    first = epoch_tags(ds)
    for path in paths:
        path.unlink()  # decoding again would now fail
    second, third = epoch_tags(ds), epoch_tags(ds)
    for epoch in (first, second, third):
        assert sorted(t for t, _ in epoch) == list(range(N))
    assert ds.skipped == []
    assert [t for t, _ in first] != [t for t, _ in second] != [t for t, _ in third]
    assert dict(first) != dict(second)  # augmentation still changes per epoch
    make_tagged(tmp_path / "u")
    uncached = kd.from_directory(tmp_path / "u", **kwargs)
    assert [t for t, _ in epoch_tags(uncached)] == [t for t, _ in first]  # same first epoch


@pytest.mark.parametrize("global_seed", [0, 7])
def test_cache_works_under_a_global_seed(tmp_path: Path, global_seed: int) -> None:
    """Regression: keras.utils.set_random_seed(0) broke the cached epochs' shuffle."""
    import keras

    make_tagged(tmp_path / "g")
    keras.utils.set_random_seed(global_seed)
    try:
        ds = kd.from_directory(tmp_path / "g", image_size=SIZE, batch_size=8, seed=2, cache=True)
        first, second = epoch_tags(ds), epoch_tags(ds)
    finally:
        tf.random.set_seed(None)
    assert sorted(t for t, _ in first) == sorted(t for t, _ in second) == list(range(N))
    assert [t for t, _ in first] != [t for t, _ in second]


def test_file_cache_is_reused_by_a_new_dataset(tmp_path: Path) -> None:
    paths = make_tagged(tmp_path / "c", 12)
    prefix = tmp_path / "cache" / "train"
    prefix.parent.mkdir()
    ds = kd.from_files(paths, image_size=SIZE, batch_size=4, seed=1, cache=prefix, label_mode=None)
    first = sorted(t for t, _ in epoch_tags(ds))
    assert any(f.name.startswith("train.") for f in prefix.parent.iterdir())
    for path in paths:  # unreadable as an image now, but with the same size and mtime
        st = path.stat()
        path.write_bytes(b"\0" * st.st_size)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = kd.from_files(paths, image_size=SIZE, batch_size=4, seed=1, cache=prefix, label_mode=None)
    assert sorted(t for t, _ in epoch_tags(again)) == first == list(range(12))
    assert again.skipped == []


def test_file_cache_is_keyed_by_file_identity(tmp_path: Path) -> None:
    """Regression: a file replaced in place was served stale (old pixels) from cache=path."""
    paths = make_tagged(tmp_path / "c", 4)
    kwargs = dict(image_size=SIZE, batch_size=4, shuffle=False, cache=tmp_path / "k", label_mode=None)
    assert next(iter(kd.from_files(paths, **kwargs))).numpy()[0].min() == 0
    Image.fromarray(np.full((20, 20, 3), 255, np.uint8)).save(paths[0])  # replaced in place
    images = next(iter(kd.from_files(paths, **kwargs))).numpy()
    assert images[0].min() == 255 and [tag_of(im)[0] for im in images[1:]] == [1, 2, 3]


def test_file_cache_left_unfinished_by_a_killed_run_is_rebuilt(tmp_path: Path) -> None:
    """Regression: a run killed while filling cache=path left TF's lockfile, and every later
    run failed with AlreadyExistsError."""
    import fcntl

    paths = make_tagged(tmp_path / "c", 6)
    kwargs = dict(image_size=SIZE, batch_size=3, seed=1, label_mode=None)
    epoch_tags(kd.from_files(paths, cache=tmp_path / "a", **kwargs))  # learn the cache key
    (index,) = tmp_path.glob("a.*.index")
    key = index.name[len("a.") : -len(".index")]
    for name in ("b", "c"):  # what a killed run leaves: TF's lockfile and a partial shard
        (tmp_path / f"{name}.{key}_0.lockfile").write_text("Created at: 0")
        (tmp_path / f"{name}.{key}_0.data-00000-of-00001.tempstate1").write_bytes(b"partial")
    with pytest.warns(UserWarning, match=r"cache=.*b\..* was left unfinished .* removed 2 leftover"):
        ds = kd.from_files(paths, cache=tmp_path / "b", **kwargs)
    assert sorted(t for t, _ in epoch_tags(ds)) == list(range(6))
    assert (tmp_path / f"b.{key}.index").exists() and not list(tmp_path.glob("b.*lockfile"))
    # a cache another live process is filling (it holds the lock) is left alone
    with open(tmp_path / f"c.{key}.kerasimg-lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        ds = kd.from_files(paths, cache=tmp_path / "c", **kwargs)
        assert (tmp_path / f"c.{key}_0.lockfile").exists()
        with pytest.raises(tf.errors.AlreadyExistsError):
            epoch_tags(ds)


def test_input_context_shards_files_and_per_replica_batch(tagged) -> None:
    shards = []
    for i in range(2):
        ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=i, num_replicas_in_sync=4)
        ds = kd.from_directory(tagged[0], image_size=SIZE, batch_size=8, seed=1, input_context=ctx)
        tags = [t for t, _ in epoch_tags(ds)]
        assert next(iter(ds))[0].shape[0] == 2  # global 8 over 4 replicas
        assert sorted(tags) == sorted(int(Path(p).stem[-3:]) for p in ds.file_paths)
        shards.append(set(tags))
    assert shards[0].isdisjoint(shards[1]) and shards[0] | shards[1] == set(range(N))


_MIRRORED = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import numpy as np
    import kerasimg.data as kd
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    def make(ctx):
        return kd.from_directory(sys.argv[1], image_size=(16, 16), batch_size=8, seed=1,
                                 input_context=ctx)
    dist = strategy.distribute_datasets_from_function(make)
    shapes, ids = set(), []
    for images, labels in dist:
        for part in strategy.experimental_local_results(images):
            shapes.add(tuple(part.shape))
            ids.extend(int(p[8, 1, 0]) for p in part.numpy())
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "shapes": sorted(shapes), "ids": ids}))
    """
)


def test_mirrored_strategy_two_cpus(tagged) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), KERAS_BACKEND="tensorflow")
    run = subprocess.run(
        [sys.executable, "-c", _MIRRORED, str(tagged[0])],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2
    assert out["shapes"] == [[4, 16, 16, 3]]  # per-replica batch: 8 / 2
    assert sorted(out["ids"]) == list(range(N))


def test_keras_fit_gets_new_epochs(tagged) -> None:
    import keras

    seen: list[list[int]] = []

    class Record(keras.layers.Layer):
        def call(self, x):
            def note(batch):
                seen[-1].extend(tag_of(im)[0] for im in batch.numpy())
                return batch

            y = tf.py_function(note, [x], x.dtype)
            y.set_shape(x.shape)
            return y

    class NewEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append([])

    ds = kd.from_directory(tagged[0], image_size=SIZE, batch_size=8, seed=3)
    model = keras.Sequential(
        [keras.Input((16, 16, 3), dtype="uint8"), Record(), keras.layers.Rescaling(1 / 255),
         keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)]
    )  # fmt: skip
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True), run_eagerly=True)
    history = model.fit(ds, epochs=2, callbacks=[NewEpoch()], verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert sorted(seen[0]) == sorted(seen[1]) == list(range(N))
    assert seen[0] != seen[1]


def test_raise_mode_has_known_cardinality(tagged) -> None:
    ds = kd.from_directory(tagged[0], image_size=SIZE, batch_size=8, on_error="raise", seed=1)
    assert int(ds.cardinality()) == 5



@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file systems refuse non-UTF-8 names")
def test_non_utf8_file_name_is_skipped_and_named(tmp_path: Path) -> None:
    """Regression: one non-UTF-8 file name failed the whole dataset with "Error converting
    unicode string" and no file named."""
    make_tagged(tmp_path, 4)
    raw = os.fsencode(tmp_path / "ants") + b"/caf\xe9.png"
    with open(raw, "wb") as f:
        f.write((tmp_path / "ants" / "img_000.png").read_bytes())
    with pytest.warns(kd.SkippedFileWarning, match=r"caf.*file name is not valid UTF-8: b'.*caf\\xe9\.png'"):
        ds = kd.from_directory(tmp_path, image_size=SIZE, shuffle=False)
    assert sorted(t for t, _ in epoch_tags(ds)) == [0, 1, 2, 3]
    assert [os.fsencode(p) for p, _ in ds.skipped] == [raw]


def test_image_seed_is_the_documented_fold_with_the_epoch_word_drawn_once(tagged) -> None:
    """``image_seed`` is ``fold_in(fold_in(epoch_seed(key), 2), index)``; the per-epoch
    ``seed_word`` that ``positions`` slices in gives the same seed, and ``layer_seeds`` the
    same per-layer seeds as ``layer_seed``, so the cheaper per-image graph changes no value."""
    from kerasimg._seeds import fold_in, layer_seed, layer_seeds

    ds = kd.from_directory(tagged[0], image_size=SIZE, batch_size=8, seed=3, augment=[RandomFlip()])
    pipeline = ds._kerasimg_pipeline
    key = tf.constant(pipeline.epoch_key(1), tf.int64)
    words = {int(w) for *_, w in pipeline.positions(key).as_numpy_iterator()}
    assert words == {int(pipeline.seed_word(key))}
    for index in (0, 5, 2**40):
        index = tf.constant(index, tf.int64)
        want = fold_in(fold_in(pipeline.epoch_seed(key), 2), index)
        got = pipeline.image_seed(key, index, next(iter(words)))
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        for i, seed in enumerate(layer_seeds(got, 3)):
            np.testing.assert_array_equal(seed.numpy(), layer_seed(want, i).numpy())


_QUIET = textwrap.dedent(
    """
    import sys, warnings
    warnings.simplefilter("ignore")
    import kerasimg.data as kd
    ds = kd.from_directory(sys.argv[1], image_size=(24, 24), batch_size=64, seed=1)
    print([sum(int(b[0].shape[0]) for b in ds) for _ in range(3)])
    """
)


def test_short_and_recovered_batches_log_no_tensorflow_error(tmp_path) -> None:
    # Bad files (their batches dropped and decoded again, short by the file) and a short last
    # batch: until stop 20, ``rebatch`` asked such a batch's reference count while it was a
    # view into a larger buffer, and TF logged "Tensor RefCount not reliable if buf_ points to
    # a SubBuffer" at ERROR level, which TF_CPP_MIN_LOG_LEVEL=2 still prints (in `make demo`'s fit).
    rng = np.random.default_rng(3)
    for c in range(3):
        (tmp_path / str(c)).mkdir()
        for i in range(70):
            Image.fromarray(rng.integers(0, 256, (32, 32), np.uint8)).save(tmp_path / str(c) / f"{i}.png")
    (tmp_path / "0" / "empty.png").write_bytes(b"")
    (tmp_path / "1" / "cut.png").write_bytes((tmp_path / "1" / "0.png").read_bytes()[:60])
    env = dict(os.environ, PYTHONPATH=str(REPO), KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
    run = subprocess.run([sys.executable, "-c", _QUIET, str(tmp_path)], capture_output=True, text=True, env=env,
                         timeout=180)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "[210, 210, 210]"  # every good file, every epoch
    assert "RefCount not reliable" not in run.stderr, run.stderr[-2000:]
