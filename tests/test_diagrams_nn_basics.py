"""第 4 章の概念図 (dlbook.diagrams.nn_basics) のテスト。

数値を描く図は、本文の計算例と同じ値を描いていることを ``SVG.texts`` で確かめる。
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from dlbook.activations import sigmoid
from dlbook.layers import Affine, ReLU
from dlbook.perceptron import GATE_INPUTS, GATE_TARGETS, train_perceptron

pytestmark = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz がない"
)

figs = pytest.importorskip("dlbook.diagrams.nn_basics")


def _toy_values() -> dict[str, float]:
    """本文「手で計算する例」と同じ計算。"""
    x, t = np.array([1.0, -2.0]), 1.0
    w, b = np.array([0.5, 0.25]), 0.1
    a = float(w @ x + b)
    y = float(sigmoid(a))
    delta = (y - t) * y * (1 - y)
    return {
        "x1": x[0],
        "x2": x[1],
        "w1": w[0],
        "w2": w[1],
        "b": b,
        "t": t,
        "u1": w[0] * x[0],
        "u2": w[1] * x[1],
        "a": a,
        "y": y,
        "L": 0.5 * (y - t) ** 2,
        "dL_dy": y - t,
        "dL_da": delta,
        "dL_dw1": delta * x[0],
        "dL_dw2": delta * x[1],
        "dL_db": delta,
    }


def test_computational_graph_shows_forward_values_and_gradients() -> None:
    v = _toy_values()
    svg = figs.computational_graph(v)
    text = " ".join(svg.texts)
    for key in ("y", "L", "a", "dL_dy", "dL_da", "dL_dw1", "dL_dw2"):
        assert f"{v[key]:.4f}" in text, key
    assert svg.data.startswith("<svg")


def test_perceptron_boundary_distances_match_the_learned_line() -> None:
    p = train_perceptron(GATE_INPUTS, GATE_TARGETS["AND"])
    svg = figs.perceptron_boundary(
        p.w, p.b, GATE_INPUTS, GATE_TARGETS["AND"], "AND"
    )
    dist = (GATE_INPUTS @ p.w + p.b) / np.linalg.norm(p.w)
    for d in dist:
        assert f"{d:+.2f}" in svg.texts
    assert any(f"b = {p.b:g}" in s for s in svg.texts)
    # 学習した直線は訓練点をちょうど通る (マージン 0): 距離 0 の点がある
    assert np.min(np.abs(dist)) == 0


def test_xor_network_shows_the_learned_weights() -> None:
    gates = {
        n: train_perceptron(GATE_INPUTS, GATE_TARGETS[n])
        for n in ("AND", "OR", "NAND")
    }
    svg = figs.xor_network({n: (p.w, p.b) for n, p in gates.items()})
    for n, p in gates.items():
        assert f"{n}\nb = {p.b:g}" in svg.texts
        for w in p.w:
            assert f"{w:g}" in svg.texts


def test_mlp_shapes_are_read_from_the_layers() -> None:
    rng = np.random.default_rng(0)
    layers = [
        Affine.from_init(784, 128, rng),
        ReLU(),
        Affine.from_init(128, 10, rng),
    ]
    svg = figs.mlp_shapes(layers, 5, 784)
    assert "Affine\nW (784, 128)\nb (128,)" in svg.texts
    assert "Affine\nW (128, 10)\nb (10,)" in svg.texts
    assert "スコア\n(5, 10)" in svg.texts
    assert "(5, 128)" in svg.texts


def test_variance_gain_labels_are_the_given_gains() -> None:
    svg = figs.variance_gain(
        {"sigmoid + Xavier": 0.2351, "ReLU + He": 0.998}, depth=4
    )
    assert svg.texts.count("×0.24") == 3
    assert svg.texts.count("×1.00") == 3


def test_data_split_shows_counts() -> None:
    svg = figs.data_split(1150, 287, 360)
    assert {"訓練 1,150 枚", "検証 287 枚", "テスト 360 枚"} <= set(svg.texts)


def test_symmetry_shows_the_weights() -> None:
    W1 = np.array([[0.5, 0.5, 0.5], [0.25, 0.25, 0.25]])
    svg = figs.symmetry(W1)
    assert svg.texts.count("0.5000") == 3 and svg.texts.count("0.2500") == 3


@pytest.mark.parametrize(
    "make",
    [
        figs.neuron_and_perceptron,
        figs.output_heads,
        figs.fan_out,
        figs.backprop_chain,
        figs.training_loop,
        figs.forward_vs_reverse,
    ],
)
def test_concept_diagrams_render_to_svg(make) -> None:  # type: ignore[no-untyped-def]
    svg = make()
    assert svg.data.startswith("<svg") and svg.texts


def test_gd_on_curve_marks_each_iterate() -> None:
    th = np.linspace(-2, 2, 50)
    path = np.array([-1.8, -1.1, -0.6])
    svg = figs.gd_on_curve(th, th**2, path, path**2)
    assert [s for s in svg.texts if s.startswith("θ")] == ["θ0", "θ1"]
