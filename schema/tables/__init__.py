"""Every table dropsync stores, imported here so `SQLModel.metadata` knows all of them."""

from schema.tables.inbox import SupplierDelivery, WebhookDelivery
from schema.tables.push import Push, PushBlock
from schema.tables.report import ClassifyDirty, ClassifyRun, Mismatch
from schema.tables.shop import ApiToken, App, Shop
from schema.tables.shopify import (
    ShopifyFulfillment,
    ShopifyFulfillmentLine,
    ShopifyFulfillmentOrder,
    ShopifyFulfillmentOrderLine,
    ShopifyLineItem,
    ShopifyOrder,
)
from schema.tables.supplier import (
    Package,
    SupplierAccount,
    SupplierAccountShop,
    SupplierOrder,
)
from schema.tables.sync import OAuthState, ShopSyncState, SupplierSyncState, WebhookSubscription
from schema.tables.timeline import OrderEvent

__all__ = [
    "ApiToken",
    "App",
    "ClassifyDirty",
    "ClassifyRun",
    "Mismatch",
    "OAuthState",
    "OrderEvent",
    "Package",
    "Push",
    "PushBlock",
    "Shop",
    "ShopSyncState",
    "ShopifyFulfillment",
    "ShopifyFulfillmentLine",
    "ShopifyFulfillmentOrder",
    "ShopifyFulfillmentOrderLine",
    "ShopifyLineItem",
    "ShopifyOrder",
    "SupplierAccount",
    "SupplierAccountShop",
    "SupplierDelivery",
    "SupplierOrder",
    "SupplierSyncState",
    "WebhookDelivery",
    "WebhookSubscription",
]
