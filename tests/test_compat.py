"""kerasimg._compat: each private Keras / TensorFlow API kerasimg relies on, exercised for real.

One test per shim. Each checks that the private API is still there (``hasattr``) and still
behaves as kerasimg assumes, and fails with a message that names the API and the Keras or
TensorFlow version, so that a new release that moves it fails here, in one place, first.
TensorFlow-only tests skip where TensorFlow is not installed.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from without_tensorflow import env_without_tensorflow

from kerasimg import _compat

TESTS = Path(__file__).resolve().parent
KERAS = f"Keras {keras.__version__}"
needs_tf = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="needs TensorFlow")


def _tf():
    import tensorflow as tf

    return tf, f"TensorFlow {tf.__version__}"


# ---------------------------------------------------------------------- Keras


def test_dynamic_backend_is_keras_backend_utils_DynamicBackend() -> None:
    from keras.src.utils import backend_utils

    api = "keras.src.utils.backend_utils.DynamicBackend"
    assert hasattr(backend_utils, "DynamicBackend"), f"{api} is gone in {KERAS}"
    backend = _compat.dynamic_backend()
    for name in ("name", "set_backend", "reset", "convert_to_tensor", "cast", "numpy", "random", "core", "image"):
        assert hasattr(backend, name), f"{api}().{name} is gone in {KERAS}"
    assert backend.name == keras.backend.backend(), f"{api}().name is not the Keras backend in {KERAS}"
    x = backend.numpy.add(backend.convert_to_tensor(np.ones(3, "float32")), 1.0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(x), [2, 2, 2], err_msg=f"{api} ops in {KERAS}")


@needs_tf
def test_dynamic_backend_switches_to_tensorflow_and_back() -> None:
    tf, version = _tf()
    api = "keras.src.utils.backend_utils.DynamicBackend.set_backend/reset"
    backend = _compat.dynamic_backend()
    backend.set_backend("tensorflow")
    try:
        assert backend.name == "tensorflow", f"{api}: name after set_backend in {KERAS}"
        y = backend.numpy.add(backend.convert_to_tensor(np.ones(2, "float32")), 1.0)
        assert isinstance(y, tf.Tensor), f"{api}: not TensorFlow ops after set_backend in {KERAS}, {version}"
    finally:
        backend.reset()
    assert backend.name == keras.backend.backend(), f"{api}: reset() does not restore in {KERAS}"


def test_in_tf_graph_is_keras_backend_utils_in_tf_graph() -> None:
    from keras.src.utils import backend_utils

    api = "keras.src.utils.backend_utils.in_tf_graph"
    assert callable(getattr(backend_utils, "in_tf_graph", None)), f"{api} is gone in {KERAS}"
    assert _compat.in_tf_graph() is False, f"{api}() is not False in eager code in {KERAS}"


@needs_tf
def test_in_tf_graph_is_true_while_tracing() -> None:
    tf, version = _tf()
    api = "keras.src.utils.backend_utils.in_tf_graph"
    seen = []
    tf.function(lambda: seen.append(_compat.in_tf_graph()) or tf.constant(0))()
    tf.data.Dataset.range(1).map(lambda x: seen.append(_compat.in_tf_graph()) or x)
    assert seen == [True, True], f"{api}() is not True while tracing tf.function / tf.data in {KERAS}, {version}"


class _Identity(keras.layers.Layer):
    """Returns its input as received, and records its type."""

    def __init__(self) -> None:
        super().__init__()
        self._allow_non_tensor_positional_args = True
        self.received: list[type] = []

    def call(self, x):
        self.received.append(type(x))
        return x


def test_input_conversion_off_clears_keras_Layer_convert_input_args() -> None:
    api = "keras.layers.Layer._convert_input_args"
    layer = _Identity()
    assert getattr(layer, "_convert_input_args", None) is True, f"{api} is gone (or not True) in {KERAS}"
    x = np.ones((2, 3), "float32")
    layer(x)
    assert layer.received[-1] is not np.ndarray, f"{api}=True no longer converts inputs in {KERAS}"
    with _compat.input_conversion_off(layer):
        assert layer._convert_input_args is False
        layer(x)
    assert layer.received[-1] is np.ndarray, f"Layer.__call__ ignores {api}=False in {KERAS}: inputs converted"
    assert layer._convert_input_args is True, "input_conversion_off did not restore the flag"


def test_allow_non_tensor_positional_args_is_keras_Layer_attribute() -> None:
    api = "keras.layers.Layer._allow_non_tensor_positional_args"
    layer = keras.layers.Identity()
    assert getattr(layer, "_allow_non_tensor_positional_args", None) is False, f"{api} is gone in {KERAS}"
    layer._convert_input_args = False  # as inside tf.data: inputs passed as received
    try:
        layer([1.0, 2.0])  # a list is no backend tensor
    except ValueError:
        pass
    else:
        pytest.fail(f"{api}=False no longer refuses non-tensor positional inputs in {KERAS}")
    _compat.allow_non_tensor_positional_args(layer)
    assert layer([1.0, 2.0]) == [1.0, 2.0], f"Layer.__call__ ignores {api}=True in {KERAS}"


def test_keras_shims_import_and_run_without_tensorflow(tmp_path: Path) -> None:
    child = (
        "import sys\n"
        "from kerasimg import _compat\n"
        "assert _compat.dynamic_backend().name == 'jax'\n"
        "assert _compat.in_tf_graph() is False\n"
        "assert 'tensorflow' not in sys.modules, 'kerasimg._compat imported TensorFlow'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", child], cwd=TESTS.parent, env=env_without_tensorflow(tmp_path),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]


# ---------------------------------------------------------------------- TensorFlow


@needs_tf
def test_tf_graph_in_xla_context_is_control_flow_util_GraphOrParentsInXlaContext() -> None:
    tf, version = _tf()
    from tensorflow.python.ops import control_flow_util

    api = "tensorflow.python.ops.control_flow_util.GraphOrParentsInXlaContext"
    assert callable(getattr(control_flow_util, "GraphOrParentsInXlaContext", None)), f"{api} is gone in {version}"
    assert _compat._xla_context_probe() is control_flow_util.GraphOrParentsInXlaContext
    seen = {"eager": _compat.tf_graph_in_xla_context()}
    for name, jit in (("plain", False), ("xla", True)):

        def probe(name=name):
            seen[name] = _compat.tf_graph_in_xla_context()
            return tf.constant(0)

        tf.function(probe, jit_compile=jit)()
    assert seen == {"eager": False, "plain": False, "xla": True}, f"{api} answers {seen} in {version}"


@needs_tf
def test_graph_seed_hidden_sets_the_graph_seed_get_seed_reads() -> None:
    tf, version = _tf()
    api = "FuncGraph.seed (read by random_seed.get_seed while tracing)"
    seen = {}

    def epoch(key):  # as kerasimg's cached epochs: a shuffle with a tensor seed, traced
        graph = tf.compat.v1.get_default_graph()
        graph.seed = 0  # what keras.utils.set_random_seed(0) leaves in a traced function
        seen["read"] = tf.compat.v1.get_seed(None)[0]
        seed = tf.random.stateless_uniform([], tf.stack([key, key]), minval=None, maxval=None, dtype=tf.int64)
        with _compat.graph_seed_hidden():
            seen["hidden"] = (graph.seed, tf.compat.v1.get_seed(None))
            ds = tf.data.Dataset.range(6).shuffle(6, seed=seed, reshuffle_each_iteration=False)
        seen["restored"] = graph.seed
        return ds

    ds = tf.data.Dataset.range(1).flat_map(epoch)
    assert seen["read"] == 0, f"get_seed does not read {api} in {version}"
    assert seen["hidden"] == (None, (None, None)), f"{api} cannot be hidden in {version}: {seen['hidden']}"
    assert seen["restored"] == 0, "graph_seed_hidden did not restore the graph seed"
    order = [int(x) for x in ds]
    assert sorted(order) == list(range(6)) and order == [int(x) for x in ds], f"shuffle: {order} in {version}"


def _function_attrs(ds) -> dict[str, bool]:
    """Whether each function of ``ds``'s graph carries ``experimental_ints_on_device``."""
    from tensorflow.core.framework import graph_pb2

    graph = graph_pb2.GraphDef.FromString(ds._as_serialized_graph().numpy())
    return {
        f.signature.name: f.attr[_compat.INTS_ON_DEVICE].b if _compat.INTS_ON_DEVICE in f.attr else False
        for f in graph.library.function
    }


