"""``StatefulLayer``: the base of every neuron layer.

It owns, once for all neuron types: the states and their life cycle (lazy
initialisation, batch-size policy, reset, detach, ``state_dict``, ``.to()``), input
validation, the call into the dynamics core, recordings, the stored configuration behind
``_param_dict``, ``repr``, copying and pickling.

States are not module buffers. They are saved in ``state_dict`` under their names
(``v_mem``, ``i_syn``, ...) and moved by ``.to()`` like buffers, but
``named_buffers()`` does not list them: whatever synchronises a model's buffers across
processes (``DistributedDataParallel`` broadcasts rank 0's buffers before every forward
call by default) would otherwise overwrite each process's neuron states with rank 0's,
which belong to other samples.
"""

from __future__ import annotations

import copy
import difflib
import functools
import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from .. import dynamics
from ..activation.spike_generation import SpikeSpec, resolve_spike_fn
from ..dynamics.params import LeakyParams
from ..dynamics.precision import HALF_DTYPES, compute_dtype, output_dtype
from ..recording import as_recording


class InputShapeError(ValueError, RuntimeError):
    """An input whose shape does not fit the layer.

    A ``ValueError``; also a ``RuntimeError``, which is what sinabs 3.x raised for an
    input that a Squeeze layer cannot split into batch and time.
    """


# ---------------------------------------------------------------------------------------
# argument checks shared by all layers


def check_input(x: Any, *, min_dims: int = 2, name: str = "input_data") -> torch.Tensor:
    """Validates a layer input: a floating-point tensor with at least ``min_dims`` dims."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (batch, time, ...); got {type(x).__name__}"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must have a floating-point dtype (float16, bfloat16, float32 or "
            f"float64); got {x.dtype}. Convert it with .float()"
        )
    if x.dim() < min_dims:
        layout = "(batch, time, ...)" if min_dims == 2 else "(batch*time, ...)"
        raise InputShapeError(
            f"{name} must have at least {min_dims} dimensions {layout}; got shape {tuple(x.shape)}"
        )
    return x


def float_tensor(value: Any, name: str) -> torch.Tensor:
    """A fresh floating-point tensor holding ``value`` (ints become float32)."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().clone()
    else:
        try:
            tensor = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{name} must be a number or a tensor; got {value!r}") from err
    if tensor.is_complex() or tensor.dtype == torch.bool:
        raise TypeError(f"{name} must be real-valued; got dtype {tensor.dtype}")
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.float32)
    return tensor


def time_constant(value: Any, name: str) -> torch.Tensor:
    """A fresh float32 tensor of time constants; each must be positive (inf allowed)."""
    tensor = float_tensor(value, name).to(torch.float32)
    if torch.isnan(tensor).any() or (tensor <= 0).any():
        raise ValueError(f"{name} must be positive (time steps); got {value!r}")
    return tensor


def threshold_tensor(value: Any, name: str = "spike_threshold") -> torch.Tensor:
    """A fresh floating-point tensor of spike thresholds; each must be positive and
    finite (MultiSpike divides by it, a subtractive reset by an infinite one gives NaN,
    and a threshold at or below zero makes a neuron fire on every step)."""
    tensor = float_tensor(value, name)
    if not bool(torch.isfinite(tensor).all()) or bool((tensor <= 0).any()):
        raise ValueError(f"{name} must be positive and finite; got {value!r}")
    return tensor


def lower_bound(
    value: Any, threshold: torch.Tensor | None, name: str = "min_v_mem"
) -> torch.Tensor:
    """A fresh tensor for ``min_v_mem``: finite and below the threshold wherever both
    apply (a membrane clamped at or above the threshold fires on every step)."""
    tensor = float_tensor(value, name)
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} must be finite (or None for no bound); got {value!r}")
    if threshold is not None:
        try:
            above = bool((tensor >= threshold).any())
        except RuntimeError as err:
            raise ValueError(
                f"{name} of shape {tuple(tensor.shape)} does not broadcast with "
                f"spike_threshold of shape {tuple(threshold.shape)}"
            ) from err
        if above:
            raise ValueError(
                f"{name} must be below spike_threshold (a membrane clamped at or above "
                f"the threshold fires on every step); got {name}={value!r}, "
                f"spike_threshold={threshold.tolist()!r}"
            )
    return tensor


