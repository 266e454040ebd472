"""The family declarations (sinabs.dynamics.families): what they accept and what the
backends derive from them."""

import pytest

from sinabs.dynamics.families import (
    CONFIG_FIELDS,
    FAMILIES,
    N_FCONFIG,
    STATES,
    Family,
    FamilyDecl,
)
from sinabs.dynamics.fused.config import KernelConfig


def test_every_family_carries_known_kernel_states():
    known = {state.name for state in STATES}
    for decl in FAMILIES.values():
        assert set(decl.states) <= known
        assert decl.layer_names == () or len(decl.layer_names) == len(decl.states)


def test_a_family_with_an_unknown_kernel_state_is_refused():
    with pytest.raises(ValueError, match="kernel states"):
        FamilyDecl(Family.LEAKY, ("v_mem", "w"), ("alpha_mem",), spikes=False)


def test_layer_names_must_match_the_kernel_states():
    with pytest.raises(ValueError, match="one layer name per kernel state"):
        FamilyDecl(Family.LEAKY, ("v_mem", "u"), (), spikes=False, layer_names=("v_mem",))


def test_layer_name_maps_a_kernel_state_to_the_layers_name():
    decl = FamilyDecl(Family.LEAKY, ("v_mem", "u"), (), spikes=False, layer_names=("v", "w"))
    assert decl.layer_name("v_mem") == "v"
    assert decl.layer_name("u") == "w"
    plain = FAMILIES[Family.SPIKING]
    assert plain.layer_name("v_mem") == "v_mem"


def test_kernel_config_reads_the_layer_names_of_its_family():
    for code, decl in FAMILIES.items():
        cfg = KernelConfig.from_lists(
            [int(code)] + [0] * (len(CONFIG_FIELDS) - 1), [-1.0] + [0.0] * (N_FCONFIG - 1)
        )
        for state in decl.states:
            assert cfg.layer_name(state) == decl.layer_name(state)


def test_family_codes_may_skip_one_and_the_header_counts_past_it():
    from sinabs.dynamics.families import _enum_lines, c_header

    with pytest.raises(ValueError, match="0, 1"):
        _enum_lines("X_", [("a", 0), ("b", 2)], "N_X")
    assert "N_X = 3" in _enum_lines("X_", [("a", 0), ("b", 2)], "N_X", gaps=True)
    with pytest.raises(ValueError, match="increase from 0"):
        _enum_lines("X_", [("a", 1), ("b", 0)], "N_X", gaps=True)
    assert f"N_FAMILIES = {max(Family) + 1}" in c_header()


def test_the_header_says_which_families_carry_each_kernel_state():
    from sinabs.dynamics.families import c_header

    header = c_header()
    for state in STATES:
        mask = sum(1 << int(f) for f, decl in FAMILIES.items() if state.name in decl.states)
        assert f"#define FAMILIES_WITH_{state.short.upper()} {mask:#x}u" in header
    assert f"#define FAMILIES_DECLARED {sum(1 << int(f) for f in FAMILIES):#x}u" in header


def test_resonate_and_fire_rides_in_the_kernel_states_it_names():
    plain = FAMILIES[Family.RESONATE]
    balanced = FAMILIES[Family.RESONATE_BALANCED]
    assert [plain.layer_name(s) for s in plain.states] == ["z_re", "z_im"]
    assert dict(zip(balanced.states, balanced.layer_names, strict=True)) == {
        "v_mem": "z_re",
        "u": "z_im",
        "b": "q",
    }


def test_check_sets_only_the_rows_a_family_declares() -> None:
    # from_checked takes every other row as its cached unused value
    import torch

    import sinabs.layers as sl
    from sinabs.dynamics.families import ROWS
    from sinabs.dynamics.fused.config import check

    layers = [
        sl.ExpLeak(tau_mem=5.0, min_v_mem=-1.0),
        sl.LIF(tau_mem=5.0, tau_syn=3.0, spike_fn=None, norm_input=False),
        sl.LIF(tau_mem=5.0, tau_syn=3.0, min_v_mem=-1.0, train_threshold=True),
        sl.IAF(),
        sl.ALIF(tau_mem=5.0, tau_adapt=20.0),
        sl.Izhikevich.from_preset("RS"),
        sl.AdEx(),
        sl.ResonateAndFire(omega=5.0),
        sl.ResonateAndFire(omega=5.0, balanced=True),
    ]
    seen = set()
    for layer in layers:
        x = torch.rand(2, 3, 4)
        checked = check(layer._family, x, layer._dynamics_params(x.dtype))
        assert not isinstance(checked, str), checked
        rows, cfg = checked
        declared = set(FAMILIES[cfg.family].rows)
        for row in ROWS:
            if row.name not in declared:
                assert rows[row.name] is row.unused, (layer, row.name)
        seen.add(cfg.family)
    assert seen == set(FAMILIES)
