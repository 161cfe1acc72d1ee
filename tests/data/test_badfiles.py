"""Bad files: skipped with their reason and one warning each, or an error naming them; and
the peak memory of a pass over the bad corpus (bombs included)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from corpus import make_corpus, make_unreadable

import kerasimg.data as kd
from kerasimg.data.listing import EXTENSIONS

REPO = Path(__file__).resolve().parents[2]
SIZE = (24, 24)
LISTED = tuple(e for exts in EXTENSIONS.values() for e in exts)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    return make_corpus(tmp_path_factory.mktemp("corpus"), n_good=60, size_range=(30, 60))


def digest(image: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()


def test_skip_every_good_once_every_bad_recorded_and_warned_once(corpus) -> None:
    decoder = kd.ImageDecoder(image_size=SIZE)
    expected = Counter(digest(decoder.decode_file(p)) for p in corpus.good)
    listed_bad = {str(p): r for p, r in corpus.bad.items() if p.suffix.lower() in LISTED}
    with pytest.warns(kd.SkippedFileWarning) as construction:  # the directory named dir.jpg
        ds = kd.from_directory(corpus.root, image_size=SIZE, batch_size=16, seed=4)
    assert [str(w.message) for w in construction] == [
        f"kerasimg: skipped {corpus.decoy_dirs[0]}: is a directory"
    ]
    for epoch in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = Counter(digest(im) for images, _ in ds for im in images.numpy())
        assert got == expected  # the epoch completes; every good image exactly once
        messages = [str(w.message) for w in caught if w.category is kd.SkippedFileWarning]
        if epoch == 0:
            assert sorted(messages) == sorted(f"kerasimg: skipped {p}: {r}" for p, r in ds.skipped[1:])
            assert len(messages) == len(listed_bad)
        else:
            assert messages == []  # each bad file is named once, not every epoch
    skipped = dict(ds.skipped)
    assert set(skipped) == set(listed_bad) | {str(corpus.decoy_dirs[0])}
    for path, keyword in listed_bad.items():
        assert keyword in skipped[path], (path, skipped[path])
    assert len(ds.skipped) == len(skipped)  # no duplicates


def test_raise_names_the_first_bad_file(corpus) -> None:
    bad = next(p for p, r in corpus.bad.items() if "no end-of-image" in r)
    ds = kd.from_files(corpus.good[:5] + [bad], image_size=SIZE, on_error="raise", shuffle=False)
    with pytest.raises(tf.errors.InvalidArgumentError, match=rf"kerasimg: {bad}: truncated JPEG"):
        list(ds)
    crc = next(iter(corpus.decode_only))  # only a real decode finds it
    ds = kd.from_files([crc], image_size=SIZE, on_error="raise")
    with pytest.raises(tf.errors.InvalidArgumentError, match=rf"kerasimg: {crc}: corrupt image data"):
        list(ds)
    with pytest.raises(ValueError, match=r"kerasimg: .*dir\.jpg: is a directory"):
        kd.from_directory(corpus.root, on_error="raise")


def test_csv_row_with_a_missing_file(tmp_path: Path, corpus) -> None:
    good = corpus.good[0]
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text(f"image_name,label\n{good},cats\n{tmp_path / 'gone.png'},dogs\n")
    with pytest.warns(kd.SkippedFileWarning, match="gone.png: no such file"):
        ds = kd.from_csv(csv_path, image_size=SIZE)
    assert ds.skipped == [(str(tmp_path / "gone.png"), f"no such file ({csv_path}, line 3)")]
    assert ds.class_names == ["cats", "dogs"] and sum(int(b[0].shape[0]) for b in ds) == 1
    with pytest.raises(ValueError, match=rf"gone\.png: no such file \({csv_path}, line 3\)"):
        kd.from_csv(csv_path, on_error="raise")


def test_file_vanishing_or_unreadable_after_listing(tmp_path: Path, corpus) -> None:
    paths = [tmp_path / f"{i}.png" for i in range(3)]
    for src, dst in zip(corpus.good[:3], paths, strict=True):
        dst.write_bytes(src.read_bytes())
    ds = kd.from_files(paths, image_size=SIZE, batch_size=None, seed=1)
    paths[1].unlink()
    locked = make_unreadable(paths[2])
    with pytest.warns(kd.SkippedFileWarning):
        delivered = len(list(ds))
    reasons = dict(ds.skipped)
    assert reasons[str(paths[1])] == "no such file"  # from stat, before any read
    if locked:
        assert reasons[str(paths[2])].startswith("cannot read file (Permission denied")
    assert delivered == 3 - len(reasons)


def test_warnings_as_errors_stop_the_pipeline(corpus) -> None:
    """A user who turns SkippedFileWarning into an error gets the error, not silence."""
    bad = next(p for p, r in corpus.bad.items() if r == "empty file")
    ds = kd.from_files([corpus.good[0], bad], image_size=SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter("error", kd.SkippedFileWarning)
        with pytest.raises(tf.errors.OpError, match="SkippedFileWarning: .*empty file"):
            list(ds)


_PEAK = textwrap.dedent(
    """
    import json, resource, sys, warnings
    import kerasimg.data as kd
    def reset_peak():  # Linux: clear_refs 5 resets the high-water mark that ru_maxrss reads
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    warnings.simplefilter("ignore")
    ds = kd.from_files(json.loads(sys.argv[1]), image_size=(224, 224), batch_size=32, seed=0)
    out = {"process_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "epochs": []}
    for epoch in range(2):
        reset_peak()
        n = sum(int(b.shape[0]) for b in ds)
        out["epochs"].append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    out["process_kib"] = max(out["process_kib"], *out["epochs"])
    out.update(images=n, skipped=len(ds.skipped))
    print(json.dumps(out))
    """
)


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
def test_bad_corpus_peak_memory_under_64_mib(corpus) -> None:
    """Peak RSS during each epoch (the high-water mark is reset before it), good files alone
    vs good + every bad file (a 20000x20000 PNG bomb and a 12000x12000 JPEG bomb included)."""
    bad = [str(p) for p in corpus.bad if p.suffix.lower() in LISTED]
    good = [str(p) for p in corpus.good]
    assert any("bomb.png" in p for p in bad) and any("bomb.jpg" in p for p in bad)
    env = dict(os.environ, PYTHONPATH=str(REPO), KERAS_BACKEND="tensorflow")
    results = []
    for paths in (good, good + bad):  # one after the other: each its own process
        run = subprocess.run(
            [sys.executable, "-c", _PEAK, json.dumps(paths)],
            capture_output=True, text=True, env=env, timeout=180,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        results.append(json.loads(run.stdout.strip().splitlines()[-1]))
    good_only, with_bad = results
    assert good_only["images"] == with_bad["images"] == len(good)
    assert with_bad["skipped"] == len(bad)
    mib = lambda kib: kib / 1024  # noqa: E731
    print(
        f"\n{len(good)} good + {len(bad)} bad files; peak RSS per epoch, good only: "
        f"{[round(mib(k), 1) for k in good_only['epochs']]} MiB, good + bad: "
        f"{[round(mib(k), 1) for k in with_bad['epochs']]} MiB; whole process: "
        f"{mib(good_only['process_kib']):.1f} vs {mib(with_bad['process_kib']):.1f} MiB"
    )
    for clean, dirty in zip(good_only["epochs"], with_bad["epochs"], strict=True):
        assert mib(dirty - clean) < 64
    assert mib(with_bad["process_kib"] - good_only["process_kib"]) < 64


def test_batches_with_bad_files_are_the_per_image_pipelines(corpus) -> None:
    """The map and the batch are fused, and a batch in which any file fails is dropped and
    decoded again one file at a time (``Pipeline.batched``): the epoch is the one the per-image
    pipeline (a map whose failures are dropped, then the batch: ``decode`` + ``accounted``)
    gives, batch for batch and image for image, augmentation included, with batches of 16 but
    the last. The corpus puts bad files in most batches, several batches in a row and the last."""
    from kerasimg.layers import RandomFlip

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kd.SkippedFileWarning)
        ds = kd.from_directory(corpus.root, image_size=SIZE, batch_size=16, seed=8, augment=[RandomFlip(seed=2)])
        pipe = ds._kerasimg_pipeline
        key = tf.constant(pipe.epoch_key(0), tf.int64)  # the first epoch's, for both
        fused = pipe.finish(pipe.batched(tf.data.Dataset.from_tensors(key), 16))
        per_image = pipe.finish(pipe.accounted(pipe.decode(pipe.positions(key), augment=True), 16))
        got, want = list(fused), list(per_image)
        first_epoch = list(ds)  # the dataset itself: the same epoch
    for (x, _), (x2, _) in zip(first_epoch, got, strict=True):
        np.testing.assert_array_equal(x.numpy(), x2.numpy())
    assert len(pipe.paths) > 16 * 4 and len(pipe.log.items) > 10  # many batches, many bad files
    assert [len(x) for x, _ in got] == [len(x) for x, _ in want]
    assert all(len(x) == 16 for x, _ in got[:-1]) and 0 < len(got[-1][0]) <= 16
    for (x, y), (x2, y2) in zip(got, want, strict=True):
        np.testing.assert_array_equal(x.numpy(), x2.numpy())
        np.testing.assert_array_equal(y.numpy(), y2.numpy())


def _gif_folder(root: Path) -> dict[str, bytes]:
    """GIFs of every layout in two class folders: what the quick step of the GIF guard reads
    (Pillow's: no extension, a control extension, a loop and control extension, animated, a
    short comment first) and what takes its walk (a 100-byte comment first), each bad the one
    way or the other (a frame larger than its screen, alone or behind either comment; cut
    short)."""
    import io

    import benchmark_scripts
    from PIL import Image

    bombs = benchmark_scripts.load("bombs")
    rng = np.random.default_rng(5)
    files = {}
    for i in range(40):
        image = Image.fromarray((rng.random((30 + i % 7, 40, 3)) * 255).astype(np.uint8)).convert("P")
        kind = ["plain", "comment", "transparent", "animated", "long comment"][i % 5]
        out = io.BytesIO()
        if kind == "animated":
            image.save(out, "GIF", save_all=True, append_images=[image.rotate(90)], loop=0)
        else:
            options = {"plain": {}, "comment": {"comment": b"made by hand"}, "long comment": {"comment": b"x" * 100},
                       "transparent": {"transparency": 0}}  # fmt: skip
            image.save(out, "GIF", **options[kind])
        files[f"{'ab'[i % 2]}/{i:02d}_{kind}.gif"] = out.getvalue()
    bomb = bombs.gif_frame_bomb()
    files["a/90_bomb.gif"] = bomb
    files["b/91_bomb_after_a_comment.gif"] = bomb[:19] + b"\x21\xfe\x03abc\x00" + bomb[19:]
    files["a/94_bomb_after_a_long_comment.gif"] = bomb[:19] + b"\x21\xfe\x64" + b"x" * 100 + b"\x00" + bomb[19:]
    files["a/92_cut_short.gif"] = files["a/00_plain.gif"][:200]
    files["b/93_cut_short_after_a_comment.gif"] = files["b/01_comment.gif"][:200]
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def test_gif_folder_of_every_layout_is_the_per_image_pipeline(tmp_path: Path) -> None:
    """A folder of GIFs only (a decode graph of one format): the GIFs the guard's quick step
    reads and those that take its walk (a long comment before the frame), bad either way, give
    the per-image pipeline's epoch, image for image, and the same bad files with the same
    reasons, whether the quick step or the walk finds them."""
    from kerasimg.layers import RandomFlip

    files = _gif_folder(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kd.SkippedFileWarning)
        ds = kd.from_directory(tmp_path, image_size=SIZE, batch_size=8, seed=3, augment=[RandomFlip(seed=2)])
        pipe = ds._kerasimg_pipeline
        assert list(pipe.graph_decoder.formats) == ["gif"]
        key = tf.constant(pipe.epoch_key(0), tf.int64)
        fused = list(pipe.finish(pipe.batched(tf.data.Dataset.from_tensors(key), 8)))
        skipped_fused = dict(pipe.log.items)
        per_image = list(pipe.finish(pipe.accounted(pipe.decode(pipe.positions(key), augment=True), 8)))
        first_epoch = list(ds)
    assert [len(x) for x, _ in fused] == [len(x) for x, _ in per_image] == [8] * 5
    for (x, y), (x2, y2), (x3, _) in zip(fused, per_image, first_epoch, strict=True):
        np.testing.assert_array_equal(x.numpy(), x2.numpy())
        np.testing.assert_array_equal(y.numpy(), y2.numpy())
        np.testing.assert_array_equal(x.numpy(), x3.numpy())
    decoder = kd.ImageDecoder(image_size=SIZE, formats=["gif"])
    commented = [n for n in files if "comment" in n and int(n[2:4]) < 90]  # the good ones
    assert len(commented) == 16 and all(decoder.decode_file(tmp_path / n).shape == (*SIZE, 3) for n in commented)
    bad = {n for n in files if int(n[2:4]) >= 90}
    assert {Path(p).relative_to(tmp_path).as_posix() for p in skipped_fused} == bad
    frame = "GIF frame larger than its logical screen (refused before decoding)"
    reasons = {Path(p).relative_to(tmp_path).as_posix(): r for p, r in skipped_fused.items()}
    assert reasons["a/90_bomb.gif"] == reasons["b/91_bomb_after_a_comment.gif"] == frame
    assert reasons["a/94_bomb_after_a_long_comment.gif"] == frame
