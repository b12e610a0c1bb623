"""The fake Bot API, driven by the real python-telegram-bot Application (and a bare Bot for edge cases)."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, EndPointNotFound, Forbidden, InvalidToken, NetworkError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.bot.fake_bot_api import (
    FakeBotAPI,
    HtmlParseError,
    parse_telegram_html,
    polling,
    post_update_to_async,
)

pytestmark = pytest.mark.anyio

USER = 1001
APOLOGY = "抱歉，出了点问题，请稍后再试。"


class Seen:
    """What the tiny demo bot's handlers observed."""

    def __init__(self) -> None:
        self.update_ids: list[int] = []
        self.errors: list[BaseException] = []
        self.downloads: list[bytes] = []


def build_demo_app(
    fake: FakeBotAPI, seen: Seen, *, rate_limiter: AIORateLimiter | None = None
) -> Application:
    """Echo (HTML-escaped) with a feedback keyboard; /bad sends broken HTML; documents are downloaded."""
    builder = fake.application_builder()
    if rate_limiter is not None:
        builder = builder.rate_limiter(rate_limiter)
    app = builder.build()

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        seen.update_ids.append(update.update_id)
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("👍 有用", callback_data="fb:up")]])
        text = update.message.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        await update.message.reply_text(
            f"<b>收到</b>:{text}", parse_mode=ParseMode.HTML, reply_markup=keyboard
        )

    async def bad(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text("<b>unclosed", parse_mode=ParseMode.HTML)

    async def feedback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("已记录")
        await query.edit_message_text(f"已记录反馈:{query.data}")

    async def document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.document is not None
        file = await update.message.document.get_file()
        data = bytes(await file.download_as_bytearray())
        seen.downloads.append(data)
        await update.message.reply_document(
            InputFile(data, filename="回执.txt"), caption=f"sha1 {hashlib.sha1(data).hexdigest()}"
        )

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert context.error is not None
        seen.errors.append(context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            await context.bot.send_message(update.effective_chat.id, APOLOGY)

    app.add_handler(CommandHandler("bad", bad))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(MessageHandler(filters.Document.ALL, document))
    app.add_handler(CallbackQueryHandler(feedback, pattern=r"^fb:"))
    app.add_error_handler(on_error)
    return app


@pytest.fixture
async def demo(fake_bot_api: FakeBotAPI) -> AsyncIterator[tuple[FakeBotAPI, Seen]]:
    seen = Seen()
    async with polling(build_demo_app(fake_bot_api, seen)):
        yield fake_bot_api, seen


async def test_echo_reply_is_a_real_message(demo: tuple[FakeBotAPI, Seen]) -> None:
    fake, seen = demo
    update_id = fake.push_message(USER, "你好 <script> & 再见")
    [reply] = await fake.wait_for_messages_async(USER, 1)
    assert seen.update_ids == [update_id]
    assert reply.method == "sendMessage" and reply.parse_mode == "HTML"
    assert reply.text == "<b>收到</b>:你好 &lt;script&gt; &amp; 再见"
    assert reply.visible_text == "收到:你好 <script> & 再见"
    assert reply.result["entities"] == [{"type": "bold", "offset": 0, "length": 2}]
    assert reply.result["from"]["is_bot"] is True and reply.result["chat"]["id"] == USER
    assert reply.callback_data == ["fb:up"] and reply.button("有用")["callback_data"] == "fb:up"
    await fake.wait_until_consumed_async()  # PTB confirmed it with the next getUpdates' offset


async def test_callback_query_is_answered_and_message_edited(demo: tuple[FakeBotAPI, Seen]) -> None:
    fake, _ = demo
    fake.push_message(USER, "问题")
    [reply] = await fake.wait_for_messages_async(USER, 1)
    mark = fake.mark()
    fake.push_callback(USER, "fb:up", message=reply)
    edit = await fake.wait_for_async(lambda c: c.method == "editMessageText", since=mark)
    [answer] = fake.calls("answerCallbackQuery", since=mark)
    assert answer.ok and answer.params["text"] == "已记录"
    assert edit.ok and edit.visible_text == "已记录反馈:fb:up"
    stored = fake.message(USER, reply.message_id or 0)
    assert stored is not None and stored["text"] == "已记录反馈:fb:up"
    assert (
        "reply_markup" not in stored
    )  # editing text without reply_markup drops the keyboard, as in Telegram


async def test_unclosed_html_is_rejected_like_telegram(demo: tuple[FakeBotAPI, Seen]) -> None:
    fake, seen = demo
    fake.push_command(USER, "bad")
    failed = await fake.wait_for_async(lambda c: c.method == "sendMessage" and not c.ok)
    assert failed.error_code == 400
    assert failed.description is not None and failed.description.startswith(
        "Bad Request: can't parse entities"
    )
    [apology] = await fake.wait_for_messages_async(USER, 1, raise_on_error=False)
    assert apology.text == APOLOGY
    assert len(seen.errors) == 1 and isinstance(seen.errors[0], BadRequest)
    with pytest.raises(AssertionError, match="can't parse entities"):
        await fake.wait_for_messages_async(USER, 2)  # fails fast instead of waiting for the timeout


async def test_retry_after_is_retried_by_the_rate_limiter(fake_bot_api: FakeBotAPI) -> None:
    seen = Seen()
    # Telegram sends whole seconds; the fake accepts a fraction so the test stays fast.
    fake_bot_api.inject_error("sendMessage", 429, retry_after=0.2)
    async with polling(build_demo_app(fake_bot_api, seen, rate_limiter=AIORateLimiter(max_retries=2))):
        fake_bot_api.push_message(USER, "限流")
        [reply] = await fake_bot_api.wait_for_messages_async(USER, 1)
    attempts = fake_bot_api.calls("sendMessage")
    assert [(c.ok, c.error_code) for c in attempts] == [(False, 429), (True, None)]
    assert reply.visible_text == "收到:限流"
    assert seen.errors == []


async def test_dropped_connection_surfaces_as_network_error(demo: tuple[FakeBotAPI, Seen]) -> None:
    fake, seen = demo
    fake.inject_error("sendMessage", drop_connection=True)
    fake.push_message(USER, "第一条")
    [apology] = await fake.wait_for_messages_async(USER, 1)
    assert apology.text == APOLOGY
    fake.push_message(USER, "第二条")
    reply = (await fake.wait_for_messages_async(USER, 2))[-1]
    assert reply.visible_text == "收到:第二条"
    assert [c.ok for c in fake.calls("sendMessage")] == [False, True, True]
    assert len(seen.errors) == 1 and isinstance(seen.errors[0], NetworkError)


async def test_redelivered_update_reaches_the_bot_again(demo: tuple[FakeBotAPI, Seen]) -> None:
    fake, seen = demo
    first = fake.push_message(USER, "只记一次")
    await fake.wait_for_messages_async(USER, 1)
    assert fake.push_raw(fake.update(first)) == first  # same update_id, although already confirmed
    await fake.wait_for_messages_async(USER, 2)
    later = fake.push_message(USER, "新消息")
    await fake.wait_for_messages_async(USER, 3)
    assert seen.update_ids == [first, first, later]  # the newer update is not delivered twice


async def test_document_is_downloaded_and_a_document_sent_back(demo: tuple[FakeBotAPI, Seen]) -> None:
    fake, seen = demo
    content = "# 培训材料\n钻石客户权益……\n".encode()
    fake.push_document(USER, "培训材料.md", content, "text/markdown")
    [reply] = await fake.wait_for_messages_async(USER, 1)
    assert seen.downloads == [content]
    assert reply.method == "sendDocument"
    assert reply.files["document"].filename == "回执.txt"
    assert reply.result["document"]["file_name"] == "回执.txt"
    assert fake.file_content(reply.result["document"]["file_id"]) == content
    assert reply.visible_text == f"sha1 {hashlib.sha1(content).hexdigest()}"


async def test_webhook_mode_delivers_pushed_updates(fake_bot_api: FakeBotAPI) -> None:
    seen = Seen()
    app = build_demo_app(fake_bot_api, seen)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/tg"
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_webhook(
            listen="127.0.0.1", port=port, url_path="tg", webhook_url=url, secret_token="s3cret"
        )
        try:
            assert fake_bot_api.webhook_url == url
            fake_bot_api.push_message(USER, "走webhook")
            [reply] = await fake_bot_api.wait_for_messages_async(USER, 1)
            assert reply.visible_text == "收到:走webhook"
            wrong = {"update_id": 999, "message": fake_bot_api.update(seen.update_ids[0])["message"]}
            assert await post_update_to_async(url, wrong, secret_token="wrong") == 403
            async with Bot(fake_bot_api.token, base_url=fake_bot_api.base_url) as bot:
                with pytest.raises(Conflict):
                    await bot.get_updates(timeout=0)
        finally:
            await app.updater.stop()
            await app.stop()
    assert seen.update_ids == [1]


@pytest.fixture
async def bot(fake_bot_api: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(
        fake_bot_api.token, base_url=fake_bot_api.base_url, base_file_url=fake_bot_api.base_file_url
    ) as bot:
        yield bot


async def test_long_poll_offsets_and_allowed_updates(fake_bot_api: FakeBotAPI, bot: Bot) -> None:
    first = fake_bot_api.push_message(USER, "一")
    fake_bot_api.push_callback(
        USER, "x", message={"message_id": 1, "date": 0, "chat": {"id": USER, "type": "private"}}
    )
    third = fake_bot_api.push_command(USER, "start")
    only_messages = await bot.get_updates(timeout=0, allowed_updates=["message"])
    assert [u.update_id for u in only_messages] == [first, third]
    assert only_messages[1].message is not None and only_messages[1].message.text == "/start"
    everything = await bot.get_updates(timeout=0, allowed_updates=[])
    assert len(everything) == 3 and everything[1].callback_query is not None
    assert await bot.get_updates(offset=third + 1, timeout=0) == ()
    assert fake_bot_api.pending_updates == 0


async def test_message_validation(fake_bot_api: FakeBotAPI, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="too long"):
        await bot.send_message(USER, "长" * 4097)
    ok = await bot.send_message(USER, "<i>" + "长" * 4096 + "</i>", parse_mode=ParseMode.HTML)
    assert len(ok.text or "") == 4096  # the limit applies to the visible text, not the markup
    with pytest.raises(BadRequest, match="empty"):
        await bot.send_message(USER, "<b></b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(
            USER,
            "选择",
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="x" * 65)]]),
        )
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text(
            "<i>" + "长" * 4096 + "</i>", USER, ok.message_id, parse_mode=ParseMode.HTML
        )
    with pytest.raises(BadRequest, match="to be replied not found"):
        await bot.send_message(USER, "回复", reply_to_message_id=999)
    fake_bot_api.block_chat(7)
    with pytest.raises(Forbidden):
        await bot.send_message(7, "你好")


