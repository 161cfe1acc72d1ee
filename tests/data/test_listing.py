"""Listing: folders (os.scandir), CSV files, explicit lists, labels, splits, shards, progress."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kerasimg.data import _files, listing


def touch(root: Path, *names: str) -> list[Path]:
    out = []
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        out.append(path)
    return out


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    touch(
        tmp_path,
        "dogs/b.png", "dogs/a.JPG", "dogs/deep/er/c.webp", "dogs/notes.txt",
        "cats/z.jpeg", "cats/y.bmp", "cats/x.gif", "birds/q.jpe",
        "root_file.jpg", ".hidden/h.jpg", "dogs/._b.png",
    )  # fmt: skip
    (tmp_path / "cats" / "folder.png").mkdir()
    return tmp_path


def test_directory_classes_sorted_files_sorted_recursive(tree: Path) -> None:
    got = listing.list_directory(tree)
    assert got.class_names == ["birds", "cats", "dogs"]
    rel = [os.path.relpath(p, tree) for p in got.paths]
    assert rel == [
        "birds/q.jpe",
        "cats/folder.png", "cats/x.gif", "cats/y.bmp", "cats/z.jpeg",
        "dogs/a.JPG", "dogs/b.png", "dogs/deep/er/c.webp",
    ]  # fmt: skip
    assert got.labels == [0, 1, 1, 1, 1, 2, 2, 2]
    problems = dict(zip(rel, got.problems, strict=True))
    assert problems["cats/folder.png"] == "is a directory"
    assert sum(p is not None for p in got.problems) == 1


def test_directory_formats_filter_and_class_names_order(tree: Path) -> None:
    got = listing.list_directory(tree, formats=("png",), class_names=["dogs", "cats"])
    assert got.class_names == ["dogs", "cats"]
    assert [os.path.relpath(p, tree) for p in got.paths] == ["dogs/b.png", "cats/folder.png"]
    assert got.labels == [0, 1]


def test_directory_unlabeled_lists_everything(tree: Path) -> None:
    got = listing.list_directory(tree, labeled=False)
    rel = {os.path.relpath(p, tree) for p in got.paths}
    assert "root_file.jpg" in rel and "dogs/deep/er/c.webp" in rel
    assert not any("hidden" in p or "._" in p for p in rel)
    assert got.labels is None and got.class_names is None
    assert got.paths == sorted(got.paths)


def test_directory_uses_scandir_not_glob(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import glob

    def forbidden(*args, **kwargs):
        raise AssertionError("listing must not glob or walk")

    monkeypatch.setattr(glob, "glob", forbidden)
    monkeypatch.setattr(glob, "iglob", forbidden)
    monkeypatch.setattr(os, "walk", forbidden)
    assert len(listing.list_directory(tree)) == 8


def test_directory_symlink_loop_is_not_followed_forever(tmp_path: Path) -> None:
    touch(tmp_path, "a/one.png")
    os.symlink(tmp_path / "a", tmp_path / "a" / "loop")
    got = listing.list_directory(tmp_path)
    assert [os.path.basename(p) for p in got.paths] == ["one.png"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"class_names": ["cats", "horses"]}, "horses"),
        ({"labeled": True}, "no class sub-folders"),
    ],
)
def test_directory_errors(tmp_path: Path, kwargs: dict, message: str) -> None:
    touch(tmp_path, "a.png")
    if "class_names" in kwargs:
        touch(tmp_path, "cats/a.png")
    with pytest.raises(ValueError, match=message):
        listing.list_directory(tmp_path, **kwargs)


def test_directory_missing_or_empty(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="directory=.*nope.*not an existing directory"):
        listing.list_directory(tmp_path / "nope")
    touch(tmp_path, "cats/readme.txt")
    with pytest.raises(ValueError, match="no image files"):
        listing.list_directory(tmp_path)


def test_progress_bar_shown_past_threshold(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    out = io.StringIO()
    monkeypatch.setattr(_files, "console", lambda: Console(file=out, force_terminal=True, width=100))
    listing.list_directory(tree)
    assert out.getvalue() == ""  # fast listing: no bar
    monkeypatch.setattr(_files, "PROGRESS_AFTER_S", 0.0)
    listing.list_directory(tree)
    assert f"Listing {tree}" in out.getvalue()
    assert "entries" in out.getvalue()


# ---------------------------------------------------------------------- CSV


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("header", ["image_name,label\n", "filename,class\n", ""])
def test_csv_header_detected_and_names(tmp_path: Path, header: str) -> None:
    touch(tmp_path, "img/a.png", "img/b.png", "img/c.png")
    csv_path = write_csv(tmp_path / "l.csv", header + "a.png,dog\nb.png,cat\nc.png, dog\n")
    got = listing.list_csv(csv_path, image_dir=tmp_path / "img")
    assert [os.path.basename(p) for p in got.paths] == ["a.png", "b.png", "c.png"]
    assert got.class_names == ["cat", "dog"] and got.labels == [1, 0, 1]
    assert got.problems == [None, None, None]


def test_csv_integer_labels_default_image_dir_and_class_names(tmp_path: Path) -> None:
    touch(tmp_path, "a.png", "b.png")
    csv_path = write_csv(tmp_path / "l.csv", "a.png,2\nb.png,0\n")
    got = listing.list_csv(csv_path)
    assert got.class_names == ["0", "1", "2"] and got.labels == [2, 0]
    assert got.paths[0] == str(tmp_path / "a.png")
    named = listing.list_csv(csv_path, class_names=["x", "y", "z"])
    assert named.class_names == ["x", "y", "z"] and named.labels == [2, 0]


def test_csv_missing_file_is_a_problem_naming_the_line(tmp_path: Path) -> None:
    touch(tmp_path, "a.png")
    (tmp_path / "d.png").mkdir()
    csv_path = write_csv(tmp_path / "l.csv", "image,label\na.png,x\ngone.png,y\nd.png,x\n")
    got = listing.list_csv(csv_path)
    assert got.problems[0] is None
    assert got.problems[1] == f"no such file ({csv_path}, line 3)"
    assert got.problems[2].startswith("is a directory")


@pytest.mark.parametrize(
    "text, kwargs, message",
    [
        ("a.png\n", {}, "line 1: expected image_name,label"),
        ("a.png,dog\na.png,\n", {}, "line 2: expected image_name,label"),
        ("a.png,horse\n", {"class_names": ["cat", "dog"]}, "line 1: label 'horse'"),
        ("a.png,5\n", {"class_names": ["cat", "dog"]}, "line 1: label '5'"),
        ("a.png,-1\n", {}, "line 1: label '-1'"),
        ("image_name,label\n", {}, "has no rows"),
    ],
)
def test_csv_errors_name_the_line(tmp_path: Path, text: str, kwargs: dict, message: str) -> None:
    touch(tmp_path, "a.png")
    with pytest.raises(ValueError, match=message):
        listing.list_csv(write_csv(tmp_path / "l.csv", text), **kwargs)


def test_csv_unlabeled_and_forced_header(tmp_path: Path) -> None:
    touch(tmp_path, "a.png", "label.png")
    csv_path = write_csv(tmp_path / "l.csv", "label.png\na.png\n")
    assert len(listing.list_csv(csv_path, labeled=False)) == 2  # label.png exists: not a header
    assert len(listing.list_csv(csv_path, labeled=False, header=True)) == 1
    with pytest.raises(ValueError, match="csv_path"):
        listing.list_csv(tmp_path / "missing.csv")


def test_csv_huge_integer_label_is_refused_cheaply(tmp_path: Path) -> None:
    """Regression: ``0.png,50000000`` made 50 million class names (over 6 GiB)."""
    import tracemalloc

    touch(tmp_path, "0.png", "1.png")
    csv_path = write_csv(tmp_path / "l.csv", "0.png,1\n1.png,50000000\n")
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"l\.csv, line 2: label '50000000' is not a class index in 0\.\.99,999"):
            listing.list_csv(csv_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20
    with pytest.raises(ValueError, match="line 2: label '50000000' is neither"):
        listing.list_csv(csv_path, class_names=["a", "b"])


def test_csv_row_with_an_unquoted_comma_is_an_error_naming_the_line(tmp_path: Path) -> None:
    """Regression: ``with,comma.png,cat`` made a class 'comma.png' and skipped a file 'with'."""
    touch(tmp_path, "a.png", "with,comma.png")
    csv_path = write_csv(tmp_path / "l.csv", "a.png,dog\nwith,comma.png,cat\n")
    with pytest.raises(ValueError, match=r'line 2: expected image_name,label, .*3 columns; quote.*"with,comma.png",cat'):
        listing.list_csv(csv_path)
    with pytest.raises(ValueError, match="line 2: expected image_name"):
        listing.list_csv(csv_path, labeled=False)
    quoted = write_csv(tmp_path / "q.csv", 'a.png,dog,\n"with,comma.png",cat\n')  # trailing empty cell ok
    got = listing.list_csv(quoted)
    assert got.class_names == ["cat", "dog"] and got.problems == [None, None]
    assert got.paths[1] == str(tmp_path / "with,comma.png")


def test_csv_conflicting_duplicate_rows_warn_with_lines(tmp_path: Path) -> None:
    touch(tmp_path, "a.png", "b.png")
    csv_path = write_csv(tmp_path / "l.csv", "a.png,cat\nb.png,cat\nb.png,cat\n./a.png,dog\n")
    with pytest.warns(UserWarning, match=r"a\.png is listed with different labels: 'cat' \(line 1\), 'dog' \(line 4\)") as caught:
        got = listing.list_csv(csv_path)
    assert len(caught) == 1  # b.png twice with one label is not a conflict
    assert len(got) == 4 and got.labels == [0, 0, 0, 1]


def test_csv_absolute_paths_are_read_where_they_are(tmp_path: Path) -> None:
    """Decided: relative names are under image_dir; absolute names are read as they are."""
    (outside,) = touch(tmp_path, "elsewhere/x.png")
    touch(tmp_path, "img/a.png")
    csv_path = write_csv(tmp_path / "l.csv", f"a.png,cat\n{outside},dog\n")
    got = listing.list_csv(csv_path, image_dir=tmp_path / "img")
    assert got.paths == [str(tmp_path / "img" / "a.png"), str(outside)]
    assert got.problems == [None, None]


def test_csv_in_latin1_names_the_line_and_the_encoding(tmp_path: Path) -> None:
    touch(tmp_path, "a.png", "caf\u00e9.png")
    csv_path = tmp_path / "l.csv"
    csv_path.write_bytes("a.png,cat\ncaf\u00e9.png,dog\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"l\.csv, line 2: not valid utf-8-sig text .*encoding='latin-1'"):
        listing.list_csv(csv_path)
    got = listing.list_csv(csv_path, encoding="latin-1")
    assert got.paths[1] == str(tmp_path / "caf\u00e9.png") and got.problems == [None, None]
    with pytest.raises(ValueError, match="encoding='klingon'"):
        listing.list_csv(csv_path, encoding="klingon")


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file systems refuse non-UTF-8 names")
def test_non_utf8_file_names_are_problems_not_failures(tmp_path: Path) -> None:
    """Regression: one non-UTF-8 name failed the whole dataset ("Error converting unicode string")."""
    touch(tmp_path, "cats/a.png", "dogs/b.png")
    raw = os.fsencode(tmp_path / "cats") + b"/caf\xe9.png"
    with open(raw, "wb") as f:
        f.write(b"x")
    os.mkdir(os.fsencode(tmp_path) + b"/\xff")  # a non-UTF-8 class name
    with open(os.fsencode(tmp_path) + b"/\xff/c.png", "wb") as f:
        f.write(b"x")
    got = listing.list_directory(tmp_path)
    problems = {os.fsencode(p): r for p, r in zip(got.paths, got.problems, strict=True) if r}
    assert set(problems) == {raw, os.fsencode(tmp_path) + b"/\xff/c.png"}
    assert problems[raw] == f"file name is not valid UTF-8: {raw!r}"
    files = listing.list_files([raw, tmp_path / "dogs" / "b.png"])
    assert files.problems == [f"file name is not valid UTF-8: {raw!r}", None]
    assert isinstance(files.paths[0], str)


# ---------------------------------------------------------------------- lists


def test_files_labels_and_problems(tmp_path: Path) -> None:
    a, b = touch(tmp_path, "a.png", "b.png")
    got = listing.list_files([b, a, tmp_path / "gone.png"], labels=["dog", "cat", "dog"])
    assert got.paths == [str(b), str(a), str(tmp_path / "gone.png")]  # order kept
    assert got.labels == [1, 0, 1] and got.class_names == ["cat", "dog"]
    assert got.problems == [None, None, "no such file"]
    with pytest.raises(ValueError, match="one label per path"):
        listing.list_files([a, b], labels=[0])
    with pytest.raises(ValueError, match="non-empty sequence"):
        listing.list_files([])


# ---------------------------------------------------------------------- splits and shards


def test_split_disjoint_complete_sorted() -> None:
    full = listing.Listing([f"f{i:03d}.png" for i in range(100)], list(range(100)), ["c"] * 100)
    train, val = full.split(0.2, seed=3)
    assert len(val) == 20 and len(train) == 80
    assert set(train.paths).isdisjoint(val.paths)
    assert sorted(train.paths + val.paths) == full.paths
    assert train.paths == sorted(train.paths) and val.paths == sorted(val.paths)
    assert [int(p[1:4]) for p in val.paths] == val.labels  # labels follow their files
    assert full.split(0.2, seed=3)[1].paths == val.paths
    assert full.split(0.2, seed=4)[1].paths != val.paths


def test_split_stable_in_another_process() -> None:
    code = (
        "from kerasimg.data.listing import Listing\n"
        "l = Listing([f'f{i:03d}.png' for i in range(100)])\n"
        "print(','.join(l.split(0.25, seed=11)[1].paths))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    here = listing.Listing([f"f{i:03d}.png" for i in range(100)]).split(0.25, seed=11)[1]
    assert out.stdout.strip() == ",".join(here.paths)


def test_split_refuses_an_empty_subset() -> None:
    with pytest.raises(ValueError, match="empty subset"):
        listing.Listing(["a.png", "b.png"]).split(0.3, seed=1)


def test_shards_are_disjoint_and_cover() -> None:
    full = listing.Listing([f"f{i}" for i in range(10)])
    shards = [full.shard(3, i).paths for i in range(3)]
    assert sorted(sum(shards, [])) == sorted(full.paths)
    assert shards[0] == ["f0", "f3", "f6", "f9"]
