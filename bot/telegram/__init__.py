"""The Telegram front end: python-telegram-bot wiring (`app`), handlers that translate (`handlers`), the
durable update inbox (`inbox`), conversation state in the database (`persistence`, on `store`), the hot
standby lock (`standby`) and the aiohttp networking backend (`http`). Import `bot.telegram.app` for
`build_application`/`run_bot`."""
