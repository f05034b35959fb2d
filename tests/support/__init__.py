"""Reusable test helpers: private server instances, a TCP fault proxy, small HTTP stubs.

Every helper starts its own process or thread on a free loopback port and cleans it up; none
touches the shared services that scripts/services.sh runs.
"""
