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
