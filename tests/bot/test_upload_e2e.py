"""End to end through the fake Bot API: bounded uploads and instant ingest.

A trainer's upload is refused before download when too large; otherwise one status message is edited
from "searchable" through the vector count to the final report, and RMs' questions are answered while
the vectors are still being computed (a gated fake embedding stands in for a slow model)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from knowledge import KnowledgeBase
from tests.bot.conftest import TELEGRAM_IDS, BotWorld, running
from tests.bot.fake_bot_api import ApiCall
from tests.knowledge.conftest import ENTITLEMENTS_MD, FakeEmbeddings

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

RM, TRN, TRN2 = TELEGRAM_IDS["RM001"], TELEGRAM_IDS["TRN01"], TELEGRAM_IDS["TRN02"]
CMP, ADM = TELEGRAM_IDS["CMP01"], TELEGRAM_IDS["ADM01"]
NEW_DOC = "# 星辰理财\n\n## 起购\n星辰稳健理财面向白金客户，起购金额100万元，期限一年。\n"


class GatedEmbeddings(FakeEmbeddings):
    """Document embedding waits for `gate` (a slow model); queries never wait."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        assert self.gate.wait(60), "test gate never opened"
        return super().embed_documents(texts)


@pytest.fixture
def gated() -> GatedEmbeddings:
    return GatedEmbeddings()


@pytest.fixture
def small_kb(tmp_path: Path, gated: GatedEmbeddings) -> Iterator[KnowledgeBase]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "entitlements.md").write_text(ENTITLEMENTS_MD, encoding="utf-8")
    kb = KnowledgeBase(data_dir=tmp_path / "kb", embeddings=gated)
    assert kb.ingest([docs]).ok
    yield kb
    gated.gate.set()
    kb.close()


def _edit(text: str) -> Callable[[ApiCall], bool]:
    return lambda c: c.method == "editMessageText" and c.ok and text in (c.visible_text or "")


async def test_oversized_upload_is_refused_before_download(bot_world: BotWorld) -> None:
    fake = bot_world.fake
    bot_world.settings = bot_world.settings.model_copy(update={"rm_max_upload_mb": 1})
    async with running(bot_world.build()):
        mark = fake.mark()
        fake.push_document(TRN, "大文件.md", b"# big\n" + b"x" * (1024 * 1024 + 200_000), "text/markdown")
        [reply] = await fake.wait_for_messages_async(TRN, 1, since=mark, timeout=30)
        assert (reply.visible_text or "") == "⚠️ 文件过大（1.2 MB），上限为 1 MB，请拆分后再上传"
        assert not fake.calls("getFile", since=mark)


async def test_questions_are_answered_while_an_upload_is_embedded(
    bot_world: BotWorld, small_kb: KnowledgeBase, gated: GatedEmbeddings
) -> None:
    """Upload → pending change (approvers told) → a second trainer approves → searchable at once, one
    status message edited to the final report, and RMs' questions answered while vectors are pending."""
    fake = bot_world.fake
    async with running(bot_world.build(kb=small_kb)):
        gated.gate.clear()  # the upload's vectors take "forever" until the gate opens
        mark = fake.mark()
        fake.push_document(TRN, "星辰.md", NEW_DOC.encode(), "text/markdown")
        [submitted] = await fake.wait_for_messages_async(TRN, 1, since=mark, timeout=30)
        assert "已提交知识库变更 K1" in (submitted.visible_text or "")
        for approver in (TRN2, CMP, ADM):  # every other approver is told; the submitter is not
            [notice] = await fake.wait_for_messages_async(approver, 1, since=mark, timeout=30)
            assert "K1" in (notice.visible_text or "") and "等待审批" in (notice.visible_text or "")
        assert not [c for c in fake.messages_to(TRN, since=mark) if "等待审批" in (c.visible_text or "")]
        kb_mark = fake.mark()
        fake.push_command(TRN, "kb", "星辰稳健理财 起购金额")
        [unserved] = await fake.wait_for_messages_async(TRN, 1, since=kb_mark, timeout=30)
        assert "星辰理财" not in (unserved.visible_text or "")  # pending: not in the knowledge base

        read_mark = fake.mark()
        fake.push_command(TRN2, "changes", "K1")  # approvers read the whole document first
        [full] = await fake.wait_for_messages_async(TRN2, 1, since=read_mark, timeout=30)
        assert "星辰稳健理财面向白金客户" in (full.visible_text or "")
        approve_mark = fake.mark()
        fake.push_command(TRN2, "approve", "K1")
        decision, status = await fake.wait_for_messages_async(TRN2, 2, since=approve_mark, timeout=30)
        assert "已批准并发布 K1《星辰.md》" in (decision.visible_text or "")
        assert "已可检索" in (status.visible_text or "") and "0/1" in (status.visible_text or "")
        [told] = await fake.wait_for_messages_async(TRN, 1, since=approve_mark, timeout=30)
        assert "已由 孙悦（TRN02）处理" in (told.visible_text or "")  # the submitter hears the outcome
        assert "已批准并发布 K1" in (told.visible_text or "")

        asked = fake.mark()
        fake.push_message(RM, "钻石客户每年能约几次专家挂号？")
        [answer] = await fake.wait_for_messages_async(RM, 1, since=asked, timeout=30)
        assert "5次" in (answer.visible_text or "")
        kb_mark = fake.mark()
        # the approver's chat is free again as soon as the document is searchable
        fake.push_command(TRN2, "kb", "星辰稳健理财 起购金额")
        [hits] = await fake.wait_for_messages_async(TRN2, 1, since=kb_mark, timeout=30)
        assert "星辰理财" in (hits.visible_text or "")  # found by BM25 while its vector is pending
        edits = fake.calls("editMessageText", since=mark)
        assert all("已加入知识库" not in (c.visible_text or "") for c in edits)

        gated.gate.set()
        done: ApiCall = await fake.wait_for_async(_edit("已加入知识库"), timeout=60, since=mark)
        assert done.message_id == status.message_id
        shown = fake.message(TRN2, status.message_id or 0)
        assert shown is not None and shown["text"].startswith("✅ 文档《星辰.md》已加入知识库（1 个段落）")
        assert len(fake.messages_to(TRN2, since=approve_mark)) == 3  # decision, status (edited), /kb
