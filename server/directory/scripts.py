"""Lua scripts of the directory: one round trip where the plain commands need three.

Both run on a standalone Redis (>= 7.0) and read keys they build from the prefix they are
given (not declared in ``KEYS``), so they are not for Redis Cluster: one Redis (or a
replicated pair) holds the whole directory (docs/operations.md says how far that goes).

``OPEN_SNAPSHOT`` (``ARGV``: prefix ``tw:<cluster>:``, game) answers join-or-create in
one call: every live node's record and the open matches of that game, skipping (and
forgetting) nodes whose heartbeat key is gone — the same "never a stale entry" rule as
:meth:`~server.directory.redis_store.RedisDirectory.list_matches`. Open matches are read
from each node's *open index* ``<prefix>open:<node>``: a hash holding only the node's
open matches, its fields ``<game>\\x1f<match id>``, so a listing reads no full or private
match and no match of another game.

Reply: ``{n, node_1 … node_n, match_1 … match_m}`` (JSON strings).
"""

from __future__ import annotations

OPEN_FIELD_SEPARATOR = "\x1f"
"""Between the game and the match id in an open-index field."""

OPEN_SNAPSHOT = """
local prefix, game = ARGV[1], ARGV[2]
local ids = redis.call('ZRANGE', prefix .. 'nodes', 0, -1)
local out, matches, dead = {0}, {}, {}
local want = game .. '\\31'
for _, id in ipairs(ids) do
  local record = redis.call('GET', prefix .. 'node:' .. id)
  if record then
    out[1] = out[1] + 1
    out[#out + 1] = record
    local open = redis.call('HGETALL', prefix .. 'open:' .. id)
    for i = 1, #open, 2 do
      if string.sub(open[i], 1, #want) == want then
        matches[#matches + 1] = open[i + 1]
      end
    end
  else
    dead[#dead + 1] = id
  end
end
if #dead > 0 then
  redis.call('ZREM', prefix .. 'nodes', unpack(dead))
end
for _, m in ipairs(matches) do
  out[#out + 1] = m
end
return out
"""
