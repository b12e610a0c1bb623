"""The Telegram front end: python-telegram-bot wiring (`app`), handlers that translate (`handlers`) and
the aiohttp networking backend (`http`). Import `bot.telegram.app` for `build_application`/`run_bot`."""
