"""Encoding on Ray workers for `index build --engine ray`: the heavy part of a build.

Reading and chunking stay in the driver (they are cheap); the chunk texts go out in shards to
Ray actors, each of which loads the encoder once and returns float32 vectors; the driver puts
them back in order and writes the index to the chosen store, exactly as a local build does. The
index is the local build's: the same chunk ids (content hashes), the same model fingerprint, and
vectors equal within float32 rounding (a shard is padded differently from a whole-corpus batch)."""

from __future__ import annotations

import logging
import os
from functools import partial
from typing import Any, Callable, Sequence

import numpy as np

from smallrag.core.progress import progress_bar
from smallrag.core.ray_session import ray_session

logger = logging.getLogger(__name__)
SHARD = 512  # texts per task: small enough to balance, large enough that batches stay full


class _EncodeWorker:
    """A Ray actor: builds its encoder once, with `threads` torch threads."""

    def __init__(self, factory: Callable[[], Any], threads: int) -> None:
        import torch

        torch.set_num_threads(max(1, threads))
        self.encoder = factory()

    def describe(self) -> dict[str, Any]:
        return {"name": self.encoder.name, "fingerprint": self.encoder.fingerprint,
                "dimension": int(self.encoder.dimension), "path": str(getattr(self.encoder, "path", None) or "")}

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.encoder.encode(texts)


def local_encoder_factory(model: str | None) -> Callable[[], Any]:
    """A picklable factory of the packaged (or given) sentence-transformers encoder."""
    from smallrag.core.models import resolve_embedder
    from smallrag.indexes.encoders import SentenceTransformerEncoder

    _, path = resolve_embedder(model)
    return partial(SentenceTransformerEncoder, str(path))


class RayEncoder:
    """The encoder protocol (name, fingerprint, dimension, path, encode) over Ray actors.

    `address` None starts a local Ray (`num_cpus` CPUs), "auto" or "HOST:PORT" joins a cluster;
    `workers` actors (default: one per CPU Ray reports), each with `threads` torch threads
    (default: CPUs / workers). The actors live for one encode() call."""

    def __init__(self, factory: Callable[[], Any], *, address: str | None = None, workers: int | None = None,
                 threads: int | None = None, num_cpus: int | None = None, shard: int = SHARD) -> None:
        self.factory = factory
        self.address = address
        self.workers = workers
        self.threads = threads
        self.num_cpus = num_cpus
        self.shard = shard
        self._info: dict[str, Any] | None = None
        self.seconds = 0.0  # wall time of the last encode(), actors' start included

    def _describe(self) -> dict[str, Any]:
        if self._info is None:
            local = self.factory()  # cheap: the model itself loads lazily
            self._info = {"name": local.name, "fingerprint": local.fingerprint, "path": getattr(local, "path", None),
                          "dimension": None}
        return self._info

    @property
    def name(self) -> str:
        return self._describe()["name"]

    @property
    def fingerprint(self) -> str:
        return self._describe()["fingerprint"]

    @property
    def path(self):
        return self._describe()["path"]

    @property
    def dimension(self) -> int:
        if self._describe()["dimension"] is None:
            self._info["dimension"] = int(self.factory().dimension)
        return self._info["dimension"]

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        import time

        started = time.perf_counter()
        with ray_session(self.address, num_cpus=self.num_cpus) as ray:
            cpus = int(ray.cluster_resources().get("CPU", os.cpu_count() or 1))
            workers = max(1, min(self.workers or cpus, max(1, len(texts) // max(1, self.shard) + 1)))
            threads = self.threads or max(1, cpus // workers)
            remote = ray.remote(num_cpus=0)(_EncodeWorker)
            actors = [remote.remote(self.factory, threads) for _ in range(workers)]
            try:
                info = ray.get(actors[0].describe.remote())
                self._describe()["dimension"] = info["dimension"]
                logger.info("encoding %d texts on %d Ray workers (%d threads each)", len(texts), workers, threads)
                shards = [list(texts[i:i + self.shard]) for i in range(0, len(texts), self.shard)]
                parts: list[np.ndarray | None] = [None] * len(shards)
                pending: dict[Any, int] = {}
                queue = list(range(len(shards)))
                with progress_bar(len(texts), "encoding (ray)", "chunk", progress) as bar:
                    for actor in actors:  # two shards in flight per actor keep it busy
                        for _ in range(2):
                            if queue:
                                n = queue.pop(0)
                                pending[actor.encode.remote(shards[n])] = (n, actor)
                    while pending:
                        ready, _ = ray.wait(list(pending), num_returns=1)
                        n, actor = pending.pop(ready[0])
                        parts[n] = ray.get(ready[0])
                        bar.update(len(shards[n]))
                        if queue:
                            m = queue.pop(0)
                            pending[actor.encode.remote(shards[m])] = (m, actor)
            finally:
                for actor in actors:
                    ray.kill(actor)
        self.seconds = time.perf_counter() - started
        if not parts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
