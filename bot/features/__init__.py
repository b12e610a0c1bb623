"""One module (or package) per feature: its use case, its parsing and its pure renderers.

Front ends (`bot.telegram`, `bot.console`, `bot.cli`) only translate; `bot.commands` lists every
command once.
"""
