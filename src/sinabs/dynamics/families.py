"""The neuron families and their options, declared once as data.

Every backend derives its layout from this module: the parameter table's rows and
their order, the kernel states, the static configuration the kernels take, and the codes
of the families, spike functions, resets and surrogate gradients. The Python side reads
the declarations directly; the C kernel gets them as a header that the build writes
from :func:`c_header` (``setup.py``), and the Triton kernel reads them as module
constants. Adding a parameter row, a state or an option is an edit here (and in the
kernels' math that uses it); no other file spells out row offsets, argument counts or
codes.

This module imports nothing but the standard library: the build runs it before torch
or sinabs can be imported.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "CONFIG_FIELDS",
    "FAMILIES",
    "FAMILY_NAMES",
    "N_FCONFIG",
    "N_KERNEL_CONSTS",
    "PARAM_ROWS",
    "ROW",
    "ROWS",
    "STATES",
    "SURROGATE_FIELDS",
    "Family",
    "FamilyDecl",
    "Reset",
    "Row",
    "Spike",
    "State",
    "Surrogate",
    "c_header",
]


class Family(enum.IntEnum):
    """The dynamics families: a neuron type is a configuration of one of them."""

    #: leaky integration, the output is the membrane potential (ExpLeak)
    LEAKY = 0
    #: integrate, fire and reset (IAF, LIF)
    SPIKING = 1
    #: the spiking family with a threshold that adapts (ALIF)
    ADAPTIVE = 2
    # (no colon in the #: comments: napoleon reads the text before one as a type)
    #: Izhikevich's 2003 model; v and the recovery u, two half steps of v, hard reset
    IZHIKEVICH = 3
    #: AdEx (Brette and Gerstner 2005); v and the adaptation w (the kernels' u), hard reset
    ADEX = 4
    #: resonate-and-fire (Izhikevich 2001), plain form; z_re, z_im in v, u; hard reset
    RESONATE = 5
    #: balanced resonate-and-fire (Higuchi et al. 2024); z_re, z_im, q in v, u, b
    RESONATE_BALANCED = 6


class Spike(enum.IntEnum):
    """The built-in spike functions."""

    NONE = 0
    SINGLE = 1  # SingleSpike
    MULTI = 2  # MultiSpike (and MaxSpike without a cap)
    MAX = 3  # MaxSpike(n)


class Reset(enum.IntEnum):
    """The built-in reset mechanisms."""

    NONE = 0
    SUBTRACT = 1  # MembraneSubtract
    TO_VALUE = 2  # MembraneReset


class Surrogate(enum.IntEnum):
    """The built-in surrogate gradients the fused kernels run."""

    HEAVISIDE = 0
    SINGLE_EXPONENTIAL = 1
    PERIODIC_EXPONENTIAL = 2
    GAUSSIAN = 3
    MULTI_GAUSSIAN = 4
    # snnTorch's (sinabs.activation.surrogate_gradient_fn, second half)
    ATAN = 5
    FAST_SIGMOID = 6
    SIGMOID = 7
    TRIANGLE = 8
    STRAIGHT_THROUGH = 9


#: the fields of each surrogate's class that configure it, in the order the kernels
#: take them (``KernelConfig.fconfig`` after the spike cap)
SURROGATE_FIELDS: dict[Surrogate, tuple[str, ...]] = {
    Surrogate.HEAVISIDE: ("window",),
    Surrogate.SINGLE_EXPONENTIAL: ("grad_width", "grad_scale"),
    Surrogate.PERIODIC_EXPONENTIAL: ("grad_width", "grad_scale"),
    Surrogate.GAUSSIAN: ("mu", "sigma", "grad_scale"),
    Surrogate.MULTI_GAUSSIAN: ("mu", "sigma", "h", "s", "grad_scale"),
    Surrogate.ATAN: ("alpha",),
    Surrogate.FAST_SIGMOID: ("slope",),
    Surrogate.SIGMOID: ("slope",),
    Surrogate.TRIANGLE: ("width",),
    Surrogate.STRAIGHT_THROUGH: (),
}
#: The number of floats in the static configuration (the spike cap, then the
#: surrogate's fields).
N_FCONFIG = 1 + max(len(fields) for fields in SURROGATE_FIELDS.values())
#: The number of constants the C kernel reads after the spike cap (a surrogate's
#: fields and the values derived from them on the host,
#: ``fused.config.kernel_constants``).
N_KERNEL_CONSTS = 12


@dataclass(frozen=True)
class Row:
    """A row of the parameter table: one value per neuron.

    Attributes:
        name: the row's name (``PARAM_ROWS``).
        unused: its value where a configuration does not use it (an exact identity:
            no leak is ``alpha_mem = 1``).
        pad: its value in the lanes the C kernel pads a slot with (harmless numbers:
            nothing divides by zero there; those lanes are never stored).
        doc: what it holds.
    """

    name: str
    unused: float
    pad: float
    doc: str


#: the parameter table of the fused kernels, one ``(N,)`` row each, in this order
ROWS: tuple[Row, ...] = (
    Row("alpha_mem", 1.0, 0.5, "membrane decay factor (1 without leak)"),
    Row("alpha_syn", 0.0, 0.5, "synaptic decay factor"),
    Row("threshold", 0.0, 1.0, "spike threshold (ALIF: its base b0)"),
    Row("min_v_mem", 0.0, 0.0, "lower bound of the membrane potential"),
    Row("alpha_adapt", 0.0, 0.5, "decay factor of the adaptation b (ALIF)"),
    Row("adapt_scale", 0.0, 0.0, "weight of b in the threshold (ALIF)"),
    Row("reset_amount", 0.0, 0.0, "MembraneSubtract's subtract_value or MembraneReset's value"),
    # --- Izhikevich (models.IzhikevichParams); the threshold row holds v_peak
    Row("izh_a", 0.0, 0.0, "Izhikevich: time scale a of the recovery u"),
    Row("izh_b", 0.0, 0.0, "Izhikevich: sensitivity b of u to v"),
    Row("izh_c", 0.0, 0.0, "Izhikevich: reset value c of v"),
    Row("izh_d", 0.0, 0.0, "Izhikevich: increment d of u at a spike"),
    Row(
        "dt",
        1.0,
        1.0,
        "the time step of the models that integrate an ODE (Izhikevich, AdEx, resonate-and-fire)",
    ),
    # --- AdEx (models.AdExParams); the threshold row holds V_peak; pads of 1 where the
    # step divides
    Row("adex_C", 1.0, 1.0, "AdEx: membrane capacitance C"),
    Row("adex_g_L", 0.0, 0.0, "AdEx: leak conductance g_L"),
    Row("adex_E_L", 0.0, 0.0, "AdEx: leak reversal potential E_L"),
    Row("adex_V_T", 0.0, 0.0, "AdEx: threshold potential V_T of the exponential"),
    Row("adex_Delta_T", 1.0, 1.0, "AdEx: slope factor Delta_T"),
    Row("adex_tau_w", 1.0, 1.0, "AdEx: time constant tau_w of the adaptation w"),
    Row("adex_a", 0.0, 0.0, "AdEx: subthreshold adaptation a"),
    Row("adex_b", 0.0, 0.0, "AdEx: increment b of w at a spike"),
    Row("adex_V_r", 0.0, 0.0, "AdEx: reset potential V_r"),
    # --- resonate-and-fire (models.ResonateParams); the threshold row holds its
    # threshold, the dt row its time step
    Row("rf_omega", 0.0, 0.0, "resonate-and-fire: angular frequency omega"),
    Row(
        "rf_damping",
        0.0,
        0.0,
        "resonate-and-fire: damping b (balanced: p(omega) - b_offset, before q)",
    ),
    Row("rf_x_reset", 0.0, 0.0, "resonate-and-fire: reset value of z_re (plain form)"),
    Row("rf_y_reset", 0.0, 0.0, "resonate-and-fire: reset value of z_im (plain form)"),
    Row("rf_gamma", 0.0, 0.0, "resonate-and-fire: decay of q per step (balanced form)"),
)
#: the names of :data:`ROWS`, in order
PARAM_ROWS: tuple[str, ...] = tuple(row.name for row in ROWS)
#: the index of each row in the parameter table, by name
ROW: dict[str, int] = {name: k for k, name in enumerate(PARAM_ROWS)}


@dataclass(frozen=True)
class State:
    """A state the kernels carry from step to step.

    Attributes:
        name: the layer's name for it.
        short: its name in the kernels' argument lists (``v0``, ``rec_v``, ``g_v``, ...).
    """

    name: str
    short: str


#: the kernel states, in the order of the kernels' arguments; a configuration without
#: one passes an empty tensor
STATES: tuple[State, ...] = (
    State("v_mem", "v"),
    State("i_syn", "i"),
    State("b", "b"),
    State("u", "u"),  # Izhikevich's recovery variable (AdEx's w)
)


@dataclass(frozen=True)
class FamilyDecl:
    """What a family is made of.

    Attributes:
        family: its code.
        states: the kernel states it carries (names of :data:`STATES`; ``i_syn`` only
            with a synaptic current).
        rows: the parameter rows it reads.
        spikes: whether it has a spike function, a reset and a surrogate gradient.
        derived_states: the layer's states that are functions of the others (the
            family's adapter computes them from the kernel's results, once).
        layer_names: the layer's name for each of ``states``, in the same order, where
            they differ (empty, the same names). A model whose states are not v, i, b
            or u by meaning carries them in those kernel states (an AdEx ``w`` in
            ``u``), so that a new model adds no kernel state, and no entry point,
            wrapper or operator schema changes.
    """

    family: Family
    states: tuple[str, ...]
    rows: tuple[str, ...]
    spikes: bool
    derived_states: tuple[str, ...] = ()
    layer_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        known = {state.name for state in STATES}
        if not set(self.states) <= known:
            raise ValueError(f"{self.family.name}: kernel states {self.states} not in {known}")
        if self.layer_names and len(self.layer_names) != len(self.states):
            raise ValueError(f"{self.family.name}: one layer name per kernel state")

    def layer_name(self, state: str) -> str:
        """The layer's name of kernel state ``state``."""
        if not self.layer_names:
            return state
        return self.layer_names[self.states.index(state)]


