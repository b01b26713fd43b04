"""Every GraphQL document dropsync sends to Shopify, registered so tests can validate them all.

A document is registered once, at import, with `register(name, text)`. Tests walk the registry
and validate each document against the Admin API 2026-10 schema and against the 1,000-point
cost limit, so a typo or an over-wide query fails CI rather than a shop. Other modules (the
connect helper's backfill, polling and webhook documents) register theirs the same way.

Page sizes are literals, not variables, so a document's worst-case cost is fixed and known.
Nested connections stay small; the few orders that exceed them are read further with the
paging documents below.
"""

import functools
from dataclasses import dataclass
from enum import StrEnum

from graphql import OperationDefinitionNode, OperationType, parse

__all__ = [
    "BATCH_LIST_ARGUMENTS",
    "FULFILLMENT_CREATE",
    "FULFILLMENT_ORDER_LINES",
    "FULFILLMENT_TRACKING_INFO_UPDATE",
    "ORDERS_FULFILLMENT_STATE_BATCH",
    "ORDERS_FULFILLMENT_STATE_BATCH_SIZE",
    "ORDER_FULFILLMENTS_WIDE",
    "ORDER_FULFILLMENT_STATE",
    "ORDER_FULFILLMENT_STATE_MORE_FOS",
    "Document",
    "OperationKind",
    "document_for",
    "register",
    "registered_documents",
]


class OperationKind(StrEnum):
    QUERY = "query"
    MUTATION = "mutation"


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """A named GraphQL document; `kind` decides how failures are retried (see clients.shopify)."""

    name: str
    text: str
    kind: OperationKind

    @property
    def is_mutation(self) -> bool:
        return self.kind is OperationKind.MUTATION


_REGISTRY: dict[str, Document] = {}


def _operation_kind(text: str) -> OperationKind:
    operations = [
        node for node in parse(text).definitions if isinstance(node, OperationDefinitionNode)
    ]
    if len(operations) != 1:
        msg = "a document must hold exactly one operation"
        raise ValueError(msg)
    if operations[0].operation is OperationType.MUTATION:
        return OperationKind.MUTATION
    return OperationKind.QUERY


def register(name: str, text: str) -> Document:
    """Register a document under a unique name and return it; re-registering identical text
    (a module imported twice) is allowed, different text under the same name is not."""
    found = _REGISTRY.get(name)
    if found is not None:
        if found.text != text:
            msg = f"GraphQL document {name!r} is already registered with different text"
            raise ValueError(msg)
        return found
    document = Document(name=name, text=text, kind=_operation_kind(text))
    _REGISTRY[name] = document
    return document


def registered_documents() -> list[Document]:
    return list(_REGISTRY.values())


@functools.lru_cache(maxsize=256)
def document_for(text: str) -> Document:
    """A Document for ad-hoc text (not registered: tests of the registry cannot see it)."""
    return Document(name="adhoc", text=text, kind=_operation_kind(text))


_FULFILLMENT_ORDER_FIELDS = """
        id
        status
        requestStatus
        updatedAt
        fulfillAt
        assignedLocation { location { id } }
        supportedActions { action }
        fulfillmentHolds { id reason handle }
        lineItems(first: 20) {
          pageInfo { hasNextPage endCursor }
          nodes { id sku totalQuantity remainingQuantity lineItem { id } variant { id } }
        }
"""

_FULFILLMENT_FIELDS = """
      id
      status
      createdAt
      updatedAt
      location { id }
      trackingInfo(first: 5) { company number url }
"""

_STATE_FULFILLMENT_FIELDS = _FULFILLMENT_FIELDS.replace(
    "trackingInfo(first: 5)", "trackingInfo(first: 10)"
)

ORDER_FULFILLMENT_STATE = register(
    "OrderFulfillmentState",
    f"""
query DropsyncOrderFulfillmentState($id: ID!) {{
  order(id: $id) {{
    id
    name
    cancelledAt
    closedAt
    updatedAt
    fulfillmentsCount {{ count }}
    fulfillmentOrders(first: 5) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{{_FULFILLMENT_ORDER_FIELDS}      }}
    }}
    fulfillments(first: 10) {{{_STATE_FULFILLMENT_FIELDS}
      fulfillmentLineItems(first: 10) {{
        pageInfo {{ hasNextPage }}
        nodes {{ quantity lineItem {{ id }} }}
      }}
    }}
  }}
}}
""",
)

