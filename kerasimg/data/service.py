"""tf.data service support: servers, and the client side of ``service=`` datasets.

Start a dispatcher and workers (``kerasimg data-service dispatcher --port 5050`` and
``kerasimg data-service worker --dispatcher HOST:5050`` call :func:`serve_dispatcher` and
:func:`serve_worker`), then pass ``service="grpc://HOST:5050"`` to ``kerasimg.data.from_*``:
listing stays on the client, while reading, decoding and augmentation run on the workers, in
``"distributed_epoch"`` mode: every file is processed once per epoch, by whichever worker
asks for it first, so the order is not reproducible (the augmentation of each file is: its
seed comes from (seed, epoch, file index), as without the service).

Each epoch registers its own job. The workers drop the files that fail; at the end of the
epoch (or as soon as every file has arrived) the client records the files that did not
arrive in ``ds.skipped`` (with
``on_error="raise"``, the error comes then, not at the first bad file). To say why they
failed the client reads those files again: a client that cannot see the files reports
``cannot read file``.

When a worker dies mid-epoch, tf.data service (TF 2.21) never finishes the job: the client
would wait forever. kerasimg bounds the wait: when no element arrives for ``STALL_TIMEOUT_S``
seconds (``START_TIMEOUT_S`` for the first element of an epoch), iteration fails with an
error that says how many files arrived and what stopped: the dispatcher, when it no longer
accepts connections, else a worker (restart the workers and the training: tf.data service
does not recover a lost worker's share of a ``distributed_epoch`` job). The thread blocked on
the dead server is left behind (a daemon).

A worker started before its dispatcher waits for it (TensorFlow's own registration would
block forever, deaf to Ctrl-C): :func:`serve_worker` says what it waits for on stderr, every
``10`` s, stops on SIGINT/SIGTERM at once, and gives up after ``CONNECT_TIMEOUT_S`` seconds
with an error naming the address.
"""

from __future__ import annotations

import logging
import queue
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from kerasimg import _compat
from kerasimg._validate import require

#: Seconds without a new element from the service (after the first of an epoch) before a
#: ``service=`` dataset gives up.
STALL_TIMEOUT_S = 120.0
#: Seconds allowed for the first element of an epoch (the job starts on every worker).
START_TIMEOUT_S = 600.0
#: Seconds :func:`serve_worker` waits for its dispatcher to accept connections.
CONNECT_TIMEOUT_S = 120.0
_WAIT_LOG_EVERY_S = 10.0
_ADDRESS = re.compile(r"^(?:grpc://)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.\-]+):(\d{1,5})$")
_LOOPBACK = ("127.", "localhost", "[::1]")
_WORKER_BATCH = 16  # images per element sent by a worker
_log = logging.getLogger("kerasimg.data.service")


def check_address(address: Any, name: str = "dispatcher_address") -> str:
    """``"grpc://HOST:PORT"`` from ``HOST:PORT`` or ``grpc://HOST:PORT``; ValueError otherwise."""
    match = _ADDRESS.match(address) if isinstance(address, str) else None
    require(match and 0 < int(match.group(2)) < 65536, name, address, "'HOST:PORT' or 'grpc://HOST:PORT'")
    return f"grpc://{match.group(1)}:{match.group(2)}"


def _check_port(port: Any) -> None:
    """A port to listen on: an ``int`` in ``0..65535`` (0 picks a free one)."""
    require(isinstance(port, int) and 0 <= port < 65536, "port", port, "0..65535")


def start_dispatcher(
    port: int, work_dir: str | None = None
) -> tf.data.experimental.service.DispatchServer:
    """Starts a tf.data service dispatcher in this process and returns it.

    Args:
        port: the port to listen on (0 picks a free one; read it from ``server.target``).
        work_dir: a folder where the dispatcher journals its state, so a restarted
            dispatcher resumes (fault-tolerant mode). Defaults to None (state in memory).

    Returns:
        The running ``tf.data.experimental.service.DispatchServer``.

    Example:

    >>> dispatcher = start_dispatcher(port=0)
    >>> dispatcher.target
    'grpc://localhost:39157'
    """
    _check_port(port)
    config = tf.data.experimental.service.DispatcherConfig(
        port=port, work_dir=work_dir, fault_tolerant_mode=work_dir is not None
    )
    return tf.data.experimental.service.DispatchServer(config)


