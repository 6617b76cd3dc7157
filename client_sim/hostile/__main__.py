"""``python -m client_sim.hostile``: see :mod:`client_sim.hostile.runner`."""

from client_sim.hostile.runner import main

raise SystemExit(main())
