"""The ``kerasimg`` command: scan, preview, bench, demo, data-service.

Every error a user can cause (a missing or empty folder, no images, a bad
``--augment`` spec, an ``--out`` that cannot be written, a bad option) prints one line
starting with ``kerasimg:`` on stderr and exits with status 2, without a traceback;
Ctrl-C prints ``kerasimg: interrupted`` and exits with status 130. Arguments and paths are
checked before a command imports its modules (``kerasimg.data``, TensorFlow's data pipeline).

Example:

>>> from kerasimg.cli import main
>>> main(["scan", "/no/such/folder"])  # doctest: +SKIP
kerasimg: /no/such/folder: no such directory
2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn


class UsageError(Exception):
    """An error the user caused: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one ``kerasimg:`` line (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.partition(" ")[2]
        where = f"{command}: " if command else ""
        self.exit(2, f"kerasimg: {where}{message} (see {self.prog} --help)\n")


def _directory(value: str) -> Path:
    path = Path(value)
    if not path.exists():
        raise UsageError(f"{value}: no such directory")
    if not path.is_dir():
        raise UsageError(f"{value}: not a directory")
    return path


def parse_augment(spec: str) -> list:
    """Parse ``"flip=horizontal,brightness=0.2,contrast=0.2"`` into kerasimg layers.

    Keys: ``flip`` (a RandomFlip mode), ``brightness`` and ``contrast`` (a factor).

    Example:

    >>> [type(layer).__name__ for layer in parse_augment("flip=horizontal,contrast=0.3")]
    ['RandomFlip', 'RandomContrast']
    """
    from kerasimg import layers

    makers = {
        "flip": lambda v: layers.RandomFlip(mode=v),
        "brightness": lambda v: layers.RandomBrightness(float(v)),
        "contrast": lambda v: layers.RandomContrast(float(v)),
    }
    result = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key not in makers:
            raise UsageError(
                f"--augment: cannot read {item!r}; expected key=value with key in "
                f"{sorted(makers)}, e.g. 'flip=horizontal,brightness=0.2,contrast=0.2'"
            )
        try:
            result.append(makers[key](value))
        except ValueError as err:
            raise UsageError(f"--augment: {item!r}: {err}") from None
    if not result:
        raise UsageError("--augment: empty spec")
    return result


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kerasimg", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    scan = sub.add_parser("scan", help="classes, counts, formats, sizes and every bad file")
    scan.add_argument("directory")
    scan.add_argument("--json", action="store_true", help="print the report as JSON")
    scan.add_argument("--strict", action="store_true", help="exit 1 when bad files are found")
    scan.add_argument("--max-pixels", type=int, default=50_000_000)

    preview = sub.add_parser("preview", help="a contact sheet of originals and augmented copies")
    preview.add_argument("directory")
    preview.add_argument("--out", required=True, help="PNG file to write")
    preview.add_argument("--augment", default="flip=horizontal,brightness=0.2,contrast=0.2")
    preview.add_argument("--seed", type=int, default=0)
    preview.add_argument("--rows", type=int, default=6)
    preview.add_argument("--copies", type=int, default=4)
    preview.add_argument("--tile", type=int, default=128)

    bench = sub.add_parser("bench", help="images/s of from_directory beside plain tf.data")
    bench.add_argument("directory")
    bench.add_argument("--image-size", type=int, default=224)
    bench.add_argument("--batch-size", type=int, default=64)
    bench.add_argument("--batches", type=int, default=20, help="batches timed per pipeline")

    demo = sub.add_parser("demo", help="train on the embedded digits, export, serve bytes")
    demo.add_argument("--out", default="kerasimg-demo")
    demo.add_argument("--epochs", type=int, default=8)
    demo.add_argument("--seed", type=int, default=7)

    service = sub.add_parser("data-service", help="tf.data service servers")
    roles = service.add_subparsers(dest="role", required=True)
    dispatcher = roles.add_parser("dispatcher")
    dispatcher.add_argument("--port", type=int, required=True)
    dispatcher.add_argument("--work-dir", default=None)
    worker = roles.add_parser("worker")
    worker.add_argument("--dispatcher", required=True, help="HOST:PORT of the dispatcher")
    worker.add_argument("--port", type=int, default=0)
    worker.add_argument("--connect-timeout", type=float, default=120.0, metavar="SECONDS",
                        help="seconds to wait for the dispatcher to answer (default 120)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kerasimg`` console script; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        return _COMMANDS[args.command](args)
    except UsageError as err:
        return _fail(f"kerasimg: {err}", 2)
    except (ValueError, OSError) as err:
        message = str(err)
        return _fail(message if message.startswith("kerasimg:") else f"kerasimg: {message}", 2)
    except KeyboardInterrupt:
        return _fail("kerasimg: interrupted", 130)


def _fail(message: str, status: int) -> int:
    """Prints ``message`` as one line on stderr (undecodable file-name bytes as ``\\xNN``)."""
    line = " ".join(message.split("\n")).encode("utf-8", "surrogateescape")
    print(line.decode("utf-8", "backslashreplace"), file=sys.stderr, flush=True)
    return status


def _positive(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        value = getattr(args, name.replace("-", "_"))
        if value <= 0:
            raise UsageError(f"--{name} must be positive, received {value}")


def _scan(args: argparse.Namespace) -> int:
    directory = _directory(args.directory)
    _positive(args, "max-pixels")
    from kerasimg._scan import scan_directory

    report = scan_directory(directory, max_pixels=args.max_pixels)
    if report["files"] == 0:
        raise UsageError(f"{args.directory}: no image files found")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        from kerasimg._scan import print_report

        print_report(report)
    return 1 if args.strict and report["bad"] else 0


def _preview(args: argparse.Namespace) -> int:
    directory = _directory(args.directory)
    _positive(args, "rows", "copies", "tile")
    from kerasimg._preview import check_output, contact_sheet

    out = check_output(args.out)  # before any image is read
    layers = parse_augment(args.augment)
    path = contact_sheet(directory, out, layers, seed=args.seed,
                         rows=args.rows, copies=args.copies, tile=args.tile)
    print(f"wrote {path}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    directory = _directory(args.directory)
    _positive(args, "image-size", "batch-size", "batches")
    from kerasimg._bench import bench_directory

    bench_directory(directory, image_size=args.image_size,
                    batch_size=args.batch_size, batches=args.batches)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from kerasimg import demo

    if args.epochs <= 0:
        raise UsageError(f"--epochs must be positive, received {args.epochs}")
    demo.run(args.out, epochs=args.epochs, seed=args.seed)
    return 0


def _data_service(args: argparse.Namespace) -> int:
    if args.role == "worker":
        _positive(args, "connect-timeout")
    from kerasimg.data import service

    if args.role == "dispatcher":
        service.serve_dispatcher(args.port, work_dir=args.work_dir)
    else:
        service.serve_worker(args.dispatcher, port=args.port, connect_timeout=args.connect_timeout)
    return 0


_COMMANDS = {"scan": _scan, "preview": _preview, "bench": _bench, "demo": _demo,
             "data-service": _data_service}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