_LEAKY_ROWS = ("alpha_mem", "alpha_syn", "min_v_mem")
_SPIKING_ROWS = (*_LEAKY_ROWS, "threshold", "reset_amount")

#: the declaration of each family
FAMILIES: dict[Family, FamilyDecl] = {
    Family.LEAKY: FamilyDecl(Family.LEAKY, ("v_mem", "i_syn"), _LEAKY_ROWS, spikes=False),
    Family.SPIKING: FamilyDecl(Family.SPIKING, ("v_mem", "i_syn"), _SPIKING_ROWS, spikes=True),
    Family.ADAPTIVE: FamilyDecl(
        Family.ADAPTIVE,
        ("v_mem", "i_syn", "b"),
        (*_SPIKING_ROWS, "alpha_adapt", "adapt_scale"),
        spikes=True,
        derived_states=("spike_threshold",),
    ),
    # --- Izhikevich
    Family.IZHIKEVICH: FamilyDecl(
        Family.IZHIKEVICH,
        ("v_mem", "u"),
        ("threshold", "izh_a", "izh_b", "izh_c", "izh_d", "dt"),
        spikes=True,
    ),
    # --- AdEx: its w rides in the kernels' u
    Family.ADEX: FamilyDecl(
        Family.ADEX,
        ("v_mem", "u"),
        (
            "threshold",
            "adex_C",
            "adex_g_L",
            "adex_E_L",
            "adex_V_T",
            "adex_Delta_T",
            "adex_tau_w",
            "adex_a",
            "adex_b",
            "adex_V_r",
            "dt",
        ),
        spikes=True,
        layer_names=("v_mem", "w"),
    ),
    # --- resonate-and-fire: its states carried in the kernel states v, u (and b)
    Family.RESONATE: FamilyDecl(
        Family.RESONATE,
        ("v_mem", "u"),
        ("threshold", "dt", "rf_omega", "rf_damping", "rf_x_reset", "rf_y_reset"),
        spikes=True,
        layer_names=("z_re", "z_im"),
    ),
    Family.RESONATE_BALANCED: FamilyDecl(
        Family.RESONATE_BALANCED,
        ("v_mem", "u", "b"),
        ("threshold", "dt", "rf_omega", "rf_damping", "rf_gamma"),
        spikes=True,
        layer_names=("z_re", "z_im", "q"),
    ),
}
#: families by the name the layers use
FAMILY_NAMES: dict[str, Family] = {f.name.lower(): f for f in Family}

