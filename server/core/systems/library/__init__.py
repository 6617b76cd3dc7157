"""The built-in library of game systems (issue 13), one module per family.

Every system here is plain numpy over whole arrays (no Python loop over entities or
pairs), integer arithmetic on the fixed-point positions, and random only through
``ctx.rng``, so lockstep replicas compute the same bits. They are registered by
importing the modules (``registry._load_builtin_systems``); docs/game-definitions.md
("Built-in systems") lists each one, the components it expects and its params.

- :mod:`.lifetime`: ``lifetime``, ``despawn_outside``
- :mod:`.combat`: ``fire_projectile``, ``damage_on_contact``, ``health``
- :mod:`.scoring`: ``score``, ``round_timer``
- :mod:`.zones`: ``zones``
- :mod:`.tag`: ``tag_transfer``
- :mod:`.units`: ``spawn_squad``, ``rally_to_input``, ``follow_owner``, ``separate``
"""
