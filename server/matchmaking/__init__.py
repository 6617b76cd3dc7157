"""Matchmaking, pure: labels and filters, listing queries, join codes, seat reservations,
per-address rate limits and the matchmaker. No I/O, no asyncio, no clock: the gateway and
hosting layers pass time in and turn the errors into HTTP statuses and close codes."""

from server.matchmaking.codes import new_code, normalize_code
from server.matchmaking.errors import MatchmakingError
from server.matchmaking.labels import Filter, Labels, parse_filter, validate_labels
from server.matchmaking.listing import ListingQuery, parse_listing_query
from server.matchmaking.matchmaker import FormedMatch, Matchmaker
from server.matchmaking.ratelimit import AddressLimiter
from server.matchmaking.reservations import Reservation, ReservationBook, ReservationError
from server.matchmaking.tickets import Ticket, parse_ticket

__all__ = [
    "AddressLimiter",
    "Filter",
    "FormedMatch",
    "Labels",
    "ListingQuery",
    "Matchmaker",
    "MatchmakingError",
    "Reservation",
    "ReservationBook",
    "ReservationError",
    "Ticket",
    "new_code",
    "normalize_code",
    "parse_filter",
    "parse_listing_query",
    "parse_ticket",
    "validate_labels",
]