def start_worker(
    dispatcher_address: str, port: int = 0, host: str | None = None
) -> tf.data.experimental.service.WorkerServer:
    """Starts a tf.data service worker registered with ``dispatcher_address``; returns it.

    Args:
        dispatcher_address: ``HOST:PORT`` (or ``grpc://HOST:PORT``) of the dispatcher.
        port: the port to listen on. Defaults to 0 (a free one).
        host: the host name clients use to reach this worker. Defaults to the dispatcher's
            host when that is a loopback address, else this machine's fully qualified name.

    Returns:
        The running ``tf.data.experimental.service.WorkerServer``.

    Example:

    >>> worker = start_worker("127.0.0.1:5050")
    """
    target = check_address(dispatcher_address)
    _check_port(port)
    dispatcher_host = target[len("grpc://") :].rsplit(":", 1)[0]
    if host is None:
        host = dispatcher_host if dispatcher_host.startswith(_LOOPBACK) else socket.getfqdn()
    config = tf.data.experimental.service.WorkerConfig(
        dispatcher_address=target[len("grpc://") :], worker_address=f"{host}:%port%", port=port
    )
    return tf.data.experimental.service.WorkerServer(config)


def serve_dispatcher(port: int, work_dir: str | None = None) -> None:
    """Runs a dispatcher until SIGTERM or SIGINT (Ctrl-C), then stops it and returns.

    Logs (and prints to stderr) ``kerasimg data-service dispatcher listening on grpc://...``.

    Example:

    >>> serve_dispatcher(5050)  # kerasimg data-service dispatcher --port 5050
    """
    server = start_dispatcher(port, work_dir)
    _serve(server, f"dispatcher listening on {server.target}")


def serve_worker(
    dispatcher_address: str,
    port: int = 0,
    host: str | None = None,
    connect_timeout: float = CONNECT_TIMEOUT_S,
) -> None:
    """Runs a worker until SIGTERM or SIGINT, then stops it and returns.

    First waits for the dispatcher to accept connections (see :func:`wait_for_dispatcher`),
    then logs (and prints to stderr) ``kerasimg data-service worker ... serving <dispatcher>``.

    Args:
        dispatcher_address: ``HOST:PORT`` (or ``grpc://HOST:PORT``) of the dispatcher.
        port: the port to listen on. Defaults to 0 (a free one).
        host: the host name clients use to reach this worker (see :func:`start_worker`).
        connect_timeout: seconds to wait for the dispatcher. Defaults to ``CONNECT_TIMEOUT_S``.

    Raises:
        TimeoutError: the dispatcher did not answer within ``connect_timeout`` seconds.
        KeyboardInterrupt: SIGINT or SIGTERM came while waiting for the dispatcher.

    Example:

    >>> serve_worker("dispatcher-host:5050")  # kerasimg data-service worker --dispatcher ...
    """
    target = check_address(dispatcher_address)
    _check_port(port)
    wait_for_dispatcher(target, connect_timeout)
    server = start_worker(target, port, host)
    _serve(server, f"worker {_compat.worker_address(server)} serving {target}")