#: the static configuration of a fused call, the ints the kernels take, in order
#: (with ``train_threshold`` the threshold row also receives its gradient through the
#: spike function, -surrogate per spike gradient; it comes last, so that the older
#: fields keep their indices)
CONFIG_FIELDS: tuple[str, ...] = (
    "family",
    "has_syn",
    "has_leak",
    "norm_input",
    "has_min",
    "spike",
    "reset",
    "reset_by_amount",
    "surrogate",
    "record",
    "train_threshold",
)


def _enum_lines(prefix: str, members: list[tuple[str, int]], count: str, gaps: bool = False) -> str:
    """A C enum of ``members`` (name, value) with the count after them; the values
    must be 0, 1, ... (the count is the last one plus one), or increasing from 0 with
    ``gaps`` (the family codes: a code taken on another branch stays free)."""
    values = [value for _, value in members]
    if gaps:
        if values[:1] != [0] or values != sorted(set(values)):
            raise ValueError(f"{prefix} codes must increase from 0: {members}")
    elif values != list(range(len(members))):
        raise ValueError(f"{prefix} codes must be 0, 1, ...: {members}")
    names = ", ".join(f"{prefix}{name.upper()} = {value}" for name, value in members)
    return f"enum {{ {names}, {count} = {values[-1] + 1} }};\n"


