"""Fixtures of the client_sim tests: node, for the browser code's twin (predict.js)."""

from tests.lockstep.test_lockstep_conformance import node  # noqa: F401 - the fixture
