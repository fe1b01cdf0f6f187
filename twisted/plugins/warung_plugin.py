"""Twisted's plugin discovery finds `twistd warung` and `twist warung` here (server/plugin.py).

twisted/plugins is a directory Twisted shares with every package that has a plugin: there
must be no __init__.py here, nor in twisted/.
"""

from server.plugin import service_maker

__all__ = ["service_maker"]