def _family_masks() -> str:
    """``FAMILIES_DECLARED`` (a bit per family code) and, per kernel state,
    ``FAMILIES_WITH_<short>``: the families that carry it (a synaptic current only
    with ``has_syn``). The C kernel sizes its scratch and maps the entry points'
    pointers from these rather than from comparisons with family codes."""
    lines = [f"#define FAMILIES_DECLARED {sum(1 << int(f) for f in FAMILIES):#x}u\n"]
    for state in STATES:
        mask = sum(1 << int(f) for f, decl in FAMILIES.items() if state.name in decl.states)
        lines.append(f"#define FAMILIES_WITH_{state.short.upper()} {mask:#x}u\n")
    return "".join(lines)


def _indexed(names: list[str]) -> list[tuple[str, int]]:
    return [(name, k) for k, name in enumerate(names)]


def _coded(codes: type[enum.IntEnum]) -> list[tuple[str, int]]:
    return [(member.name, int(member)) for member in codes]


def c_header() -> str:
    """The C header with the layout and codes above (``csrc/layout.h``, written by the
    build): row, state and configuration indices, the codes of the families and
    options, the number of kernel constants and the rows' padding values."""
    lines = [
        "/* Written by the build from src/sinabs/dynamics/families.py: do not edit. */\n",
        "#ifndef SINABS_LAYOUT_H\n#define SINABS_LAYOUT_H\n",
        _enum_lines("ROW_", _indexed(list(PARAM_ROWS)), "N_ROWS"),
        _enum_lines("STATE_", _indexed([s.short for s in STATES]), "N_STATES"),
        _enum_lines("CFG_", _indexed(list(CONFIG_FIELDS)), "N_CONFIG"),
        _enum_lines("FAMILY_", _coded(Family), "N_FAMILIES", gaps=True),
        _family_masks(),
        _enum_lines("SPIKE_", _coded(Spike), "N_SPIKES"),
        _enum_lines("RESET_", _coded(Reset), "N_RESETS"),
        _enum_lines("SG_", _coded(Surrogate), "N_SURROGATES"),
        f"#define N_SG {N_KERNEL_CONSTS}\n",
        # (unused attribute: not every translation unit reads the pads)
        "static const double ROW_PAD[N_ROWS] __attribute__((unused)) = {"
        + ", ".join(repr(float(row.pad)) for row in ROWS)
        + "};\n",
        "#endif\n",
    ]
    return "".join(lines)
