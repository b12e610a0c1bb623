"""Scripted fakes of the ports (they subclass the real Protocols, so mypy holds them to it)."""
