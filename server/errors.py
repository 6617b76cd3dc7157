"""The exception tree of Tickwire.

Every error a user can meet carries what they need to act on it::

    GameServerError
     +-- DefinitionError(path, key, expected, got)   a game definition file is wrong
     +-- DefinitionErrors(errors)                    several are (a server of several games)
     +-- ProtocolViolation(close_code, reason)       a client broke the wire contract
     |    +-- MalformedMessage                       bytes that do not decode to a valid message
     |    +-- VersionMismatch                        an envelope version other than the server's
     |    +-- MessageTooLarge                        a frame over max_message_bytes
     |    +-- UnknownMessageType                     a message id we do not know
     |    +-- RateLimited                            a client past its token bucket
     +-- JoinRejected(reason, close_code)            a join attempt was refused
     |    +-- MatchFull
     |    +-- MatchNotFound
     +-- SystemFailed(system, tick)                  a system raised; raised ``from`` the original
     +-- InvalidState                                a programmer error (also an AssertionError)

``server.core`` raises only ``DefinitionError``, ``SystemFailed`` and ``InvalidState``; the
wire errors are raised by ``server.net.codec`` and turned into close codes by the session.
"""

from __future__ import annotations


class GameServerError(Exception):
    """Root of every error Tickwire raises on purpose."""


class DefinitionError(GameServerError):
    """A game definition is invalid: names the file, the key, what was expected and found."""

    def __init__(self, path: str, key: str, expected: str, got: str) -> None:
        self.path = path
        self.key = key
        self.expected = expected
        self.got = got
        super().__init__(f"{path}: {key}: expected {expected}, got {got}")


class DefinitionErrors(GameServerError):
    """Several game definitions are broken: one :class:`DefinitionError` line each."""

    def __init__(self, errors: list[DefinitionError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class ProtocolViolation(GameServerError):
    """A client broke the protocol; ``close_code`` is the documented code to close with."""

    default_close_code: int = 4002

    def __init__(self, reason: str, close_code: int | None = None) -> None:
        self.reason = reason
        self.close_code = close_code if close_code is not None else self.default_close_code
        super().__init__(f"{reason} (close code {self.close_code})")


class MalformedMessage(ProtocolViolation):
    """Bytes that are not a valid message: not msgpack, wrong shape, wrong types or ranges."""

    default_close_code = 4002


class VersionMismatch(ProtocolViolation):
    """An envelope ``version`` other than :data:`server.net.protocol.PROTOCOL_VERSION`."""

    default_close_code = 4000


class MessageTooLarge(ProtocolViolation):
    """A message larger than the configured ``max_message_bytes``."""

    default_close_code = 1009


class UnknownMessageType(ProtocolViolation):
    """A message whose type id is not one of :class:`server.net.protocol.MessageType`."""

    default_close_code = 4003


class RateLimited(ProtocolViolation):
    """A client sent more messages or bytes than its token bucket allows."""

    default_close_code = 4008


class JoinRejected(GameServerError):
    """A join attempt was refused; ``reason`` is shown to the client with ``close_code``."""

    default_close_code = 4010

    def __init__(self, reason: str, close_code: int | None = None) -> None:
        self.reason = reason
        self.close_code = close_code if close_code is not None else self.default_close_code
        super().__init__(f"join rejected: {reason}")


class MatchFull(JoinRejected):
    """The match (or every match that could take the player) is at capacity."""

    default_close_code = 4005


class MatchNotFound(JoinRejected):
    """The named match (by id, or a reservation's) does not exist or has ended."""

    default_close_code = 4021


class SystemFailed(GameServerError):
    """A system raised during a tick. Raised ``from`` the original exception."""

    def __init__(self, system: str, tick: int, phase: str = "") -> None:
        self.system = system
        self.tick = tick
        self.phase = phase
        super().__init__(f"system {system!r} failed at tick {tick} (phase {phase or '?'})")


class InvalidState(GameServerError, AssertionError):
    """A programmer error: an API was used against its contract."""
