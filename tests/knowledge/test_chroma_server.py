"""The Chroma server path: start `chroma run` on loopback, ingest, search, stop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge import KnowledgeBase
from tests.knowledge.conftest import FakeEmbeddings

pytestmark = pytest.mark.chroma_server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[int]:
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
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_ingest_and_search_against_chroma_server(chroma_server: int, tmp_path: Path, docs_dir: Path) -> None:
    emb = FakeEmbeddings()
    kb = KnowledgeBase(
        data_dir=tmp_path / "client", embeddings=emb, chroma_host="127.0.0.1", chroma_port=chroma_server
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
