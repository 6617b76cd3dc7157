"""Fixtures of the Chromium tests (tests/browser/support.py holds the shared parts)."""

from tests.browser.support import chromium  # noqa: F401  (the session fixture)
