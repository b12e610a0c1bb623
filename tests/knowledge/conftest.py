"""Fixtures for the knowledge tests: a deterministic fake embedding, scripted chat models, small corpora."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from knowledge import KnowledgeBase
from knowledge.lexical import tokenize

DIM = 256


class FakeEmbeddings(Embeddings):
    """Hashing bag of jieba tokens, shaped like e5: every vector shares a common direction, so cosines of
    unrelated texts sit near 0.8 and related texts score higher (the relevance gate is calibrated on e5)."""

    def __init__(self) -> None:
        self.document_calls = 0
        self.documents_embedded = 0
        self.query_calls = 0

    def _vector(self, text: str) -> list[float]:
        bag = [0.0] * DIM
        for token in tokenize(text):
            h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest(), "little")
            bag[h % DIM] += 1.0
        norm = math.sqrt(sum(x * x for x in bag)) or 1.0
        common, spread = math.sqrt(0.8), math.sqrt(0.2)
        return [common] + [spread * x / norm for x in bag]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.document_calls += 1
        self.documents_embedded += len(texts)
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.query_calls += 1
        return self._vector(text)


class ScriptedChatModel(BaseChatModel):
    """Replies from a script: a str is returned, an Exception raised (e.g. the client's timeout error)."""

    script: list[Any] = []  # noqa: RUF012 (pydantic field: copied per instance)
    prompts: list[list[BaseMessage]] = []  # noqa: RUF012

    def enqueue(self, *items: Any) -> ScriptedChatModel:
        self.script.extend(items)
        return self

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.prompts.append(list(messages))
        while self.script:
            item = self.script.pop(0)
            if isinstance(item, Exception):
                raise item
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=str(item)))])
        raise RuntimeError("script exhausted")


@pytest.fixture
def fake_embeddings() -> FakeEmbeddings:
    return FakeEmbeddings()


@pytest.fixture
def chat_model() -> ScriptedChatModel:
    return ScriptedChatModel(script=[], prompts=[])


ENTITLEMENTS_MD = """---
title: 增值服务权益
category: 客户权益
audience: 客户经理
effective_date: 2026-01-01
---
# 增值服务权益

## 健康医疗服务
### 年度免费体检
私人银行客户每年可在指定的三甲医院免费体检一次，体检套餐为增强型套餐。

### 专家挂号预约
钻石客户每年可预约专家挂号5次。

## 汽车维护
日均金融资产达到3000万元的客户，每年可享受免费洗车12次。持卡客户洗车享受六折优惠。

| 权益 | 适用客户 | 次数 |
|---|---|---|
| 机场贵宾厅 | 钻石客户 | 每年6次 |
| 机场贵宾厅 | 白金客户 | 每年3次 |
"""

ETIQUETTE_MD = """---
title: 商务礼仪与沟通禁忌
category: 礼仪
---
# 商务礼仪与沟通禁忌

## 着装
男性顾问应穿深色西装，不宜穿运动鞋。女性顾问妆容应淡雅。

## 沟通禁忌
与客户交流时不要打听客户的隐私，不要贬低同业。
"""

AML_TXT = """反洗钱与合规
开立账户时必须核实客户身份，并登记身份证件信息。
对名列黑名单的客户不得开户，并应及时向合规部门报告。
来自高风险国家或地区的客户需进行强化尽职调查。
"""


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "entitlements.md").write_text(ENTITLEMENTS_MD, encoding="utf-8")
    (folder / "sub" / "etiquette.md").write_text(ETIQUETTE_MD, encoding="utf-8")
    (folder / "aml.txt").write_text(AML_TXT, encoding="utf-8")
    return folder


@pytest.fixture
def kb(tmp_path: Path, fake_embeddings: FakeEmbeddings) -> Iterator[KnowledgeBase]:
    base = KnowledgeBase(data_dir=tmp_path / "data", embeddings=fake_embeddings)
    yield base
    base.close()


@pytest.fixture
def loaded_kb(kb: KnowledgeBase, docs_dir: Path) -> KnowledgeBase:
    report = kb.ingest([docs_dir])
    assert report.ok, report.failed
    return kb


@pytest.fixture(scope="session")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    """The bundled knowledge base, indexed once for every test that only asks it questions."""
    kb = KnowledgeBase(data_dir=tmp_path_factory.mktemp("bundled"))
    assert kb.sync_bundled().ok
    kb.warm_up()
    yield kb
    kb.close()
