"""The ONE classifier: set-based SQL that sorts packages and orders into classes.

Workers and the report read the same SQL from this package, so "what still needs pushing" and
"what the report calls shipped but not synced" can never disagree. Each class is a module with
a CTE builder (embeddable in a larger query, with the caller's parameter numbering) and a
function that runs it:

- `schema.classify.unsynced`: packages whose tracking number is not on a live Shopify
  fulfilment of their order (past a grace period) and not covered by a succeeded or adopted
  push. The push worker pushes these; the report shows them as "shipped but not synced".

The report adds its classes here, reusing these fragments rather than restating them.
"""

from schema.classify.unsynced import (
    UnsyncedPackage,
    shops_with_unsynced_packages,
    unsynced_cte,
    unsynced_packages,
)

__all__ = [
    "UnsyncedPackage",
    "shops_with_unsynced_packages",
    "unsynced_cte",
    "unsynced_packages",
]
