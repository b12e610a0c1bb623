"""The Chroma server path: start `chroma run` on loopback, ingest, search, stop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from knowledge import KnowledgeBase
from knowledge.store import VectorIndexUnavailable
from tests.knowledge.conftest import FakeEmbeddings

pytestmark = pytest.mark.chroma_server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    port: int
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[Server]:
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        pytest.fail(f"chroma CLI not found next to {sys.executable}")
    port = _free_port()
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False")
    log = (tmp_path / "chroma.log").open("wb")
    proc = subprocess.Popen(
        [str(chroma), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(tmp_path / "server")],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "chroma server did not start: " + (tmp_path / "chroma.log").read_text(errors="replace")
                )
            time.sleep(0.2)
        yield Server(port, proc)
    finally:
        Server(port, proc).stop()
        log.close()


def test_ingest_and_search_against_chroma_server(
    chroma_server: Server, tmp_path: Path, docs_dir: Path
) -> None:
    emb = FakeEmbeddings()
    kb = KnowledgeBase(
        data_dir=tmp_path / "client", embeddings=emb, chroma_host="127.0.0.1", chroma_port=chroma_server.port
    )
    report = kb.ingest([docs_dir])
    assert report.ok, report.failed
    assert kb._store.count() == sum(s.chunks for s in kb.sources())
    assert kb._store._client.get_settings().anonymized_telemetry is False
    assert not (tmp_path / "client" / "chroma").exists()  # nothing embedded locally

    for mode in ("dense", "hybrid"):
        hits = kb.search("钻石客户每年能约几次专家挂号", top_k=3, mode=mode)
        assert "专家挂号5次" in hits[0].text

    answer = kb.ask("白金客户机场贵宾厅每年几次")
    assert answer.grounded and "每年3次" in answer.answer

    assert kb.remove(str((docs_dir / "aml.txt").resolve())) >= 1
    assert kb._store.count() == sum(s.chunks for s in kb.sources())
    kb.close()


def test_a_new_server_is_refilled_from_the_manifest_and_a_lost_one_fails_closed(
    chroma_server: Server, tmp_path: Path, docs_dir: Path
) -> None:
    """The server's collection is emptied (a new server): the next process puts the manifest's vectors
    back without embedding; then the server stops: searches fail with one line, not BM25 alone."""
    first = KnowledgeBase(
        data_dir=tmp_path / "client",
        embeddings=FakeEmbeddings(),
        chroma_host="127.0.0.1",
        chroma_port=chroma_server.port,
    )
    assert first.ingest([docs_dir]).ok
    query = "钻石客户每年能约几次专家挂号"
    before = [h.chunk_id for h in first.search(query, mode="dense", top_k=3)]
    first._store.delete(sorted(first._store.ids()))
    first.close()

    emb = FakeEmbeddings()
    kb = KnowledgeBase(
        data_dir=tmp_path / "client", embeddings=emb, chroma_host="127.0.0.1", chroma_port=chroma_server.port
    )
    assert [h.chunk_id for h in kb.search(query, mode="dense", top_k=3)] == before
    assert emb.documents_embedded == 0 and kb._store.count() == sum(s.chunks for s in kb.sources())

    chroma_server.stop()
    kb.clear_caches()
    with pytest.raises(VectorIndexUnavailable) as caught:
        kb.search(query)
    assert str(caught.value).startswith(f"向量索引不可用（Chroma http://127.0.0.1:{chroma_server.port}）")
    assert "\n" not in str(caught.value)
    kb.close()
