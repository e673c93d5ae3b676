"""Switchyard: a self-hostable connector platform."""

__version__ = "0.1.0"
