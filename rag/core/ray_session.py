"""Joining or starting Ray, shared by `eval run --engine ray` and `index build --engine ray`.

Ray is imported only here and only when asked for: without `--engine ray` nothing imports it."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Iterator

from smallrag.core.errors import SmallragError

RAY_INSTALL = "install with pip install 'smallrag[ray]'"
# what every worker needs to import smallrag from the driver's path and never reach a model hub
WORKER_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SmallragError(f"--engine ray needs Ray, which is not installed: {RAY_INSTALL}") from None
    return ray


@contextlib.contextmanager
def ray_session(address: str | None = None, *, num_cpus: int | None = None) -> Iterator[Any]:
    """The `ray` module, connected: an already initialised Ray is used as it is; otherwise
    `address` ("auto", "HOST:PORT" or "ray://HOST:PORT") joins a running cluster, and None starts
    a local Ray with `num_cpus` (default: this machine's), shut down again on exit."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    path = os.pathsep.join(p for p in [os.getcwd(), *sys.path] if p)
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False,
                               "runtime_env": {"env_vars": {"PYTHONPATH": path, **WORKER_ENV}}}
    if address is None:
        options["num_cpus"] = num_cpus if num_cpus is not None else os.cpu_count() or 1
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise SmallragError(f"cannot start or join {where} ({str(exc).splitlines()[0] if str(exc) else exc}); "
                            "check --ray-address (auto joins the cluster this machine belongs to)") from None
    try:
        yield ray
    finally:
        ray.shutdown()
