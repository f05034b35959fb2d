"""Shared fixtures. Tests talk to real servers; see tests/support/ for starting private ones."""