ORDER_FULFILLMENT_STATE_MORE_FOS = register(
    "OrderFulfillmentOrdersPage",
    f"""
query DropsyncOrderFulfillmentOrdersPage($id: ID!, $after: String) {{
  order(id: $id) {{
    id
    fulfillmentOrders(first: 5, after: $after) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{{_FULFILLMENT_ORDER_FIELDS}      }}
    }}
  }}
}}
""",
)

FULFILLMENT_ORDER_LINES = register(
    "FulfillmentOrderLinesPage",
    """
query DropsyncFulfillmentOrderLinesPage($id: ID!, $after: String) {
  fulfillmentOrder(id: $id) {
    id
    lineItems(first: 100, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { id sku totalQuantity remainingQuantity lineItem { id } variant { id } }
    }
  }
}
""",
)

# For the rare order with more fulfilments than the state query reads: tracking and location
# only (what adoption and the classifier need), without per-fulfilment line items.
ORDER_FULFILLMENTS_WIDE = register(
    "OrderFulfillmentsWide",
    f"""
query DropsyncOrderFulfillmentsWide($id: ID!) {{
  order(id: $id) {{
    id
    fulfillments(first: 100) {{{_FULFILLMENT_FIELDS}    }}
  }}
}}
""",
)

FULFILLMENT_CREATE = register(
    "FulfillmentCreate",
    """
mutation DropsyncFulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment {
      id
      status
      createdAt
      updatedAt
      location { id }
      trackingInfo(first: 10) { company number url }
    }
    userErrors { field message }
  }
}
""",
)

FULFILLMENT_TRACKING_INFO_UPDATE = register(
    "FulfillmentTrackingInfoUpdate",
    """
mutation DropsyncFulfillmentTrackingInfoUpdate(
  $fulfillmentId: ID!
  $trackingInfoInput: FulfillmentTrackingInput!
  $notifyCustomer: Boolean
) {
  fulfillmentTrackingInfoUpdate(
    fulfillmentId: $fulfillmentId
    trackingInfoInput: $trackingInfoInput
    notifyCustomer: $notifyCustomer
  ) {
    fulfillment {
      id
      status
      createdAt
      updatedAt
      location { id }
      trackingInfo(first: 10) { company number url }
    }
    userErrors { field message }
  }
}
""",
)

# Most orders are small: one pre-push read covers several orders of a shop with smaller pages.
# An order that does not fit (a page with more, five fulfilments or more, a fulfilment with
# three tracking numbers) is read again alone with ORDER_FULFILLMENT_STATE, so this read asks
# only for what the planner and the stored state use: no cursors (the re-read pages), no
# fulfilment count (a full page is taken to mean there may be more), no order name. Every
# field costs the API server work per order; the worker reads this before every push. At most
# this many ids per call, so the query stays under 1,000 points even if Shopify prices `nodes`
# per id.
ORDERS_FULFILLMENT_STATE_BATCH_SIZE = 6

# Arguments that take a list of ids, and the longest list dropsync sends in them; the cost test
# multiplies the field's cost by it.
BATCH_LIST_ARGUMENTS = {"ids": ORDERS_FULFILLMENT_STATE_BATCH_SIZE}

ORDERS_FULFILLMENT_STATE_BATCH = register(
    "OrdersFulfillmentStateBatch",
    """
query DropsyncOrdersFulfillmentStateBatch($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on Order {
      id
      cancelledAt
      closedAt
      fulfillmentOrders(first: 3) {
        pageInfo { hasNextPage }
        nodes {
          id
          status
          requestStatus
          updatedAt
          fulfillAt
          assignedLocation { location { id } }
          supportedActions { action }
          fulfillmentHolds { id reason handle }
          lineItems(first: 10) {
            pageInfo { hasNextPage }
            nodes { id sku totalQuantity remainingQuantity lineItem { id } variant { id } }
          }
        }
      }
      fulfillments(first: 5) {
        id
        status
        createdAt
        updatedAt
        location { id }
        trackingInfo(first: 3) { company number url }
      }
    }
  }
}
""",
)
