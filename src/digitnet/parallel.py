"""Data-parallel training: copies of the network share its weights, and each takes a part of every batch on a thread.

NumPy lets go of Python's lock inside its loops and its BLAS calls, so two threads can each run forward and
backward on part of a batch at the same time, each with a one-thread BLAS. That keeps both cores busy through the
passes BLAS does not share between its threads (im2col, batch norm, the ReLU, pooling), and a part small enough to
stay in the cache is read from memory once for both of its products.

The gradient of the batch's mean loss is the mean of the parts' gradients, each weighted by its share of the rows:

    dW = sum over the parts i of (m_i / n) * dW_i        for parts of m_i rows out of the batch's n

Each copy has its own gradients, caches, dropout generator and batch-norm statistics; the weights themselves are
the network's, read by every copy and changed only by the optimiser, between steps. Batch norm normalises each
part over its own rows (as data-parallel frameworks do without synchronised batch norm), and the network's running
statistics become the mean of the copies'.
"""

from __future__ import annotations

import copy
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .errors import ConfigError
from .layers import BatchNorm, Dropout
from .network import Network, pixels_to_inputs

BLOCK_ROWS = 1024  # rows per part of a full batch: a part's inputs and activations stay in the cache (about 3 MB)


def replica(network: Network, rng: np.random.Generator) -> Network:
    """A copy of ``network`` that reads the same weights but keeps its own gradients, caches and dropout masks."""
    twin = copy.copy(network)
    twin.rng = rng
    twin.layers = [copy.copy(layer) for layer in network.layers]
    for layer in twin.layers:
        for name in ("dW", "db", "dgamma", "dbeta", "running_mean", "running_var"):  # the copy's own; W, b shared
            if hasattr(layer, name):
                setattr(layer, name, getattr(layer, name).copy())
        if isinstance(layer, Dropout):
            layer.rng = rng
    twin.loss = copy.copy(network.loss)
    return twin


class DataParallel:
    """Forward and backward of ``network`` on a batch split across ``len(rngs)`` threads, each with its own copy.

    ``rngs`` draws each copy's dropout masks. ``train_step`` leaves the summed gradients in ``network``'s layers,
    where the optimiser reads them, exactly as ``Network.train_step`` does.
    """

    def __init__(self, network: Network, rngs: list[np.random.Generator]):
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            raise ConfigError(
                "data-parallel training needs threadpoolctl to give each thread one BLAS thread; "
                "pip install threadpoolctl, or train with data_parallel=1"
            ) from None
        self.network = network
        self.copies = [replica(network, rng) for rng in rngs]
        self.sums = [[np.empty_like(grad) for _, grad, _ in twin.parameters()] for twin in self.copies]
        self.buffers: list[np.ndarray | None] = [None] * len(self.copies)
        self.pool = ThreadPoolExecutor(len(self.copies), thread_name_prefix="digitnet-part")
        self.blas = ThreadpoolController()

    def train_step(self, X: np.ndarray, y: np.ndarray, rows: int | None = None) -> tuple[float, int]:
        """``Network.train_step`` on ``X`` (n, n_in) and ``y`` (n,), in blocks of ``rows`` rows (default: one
        block per thread); thread t takes blocks t, t + threads, … Returns the mean loss and the correct count."""
        n, threads = len(X), len(self.copies)
        rows = rows or math.ceil(n / threads)
        starts = list(range(0, n, rows))
        self._share_statistics()
        with self.one_blas_thread():
            parts = list(self.pool.map(lambda t: self._blocks(t, X, y, starts[t::threads], rows), range(threads)))
        done = [t for t, (seen, _, _) in enumerate(parts) if seen]
        for i, (_, grad, _) in enumerate(self.network.parameters()):
            np.copyto(grad, self.sums[done[0]][i])
            for t in done[1:]:
                grad += self.sums[t][i]
        self._merge_statistics()
        return sum(loss for _, loss, _ in parts) / n, sum(correct for _, _, correct in parts)

    def one_blas_thread(self):
        """A context in which BLAS runs on the calling thread alone, as each copy's must. Work between steps that
        calls BLAS (the elastic distortion's smoothing) belongs inside it too: OpenBLAS's own threads go on spinning
        for a while after a call, on the cores the copies are about to take (a 128-digit step 30-55 ms slower)."""
        return self.blas.limit(limits=1, user_api="blas")

    def _blocks(self, t: int, X: np.ndarray, y: np.ndarray, starts: list[int], rows: int) -> tuple[int, float, int]:
        """Thread ``t``: its blocks through its copy, the gradients summed, weighted by rows, into ``sums[t]``."""
        twin, sums, n = self.copies[t], self.sums[t], len(X)
        loss_sum, correct = 0.0, 0
        for k, start in enumerate(starts):
            block = self._inputs(t, X[start : start + rows])  # (m, n_in)
            m = len(block)
            loss, right = twin.train_step(block, y[start : start + m])
            loss_sum, correct = loss_sum + loss * m, correct + right
            weight = twin.dtype.type(m / n)
            for total, (_, grad, _) in zip(sums, twin.parameters(), strict=True):
                if k == 0:
                    np.multiply(grad, weight, out=total)
                else:
                    grad *= weight
                    total += grad
        return len(starts), loss_sum, correct

    def _inputs(self, t: int, block: np.ndarray) -> np.ndarray:
        """The block as the network reads it: floats as they are; uint8 pixels scaled into the thread's own buffer,
        which stays in the cache for both products instead of the whole batch being read from memory twice."""
        if block.dtype != np.uint8:
            return block
        buffer = self.buffers[t]
        if buffer is None or len(buffer) < len(block):
            buffer = self.buffers[t] = np.empty(block.shape, self.network.dtype)
        return pixels_to_inputs(block, self.network.dtype, out=buffer[: len(block)])

    def _statistics(self):
        """Each batch-norm statistic of the network, with the same statistic of every copy."""
        for i, layer in enumerate(self.network.layers):
            if isinstance(layer, BatchNorm):
                for name in ("running_mean", "running_var"):
                    yield getattr(layer, name), [getattr(twin.layers[i], name) for twin in self.copies]

    def _share_statistics(self) -> None:
        """Before a step: every copy starts from the network's running statistics (a checkpoint may have set them)."""
        for mine, theirs in self._statistics():
            for statistic in theirs:
                statistic[...] = mine

    def _merge_statistics(self) -> None:
        """After a step: the network's running statistics become the mean of the copies'."""
        for mine, theirs in self._statistics():
            np.mean(theirs, axis=0, out=mine)