@needs_tf
def test_single_device_dataset_functions_marks_this_threads_functions_only() -> None:
    import threading

    tf, version = _tf()
    from tensorflow.python.data.ops import structured_function

    api = "structured_function.StructuredFunctionWrapper(defun_kwargs=...) -> FunctionDef attr"
    original = structured_function.StructuredFunctionWrapper.__init__
    other: dict = {}

    def build_elsewhere() -> None:  # another thread, while the block is open
        other["ds"] = tf.data.Dataset.range(4).map(lambda x: x + 1)

    with _compat.single_device_dataset_functions():
        with _compat.single_device_dataset_functions():  # nesting is allowed
            inner = tf.data.Dataset.range(4).map(lambda x: x * 3)
        ds = tf.data.Dataset.range(4).map(lambda x: x * 2).filter(lambda x: x > 0)
        thread = threading.Thread(target=build_elsewhere)
        thread.start()
        thread.join()  # built while the class is patched
    plain = tf.data.Dataset.range(4).map(lambda x: x - 1)
    assert structured_function.StructuredFunctionWrapper.__init__ is original, "the class was not restored"
    ours = _function_attrs(ds)
    assert len(ours) == 2 and all(ours.values()), f"{api} in {version}: {ours}"
    assert all(_function_attrs(inner).values()), f"{api} (nested) in {version}"
    assert not any(_function_attrs(other["ds"]).values()), "another thread's function got the attribute"
    assert not any(_function_attrs(plain).values()), "a function traced after the block got the attribute"
    # The functions run as before: single-device instantiation changes no value.
    assert [int(x) for x in ds] == [2, 4, 6] and [int(x) for x in inner] == [0, 3, 6, 9]


