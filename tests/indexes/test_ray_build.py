"""`index build --engine ray`: encoding on local Ray workers (ray.init(num_cpus=2)) gives the local
build's index, in a folder and in PostgreSQL; without --engine ray nothing imports Ray."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from smallrag.cli.main import main
from smallrag.indexes.builder import build_index
from smallrag.indexes.config import IndexConfig
from smallrag.indexes.index import Index
from smallrag.indexes.ray_encoder import RayEncoder, local_encoder_factory
from tests.fakes import FakeEncoder
from tests.helpers import make_animal_documents

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.integration  # a real PostgreSQL server
def test_ray_workers_give_the_local_vectors_in_order_in_both_stores(local_ray, tmp_path, pg_url):
    docs = make_animal_documents()
    encoder = RayEncoder(FakeEncoder, workers=2, shard=2)  # 5 chunks in 3 shards over 2 actors
    build_index(docs, tmp_path / "ray", IndexConfig(), encoder=encoder, progress=False)
    build_index(docs, tmp_path / "local", IndexConfig(), encoder=FakeEncoder(), progress=False)
    ray_index, local_index = Index.open(tmp_path / "ray"), Index.open(tmp_path / "local")
    assert [c.id for c in ray_index.chunks] == [c.id for c in local_index.chunks]
    assert np.array_equal(ray_index.embeddings(), local_index.embeddings())
    assert ray_index.model_info == local_index.model_info
    build_index(docs, pg_url, IndexConfig(), encoder=RayEncoder(FakeEncoder, workers=2, shard=2), progress=False)
    from smallrag.indexes.location import parse_database_url
    from smallrag.indexes.pg.connection import connect

    location = parse_database_url(pg_url)
    conn = connect(location)
    rows = conn.execute(f'SELECT c.id, e.embedding::text FROM "{location.schema}".chunks c '
                        f'JOIN "{location.schema}".embeddings e ON e.row = c.row ORDER BY c.row').fetchall()
    conn.close()
    assert [cid for cid, _ in rows] == [c.id for c in local_index.chunks]
    assert np.array_equal(np.array([json.loads(v) for _, v in rows], dtype=np.float32), local_index.embeddings())


@pytest.mark.integration
def test_cli_ray_build_equals_the_local_build(local_ray, tmp_path, capsys):
    """The packaged encoder on 2 Ray workers: the same chunk ids, vectors within 1e-6."""
    assert main(["index", "build", str(SAMPLE), "--out", str(tmp_path / "local"), "--quiet"]) == 0
    assert main(["index", "build", str(SAMPLE), "--out", str(tmp_path / "ray"), "--engine", "ray",
                 "--ray-workers", "2", "--quiet"]) == 0
    local, remote = Index.open(tmp_path / "local"), Index.open(tmp_path / "ray")
    assert [c.id for c in remote.chunks] == [c.id for c in local.chunks]
    assert remote.model_info["fingerprint"] == local.model_info["fingerprint"]
    difference = np.abs(remote.embeddings() - local.embeddings()).max()
    assert difference < 1e-6


def test_ray_options_need_the_ray_engine(tmp_path, capsys):
    code = main(["index", "build", str(SAMPLE), "--out", str(tmp_path / "x"), "--ray-workers", "2"])
    assert code == 2 and "--engine ray" in capsys.readouterr().err


def test_a_local_build_and_search_never_import_ray(tmp_path):
    script = (
        "import sys\n"
        "from smallrag.cli.main import main\n"
        f"assert main(['index', 'build', {str(SAMPLE)!r}, '--out', {str(tmp_path / 'idx')!r}, '--retrievers', 'bm25',"
        " '--quiet']) == 0\n"
        f"assert main(['search', {str(tmp_path / 'idx')!r}, '--query', 'tyre', '--json']) == 0\n"
        "print('RAY' if 'ray' in sys.modules else 'NO-RAY')\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("NO-RAY")


def test_the_packaged_encoder_factory_is_picklable():
    import pickle

    factory = local_encoder_factory(None)
    assert pickle.loads(pickle.dumps(factory))().fingerprint == factory().fingerprint