async def test_commands_files_and_unknown_methods(fake_bot_api: FakeBotAPI, bot: Bot) -> None:
    assert bot.username == "rm_assistant_test_bot"
    await bot.set_my_commands([("help", "帮助"), ("client", "查询客户")])
    assert fake_bot_api.commands == [
        {"command": "help", "description": "帮助"},
        {"command": "client", "description": "查询客户"},
    ]
    assert [c.command for c in await bot.get_my_commands()] == ["help", "client"]
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([("Bad-Cmd", "x")])
    with pytest.raises(BadRequest, match="nvalid file_id"):
        await bot.get_file("nope")
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")
    assert fake_bot_api.calls("noSuchMethod")[0].error_code == 404
    await bot.send_chat_action(USER, "typing")
    assert await bot.delete_message(USER, (await bot.send_message(USER, "临时")).message_id)
    info = await bot.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 0


async def test_wrong_token_is_rejected(fake_bot_api: FakeBotAPI) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("1:wrong", base_url=fake_bot_api.base_url):
            pass


def test_wait_for_times_out_with_a_useful_message(fake_bot_api: FakeBotAPI) -> None:
    with pytest.raises(TimeoutError, match="expected 1 message"):
        fake_bot_api.wait_for_messages(USER, 1, timeout=0.05)


