"""One Starlette app serving the CJ API, the AliExpress gateway and ``/_sim``."""

from __future__ import annotations

import random
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from starlette.applications import Starlette

from simulator.suppliers.aliexpress_api import AliExpressApi
from simulator.suppliers.cj_api import CjApi
from simulator.suppliers.control import ControlApi
from simulator.suppliers.faults import FaultInjector, FaultKnobs
from simulator.suppliers.simulator import SupplierSimulator

__all__ = ["Lifespan", "create_app"]


Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


def create_app(
    sim: SupplierSimulator,
    *,
    faults: FaultKnobs | None = None,
    lifespan: Lifespan | None = None,
) -> Starlette:
    """Build the ASGI app; ``app.state.sim`` and ``app.state.faults`` expose the parts.

    The API sides draw request ids and fault rolls from generators seeded off
    ``sim.seed`` but separate from the simulator's own, so API traffic never
    changes the ids of the webhooks the simulator emits.
    """
    injector = FaultInjector(clock=sim.clock, rng=random.Random(sim.seed + 2), knobs=faults)
    cj_api = CjApi(sim, faults=injector, rng=random.Random(sim.seed + 3))
    ae_api = AliExpressApi(sim, faults=injector, rng=random.Random(sim.seed + 4))
    control = ControlApi(sim, faults=injector)
    app = Starlette(
        routes=[*cj_api.routes(), *ae_api.routes(), *control.routes()],
        lifespan=lifespan,
    )
    app.state.sim = sim
    app.state.faults = injector
    return app
