"""Each optimiser restates its update formula; the schedules give their textbook values."""

import math

import numpy as np
import pytest

from digitnet import optim
from digitnet.optim import PIECE, Adam, GradientDescent, Momentum, clip_max_norm, pieces, scheduled_learning_rate


def parameters():
    W, dW = np.array([1.0, -2.0, 3.0]), np.array([0.5, 0.5, -1.0])
    b, db = np.array([0.1]), np.array([0.2])
    return [(W, dW, True), (b, db, False)]


def test_gradient_descent():
    params = parameters()
    GradientDescent(params, learning_rate=0.1).step()
    assert params[0][0] == pytest.approx([1 - 0.05, -2 - 0.05, 3 + 0.1])
    assert params[1][0] == pytest.approx([0.1 - 0.02])


def test_weight_decay_applies_to_weights_not_biases():
    params = parameters()
    GradientDescent(params, learning_rate=0.1, weight_decay=0.5).step()
    W0 = np.array([1.0, -2.0, 3.0])
    assert params[0][0] == pytest.approx(W0 - 0.1 * (np.array([0.5, 0.5, -1.0]) + 0.5 * W0))
    assert params[1][0] == pytest.approx([0.1 - 0.02])  # b: no decay


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_two_steps(nesterov):
    params = parameters()
    W, dW = params[0][0], params[0][1]
    W0, g = W.copy(), dW.copy()
    opt = Momentum(params, learning_rate=0.1, momentum=0.9, nesterov=nesterov)
    opt.step()
    v1 = g  # v = 0.9 * 0 + g
    W1 = W0 - 0.1 * ((g + 0.9 * v1) if nesterov else v1)
    assert W == pytest.approx(W1)
    opt.step()  # same gradient again
    v2 = 0.9 * v1 + g
    assert W == pytest.approx(W1 - 0.1 * ((g + 0.9 * v2) if nesterov else v2))


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_with_weight_decay(nesterov):
    params = parameters()
    W, dW = params[0][0], params[0][1]
    W0, grad = W.copy(), dW.copy()
    Momentum(params, learning_rate=0.1, momentum=0.9, nesterov=nesterov, weight_decay=0.5).step()
    g = grad + 0.5 * W0  # weight decay joins the gradient of W (not of b)
    v = g
    assert W == pytest.approx(W0 - 0.1 * ((g + 0.9 * v) if nesterov else v))
    assert dW == pytest.approx(grad)  # the gradient itself is left as it was
    assert params[1][0] == pytest.approx([0.1 - 0.1 * (0.2 + 0.9 * 0.2) if nesterov else 0.1 - 0.1 * 0.2])


def test_adam_two_steps():
    params = parameters()
    W, dW = params[0][0], params[0][1]
    W0, g = W.copy(), dW.copy()
    opt = Adam(params, learning_rate=0.01, beta1=0.9, beta2=0.999, eps=1e-8)
    expected = W0.copy()
    m = v = np.zeros(3)
    for t in (1, 2):
        opt.step()
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g**2
        m_hat, v_hat = m / (1 - 0.9**t), v / (1 - 0.999**t)
        expected = expected - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
        assert W == pytest.approx(expected)
    assert opt.t == 2


def test_adam_with_weight_decay():
    params = parameters()
    W = params[0][0]
    W0, grad = W.copy(), params[0][1].copy()
    Adam(params, learning_rate=0.01, weight_decay=0.5).step()
    g = grad + 0.5 * W0
    m_hat, v_hat = 0.1 * g / 0.1, 0.001 * g**2 / 0.001
    assert W == pytest.approx(W0 - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8))


OPTIMISERS = {
    "gd": lambda params: GradientDescent(params, 0.1),
    "momentum": lambda params: Momentum(params, 0.1, 0.9),
    "nesterov": lambda params: Momentum(params, 0.1, 0.9, nesterov=True),
    "adam": lambda params: Adam(params, 0.01),
}


@pytest.mark.parametrize("name", sorted(OPTIMISERS))
def test_optimiser_state_round_trip(name):
    # a steps twice; b is made fresh, given a's weights and state after the first step, then steps once
    a_params, b_params, cold_params = parameters(), parameters(), parameters()
    a, b, cold = (OPTIMISERS[name](p) for p in (a_params, b_params, cold_params))
    a.step()
    state = a.state_dict()
    for (value, _, _), (b_value, _, _), (cold_value, _, _) in zip(a_params, b_params, cold_params, strict=True):
        b_value[:] = cold_value[:] = value
    b.load_state_dict(state)
    a.step()  # moves a's buffers on: the state taken above must be a copy, not a view of them
    b.step()
    cold.step()
    for (value, _, _), (b_value, _, _), (cold_value, _, _) in zip(a_params, b_params, cold_params, strict=True):
        assert np.array_equal(b_value, value)
        if name != "gd":  # the state matters: without it the second step goes elsewhere
            assert not np.array_equal(cold_value, value)
    assert all(np.array_equal(state[k], b.state_dict()[k]) for k in state) is (name == "gd")


