"""Experio platform: operability for the Experio server (health, settings, graph, scaling, deploy).

Importing this package has no side effects: no environment reads, no connections, no threads.
"""

__version__ = "0.1.0"
