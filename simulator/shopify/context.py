"""What every resolver sees: the shop, the rules, the cost meter and the API version."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from simulator.shopify.behaviour import ShopBehaviour
from simulator.shopify.cost import CostMeter
from simulator.shopify.model import Shop

__all__ = ["ExecutionContext"]


@dataclass(slots=True, kw_only=True)
class ExecutionContext:
    shop: Shop
    behaviour: ShopBehaviour
    meter: CostMeter
    api_version: str
    now: Callable[[], datetime]
    require_https_webhooks: bool = True
