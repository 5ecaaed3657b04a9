"""Data-parallel training: the copies' summed gradients are the whole batch's, and a run keeps its results."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from digitnet import PRESETS, Network, Trainer
from digitnet.config import TrainConfig
from digitnet.errors import ConfigError
from digitnet.layers import BatchNorm
from digitnet.network import pixels_to_inputs
from digitnet.parallel import DataParallel

RNG = np.random.default_rng(7)
PIXELS = (RNG.random((37, 36)) ** 3 * 256).astype(np.uint8)  # mostly dark, like digits; 37 rows split unevenly
LABELS = RNG.integers(0, 4, len(PIXELS))


def gradients(network: Network) -> list[np.ndarray]:
    return [grad.copy() for _, grad, _ in network.parameters()]


def batch_norm(network: Network) -> BatchNorm:
    return next(layer for layer in network.layers if isinstance(layer, BatchNorm))


def split(network: Network, copies: int = 2) -> DataParallel:
    return DataParallel(network, [np.random.default_rng(i) for i in range(copies)])


@pytest.mark.parametrize("sizes", [(36, 9, 7, 4), ("6x6x1", "conv3x3x3", "pool", 5, 4)])
@pytest.mark.parametrize("rows", [None, 5, 10])  # one block per thread; blocks of 5 (the last of 2); of 10
@pytest.mark.parametrize("pixels", [False, True])  # inputs already scaled, or uint8 pixels scaled by each thread
def test_the_parts_gradients_add_up_to_the_whole_batchs(sizes, rows, pixels):
    network = Network(sizes, seed=1, dtype=np.float64)
    inputs = pixels_to_inputs(PIXELS, np.float64)
    loss, correct = network.train_step(inputs, LABELS)
    expected = gradients(network)
    for _, grad, _ in network.parameters():
        grad[...] = np.nan  # the data-parallel step must write every gradient
    parallel = split(network)
    assert (loss, correct) == pytest.approx(parallel.train_step(PIXELS if pixels else inputs, LABELS, rows), rel=1e-12)
    for got, want in zip(gradients(network), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


def test_batch_norm_normalises_each_part_and_the_running_statistics_are_their_mean():
    sizes = (36, 8, "bn", 4)
    inputs = pixels_to_inputs(PIXELS, np.float64)
    halves = [slice(0, 19), slice(19, None)]  # one block per thread: 19 and 18 rows
    parts = []
    for rows in halves:  # each part through a network of its own, as a copy sees it
        alone = Network(sizes, seed=1, dtype=np.float64)
        alone.train_step(inputs[rows], LABELS[rows])
        parts.append((len(inputs[rows]), gradients(alone), batch_norm(alone)))
    network = Network(sizes, seed=1, dtype=np.float64)
    split(network).train_step(inputs, LABELS)
    for i, got in enumerate(gradients(network)):
        want = sum(m / len(inputs) * grads[i] for m, grads, _ in parts)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
    for name in ("running_mean", "running_var"):
        want = np.mean([getattr(bn, name) for _, _, bn in parts], axis=0)
        np.testing.assert_allclose(getattr(batch_norm(network), name), want, rtol=1e-12)


def test_each_copy_draws_its_own_dropout_masks():
    network = Network((36, 64, 4), seed=1, dropout=0.5)
    parallel = split(network)
    parallel.train_step(pixels_to_inputs(np.tile(PIXELS[:1], (2, 1))), LABELS[:2])  # the same row in both halves
    first, second = (twin.layers[2].scaled_mask for twin in parallel.copies)
    assert not np.array_equal(first, second)


def test_the_notebook_recipe_data_parallel_ends_where_it_does_on_the_whole_batch():
    """The seed preset in blocks of uint8 rows on two threads: the same weights to float32 rounding."""
    pixels = (np.random.default_rng(3).random((2500, 784)) ** 4 * 256).astype(np.uint8)
    labels = np.arange(2500) % 10
    ends = {}
    for copies in (1, 2):
        config = PRESETS["seed"].replace(epochs=30, data_parallel=copies)
        trainer = Trainer(Network(config.sizes, seed=0), config, pixels, labels)
        if copies > 1:  # the blocked way, really taken: the pixels stay uint8, read a block at a time
            assert trainer.parallel is not None and trainer.inputs.dtype == np.uint8
        trainer.run()
        ends[copies] = trainer.network.state_dict(), trainer.history[-1].train_loss
    (whole, whole_loss), (blocks, blocks_loss) = ends[1], ends[2]
    assert blocks_loss == pytest.approx(whole_loss, rel=1e-5)
    for name, weights in whole.items():
        np.testing.assert_allclose(blocks[name], weights, rtol=1e-4, atol=1e-6 * np.abs(weights).max())


def test_a_checkpoint_is_refused_by_a_run_with_other_copies():
    config = TrainConfig(sizes=(36, 8, 4), epochs=1, batch_size=10, dev_size=0, data_parallel=2)
    trainer = Trainer(Network(config.sizes), config, PIXELS, LABELS)
    arrays, values = trainer.state_dict()
    for copies in (1, 3):
        other = Trainer(Network(config.sizes), config.replace(data_parallel=copies), PIXELS, LABELS)
        with pytest.raises(ConfigError, match=f"data_parallel 2 but this run asks for {copies}"):
            other.load_state_dict(arrays, values)
    one_copy = Trainer(Network(config.sizes), config.replace(data_parallel=1), PIXELS, LABELS)
    with pytest.raises(ConfigError, match="data_parallel 1 but this run asks for 2"):
        trainer.load_state_dict(*one_copy.state_dict())


def test_data_parallel_is_range_checked():
    with pytest.raises(ConfigError, match="data_parallel must be at least 1"):
        TrainConfig(data_parallel=0)


def test_a_distorted_full_batch_is_distorted_as_inputs_not_as_uint8_pixels():
    pixels = (np.random.default_rng(4).random((60, 784)) ** 4 * 256).astype(np.uint8)
    config = TrainConfig(sizes=(784, 8, 10), epochs=2, batch_size=0, dev_size=0, rotate=10.0, data_parallel=2)
    trainer = Trainer(Network(config.sizes), config, pixels, np.arange(60) % 10)
    assert trainer.inputs.dtype == np.float32 and trainer.inputs.max() <= 1
    assert trainer.run().stopped == "finished"


def test_the_distortions_between_data_parallel_steps_call_blas_on_one_thread():
    """Elastic smoothing is a matrix product; on more BLAS threads, OpenBLAS's own threads would spin on into the
    copies' step. The distortion is watched from inside: how many BLAS threads it was given."""
    config = TrainConfig(sizes=(784, 8, 10), epochs=1, batch_size=20, dev_size=0, elastic_alpha=30.0, data_parallel=2)
    rng = np.random.default_rng(5)
    trainer = Trainer(Network(config.sizes), config, rng.random((60, 784), dtype=np.float32), np.arange(60) % 10)
    threads, distort = [], trainer.distortion

    def watched(X, rng):
        threads.extend(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
        return distort(X, rng)

    trainer.distortion = watched
    with threadpool_limits(limits=2, user_api="blas"):  # two outside, whatever this machine has
        assert trainer.run().stopped == "finished"
    assert threads and set(threads) == {1}