def decay_factor(value: Any, name: str) -> torch.Tensor:
    """``exp(-1/tau)`` of a validated time constant, in float32, correctly rounded
    like the decay factors the layers compute on every call)."""
    tau = time_constant(value, name)
    return torch.exp(tau.reciprocal().neg().double()).to(tau.dtype)


def frozen(tensor: torch.Tensor) -> nn.Parameter:
    """A non-trainable parameter: in ``state_dict``, moved by ``.to()``, no gradient."""
    return nn.Parameter(tensor, requires_grad=False)


# ---------------------------------------------------------------------------------------
# configuration capture


_OPEN = "_config_open"  # transient flag while nested __init__s fill in **kwargs
_STATES = "_state_tensors"  # instance __dict__ entry: {state name: tensor}, in order


def _capture_config(init: Callable[..., None]) -> Callable[..., None]:
    """Wraps ``__init__`` to store its bound arguments in ``self._config`` once.

    The outermost constructor records its arguments (defaults applied). When it takes
    ``**kwargs`` and passes them on, the next constructor fills in its own defaults for
    the names it received, so a Squeeze layer's configuration is complete.
    """
    signature = inspect.signature(init)
    var_kw = next((p.name for p in signature.parameters.values() if p.kind is p.VAR_KEYWORD), None)

    @functools.wraps(init)
    def wrapper(self: nn.Module, *args: Any, **kwargs: Any) -> None:
        outermost = "_config" not in self.__dict__
        if var_kw is None:
            _check_keywords(type(self).__name__, signature, kwargs)
        if outermost or self.__dict__.get(_OPEN):
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            arguments.pop(next(iter(signature.parameters)))  # self
            extra = arguments.pop(var_kw, {}) if var_kw else {}
            config = self.__dict__.setdefault("_config", {})
            for key, value in {**arguments, **extra}.items():
                config.setdefault(key, value)
            self.__dict__[_OPEN] = var_kw is not None
        try:
            init(self, *args, **kwargs)
        finally:
            if outermost:
                self.__dict__.pop(_OPEN, None)

    return wrapper


def _check_keywords(owner: str, signature: inspect.Signature, kwargs: dict[str, Any]) -> None:
    """Raises a TypeError naming the class for a keyword its constructor does not take,
    with the closest names it does take (``LIF(threshold=1.0)``: did you mean
    ``spike_threshold``?)."""
    known = [name for name in signature.parameters if name != "self"]
    for key in kwargs:
        if key not in signature.parameters:
            close = difflib.get_close_matches(key, known, n=2, cutoff=0.6)
            close += [name for name in known if key in name and name not in close]
            hint = " or ".join(repr(name) for name in close[:2])
            raise TypeError(
                f"{owner}() got an unexpected keyword argument {key!r}"
                + (f"; did you mean {hint}?" if hint else f"; it takes {', '.join(known)}")
            )


