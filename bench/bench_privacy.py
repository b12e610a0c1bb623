"""Client names in texts: building the trainers' redactor (pinyin, initials, traditional characters) and the
question-mention index over N client names, and the time per text.

    .venv/bin/python bench/bench_privacy.py [--names 100000] [--texts 1000]

Names are random 3–4 character Chinese names (fixed seed). "first build" includes loading pypinyin and the
OpenCC tables; "rebuild" is a fresh redactor over the same names (the bot rebuilds only when the CRM's names
changed). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import time

from bot.features.clients import _NameIndex
from bot.features.privacy import ClientRedactor

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志远静怡"
TEXT = "张伟的太太想开户怎么办，Zhang Wei 问钻石客户能约几次专家号？歐陽靜怡的子女教育金怎么配置？"


def _names(n: int) -> list[str]:
    rng = random.Random(7)
    names: set[str] = set()
    while len(names) < n:
        extra = rng.choice(GIVEN) if rng.random() < 0.3 else ""
        names.add(rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN) + extra)
    return sorted(names)


def _timed(fn: object, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=100_000)
    parser.add_argument("--texts", type=int, default=1000)
    args = parser.parse_args()
    names = _names(args.names)
    first = _timed(lambda: ClientRedactor(names))
    rebuild = _timed(lambda: ClientRedactor(names))
    redactor = ClientRedactor(names)
    redact = _timed(lambda: redactor.redact(TEXT), args.texts)
    index_build = _timed(lambda: _NameIndex(names))
    index = _NameIndex(names)
    mention = _timed(lambda: index.found_in(TEXT), args.texts)
    print(
        json.dumps(
            {
                "names": len(names),
                "text_chars": len(TEXT),
                "redactor_first_build_s": round(first, 3),
                "redactor_rebuild_s": round(rebuild, 3),
                "redact_ms_per_text": round(redact / args.texts * 1000, 4),
                "mention_index_build_s": round(index_build, 3),
                "mention_scan_ms_per_text": round(mention / args.texts * 1000, 4),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