@pytest.mark.parametrize(
    ("html", "visible", "entities"),
    [
        ("a &lt;b&gt; &amp; &quot;c&quot; &#39;d&#x27;", "a <b> & \"c\" 'd'", []),
        ("<b>粗</b><i>斜</i>", "粗斜", [("bold", 0, 1), ("italic", 1, 1)]),
        ('<a href="https://x.cn/?a=1&amp;b=2">链接</a>', "链接", [("text_link", 0, 2)]),
        ("😀<u>x</u>", "😀x", [("underline", 2, 1)]),  # offsets are UTF-16 code units
        ('<pre><code class="language-python">x=1</code></pre>', "x=1", [("pre", 0, 3)]),
        (
            '<span class="tg-spoiler">秘</span><tg-spoiler>密</tg-spoiler>',
            "秘密",
            [("spoiler", 0, 1), ("spoiler", 1, 1)],
        ),
        ("<blockquote>引用</blockquote> a > b", "引用 a > b", [("blockquote", 0, 2)]),
    ],
)
def test_html_parser_accepts(html: str, visible: str, entities: list[tuple[str, int, int]]) -> None:
    text, found = parse_telegram_html(html)
    assert text == visible
    assert [(e["type"], e["offset"], e["length"]) for e in found] == entities


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<b>unclosed", "Can't find end tag"),
        ("<b><i>x</b></i>", "Unmatched end tag"),
        ("x</b>", "Unexpected end tag"),
        ("1 < 2", "Unclosed start tag"),
        ("x <= y > z", "Unsupported start tag"),
        ("<script>alert(1)</script>", 'Unsupported start tag "script"'),
        ("<span>x</span>", "tg-spoiler"),
        ("a & b", 'bare "&"'),
        ("&nbsp;", "&nbsp;"),
        ("<b", "Unclosed start tag"),
    ],
)
def test_html_parser_rejects(html: str, error: str) -> None:
    with pytest.raises(HtmlParseError, match=error):
        parse_telegram_html(html)


def test_lenient_mode_keeps_a_bare_ampersand() -> None:
    assert parse_telegram_html("a & b", strict=False) == ("a & b", [])
