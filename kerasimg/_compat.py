"""Every private Keras / TensorFlow API kerasimg touches, each behind one small function.

A private API can change in any release. Keeping each use here, named and documented, means
a new Keras or TensorFlow breaks kerasimg in one place, and ``tests/test_compat.py`` (one test
per shim, exercising the private API itself) says which API moved and under which version.

Nothing here imports TensorFlow at import time: ``kerasimg.layers`` runs without it (JAX,
PyTorch), so the TensorFlow shims import it when called. The Keras shims import
``keras.src`` when called, so that ``import kerasimg`` itself never fails on a moved module.

Example:

>>> from kerasimg import _compat
>>> backend = _compat.dynamic_backend()
>>> import keras
>>> backend.name == keras.backend.backend()
True
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

# ---------------------------------------------------------------------- Keras


def dynamic_backend() -> Any:
    """A new ``keras.src.utils.backend_utils.DynamicBackend``: ops of a backend chosen at run time.

    Relies on: ``DynamicBackend()`` (Keras 3, private), with ``.name``, ``.set_backend(name)``,
    ``.reset()`` and the backend's ops as attributes (``.numpy``, ``.random``, ...). It is how
    Keras' own image preprocessing layers run TensorFlow ops inside ``tf.data`` whatever
    ``KERAS_BACKEND`` is.

    If it goes away: every kerasimg layer fails at construction (the layers are written
    against it), and ``layers.base.backend_for`` fails.
    """
    from keras.src.utils import backend_utils

    return backend_utils.DynamicBackend()


def in_tf_graph() -> bool:
    """Whether a TensorFlow graph is being traced now (``tf.data``, ``tf.function``).

    Relies on: ``keras.src.utils.backend_utils.in_tf_graph()`` (Keras 3, private), which is
    False without importing TensorFlow when TensorFlow was never imported.

    If it goes away: layers under JAX or PyTorch no longer switch to TensorFlow ops inside a
    ``tf.data`` map (they fail there), and ``layers.base.backend_for`` fails.
    """
    from keras.src.utils import backend_utils

    return bool(backend_utils.in_tf_graph())


def allow_non_tensor_positional_args(layer: Any) -> None:
    """Let ``layer.__call__`` take positional inputs that are not tensors of the Keras backend.

    Relies on: the private attribute ``keras.layers.Layer._allow_non_tensor_positional_args``
    (Keras 3, False by default): while False, ``Layer.__call__`` refuses a positional argument
    that is not a backend tensor. Inside ``tf.data`` under JAX or PyTorch a kerasimg layer is
    called with TensorFlow tensors, passed unconverted (:func:`input_conversion_off`).

    If it goes away or is renamed: setting it does nothing, and layers under JAX/PyTorch fail
    inside ``tf.data`` with Keras' "Only input tensors may be passed as positional arguments"
    (``tests/test_compat.py`` checks the attribute and its effect).
    """
    layer._allow_non_tensor_positional_args = True


@contextlib.contextmanager
def input_conversion_off(layer: Any) -> Iterator[None]:
    """Within the block, ``layer.__call__`` passes its positional inputs through unconverted.

    Relies on: the private attribute ``keras.layers.Layer._convert_input_args`` (Keras 3):
    while True, ``Layer.__call__`` converts positional arguments to tensors of the Keras
    backend. Inside ``tf.data`` under JAX or PyTorch a layer gets TensorFlow tensors that must
    stay TensorFlow tensors, so the flag is cleared, then restored.

    If it goes away or is renamed: reading it raises ``AttributeError`` here (loudly); if Keras
    keeps the name but stops honouring it, layers under JAX/PyTorch fail inside ``tf.data``
    (``tests/test_compat.py`` checks both).
    """
    saved = layer._convert_input_args
    layer._convert_input_args = False
    try:
        yield
    finally:
        layer._convert_input_args = saved


# ---------------------------------------------------------------------- TensorFlow


def _xla_context_probe() -> Any:
    """``tensorflow.python.ops.control_flow_util.GraphOrParentsInXlaContext``, or None if gone."""
    try:
        from tensorflow.python.ops import control_flow_util

        return control_flow_util.GraphOrParentsInXlaContext
    except (ImportError, AttributeError):  # pragma: no cover - depends on TF internals
        return None


def tf_graph_in_xla_context() -> bool:
    """Whether the TensorFlow graph being built now will be compiled by XLA.

    True while tracing a ``tf.function(jit_compile=True)`` (Keras ``jit_compile=True``
    included), False in eager mode, in a plain ``tf.function`` and in ``tf.data``.

    Relies on: ``tensorflow.python.ops.control_flow_util.GraphOrParentsInXlaContext(graph)``
    (TensorFlow, private) applied to ``tf.compat.v1.get_default_graph()``.

    If it goes away: this says False (``tests/test_compat.py`` fails loudly instead). The
    layers then take their native-TensorFlow formulation under XLA: slower, never wrong.
    """
    import tensorflow as tf

    if tf.executing_eagerly():
        return False
    probe = _xla_context_probe()
    if probe is None:  # pragma: no cover - depends on TF internals
        return False
    try:
        return bool(probe(tf.compat.v1.get_default_graph()))
    except AttributeError:  # pragma: no cover - depends on TF internals
        return False


@contextlib.contextmanager
def graph_seed_hidden() -> Iterator[None]:
    """Within the block, the default TensorFlow graph has no graph-level seed.

    With a global seed set (``keras.utils.set_random_seed(0)``), TensorFlow's
    ``random_seed.get_seed`` compares an op seed with 0 in Python, which fails when the op
    seed is a tensor (``ds.shuffle(size, seed=tensor)`` while tracing). Ops whose seed is
    already fully determined are built inside this block.

    Relies on: ``Graph.seed`` being a settable attribute of ``tf.compat.v1.get_default_graph()``
    (a ``FuncGraph`` while tracing ``tf.data`` functions) and being what ``get_seed`` reads
    outside eager mode (TensorFlow, private behaviour).

    If it goes away: a cached, shuffled kerasimg dataset fails to build under a global seed
    (``tests/test_compat.py`` and the dataset cache tests fail).
    """
    import tensorflow as tf

    graph = tf.compat.v1.get_default_graph()
    saved = graph.seed
    graph.seed = None
    try:
        yield
    finally:
        graph.seed = saved


#: A FunctionDef attribute read by tf.data (``FunctionMetadata::Create``): a function that
#: carries it is instantiated as a single-device function.
INTS_ON_DEVICE = "experimental_ints_on_device"
_single_device = threading.RLock()
_single_device_owner: list[int] = []  # the thread inside the block, once per nesting level


@contextlib.contextmanager
def single_device_dataset_functions() -> Iterator[None]:
    """tf.data functions traced in this block, by this thread, are instantiated without Grappler.

    Every new iterator of a dataset instantiates each of its functions again. tf.data
    instantiates a function as a *multi-device* function by default, which runs Grappler's
    meta-optimizer over it each time: ~5 ms per function and ~0.2-0.3 ms per node on 2 CPU
    cores, 60-90 ms per epoch for kerasimg's pipeline (the first batch of every epoch waits for
    it). A function whose ``FunctionDef`` carries ``experimental_ints_on_device=True`` is
    instantiated on the iterator's own device (the CPU, where tf.data functions run) without
    Grappler: 10-15 ms for the same pipeline. On a CPU device the attribute changes nothing
    else: int32 tensors already live in host memory. kerasimg's dataset functions place no op
    on another device (no ``tf.device`` inside), which is what the single-device path needs.

    Relies on: ``tensorflow.python.data.ops.structured_function.StructuredFunctionWrapper``
    taking ``defun_kwargs``, passed to ``tf.function(experimental_attributes=...)`` (TF 2.9+,
    private), and tf.data reading the attribute (``captured_function.cc``). Only this thread's
    functions get it while the block runs; the class is restored when the block ends.

    If it goes away: the block does nothing (each epoch's first batch waits for Grappler
    again, nothing else changes), and ``tests/test_compat.py`` says so.

    One trap (TF 2.21): with autotuning on, tf.data's ``inject_prefetch`` pass fails at
    iterator creation on such a function when it returns an int32 tensor beside another
    ("Expected only one fetch node but there were 2"). kerasimg's datasets turn autotuning and
    that pass off (``_pipeline.Pipeline.finish``).

    Example:

    >>> import tensorflow as tf
    >>> with single_device_dataset_functions():
    ...     ds = tf.data.Dataset.range(3).map(lambda x: x * 2)
    >>> [int(x) for x in ds]
    [0, 2, 4]
    """
    try:
        from tensorflow.python.data.ops import structured_function
    except ImportError:  # pragma: no cover - depends on TF internals
        yield
        return
    wrapper = structured_function.StructuredFunctionWrapper
    with _single_device:  # one thread at a time patches the class
        me = threading.get_ident()
        outermost = not _single_device_owner
        original = wrapper.__init__
        if outermost:

            def init(self: Any, *args: Any, **kwargs: Any) -> None:
                if _single_device_owner and _single_device_owner[0] == threading.get_ident():
                    kwargs["defun_kwargs"] = {**(kwargs.get("defun_kwargs") or {}), INTS_ON_DEVICE: True}
                original(self, *args, **kwargs)

            wrapper.__init__ = init
        _single_device_owner.append(me)
        try:
            yield
        finally:
            _single_device_owner.pop()
            if outermost:
                wrapper.__init__ = original


#: The attribute TF's ``LowerFunctionalOpsPass`` reads on an If / While op: False keeps it a
#: function call (``control_flow_util.maybe_set_lowering_attr`` sets it True by default).
LOWERING_ATTR = "_lower_using_switch_merge"
_CONTROL_FLOW_OPS = ("If", "StatelessIf", "While", "StatelessWhile", "Case", "StatelessCase")


def unlowered(build: Any) -> Any:
    """``build()``, with the If / While / Case ops it creates left as function calls.

    In a tf.function TF *lowers* ``tf.cond`` and ``tf.while_loop`` to Switch / Merge nodes
    inlined in the caller, and every node of a branch runs, dead, when the other is taken: in a
    tf.data map each costs per element (~0.3-1 CPU us). A rarely taken branch that holds a
    loop is cheaper as a call (one op; the branch's nodes run only when it is taken).

    Relies on: ``Operation._set_attr`` (private) and the ``_lower_using_switch_merge``
    attribute, which TF's own ``control_flow_util_v2`` sets the same way.

    If it goes away: the ops stay lowered (the same results; the cost above comes back), and
    ``tests/test_compat.py`` says so.

    Example:

    >>> import tensorflow as tf
    >>> @tf.function
    ... def f(x):
    ...     return unlowered(lambda: tf.cond(x > 0, lambda: x, lambda: -x))
    >>> int(f(tf.constant(-3)))
    3
    """
    from tensorflow.core.framework import attr_value_pb2

    return _set_on_new_ops(build, _CONTROL_FLOW_OPS, LOWERING_ATTR, attr_value_pb2.AttrValue(b=False))


def _set_on_new_ops(build: Any, types: tuple[str, ...], name: str, value: Any) -> Any:
    """``build()``; then attribute ``name`` = ``value`` (an ``AttrValue``) on each op of one of
    ``types`` it added to the graph being traced (eagerly: ``build()`` alone)."""
    import tensorflow as tf

    if tf.executing_eagerly():
        return build()
    graph = tf.compat.v1.get_default_graph()
    before = len(graph.get_operations())
    out = build()
    try:
        for op in graph.get_operations()[before:]:
            if op.type in types:
                op._set_attr(name, value)
    except AttributeError:  # pragma: no cover - depends on TF internals
        pass
    return out


def map_function(ds: Any) -> Any:
    """The ``ConcreteFunction`` that ``ds``, a ``Dataset.map``, traced (its flat tensors in, a
    list of flat tensors out), or None.

    Relies on: ``MapDataset._map_func.function`` / ``ParallelMapDataset._map_func.function``
    (private: the map's ``StructuredFunctionWrapper`` and its concrete function).

    If it goes away: None, and the caller traces its function again (the same results, a
    slower build), and ``tests/test_compat.py`` says so.

    Example:

    >>> import tensorflow as tf
    >>> fn = map_function(tf.data.Dataset.range(2).map(lambda x: x + 1))
    >>> [int(v) for v in fn(tf.constant(4, tf.int64))]
    [5]
    """
    function = getattr(getattr(ds, "_map_func", None), "function", None)
    return function if callable(function) and hasattr(function, "captured_inputs") else None


def direct_call(function: Any, args: Any, name: str = "direct_call") -> tuple[Any, ...]:
    """``function`` (a ``ConcreteFunction``) called on the flat tensors ``args`` in the graph
    being traced, as one node whose op is the function itself.

    ``function(*args)`` builds a ``PartitionedCall``, which refuses a function that tf.data
    traced as single-device (``single_device_dataset_functions``: "``experimental_ints_on_device``
    is not supported by multi-device functions"). A node whose op type is the function's name
    is run by the caller's own function runtime instead, as tf.data runs its functions. Its
    outputs get the shapes the function's outputs have.

    Relies on: ``Graph.create_op`` with a library function's name as the op type (what TF 1's
    ``Defun`` built), ``ConcreteFunction.add_to_graph`` and ``FuncGraph.capture``.

    If it goes away: an error at tracing, which ``tests/test_compat.py`` shows.

    Example:

    >>> import tensorflow as tf
    >>> from kerasimg._compat import single_device_dataset_functions
    >>> with single_device_dataset_functions():
    ...     fn = map_function(tf.data.Dataset.range(2).map(lambda x: x * 3))
    ...     ds = tf.data.Dataset.range(3).map(lambda x: direct_call(fn, [x])[0])
    >>> [int(v) for v in ds]
    [0, 3, 6]
    """
    import tensorflow as tf

    graph = tf.compat.v1.get_default_graph()
    function.add_to_graph(graph)
    inputs = [*args, *(graph.capture(t) for t in function.captured_inputs)]
    op_type = function.name.decode() if isinstance(function.name, bytes) else function.name
    op = graph.create_op(op_type, inputs, [t.dtype for t in function.outputs], name=name)
    for out, spec in zip(op.outputs, function.outputs, strict=True):
        out.set_shape(spec.shape)
    return tuple(op.outputs)


def worker_address(server: Any) -> str:
    """``"HOST:PORT"`` of a running ``tf.data.experimental.service.WorkerServer``.

    Relies on: the private property ``WorkerServer._address`` (TensorFlow), which returns
    ``"localhost:<bound port>"``; the public API gives no address of a worker.

    If it goes away: ``kerasimg data-service worker`` fails with ``AttributeError`` right after
    the worker starts, when it prints where it serves.
    """
    return str(server._address)