def wait_for_dispatcher(dispatcher_address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Waits until the dispatcher at ``dispatcher_address`` accepts TCP connections.

    Prints ``kerasimg data-service worker: waiting for the dispatcher at grpc://...`` to
    stderr (and the log) when it does not answer at once, then every 10 s. SIGINT and SIGTERM
    end the wait at once (``KeyboardInterrupt``).

    Args:
        dispatcher_address: ``HOST:PORT`` or ``grpc://HOST:PORT``.
        timeout: seconds to wait (a positive number). Defaults to ``CONNECT_TIMEOUT_S``.

    Raises:
        TimeoutError: no answer within ``timeout`` seconds; the message names the address.

    Example:

    >>> wait_for_dispatcher("127.0.0.1:5050", timeout=30)
    """
    target = check_address(dispatcher_address)
    ok = not isinstance(timeout, bool) and isinstance(timeout, (int, float)) and timeout > 0
    require(ok, "timeout", timeout, "a positive number of seconds")
    error = _dispatcher_error(target)
    if error is None:
        return
    stop = threading.Event()
    in_main = threading.current_thread() is threading.main_thread()
    signals = (signal.SIGTERM, signal.SIGINT)
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in signals} if in_main else {}
    start = time.monotonic()
    last_log = -_WAIT_LOG_EVERY_S
    try:
        while error is not None:
            waited = time.monotonic() - start
            if waited >= timeout:
                raise TimeoutError(
                    f"kerasimg: no tf.data service dispatcher answered at {target} within "
                    f"{timeout:g} s ({error}); start it first (kerasimg data-service dispatcher "
                    "--port PORT) or check the address"
                )
            if waited - last_log >= _WAIT_LOG_EVERY_S:
                last_log = waited
                message = (
                    f"kerasimg data-service worker: waiting for the dispatcher at {target} "
                    f"({error}; {waited:.0f} of {timeout:g} s)"
                )
                _log.info(message)
                print(message, file=sys.stderr, flush=True)
            if stop.wait(min(0.5, max(0.0, timeout - waited))):
                raise KeyboardInterrupt
            error = _dispatcher_error(target)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _dispatcher_error(target: str, timeout: float = 2.0) -> str | None:
    """None when ``grpc://HOST:PORT`` accepts a TCP connection, else why not (e.g. ``Connection refused``)."""
    host, port = target[len("grpc://") :].rsplit(":", 1)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return None
    except OSError as err:
        return err.strerror or str(err) or type(err).__name__


def _serve(server: Any, what: str) -> None:
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    message = f"kerasimg data-service {what}"
    _log.info(message)
    print(message, file=sys.stderr, flush=True)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
        print("kerasimg data-service stopped", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- client side


def client_dataset(
    address: str,
    keys: tf.data.Dataset,
    epoch: Callable[[Any], tf.data.Dataset],
    n: int,
    output_shape: tuple[int | None, int | None, int],
    on_missing: Callable[[tf.Tensor], Any],
) -> tf.data.Dataset:
    """``(index, image, 0)`` elements of one epoch per iteration, made by the service.

    Each iteration draws the epoch key, registers that epoch's dataset (its order and
    augmentation seeds depend on the key) with the dispatcher, and reads it in a background
    thread, so that a stalled service ends in an error instead of a hang. The files that did
    not arrive are recorded as skipped (with their reason) when the epoch ends.

    Args:
        address: ``grpc://HOST:PORT`` of the dispatcher (checked by :func:`check_address`).
        keys: a dataset of one epoch key, drawing the next key of its sequence at each
            iteration (the same sequence as without the service).
        epoch: the ``(index, image, key)`` dataset of the epoch of a key, decoded and
            augmented, with no skip bookkeeping; it runs on the workers.
        n: the number of files in an epoch (indices ``0 .. n - 1``).
        output_shape: ``(height, width, channels)`` of a decoded image; height and width
            are None without ``image_size`` (the workers then send images one by one).
        on_missing: called at the end of an epoch with the int64 indices of the files that
            did not arrive (records them as skipped, or raises).
    """
    h, w, c = output_shape
    batch = _WORKER_BATCH if h is not None and w is not None else None
    lead = [None] if batch else []
    signature = (tf.TensorSpec(lead, tf.int64), tf.TensorSpec([*lead, h, w, c], tf.uint8))

    def epoch_dataset() -> tf.data.Dataset:
        key = next(iter(keys))  # the next key of the same sequence as without the service
        with _compat.single_device_dataset_functions():  # as the adapter's own (no Grappler)
            ds = epoch(key).map(lambda index, image, _: (index, image))
        if batch:
            ds = ds.batch(batch)
        return ds.apply(
            tf.data.experimental.service.distribute(
                "distributed_epoch", address, target_workers="ANY"
            )
        )

    def generate() -> Any:
        arrived = np.zeros(n, bool)
        for item in _read_with_deadline(epoch_dataset, address, n):
            arrived[item[0]] = True
            yield item
            if arrived.all():
                return  # every file is in: no need to wait for the job to end
        missing = np.flatnonzero(~arrived)
        if len(missing):
            on_missing(tf.constant(missing, tf.int64))

    ds = tf.data.Dataset.from_generator(generate, output_signature=signature)
    ds = ds.unbatch() if batch else ds
    return ds.map(lambda index, image: (index, image, tf.constant(0, tf.int64)))


_END = object()


def _read_with_deadline(make: Any, address: str, expected: int) -> Any:
    """Yields the elements of ``make()``, read in a thread; fails after a stall."""
    items: queue.Queue = queue.Queue(maxsize=4)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        """Put ``item`` unless the consumer has gone; False when it has."""
        while not stop.is_set():
            try:
                items.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def pump() -> None:
        try:
            for element in make():
                if not offer(tuple(t.numpy() for t in element)):
                    return
            offer(_END)
        except Exception as err:  # noqa: BLE001 - handed to the consumer
            offer(err)

    thread = threading.Thread(target=pump, name="kerasimg-data-service", daemon=True)
    thread.start()
    received = 0
    try:
        while True:
            timeout = STALL_TIMEOUT_S if received else START_TIMEOUT_S
            try:
                item = items.get(timeout=timeout)
            except queue.Empty:
                head = (
                    f"kerasimg: tf.data service at {address} sent nothing for {timeout:g} s "
                    f"({received} of {expected} files received this epoch): "
                )
                down = _dispatcher_error(address)
                if down is not None:
                    raise TimeoutError(
                        head + f"the dispatcher at {address} does not answer ({down}); it may "
                        "have died. Restart the dispatcher, the workers and the training."
                    ) from None
                raise TimeoutError(
                    head + "a worker may have died. tf.data service does not recover a lost "
                    "worker's share of an epoch; restart the workers and the training."
                ) from None
            if item is _END:
                break
            if isinstance(item, Exception):
                down = _dispatcher_error(address)
                if down is not None:
                    raise ConnectionError(
                        f"kerasimg: tf.data service failed ({received} of {expected} files "
                        f"received this epoch) and the dispatcher at {address} does not answer "
                        f"({down}); it may have died. Restart the dispatcher, the workers and "
                        "the training."
                    ) from item
                raise item
            received += len(item[0]) if item[0].ndim else 1
            yield item
    finally:
        stop.set()