def _format_value(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        if value.numel() == 1:
            return f"{value.item():g}"
        return f"tensor(shape={tuple(value.shape)})"
    if isinstance(value, type):
        return value.__name__
    return repr(value)


# ---------------------------------------------------------------------------------------


def _recurrent_connection(
    rec_connect: Any, input_dtype: torch.dtype, dtype: torch.dtype
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``rec_connect`` as the time loop calls it, checked against the call's dtypes.

    A module must compute in the compute dtype ``dtype`` (it would otherwise fail inside
    the time loop). For a half-precision input it may compute in the input's dtype
    instead (a model converted with ``.half()`` or ``.bfloat16()``): it then receives the
    spikes in that dtype (spike counts are exact there) and its output is added to the
    float32 input of the next step. Under ``torch.autocast`` a float32 module is what it
    is: autocast runs its linear layers in half precision by itself.
    """
    if not isinstance(rec_connect, nn.Module):
        return rec_connect  # type: ignore[no-any-return]
    tensors = [
        (name, tensor)
        for name, tensor in (*rec_connect.named_parameters(), *rec_connect.named_buffers())
        if tensor.is_floating_point()
    ]
    if all(tensor.dtype == dtype for _, tensor in tensors):
        return rec_connect  # type: ignore[no-any-return]
    if input_dtype in HALF_DTYPES and all(tensor.dtype == input_dtype for _, tensor in tensors):
        return lambda spikes: rec_connect(spikes.to(input_dtype))
    allowed = f"{dtype} or {input_dtype}" if input_dtype in HALF_DTYPES else str(dtype)
    name, tensor = next((n, t) for n, t in tensors if t.dtype != dtype)
    raise TypeError(
        f"input_data is {input_dtype} and the layer computes in {dtype}, so rec_connect "
        f"must compute in {allowed} (all its tensors), but rec_connect's {name} is "
        f"{tensor.dtype}; convert the layer with .to({input_dtype})"
    )


class StatefulLayer(nn.Module):
    """Base class of layers whose neurons carry state from one time step to the next.

    States are attributes (``layer.v_mem``) saved in ``state_dict`` and moved by
    ``.to()``, but not module buffers (see the module docstring). They are empty
    ``(0,)`` until the first forward call initialises them to zeros of shape
    ``(batch, *neurons)`` and the input's dtype, at least float32: a float16 or
    bfloat16 input computes in float32 and its output returns in its own dtype
    (mixed precision, :mod:`sinabs.dynamics.precision`).

    State policy on a new input shape ``(B, T, *neurons)``:

    * other neuron shape: zeros of the new shape;
    * only the batch size differs: row ``i`` of the new state is row ``i mod B_old`` of
      the old one (every state of a neuron from the same row; no random numbers);
      states with no rows (left by loading such a ``state_dict``) become zeros;
    * an empty batch or ``T = 0``: an empty output, the states untouched.

    After a forward call the states are the live tensors of the autograd graph, so
    back-propagation continues across calls (BPTT over consecutive batches). For
    truncated BPTT call :meth:`detach_states` (or :meth:`zero_grad`) between batches,
    and :meth:`reset_states` to start from zero.

    Args:
        state_names: names of the state buffers, in order.
    """

    #: constructor arguments that ``repr`` shows when set (each layer names its own)
    _repr_keys: tuple[str, ...] = ()
    #: boolean constructor arguments that ``repr`` shows only when True
    _repr_flags: tuple[str, ...] = ()
    #: which backend runs the dynamics ("auto" picks; see sinabs.dynamics.registry)
    backend: str = "auto"
    record_states: bool = False
    #: the layer's spike function, resolved when ``spike_fn`` is set (None: no spikes)
    _spike_spec: SpikeSpec | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _capture_config(cls.__dict__["__init__"])  # type: ignore[method-assign]

    def __init__(self, state_names: Sequence[str]) -> None:
        super().__init__()
        self.__dict__[_STATES] = {name: torch.zeros(0) for name in state_names}

    # ---- states ---------------------------------------------------------------------

    @property
    def state_names(self) -> list[str]:
        """Names of this layer's own states, in order (submodules' excluded)."""
        return list(self.__dict__[_STATES])

    def named_states(self) -> Iterator[tuple[str, torch.Tensor]]:
        """``(name, tensor)`` of this layer's own states, in order (like
        ``named_buffers(recurse=False)``; states are not buffers, see the module
        docstring)."""
        yield from self.__dict__[_STATES].items()

    _states = named_states

    def _set_state(self, name: str, value: torch.Tensor) -> None:
        """Replaces state ``name`` (one dict store: this runs on every forward call)."""
        self.__dict__[_STATES][name] = value

    def __getattr__(self, name: str) -> Any:
        states = self.__dict__.get(_STATES)
        if states is not None and name in states:
            return states[name]
        return super().__getattr__(name)

    def __setattr__(self, name: str, value: Any) -> None:
        states = self.__dict__.get(_STATES)
        if states is not None and name in states:
            if not isinstance(value, torch.Tensor):
                raise TypeError(
                    f"{type(self).__name__}.{name} is a neuron state and must be a "
                    f"torch.Tensor; got {type(value).__name__}"
                )
            states[name] = value
        else:
            if name == "spike_fn":  # resolved once here, not in every (compiled) forward
                self.__dict__["_spike_spec"] = None if value is None else resolve_spike_fn(value)
            super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self.__dict__.get(_STATES, {})})

    def is_state_initialised(self) -> bool:
        """False while any state is still empty ``(0,)``."""
        return all(buf.shape != (0,) for _, buf in self._states())

    def state_has_shape(self, shape: Sequence[int]) -> bool:
        """True iff every state has shape ``shape``."""
        size = torch.Size(shape)
        return all(buf.shape == size for _, buf in self._states())

    def has_trailing_dimension(self, trailing_dim: Sequence[int]) -> bool:
        """True iff every state has neuron shape ``trailing_dim`` (after the batch)."""
        return all(buf.shape[1:] == torch.Size(trailing_dim) for _, buf in self._states())

    def init_state_with_shape(
        self, shape: Sequence[int], randomize: bool = False, dtype: torch.dtype | None = None
    ) -> None:
        """Replaces every state by zeros of ``shape`` (then randomises if asked)."""
        for name, buf in list(self._states()):
            state_dtype = dtype or (buf.dtype if buf.is_floating_point() else None)
            self._set_state(name, torch.zeros(tuple(shape), device=buf.device, dtype=state_dtype))
        self.reset_states(randomize=randomize)

    def reset_states(
        self,
        randomize: bool = False,
        value_ranges: dict[str, tuple[float, float]] | None = None,
    ) -> None:
        """Sets the states to zero, or to uniform random values, and detaches them.

        Does nothing while the states are uninitialised.

        Args:
            randomize: draw each state from U[lo, hi) (global RNG) instead of zeros.
            value_ranges: ``{state name: (lo, hi)}``; states not named use (0, 1).
        """
        if not self.is_state_initialised():
            return
        for name, buf in list(self._states()):
            # new tensors from the shape alone: a state left behind by torch.func.vmap
            # (a batched tensor outside its transform) allows nothing else
            if randomize:
                lo, hi = (value_ranges or {}).get(name, (0.0, 1.0))
                empty = torch.empty(buf.shape, dtype=buf.dtype, device=buf.device)
                fresh = torch.nn.init.uniform_(empty) * (hi - lo) + lo
            else:
                fresh = torch.zeros(buf.shape, dtype=buf.dtype, device=buf.device)
            self._set_state(name, fresh)

    def handle_state_batch_size_mismatch(self, new_batch_size: int) -> None:
        """Adapts the states to ``new_batch_size`` rows: row i takes old row i mod B_old
        (zeros when the old states have no rows)."""
        for name, buf in list(self._states()):
            if buf.shape[0] == 0:
                fresh = torch.zeros(
                    (new_batch_size, *buf.shape[1:]), dtype=buf.dtype, device=buf.device
                )
            else:
                rows = torch.arange(new_batch_size, device=buf.device) % buf.shape[0]
                fresh = buf.index_select(0, rows)
            self._set_state(name, fresh)

    def detach_states(self) -> None:
        """Cuts the states from the autograd graph, keeping their values."""
        for name, buf in list(self._states()):
            self._set_state(name, buf.detach())

    def zero_grad(self, set_to_none: bool = True) -> None:
        """``nn.Module.zero_grad`` and :meth:`detach_states`."""
        super().zero_grad(set_to_none=set_to_none)
        self.detach_states()

    # ---- states in state_dict and under .to() (what buffers get from nn.Module) --------

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> Any:
        super()._apply(fn, recurse)
        for name, buf in list(self._states()):
            self._set_state(name, fn(buf))
        return self

    def _save_to_state_dict(
        self, destination: dict[str, Any], prefix: str, keep_vars: bool
    ) -> None:
        super()._save_to_state_dict(destination, prefix, keep_vars)
        for name, buf in self._states():
            destination[prefix + name] = buf if keep_vars else buf.detach()

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
        # the states: a saved state of another shape (e.g. a fresh layer's (0,)) is
        # adopted; it keeps this layer's dtype and device, as a buffer would
        keys = {prefix + name: name for name in self.state_names}
        unexpected_keys[:] = [key for key in unexpected_keys if key not in keys]
        for key, name in keys.items():
            saved = state_dict.get(key)
            if saved is None:
                if strict:
                    missing_keys.append(key)
                continue
            if not isinstance(saved, torch.Tensor):
                error_msgs.append(
                    f'While copying the state "{key}", expected a tensor; got '
                    f"{type(saved).__name__}."
                )
                continue
            current = self.__dict__[_STATES][name]
            dtype = current.dtype if current.is_floating_point() else saved.dtype
            self._set_state(name, saved.detach().to(device=current.device, dtype=dtype, copy=True))

    @property
    def shape(self) -> torch.Size | None:
        """Shape of the states (batch included), or None while uninitialised."""
        return self.__dict__[_STATES]["v_mem"].shape if self.is_state_initialised() else None

    # ---- forward machinery ----------------------------------------------------------

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        raise NotImplementedError("StatefulLayer has no forward; use a neuron layer")

    #: user-facing names of parameters stored under another name (ALIF's b0)
    _parameter_labels: dict[str, str] = {}  # noqa: RUF012 - read-only class table

    def _check_parameter_shapes(self, x: torch.Tensor) -> None:
        """Every per-neuron parameter must broadcast to the neuron shape ``x.shape[2:]``
        without changing it (checked before any state changes)."""
        neurons = x.shape[2:]
        for name, param in self._parameters.items():
            if param is None or param.dim() == 0:
                continue
            try:
                fits = torch.broadcast_shapes(param.shape, neurons) == neurons
            except RuntimeError:
                fits = False
            if not fits:
                label = self._parameter_labels.get(name, name)
                raise ValueError(
                    f"{type(self).__name__}: {label} has shape {tuple(param.shape)}, which "
                    f"does not fit the input's neuron shape {tuple(neurons)} (input_data "
                    f"{tuple(x.shape)} is (batch, time, *neurons)); give a scalar or a "
                    f"tensor that broadcasts to {tuple(neurons)}"
                )

    def _check_devices(self, x: torch.Tensor) -> None:
        device = x.device
        for label, tensor in (*self._states(), *self._buffers.items(), *self._parameters.items()):
            if tensor is not None and tensor.device != device and tensor.numel():
                raise ValueError(
                    f"input_data is on {device} but the layer's {label} is on "
                    f"{tensor.device}; move the layer with .to({str(device)!r})"
                )

    def _prepare_states(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Checks devices, (re)initialises states for ``x`` (B, T, ...); returns them."""
        batch, trailing = x.shape[0], x.shape[2:]
        if self.state_has_shape((batch, *trailing)):  # the usual call: nothing to change
            return dict(self._states())
        if not self.is_state_initialised() or not self.has_trailing_dimension(trailing):
            self.init_state_with_shape((batch, *trailing), dtype=x.dtype)
        elif not self.state_has_shape((batch, *trailing)):
            self.handle_state_batch_size_mismatch(batch)
        return dict(self._states())

    def _run_dynamics(
        self,
        family: str,
        x: torch.Tensor,
        params: Callable[[torch.dtype], LeakyParams],
        rec_connect: nn.Module | None = None,
    ) -> torch.Tensor:
        """Runs ``family`` on ``x`` (B, T, ...) and stores states, recordings, firing rate.

        Everything that can reject the call (parameter shapes, devices, dtypes, the
        backend's support) is checked before any state changes.
        """
        self._check_parameter_shapes(x)
        self._check_devices(x)
        if x.shape[0] == 0 or x.shape[1] == 0:
            return self._empty_call(x)
        # mixed precision (sinabs.dynamics.precision): a half-precision input computes
        # in float32, on every backend alike, and its output returns in its own dtype
        dtype = self._compute_dtype(x)
        bundle = params(dtype)
        connect: Callable[[torch.Tensor], torch.Tensor] | None = rec_connect
        if rec_connect is not None:
            connect = _recurrent_connection(rec_connect, x.dtype, dtype)
        wide = x if x.dtype == dtype else x.to(dtype)  # exact: dtype is at least as wide
        call = dynamics.Call(family, wide, bundle, rec_connect=connect, record=self.record_states)
        chosen = dynamics.choose(call, self.backend)
        state = {
            name: value if value.dtype == dtype else value.to(dtype)
            for name, value in self._prepare_states(wide).items()
        }
        out, state, recordings, out_sum = dynamics.execute(chosen, call, state)
        for name in self.state_names:
            self._set_state(name, state[name])
        self.recordings = {name: as_recording(rec) for name, rec in recordings.items()}
        self.firing_rate = out_sum / out.numel()
        return out.to(output_dtype(x.dtype, dtype))

    def _compute_dtype(self, x: torch.Tensor) -> torch.dtype:
        """The dtype of this call (:func:`sinabs.dynamics.precision.compute_dtype`): the
        input's, at least float32, promoted with the states' when they are kept (same
        neuron shape), which is what :meth:`_prepare_states` will leave."""
        first = self._dtype_state()
        if self.is_state_initialised() and first.shape[1:] == x.shape[2:]:
            return compute_dtype(x.dtype, first.dtype)
        return compute_dtype(x.dtype)

    def _dtype_state(self) -> torch.Tensor:
        """The state whose dtype and shape stand for all of them (``v_mem``)."""
        return self.__dict__[_STATES]["v_mem"]  # type: ignore[no-any-return]

    def _empty_call(self, x: torch.Tensor) -> torch.Tensor:
        """An empty batch or ``T = 0``: an empty output; the states stay as they are."""
        states = dict(self._states())
        dtype = self._compute_dtype(x)
        computed = x.to(dtype) * 0  # empty, and in the graph like any output
        if self.record_states:
            self.recordings = {name: as_recording(computed.clone()) for name in states}
        else:
            self.recordings = {}
        self.firing_rate = computed.sum() / computed.numel()  # nan, as torch.mean of nothing
        return computed.to(output_dtype(x.dtype, dtype))

    # ---- configuration, repr, copying, pickling -------------------------------------

    def _live_config(self) -> dict[str, Any]:
        """Current values of the configuration: for each constructor argument, the
        attribute of that name (or the parameter that ``_parameter_labels`` maps to it,
        such as ALIF's ``b0`` for ``spike_threshold``), where the layer has one."""
        attributes = {label: name for name, label in self._parameter_labels.items()}
        live = {}
        for key in self.__dict__.get("_config", {}):
            attribute = attributes.get(key, key)
            if attribute in self.__dict__[_STATES]:
                continue
            try:
                live[key] = getattr(self, attribute)
            except AttributeError:
                continue
        return live

    @property
    def _param_dict(self) -> dict[str, Any]:
        """Constructor keyword arguments that rebuild this layer with its current values."""
        if "_config" not in self.__dict__:
            self.__dict__["_config"] = self._config_from_attributes()
        config: dict[str, Any] = dict(self.__dict__["_config"])
        config.update({k: v for k, v in self._live_config().items() if k in config})
        return config

    @property
    def arg_dict(self) -> dict[str, Any]:
        """Same as ``_param_dict``."""
        return self._param_dict

    @property
    def does_spike(self) -> bool:
        return getattr(self, "spike_fn", None) is not None

    def _config_from_attributes(self) -> dict[str, Any]:
        """Configuration of an object unpickled from sinabs 3.x (no ``_config`` stored)."""
        config: dict[str, Any] = {}
        for cls in type(self).__mro__:
            init = cls.__dict__.get("__init__")
            if init is None or cls in (StatefulLayer, nn.Module):
                continue
            for name, param in inspect.signature(init).parameters.items():
                if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL) or name == "self":
                    continue
                if name not in config:
                    default = None if param.default is param.empty else param.default
                    config[name] = getattr(self, name, default)
        return config

    def extra_repr(self) -> str:
        config = self._param_dict
        parts = [
            f"{key}={_format_value(config[key])}"
            for key in self._repr_keys
            if config.get(key) is not None
        ]
        parts += [f"{key}=True" for key in self._repr_flags if config.get(key) is True]
        if self.backend != "auto":
            parts.append(f"backend={self.backend!r}")
        return ", ".join(parts)

    def _graph_tensors(self) -> Iterator[torch.Tensor]:
        """Tensors that may hold autograd history: states, recordings, firing rate."""
        yield from (buf for _, buf in self._states())
        yield from getattr(self, "recordings", {}).values()
        rate = self.__dict__.get("firing_rate")
        if isinstance(rate, torch.Tensor):
            yield rate

    def __deepcopy__(self, memo: dict[int, Any]) -> StatefulLayer:
        # Standard deep copy (parameters, flags, training mode, submodules), except
        # that tensors carrying autograd history are copied detached.
        for tensor in self._graph_tensors():
            if tensor.grad_fn is not None or not tensor.is_leaf:
                detached = tensor.detach().clone()
                memo[id(tensor)] = (
                    detached.as_subclass(type(tensor))
                    if type(tensor) is not torch.Tensor
                    else detached
                )
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            new.__dict__[key] = copy.deepcopy(value, memo)
        return new

    def __getstate__(self) -> dict[str, Any]:
        # States and recordings may carry autograd history; pickle their values only.
        state = dict(self.__dict__)
        state[_STATES] = {k: v.detach() for k, v in state[_STATES].items()}
        state["_buffers"] = {
            k: (v.detach() if v is not None else v) for k, v in state["_buffers"].items()
        }
        if "recordings" in state:
            state["recordings"] = {k: v.detach() for k, v in state["recordings"].items()}
        if isinstance(state.get("firing_rate"), torch.Tensor):
            state["firing_rate"] = state["firing_rate"].detach()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if _STATES not in state:
            # pickled by sinabs 3.x (or an earlier version of this package): the
            # states were the layer's buffers
            state = dict(state)
            buffers = dict(state.get("_buffers", {}))
            state[_STATES] = {k: v for k, v in buffers.items() if isinstance(v, torch.Tensor)}
            state["_buffers"] = {k: v for k, v in buffers.items() if k not in state[_STATES]}
            for name in state[_STATES]:
                state.pop(name, None)  # e.g. a plain ``i_syn = None`` attribute
        super().__setstate__(state)
        if "spike_fn" in self.__dict__ and "_spike_spec" not in self.__dict__:
            spike_fn = self.__dict__["spike_fn"]
            self.__dict__["_spike_spec"] = None if spike_fn is None else resolve_spike_fn(spike_fn)
        if "_config" not in self.__dict__:  # pickled by sinabs 3.x
            self.__dict__["_config"] = self._config_from_attributes()