def test_pieces_are_views_that_cover_each_array_once():
    a, b = np.zeros((3, 10)), np.zeros((3, 10))
    split = pieces(a, b, size=8)
    assert [len(x) for x, _ in split] == [8, 8, 8, 6]
    for i, (x, y) in enumerate(split):
        x += i + 1
        y -= i + 1
    assert np.array_equal(a.reshape(-1), np.repeat([1.0, 2, 3, 4], [8, 8, 8, 6]))
    assert np.array_equal(b, -a)
    column_major = np.asfortranarray(np.zeros((3, 10)))
    whole = pieces(column_major, np.zeros((3, 10)), size=8)
    assert len(whole) == 1 and whole[0][0] is column_major  # not contiguous row by row: one piece, the array itself


def large_parameters(rng):
    W, dW = rng.standard_normal((3, PIECE)), rng.standard_normal((3, PIECE))  # three pieces
    b, db = rng.standard_normal(PIECE + 7), rng.standard_normal(PIECE + 7)  # a whole piece and a short one
    return [(W, dW, True), (b, db, False)]


@pytest.mark.parametrize("name", sorted(OPTIMISERS))
def test_an_update_in_pieces_is_the_update_of_whole_arrays(name, monkeypatch):
    rng = np.random.default_rng(0)
    in_pieces = large_parameters(rng)
    whole = [(value.copy(), grad.copy(), decays) for value, grad, decays in in_pieces]
    a = OPTIMISERS[name](in_pieces)
    monkeypatch.setattr(optim, "pieces", lambda *arrays: [arrays])  # every parameter one piece: its whole arrays
    b = OPTIMISERS[name](whole)
    assert (len(a.pieces), len(b.pieces)) == (5, 2)
    for optimizer in a, b:
        optimizer.weight_decay = 0.01
        for _ in range(3):
            optimizer.step()
    for (value, _, _), (expected, _, _) in zip(in_pieces, whole, strict=True):
        assert np.array_equal(value, expected)  # elementwise, so to the bit


def test_schedules():
    assert scheduled_learning_rate(0.1, "constant", 7.5, 10) == 0.1
    assert scheduled_learning_rate(0.1, "step", 9.9, 30, step_every=10, step_gamma=0.5) == pytest.approx(0.1)
    assert scheduled_learning_rate(0.1, "step", 10, 30, step_every=10, step_gamma=0.5) == pytest.approx(0.05)
    assert scheduled_learning_rate(0.1, "step", 25, 30, step_every=10, step_gamma=0.5) == pytest.approx(0.025)
    assert scheduled_learning_rate(0.1, "cosine", 0, 10) == pytest.approx(0.1)
    assert scheduled_learning_rate(0.1, "cosine", 5, 10) == pytest.approx(0.05)
    assert scheduled_learning_rate(0.1, "cosine", 2.5, 10) == pytest.approx(0.05 * (1 + math.cos(math.pi / 4)))
    assert scheduled_learning_rate(0.1, "cosine", 10, 10) == pytest.approx(0.0)


def test_warmup_rises_linearly_then_follows_the_schedule():
    assert scheduled_learning_rate(0.1, "cosine", 0, 10, warmup_epochs=2) == 0.0
    assert scheduled_learning_rate(0.1, "constant", 0.5, 10, warmup_epochs=2) == pytest.approx(0.025)
    assert scheduled_learning_rate(0.1, "cosine", 1, 10, warmup_epochs=2) == pytest.approx(
        0.5 * 0.05 * (1 + math.cos(math.pi / 10))
    )
    assert scheduled_learning_rate(0.1, "cosine", 5, 10, warmup_epochs=2) == pytest.approx(0.05)  # warm-up over


def test_max_norm_shrinks_long_columns_only():
    W = np.array([[3.0, 0.3], [4.0, 0.4]])  # columns of length 5 and 0.5
    clip_max_norm(W, 2.0)
    assert W[:, 0] == pytest.approx([1.2, 1.6])  # (3, 4) scaled to length 2, direction kept
    assert W[:, 1] == pytest.approx([0.3, 0.4])  # already shorter than 2: untouched
