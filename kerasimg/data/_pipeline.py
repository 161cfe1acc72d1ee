"""The tf.data pipeline behind ``kerasimg.data.from_*`` (private).

Pipeline (local): the epoch key → ``(position, index, key)`` of each file (sliced columns, no
function per element) → read + decode + augment (stateless seeds), an ordered parallel map
fused with the batch (a batch in which a file fails is dropped whole) → a sentinel batch →
the files that produced nothing found, once per batch: a dropped batch decoded again file by
file, the files that still fail recorded → ``rebatch`` → labels, gathered per batch →
prefetch (``Pipeline.batched``). Native sizes and caches drop failing images one at a time
(``decode`` + ``accounted``). Design notes:

* **Epochs.** ``Dataset.random(seed, rerandomize_each_iteration=True).take(1)`` draws one key
  each time the dataset is iterated (each ``iter(ds)``: once per epoch in ``model.fit``). The
  sequence of keys is fixed by ``seed``, so two processes see the same epochs, and no Python
  counter is shared. The file order and every augmentation seed are stateless functions of
  (seed, key, file index), so parallelism never changes the result.
* **Bad files.** Files are read and decoded in an ordered parallel map (one call per CPU) whose
  failing elements are dropped (``ignore_errors``; with a batch size, whole batches are dropped
  and decoded again image by image, which keeps the map fused with the batch). Elements carry
  their position in the epoch, and a sentinel (position ``n``) closes it. A ``scan`` over the
  *batches* (in a tf.data map every op and branch costs per element, so nothing of this runs
  per image) finds the positions that produced nothing, and a ``tf.py_function``, which runs
  for bad files only, asks ``ImageDecoder.why_bad`` for the reason, records it in
  ``ds.skipped`` and warns once per file (or raises, with ``on_error="raise"``). With the
  tf.data service, the client finds the files that did not arrive at the end of the epoch
  instead.
* **Cache.** Decoded images are cached (in memory or under a path) keyed by file index, in
  the first epoch's (seeded) random order, before augmentation. Later epochs reshuffle the
  cached elements through a buffer (the whole epoch for a memory cache, where the buffer only
  holds references; up to 1 GiB of images for a file cache), so order and augmentation still
  change every epoch and no file is decoded twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import warnings
from typing import Any

import tensorflow as tf

from kerasimg._compat import (
    direct_call,
    map_function,
    single_device_dataset_functions,
)
from kerasimg._seeds import fold_in, layer_seeds
from kerasimg.data import listing as _listing
from kerasimg.data._cache import _clear_unfinished_cache, _file_identities
from kerasimg.data._options import _Options
from kerasimg.data.decode import ImageDecoder
from kerasimg.data.errors import SkippedFileWarning

_FILE_CACHE_BUFFER_BYTES = 1 << 30
_ORDER_SALT = 0x6F72646572  # "order": the second word of an epoch's shuffle seed
#: Decode calls in flight: the CPUs this process may run on. tf.data's autotuning is off (see
#: ``finish``), so parallelism and the prefetch depth are set here.
_PARALLEL = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
_PREFETCH = 2  # batches ready ahead of the model
#: Options of the dataset that decodes a dropped batch again, inside a ``reduce``: no static
#: optimization (Grappler over the dataset's graph at every call) and no autotuning.
_UNOPTIMIZED = tf.data.Options()
_UNOPTIMIZED.experimental_optimization.apply_default_optimizations = False
_UNOPTIMIZED.autotune.enabled = False
_nc = tf.autograph.experimental.do_not_convert  # our dataset functions need no AutoGraph


# ---------------------------------------------------------------------- skipped files


class SkipLog:
    """The live ``skipped`` list, filled from the pipeline; one warning per file, thread-safe.

    ``graph_formats``: the formats the pipeline's graph decodes when they are fewer than
    ``decoder``'s (None when it decodes them all); a file of another format is skipped with a
    reason that says so.
    """

    def __init__(
        self, paths: list[str], decoder: ImageDecoder, on_error: str,
        graph_formats: tuple[str, ...] | None = None,
    ) -> None:  # fmt: skip
        self.items: list[tuple[str, str]] = []
        self._paths, self._decoder, self._on_error = paths, decoder, on_error
        self._graph_formats = graph_formats
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def add(self, path: str, reason: str) -> None:
        if self._on_error == "raise":
            raise ValueError(f"kerasimg: {path}: {reason}")
        with self._lock:
            if path in self._seen:
                return
            self._seen.add(path)
            self.items.append((path, reason))
        warnings.warn(f"kerasimg: skipped {path}: {reason}", SkippedFileWarning, stacklevel=2)

    def reason(self, path: str) -> str:
        problem = _listing.file_problem(path, self._decoder.max_file_bytes)
        if problem is not None:  # replaced by a FIFO or a device since listing, or grown
            return problem
        try:
            with open(path, "rb") as f:
                data = f.read()
        except IsADirectoryError:
            return "is a directory"
        except OSError as err:
            return f"cannot read file ({err.strerror or err})"
        reason = self._decoder._try_decode(data, traced=False)[1]  # no tracing: a few files
        if reason is None and self._graph_formats is not None:
            fmt = self._decoder.format_of(data).numpy().decode()
            if fmt and fmt not in self._graph_formats:
                return (
                    f"{fmt.upper()} data in a file whose name does not say so: this dataset decodes "
                    f"the formats its file names announce ({', '.join(self._graph_formats)}); "
                    "rename the file"
                )
        return reason or "failed to read or decode while iterating"

    def on_missing(self, indices: tf.Tensor) -> bool:
        """``tf.py_function`` body: record the files ``indices`` (or raise); returns True."""
        for index in indices.numpy():
            path = self._paths[int(index)]
            if path in self._seen and self._on_error != "raise":  # explained in an earlier epoch
                continue
            self.add(path, self.reason(path))
        return True


# ---------------------------------------------------------------------- pipeline


class Pipeline:
    """Builds the tf.data graph for one subset (or shard) of a listing."""

    def __init__(self, options: _Options, listing: _listing.Listing, decoder: ImageDecoder) -> None:
        self.options = options
        self.decoder = decoder
        good = [i for i, p in enumerate(listing.problems) if p is None]
        self.paths = [listing.paths[i] for i in good]
        self.labels = None if listing.labels is None else [listing.labels[i] for i in good]
        self.class_names = listing.class_names
        self.graph_decoder = self._graph_decoder()
        graph_formats = None if self.graph_decoder is decoder else self.graph_decoder.formats
        self.log = SkipLog(self.paths, decoder, options.on_error, graph_formats)
        self.crop = self._decode_time_crop()
        for path, problem in zip(listing.paths, listing.problems, strict=True):
            if problem is not None:
                self.log.add(path, problem)
        if not self.paths:
            raise ValueError(f"no readable image file to read ({len(listing)} entries were skipped)")
        self.n = len(self.paths)
        self.seed = options.seed if options.seed is not None else secrets.randbelow(2**62)
        self.deterministic = options.seed is not None or not options.shuffle
        batch = options.batch_size if self.decoder.image_size is not None else None
        if batch is not None and options.input_context is not None:
            batch = options.input_context.get_per_replica_batch_size(batch)
        self.batch = batch
        self._base = tf.constant([self.seed, 0x6B696D67], tf.int64)

    def _decode_time_crop(self) -> Any:
        """The crop layer that starts ``augment``, run inside the decode (None if there is none,
        or with a cache, which holds whole decoded images: the crop then runs after it)."""
        from kerasimg.layers._crop import CropLayer

        layers = self.options.augment or []
        if layers and isinstance(layers[0], CropLayer) and self.options.cache is False:
            return layers[0]
        return None

    def image_seed(self, key: tf.Tensor, index: tf.Tensor, word: tf.Tensor | None = None) -> tf.Tensor:
        """The stateless seed of one image's augmentation in the epoch of ``key``:
        ``fold_in(fold_in(epoch_seed(key), 2), index)``, which is ``[seed_word(key), index]``
        (``stateless_fold_in`` draws its first word from the seed alone). ``word``, when
        given, is ``seed_word(key)``, computed once per epoch by :meth:`positions`."""
        word = self.seed_word(key) if word is None else word
        return tf.stack([word, tf.cast(index, tf.int64)])

    def seed_word(self, key: tf.Tensor) -> tf.Tensor:
        """The first word of every image seed of the epoch of ``key`` (int64 scalar)."""
        return tf.random.stateless_uniform(
            [], fold_in(self.epoch_seed(key), 2), minval=None, maxval=None, dtype=tf.int64
        )

    def _graph_decoder(self) -> ImageDecoder:
        """The decoder of the tf.data graph: ``self.decoder`` restricted to the formats the
        listed file names announce (``listing.EXTENSIONS``). In a tf.data map every branch of
        the decode graph costs every image, taken or not, and the whole graph is instantiated
        again for each epoch's iterator: a folder of one format gets a graph of one format (no
        branch at all). A file whose bytes are of a format its name does not announce is then
        skipped with a reason that says so; ``why_bad`` and the exported model (which use
        ``self.decoder``) still decode it."""
        named = {
            fmt for fmt, extensions in _listing.EXTENSIONS.items()
            if any(os.fsdecode(path).lower().endswith(extensions) for path in self.paths)
        }  # fmt: skip
        formats = [f for f in self.decoder.formats if f in named]
        if not formats or set(formats) == set(self.decoder.formats):
            return self.decoder
        return ImageDecoder.from_config({**self.decoder.get_config(), "formats": formats})

    # ---- stateless seeds
    def epoch_seed(self, key: tf.Tensor) -> tf.Tensor:
        return fold_in(self._base, key)

    def keys(self) -> tf.data.Dataset:
        """One key per iteration of the dataset, the same sequence in every process."""
        return tf.data.Dataset.random(seed=self.seed, rerandomize_each_iteration=True).take(1)

    def order(self, key: tf.Tensor) -> tf.Tensor:
        """The file indices of the epoch of ``key``: a stateless permutation, or sorted."""
        indices = tf.range(self.n, dtype=tf.int64)
        if self.options.shuffle:
            # The key is already a seeded random draw, one per epoch: (key, constant) seeds the
            # shuffle directly. Every node of this function is instantiated again for each
            # epoch's iterator (two fold_ins were 20 nodes, ~5 ms per epoch).
            seed = tf.stack([tf.cast(key, tf.int64), tf.constant(_ORDER_SALT, tf.int64)])
            indices = tf.random.experimental.stateless_shuffle(indices, seed=seed)
        return indices

    def positions(self, key: tf.Tensor) -> tf.data.Dataset:
        """``(position, index, key, word)`` of each file of the epoch of ``key``, ``word``
        being the epoch's :meth:`seed_word` (0 without ``augment``; no function runs per
        element: the columns are sliced, the seed word is drawn once per epoch)."""
        return tf.data.Dataset.from_tensor_slices(self._columns(key))

    def _columns(self, key: tf.Tensor, at: tf.Tensor | None = None) -> tuple[tf.Tensor, ...]:
        """The columns of :meth:`positions` at positions ``at`` (int64; every position when
        None): what a dropped batch's files are decoded again with, the same indices and seeds."""
        key = tf.cast(key, tf.int64)
        # without augment= nothing reads it (and each node costs at every epoch's start)
        word = self.seed_word(key) if self.options.augment else tf.constant(0, tf.int64)
        if at is None:  # the whole epoch: no gather, a fixed count (nodes cost at each epoch's start)
            at, indices, count = tf.range(self.n, dtype=tf.int64), self.order(key), self.n
        else:
            indices, count = tf.gather(self.order(key), at), tf.size(at, out_type=tf.int64)
        return at, indices, tf.fill([count], key), tf.fill([count], word)

    # ---- stages
    def decode(self, ds: tf.data.Dataset, ordered: bool = True, augment: bool = False) -> tf.data.Dataset:
        """``(position, index, key, image)`` of every file of ``ds`` (``(position, index, key,
        word)``, from :meth:`positions`) that decodes: a parallel map (in order when
        ``ordered``) whose failing elements are dropped (``ignore_errors``); :meth:`accounted`
        finds them afterwards. With ``augment``, the same map applies ``augment`` too (one
        dataset stage per image, not two)."""
        ds = ds.map(_nc(self._reader(augment)), num_parallel_calls=_PARALLEL, deterministic=ordered)
        return ds.ignore_errors()

    def _reader(self, augment: bool) -> Any:
        """``(position, index, key, word) -> (position, index, key, image)``: read one file,
        decode it (with the decode-time crop) and, with ``augment``, augment it."""
        paths = tf.constant(self.paths)
        augment_one = self._augment_fn() if augment else None

        def read(position: tf.Tensor, index: tf.Tensor, key: tf.Tensor, word: tf.Tensor) -> tuple[tf.Tensor, ...]:
            box = None
            # one image seed for the crop and the other layers (each fold_in is ~6 ops per image)
            seeds = None
            if self.crop is not None or augment_one is not None:
                seeds = layer_seeds(self.image_seed(key, index, word), len(self.options.augment))
            if self.crop is not None:  # the crop layer's own box, drawn from the header size
                seed = seeds[0]  # as apply_layers seeds layer 0

                def box(height: tf.Tensor, width: tf.Tensor) -> tuple:
                    return self.crop.get_box(height, width, seed=seed, training=True)

            # exact=False: no reason strings built per image; why_bad explains failures
            image = self.graph_decoder._decode(tf.io.read_file(tf.gather(paths, index)), exact=False, box=box)
            if augment_one is not None:
                image = augment_one(index, key, image, seeds)
            return position, index, key, image

        return read

    def _augment_fn(self) -> Any:
        """``augment`` on one image, ``(index, key, image[, seeds]) -> image``, with a
        stateless seed from (seed, key, file index) (``seeds``: its ``layer_seeds``, one per
        layer of ``augment``); None when there is nothing to apply."""
        layers = list(self.options.augment or [])
        start = 1 if self.crop is not None else 0  # the crop ran inside the decode
        if not layers[start:]:
            return None

        def run(index: tf.Tensor, key: tf.Tensor, image: tf.Tensor, seeds: list | None = None) -> tf.Tensor:
            seeds = layer_seeds(self.image_seed(key, index), len(layers)) if seeds is None else seeds
            out = image
            for i, layer in enumerate(layers[start:], start=start):  # the seeds apply_layers gives
                if out.dtype == tf.uint8 and _moves_pixels_only(layer):  # same values, no casts
                    draw = layer.get_random_transformation(out, training=True, seed=seeds[i])
                    out = layer._move_one(out, draw)
                else:
                    out = layer.apply_with_seed(out, seeds[i], training=True)
            if out.dtype == tf.uint8:
                return out
            out = tf.cast(out, tf.float32)
            return tf.cast(tf.clip_by_value(tf.round(out), 0.0, 255.0), tf.uint8)

        return run

    def augmented(self, ds: tf.data.Dataset, ordered: bool = True) -> tf.data.Dataset:
        """Applies ``augment`` to ``(position, index, key, image)`` elements in a map of its own
        (after a cache, which holds images before augmentation)."""
        run = self._augment_fn()
        if run is None:
            return ds

        def augment(position: tf.Tensor, index: tf.Tensor, key: tf.Tensor, image: tf.Tensor) -> tuple[tf.Tensor, ...]:
            return position, index, key, run(index, key, image)

        return ds.map(_nc(augment), num_parallel_calls=_PARALLEL, deterministic=ordered or self.deterministic)

    def accounted(self, ds: tf.data.Dataset, size: int) -> tf.data.Dataset:
        """Batches of ``size`` ``(indices, images)`` from the ordered ``(position, index, key,
        image)`` elements of one epoch, after recording the files that produced nothing.

        The bookkeeping runs once per batch, not per image: a sentinel element (position
        ``n``, index -1) closes the epoch; a ``scan`` over the batches compares each batch's
        positions with the previous one and, where positions are missing, hands them to
        ``_on_gaps`` (Python, for bad files only). The sentinel is then sliced off the last
        batch (a slice of a batch's leading rows shares its buffer: no copy), and a batch that
        held only the sentinel is dropped. The step has no branch but the gap's, and a dozen
        nodes: each node is instantiated again for every epoch's iterator.
        """
        spec = ds.element_spec[3]
        blank = tf.zeros([d if d is not None else 0 for d in spec.shape], spec.dtype)
        end = (tf.constant(self.n, tf.int64), tf.constant(-1, tf.int64), tf.constant(0, tf.int64), blank)
        ds = ds.concatenate(tf.data.Dataset.from_tensors(end)).batch(size)

        def step(state: tuple, batch: tuple) -> tuple:
            last, known_key = state
            positions, indices, keys, images = batch
            # Positions increase, and the sentinel (index -1) can only end the last batch: its
            # real elements are the non-negative indices, and the batch ends at its largest
            # position. Any position missing since ``last`` shows as a shortfall in the count.
            keep = tf.reduce_sum(tf.cast(indices >= 0, tf.int32))
            key = tf.where(keep > 0, tf.gather(keys, 0), known_key)  # the sentinel carries no key
            end = tf.reduce_max(positions)
            seen = self._gaps_recorded(key, last, positions, end)
            closes = keep < tf.size(indices)
            with tf.control_dependencies([seen]):
                out = (indices[:keep], images[:keep])
            return (tf.where(closes, tf.constant(-1, tf.int64), end), key), out

        init = (tf.constant(-1, tf.int64), tf.constant(0, tf.int64))
        ds = ds.scan(init, _nc(step))
        return ds.filter(_nc(lambda indices, images: tf.size(indices) > 0))

    def batched(self, keys: tf.data.Dataset, size: int) -> tf.data.Dataset:
        """Batches of ``size`` ``(indices, images)``, decoded and augmented, of the epoch of
        each key of ``keys`` (one per iteration), the files that produced nothing recorded:
        the batches :meth:`decode` then :meth:`accounted` give, without a stage between the
        map and the batch.

        tf.data fuses a map followed by a batch into one stage that writes each image into its
        batch; a stage between them (``ignore_errors``) hands the images over one at a time:
        ~25 CPU µs per image more (measured: 142 against 118 µs per element for a pipeline
        that only reads 224x224 BMPs, in one process by CPU time). So the map and the batch
        are fused and a batch in which any image fails is dropped whole. The ``scan`` that
        finds missing positions (as :meth:`accounted` does) decodes the files of a dropped
        batch again, one by one in a map whose failures are dropped (the same function and
        seeds: the same images), and records the files that still produced nothing. Each
        epoch ends with a sentinel batch that carries the epoch's key (every batch of an epoch
        may be dropped). ``rebatch`` then gives batches of ``size`` again (a recovered batch is
        short by its bad files): the batches of :meth:`accounted`, image for image (tested). A
        batch holding a bad file costs its other images a second decode, one at a time.
        """
        read = self._reader(augment=True)
        traced: list[Any] = []  # the epoch map's trace of ``read``, which the recovery calls

        def epoch(key: tf.Tensor) -> tf.data.Dataset:
            mapped = self.positions(key).map(_nc(read), num_parallel_calls=_PARALLEL, deterministic=True)
            traced.append(map_function(mapped))
            fused = mapped.batch(size).ignore_errors()  # (the batch fuses with the map)
            spec = fused.element_spec[3]
            shape = [d if d is not None else 0 for d in spec.shape[1:]]
            sentinel = (tf.fill([1], tf.constant(self.n, tf.int64)), tf.constant([-1], tf.int64),
                        tf.reshape(tf.cast(key, tf.int64), [1]), tf.zeros([1, *shape], spec.dtype))  # fmt: skip
            return fused.concatenate(tf.data.Dataset.from_tensors(sentinel))

        ds = keys.flat_map(_nc(epoch))

        # A function call, not inlined: its dataset ops are instantiated when a batch is
        # recovered, not at every epoch's start (inlined: +2.5 ms at each). A node whose op is
        # the function (``direct_call``), run by the scan's own single-device runtime: as a
        # PartitionedCall it was instantiated as a multi-device function, ~25 ms more per
        # epoch with a bad file. Its dataset goes without tf.data's static optimizations
        # (``_UNOPTIMIZED``): ``reduce`` rewrites a dataset's graph with Grappler first, and
        # did so at every epoch with a bad file (~0.25 s each on 2 cores, until stop 19).
        @tf.function(autograph=False, experimental_attributes={"_noinline": True})
        def again(key: tf.Tensor, missing: tf.Tensor, batch: tuple) -> tuple[tf.Tensor, ...]:
            """(positions, indices, images) of the files at positions ``missing`` that decode,
            followed by ``batch``'s (the batch that came after them)."""
            # The epoch map's own trace, called (tracing ``read`` again, as this did until stop
            # 19, was a third of the time a dataset takes to build); ``read`` if TF hides it.
            fn = traced[-1] if traced else None
            one = _nc(read) if fn is None else _nc(lambda *columns: direct_call(fn, columns, "read"))
            one_by_one = tf.data.Dataset.from_tensor_slices(self._columns(key, missing)).map(one).ignore_errors()
            got = one_by_one.batch(self.n).with_options(_UNOPTIMIZED).reduce(
                tuple(v[:0] for v in batch),
                lambda acc, b: tuple(tf.concat([a, v], 0) for a, v in zip(acc, (b[0], b[1], b[3]), strict=True)),
            )
            return tuple(tf.concat([g, v], 0) for g, v in zip(got, batch, strict=True))

        def step(last: tf.Tensor, batch: tuple) -> tuple:
            positions, indices, keys, images = batch
            key = keys[0]  # every batch carries its epoch's key, the sentinel's too
            first = positions[0]  # a batch arrives whole: its positions follow each other

            def recovered() -> tuple[tf.Tensor, ...]:  # the batches since ``last`` were dropped
                missing = tf.range(last + 1, first)
                args = (key, missing, (positions, indices, images))
                concrete = again.get_concrete_function(*args)
                return direct_call(concrete, tf.nest.flatten(args), "again")

            arrived, out_i, out_x = tf.cond(first > last + 1, recovered, lambda: (positions, indices, images))
            end = positions[-1]  # n for the sentinel: every position before it is accounted for
            seen = self._gaps_recorded(key, last, arrived, end)
            sentinel = indices[-1] < 0  # the sentinel's batch holds it alone
            keep = tf.size(out_i) - tf.cast(sentinel, tf.int32)

            def copied() -> tuple[tf.Tensor, tf.Tensor]:  # rows of their own (see below)
                rows = tf.range(keep)
                return tf.gather(out_i, rows), tf.gather(out_x, rows)

            # A short batch (an epoch's last, a recovered one short by its bad files) can be a
            # view into a larger buffer, as the rows before the sentinel would be, and
            # ``rebatch`` asks a view's reference count, which TF logs as an error line
            # ("Tensor RefCount not reliable if buf_ points to a SubBuffer") during ``fit``.
            # Those rows are copied (a few batches an epoch); a full batch owns its buffer and
            # goes through as it is.
            with tf.control_dependencies([seen]):
                out = tf.cond(sentinel | (keep < size), copied, lambda: (tf.identity(out_i), tf.identity(out_x)))
            return tf.where(sentinel, tf.constant(-1, tf.int64), end), out

        ds = ds.scan(tf.constant(-1, tf.int64), _nc(step)).filter(_nc(lambda indices, images: tf.size(indices) > 0))
        if not hasattr(ds, "rebatch"):  # pragma: no cover - TensorFlow before Dataset.rebatch
            return ds.unbatch().batch(size)
        return ds.rebatch(size)

    def _gaps_recorded(self, key: tf.Tensor, last: tf.Tensor, arrived: tf.Tensor, end: tf.Tensor) -> tf.Tensor:
        """True once the positions after ``last`` up to ``end`` that are not in ``arrived``
        (the positions that did, in order) are recorded: the scan step's bookkeeping. Any
        position missing shows as a shortfall in the count; ``_on_gaps`` runs only then."""

        def record() -> tf.Tensor:
            return tf.reshape(tf.py_function(self._on_gaps, [key, last, arrived], tf.bool), [])

        missing = end - last - tf.size(arrived, out_type=tf.int64)
        return tf.cond(missing > 0, record, lambda: tf.constant(True))

    def _on_gaps(self, key: tf.Tensor, last: tf.Tensor, positions: tf.Tensor) -> bool:
        """``tf.py_function`` body: the positions missing before each of a batch's
        ``positions`` (the first compared with ``last``, the previous batch's end) produced
        nothing; their files (through the epoch's order, for ``key``) go to
        ``SkipLog.on_missing``."""
        after = positions.numpy()
        before = [int(last.numpy()), *after[:-1]]
        missing = [p for lo, hi in zip(before, after, strict=True) for p in range(lo + 1, hi)]
        order = self.order(key).numpy()
        return self.log.on_missing(tf.constant(order[missing], tf.int64))

    def finish(self, ds: tf.data.Dataset) -> tf.data.Dataset:
        """Labels (per batch), then prefetch; ``ds`` holds batches of ``(indices, images)``."""
        mode = self.options.label_mode
        labels = tf.constant(self.labels or [0], tf.int32)
        num_classes = len(self.class_names or ())

        def to_output(indices: tf.Tensor, images: tf.Tensor) -> Any:
            if mode is None:
                return images
            label = tf.gather(labels, indices)
            if mode == "categorical":
                return images, tf.one_hot(label, num_classes, dtype=tf.float32)
            if mode == "binary":
                return images, tf.cast(label, tf.float32)[:, None]
            return images, label

        ds = ds.map(_nc(to_output))
        if self.batch is None:  # native sizes: batches of one, unbatched
            ds = ds.unbatch()
        if self.options.on_error == "raise" and self.options.service is None:  # every file arrives
            ds = ds.apply(tf.data.experimental.assert_cardinality(self.n if self.batch is None else -(-self.n // self.batch)))
        # Autotuning off: in model.fit, which stops reading at the epoch's known length and drops
        # the iterator, tf.data's autotuning thread held up the next epoch's start by about its
        # optimisation period, doubling with the epoch's length (1 s, 2.5 s on the demo; plain
        # tf.data pipelines too). Fixed parallelism (the CPUs) and prefetch depth do the same work
        # without that thread (measured on the demo's 8 epochs: no stall, same epoch times).
        options = tf.data.Options()
        options.autotune.enabled = False
        # A user who turns autotuning back on (``ds.with_options``) also turns on tf.data's
        # inject_prefetch pass, which fails at iterator creation on a single-device function
        # with an int32 output beside another ("Expected only one fetch node": the labels'
        # map). Off here (a user's explicit setting still wins); the datasets prefetch anyway.
        options.experimental_optimization.inject_prefetch = False
        return ds.prefetch(_PREFETCH).with_options(options)

    # ---- assembly
    def epoch(self, key: tf.Tensor) -> tf.data.Dataset:
        """One epoch of augmented ``(index, image, key)``, with no skip bookkeeping (service)."""
        with single_device_dataset_functions():
            ds = self.decode(self.positions(key), ordered=False, augment=True)
            return ds.map(_nc(lambda position, index, key, image: (index, image, key)))

    def dataset(self) -> tf.data.Dataset:
        # Every function of the pipeline is instantiated again for each epoch's iterator: as
        # single-device functions, without Grappler (60-90 ms less at every epoch's start).
        with single_device_dataset_functions():
            return self._dataset()

    def _dataset(self) -> tf.data.Dataset:
        if self.options.cache is not False:
            ds = self._cached()
        elif self.options.service is not None:
            from kerasimg.data import service as _service

            ds = _service.client_dataset(
                address=self.options.service, keys=self.keys(), epoch=self.epoch, n=self.n,
                output_shape=self.decoder.output_shape, on_missing=self.log.on_missing,
            )  # fmt: skip
            ds = ds.map(_nc(lambda index, image, *_: (index, image))).batch(self.batch or 1)
        elif self.batch is not None:  # each iterator is one epoch: its map is built once
            ds = self.batched(self.keys(), self.batch)
        else:  # native sizes: one image per batch, nothing to fuse
            ds = self.decode(self.keys().flat_map(_nc(self.positions)), augment=True)
            ds = self.accounted(ds, 1)
        ds = self.finish(ds)
        ds.class_names = self.class_names
        ds._kerasimg_pipeline = self  # for tests and diagnostics (seeds, graph decoder)
        ds.file_paths = list(self.paths)
        ds.decoder = self.decoder
        ds.skipped = self.log.items
        return ds

    def _cached(self) -> tf.data.Dataset:
        first_key = self.epoch_key(0)  # the cache holds the first epoch's order
        cache_file = self._cache_file()
        if cache_file:
            _clear_unfinished_cache(cache_file)
        decoded = self.accounted(self.decode(self.positions(first_key)), self.batch or 1).unbatch()
        decoded = decoded.cache(cache_file)
        buffer = self.n
        if self.options.cache is not True:
            h, w = self.decoder.image_size or (512, 512)
            per_image = h * w * self.decoder.channels
            buffer = max(1, min(self.n, _FILE_CACHE_BUFFER_BYTES // per_image))

        def epoch(key: tf.Tensor) -> tf.data.Dataset:
            ds = decoded.map(_nc(lambda index, image: (tf.constant(0, tf.int64), index, key, image)))
            if self.options.shuffle:
                size = tf.where(tf.equal(key, first_key), tf.constant(1, tf.int64), buffer)
                seed = fold_in(self.epoch_seed(key), 3)
                seed = tf.random.stateless_uniform([], seed, minval=None, maxval=None, dtype=tf.int64)
                ds = _shuffle_with_tensor_seed(ds, size, seed)
            return ds

        ds = self.augmented(self.keys().flat_map(_nc(epoch)), ordered=False)
        return ds.map(_nc(lambda position, index, key, image: (index, image))).batch(self.batch or 1)

    def epoch_key(self, epoch: int) -> int:
        """The key of the ``epoch``-th iteration (0-based) of a fresh dataset."""
        keys = tf.data.Dataset.random(seed=self.seed, rerandomize_each_iteration=True).take(1)
        for _ in range(epoch):
            next(iter(keys))
        return int(next(iter(keys)))

    def _cache_file(self) -> str:
        """``<cache>.<key>``: the key covers the files' identities (path, size, mtime_ns),
        the decoder settings, the seed and the shuffle flag, so a file replaced in place
        (new mtime or size) makes a new cache instead of being served stale."""
        if self.options.cache is True:
            return ""
        blob = json.dumps(
            [_file_identities(self.paths), self.decoder.get_config(), self.options.seed, self.options.shuffle],
            sort_keys=True,
        )
        return f"{os.fspath(self.options.cache)}.{hashlib.sha1(blob.encode()).hexdigest()[:16]}"


def _moves_pixels_only(layer: Any) -> bool:
    """Whether ``layer`` can run on one uint8 image in its own dtype (``_move_one``): a layer
    that only moves pixels (``RandomFlip``), channels last. Its output is then the values the
    layer computes, without the round trip through float32 (four passes over the image)."""
    return hasattr(layer, "_move_one") and getattr(layer, "data_format", None) == "channels_last"


def _shuffle_with_tensor_seed(ds: tf.data.Dataset, size: tf.Tensor, seed: tf.Tensor) -> tf.data.Dataset:
    """``ds.shuffle`` with a tensor seed, whatever the global seed is.

    With a global seed of 0 (``keras.utils.set_random_seed(0)``), TF's ``get_seed`` compares
    the op seed with 0 in Python, which fails on a tensor. Our seed already determines the
    order, so the graph-level seed is hidden while the op is built.
    """
    from kerasimg._compat import graph_seed_hidden

    with graph_seed_hidden():
        return ds.shuffle(size, seed=seed, reshuffle_each_iteration=False)
