"""RM Assistant application: settings, CLI, Telegram front end, console twin, conversation log."""
