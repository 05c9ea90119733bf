"""Claw: an agent-first home automation service."""

__version__ = "0.1.0"
