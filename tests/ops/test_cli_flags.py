"""The generated flags of ``python -m server``: bool fields are switches, not ``type=bool``.

``type=bool`` made ``--auth-jwt-optional False`` read as True (any non-empty string is
truthy) and a bare ``--auth-jwt-optional``, as the docs write it, an error.
"""

from __future__ import annotations

import pytest

from server.__main__ import build_parser, config_from_args


def test_bare_switch_sets_a_bool_field() -> None:
    cfg = config_from_args(build_parser().parse_args(["--auth-jwt-optional"]))
    assert cfg.auth_jwt_optional is True


def test_no_twin_clears_a_bool_field() -> None:
    cfg = config_from_args(build_parser().parse_args(["--no-metrics"]))
    assert cfg.metrics is False


def test_defaults_are_kept_without_the_flag() -> None:
    cfg = config_from_args(build_parser().parse_args([]))
    assert cfg.auth_jwt_optional is False
    assert cfg.metrics is True


def test_a_value_after_a_switch_is_refused() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--auth-jwt-optional", "False"])
