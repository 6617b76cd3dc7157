"""Wire constants: protocol version, message types and close codes.

This module and :mod:`server.net.messages` are the only places the wire format is
defined; ``client_sim`` and the browser page follow them, and docs/protocol.md
documents every member (a test fails if one is missing there).
"""

from __future__ import annotations

from enum import IntEnum

PROTOCOL_VERSION = 1
"""Sent in every envelope; a hello with another version is closed with VERSION_MISMATCH."""


class MessageType(IntEnum):
    """The ``type`` of an envelope ``[version, type, body]``."""

    # client -> server
    HELLO = 1
    INPUT = 2
    PING = 3
    ACK = 4
    SNAPSHOT_REQUEST = 5
    CHECKSUM = 6
    LEAVE = 7
    REPLAY_CONTROL = 10
    # server -> client
    WELCOME = 64
    STATE = 65
    LOCKSTEP_FRAME = 66
    CHECKPOINT = 67
    PONG = 68
    ERROR = 69
    DESYNC = 70
    SHUTDOWN = 71
    RESULT = 72
    NOTICE = 73


CLIENT_MESSAGES = frozenset(
    {
        MessageType.HELLO,
        MessageType.INPUT,
        MessageType.PING,
        MessageType.ACK,
        MessageType.SNAPSHOT_REQUEST,
        MessageType.CHECKSUM,
        MessageType.LEAVE,
        MessageType.REPLAY_CONTROL,
    }
)


class CloseCode(IntEnum):
    """Why the server closed a connection (websocket close codes, private range 4000-4999).

    ``MESSAGE_TOO_BIG`` is the standard 1009, sent by the websockets library itself
    when a frame exceeds ``max_message_bytes``.
    """

    NORMAL = 1000
    MESSAGE_TOO_BIG = 1009
    VERSION_MISMATCH = 4000
    BAD_TOKEN = 4001
    MALFORMED_MESSAGE = 4002
    UNKNOWN_MESSAGE_TYPE = 4003
    HANDSHAKE_TIMEOUT = 4004
    MATCH_FULL = 4005
    IDLE_TIMEOUT = 4006
    BINARY_ONLY = 4007
    RATE_LIMITED = 4008
    TOO_FAR_BEHIND = 4009
    JOIN_REJECTED = 4010
    RESUME_FORGED = 4011
    RESUME_EXPIRED = 4012
    RESUME_REUSED = 4013
    UNEXPECTED_MESSAGE = 4014
    MATCH_ENDED = 4015
    MATCH_FAILED = 4016
    SERVER_SHUTDOWN = 4017
    KICKED = 4018
    SERVER_BUSY = 4019
    LEFT = 4020
    MATCH_NOT_FOUND = 4021
    RESERVATION_FORGED = 4022
    RESERVATION_EXPIRED = 4023
    RESERVATION_USED = 4024
    BANNED = 4025
    NODE_GONE = 4026


class ErrorCode(IntEnum):
    """Codes of non-fatal ``ERROR`` messages: the message was dropped, the connection lives."""

    INPUT_TOO_OLD = 1
    """An input stamped for a tick that has already been simulated."""
    INPUT_TOO_NEW = 2
    """An input stamped further ahead than the match accepts."""
    NOT_IN_LOCKSTEP = 3
    """A checksum was sent to a state-sync match."""
    SPECTATOR_INPUT = 4
    """A spectator sent an input; spectators have no entity."""
    SEQ_NOT_NEWER = 5
    """An input whose ``seq`` is not serially newer than the last one received (a repeat,
    a step backwards, or a jump of 2^31 or more): dropped, never applied."""
    VIEW_CLAMPED = 6
    """An input whose ``view_tick`` lies in the future or beyond the lag-compensation
    history: clamped to the nearest tick the server can rewind to; the input is applied."""
    INPUT_SUPERSEDED = 7
    """The client's input buffer was full: the oldest pending input (``seq``) was dropped
    unapplied to make room for the new one."""
    SEQ_REQUIRED = 8
    """A client that has sent a ``seq`` sent an input without one: dropped."""
