"""Adapters: the only code that touches the network, the disk or the database.

Each adapter translates its library's exceptions into ``switchyard.core.errors`` at its boundary.
"""
