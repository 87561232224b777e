"""dlbook.perceptron のテスト。"""

import numpy as np
import pytest

from dlbook.perceptron import (
    GATE_INPUTS,
    GATE_TARGETS,
    train_perceptron,
    xor_two_layer,
)


@pytest.mark.parametrize("gate", ["AND", "OR", "NAND"])
def test_learns_linearly_separable_gates(gate: str) -> None:
    p = train_perceptron(GATE_INPUTS, GATE_TARGETS[gate])
    assert p.converged
    np.testing.assert_array_equal(p.predict(GATE_INPUTS), GATE_TARGETS[gate])


def test_xor_does_not_converge() -> None:
    p = train_perceptron(GATE_INPUTS, GATE_TARGETS["XOR"], max_epochs=50)
    assert not p.converged
    assert len(p.history) == 50
    assert min(p.history) > 0


def test_two_layer_xor() -> None:
    gates = {
        g: train_perceptron(GATE_INPUTS, GATE_TARGETS[g])
        for g in ("NAND", "OR", "AND")
    }
    out = xor_two_layer(gates["NAND"], gates["OR"], gates["AND"], GATE_INPUTS)
    np.testing.assert_array_equal(out, GATE_TARGETS["XOR"])


def test_bad_shape() -> None:
    with pytest.raises(ValueError, match="t の形"):
        train_perceptron(GATE_INPUTS, np.zeros(3))
