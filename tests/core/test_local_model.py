"""The local-model base: one load under a lock, a fingerprint computed once, warm_up()."""

from __future__ import annotations

import threading
import time

import pytest

from smallrag.core.local_model import LocalModel
from smallrag.core.models import model_fingerprint


class Counting(LocalModel):
    def __init__(self, path, **kw):
        super().__init__(path, **kw)
        self.loads = 0

    def _load(self):
        self.loads += 1
        time.sleep(0.05)  # long enough for the other threads to arrive while loading
        return object(), "tokenizer"


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    return tmp_path


def test_loads_once_on_first_use_even_from_many_threads(folder):
    model = Counting(folder)
    assert model.loads == 0 and model._model is None  # construction loads nothing
    threads = [threading.Thread(target=model.loaded) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert model.loads == 1
    first = model.loaded()
    assert model.loaded() == first and model.loads == 1
    assert first[1] == "tokenizer"


def test_warm_up_loads_and_returns_the_model(folder):
    model = Counting(folder)
    assert model.warm_up() is model and model.loads == 1
    model.warm_up()
    assert model.loads == 1


def test_name_fingerprint_and_device(folder):
    model = Counting(folder, device="cpu")
    assert model.name == folder.resolve().name and model.device == "cpu"
    assert model.fingerprint == model_fingerprint(folder)
    (folder / "config.json").write_text('{"changed": 1}', encoding="utf-8")
    assert model.fingerprint != model_fingerprint(folder)  # computed once, not per access
    assert Counting(folder, name="mine").name == "mine"


def test_a_failed_load_is_retried_next_time(folder):
    class Flaky(LocalModel):
        calls = 0

        def _load(self):
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise OSError("disk hiccup")
            return "model", "tokenizer"

    model = Flaky(folder)
    with pytest.raises(OSError):
        model.loaded()
    assert model.loaded() == ("model", "tokenizer")