@needs_tf
def test_unlowered_marks_the_ops_it_builds_and_they_run_as_calls() -> None:
    tf, version = _tf()
    api = f"Operation._set_attr({_compat.LOWERING_ATTR!r})"

    def f(x):
        lowered = tf.cond(x > 0, lambda: x, lambda: -x)
        kept = _compat.unlowered(lambda: tf.cond(x > 0, lambda: x * 2, lambda: tf.while_loop(lambda i: i < 5, lambda i: i + 1, [x])[0]))
        return lowered + kept

    graph = tf.function(f, autograph=False).get_concrete_function(tf.TensorSpec([], tf.int64)).graph
    attrs = [op.get_attr(_compat.LOWERING_ATTR) for op in graph.get_operations() if op.type in ("If", "StatelessIf")]
    # TF marks a cond for lowering by default: the attribute exists, and ours says False
    assert sorted(attrs) == [False, True], f"{api} in {version}: {attrs}"
    # both branches run in a tf.data map (the call and the loop inside it)
    assert [int(v) for v in tf.data.Dataset.from_tensor_slices([-3, 4]).map(f)] == [3 + 5, 4 + 8]


@needs_tf
def test_map_function_is_the_maps_StructuredFunctionWrapper_function() -> None:
    tf, version = _tf()
    api = "MapDataset._map_func.function / ParallelMapDataset._map_func.function"
    big = tf.constant(["a", "b"])  # a capture: called elsewhere, it must come along
    for parallel in (None, 2):
        ds = tf.data.Dataset.range(3).map(lambda x: (x * 2, tf.gather(big, x % 2)), num_parallel_calls=parallel)
        fn = _compat.map_function(ds)
        assert fn is not None, f"{api} is gone in {version}"
        out = fn(tf.constant(1, tf.int64))
        assert [int(out[0]), out[1].numpy()] == [2, b"b"], f"{api} in {version}: {out}"
    assert _compat.map_function(tf.data.Dataset.range(3)) is None  # not a map


@needs_tf
def test_direct_call_runs_a_single_device_map_function_in_another_map() -> None:
    tf, version = _tf()
    api = "Graph.create_op(<library function name>) on a single-device tf.data function"
    big = tf.constant(["a", "b"])
    with _compat.single_device_dataset_functions():
        first = tf.data.Dataset.range(3).map(lambda x: (x * 2, tf.gather(big, x % 2)), num_parallel_calls=2)
        fn = _compat.map_function(first)
        ds = tf.data.Dataset.range(4).map(lambda x: _compat.direct_call(fn, [x], "again"))
    assert ds.element_spec == first.element_spec, f"{api} in {version}: {ds.element_spec}"
    got = [(int(a), b.numpy()) for a, b in ds]
    assert got == [(0, b"a"), (2, b"b"), (4, b"a"), (6, b"b")], f"{api} in {version}: {got}"
    # a PartitionedCall (what ``fn(x)`` builds) is refused there: the reason direct_call exists
    with _compat.single_device_dataset_functions():
        called = tf.data.Dataset.range(1).map(lambda x: tuple(fn(x)))
    with pytest.raises(tf.errors.UnimplementedError, match="experimental_ints_on_device"):
        list(called)
    # an error inside the called function reaches the caller's map (ignore_errors drops it)
    with _compat.single_device_dataset_functions():
        strict = tf.data.Dataset.range(2).map(lambda x: tf.gather(tf.constant([5, 6], tf.int64), x))
        checked = _compat.map_function(strict)
        dropped = tf.data.Dataset.range(4).map(lambda x: _compat.direct_call(checked, [x])[0]).ignore_errors()
    assert [int(v) for v in dropped] == [5, 6], f"{api} in {version}"


@needs_tf
def test_worker_address_is_WorkerServer_address() -> None:
    tf, version = _tf()
    service = tf.data.experimental.service
    api = "tf.data.experimental.service.WorkerServer._address"
    assert hasattr(service.WorkerServer, "_address"), f"{api} is gone in {version}"
    dispatcher = service.DispatchServer(service.DispatcherConfig(port=0))
    worker = service.WorkerServer(
        service.WorkerConfig(dispatcher_address=dispatcher.target[len("grpc://") :], port=0)
    )
    try:
        address = _compat.worker_address(worker)
        host, _, port = address.rpartition(":")
        assert host and port.isdigit() and int(port) > 0, f"{api} is {address!r} in {version}, not HOST:PORT"
        with socket.create_connection((host, int(port)), timeout=10):
            pass  # the worker listens there
    finally:
        worker.stop()
        dispatcher.stop()
