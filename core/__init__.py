"""dropsync's pure domain: no IO, no awaits, only the standard library and orjson.

Modules: errors, ids, json_reader, tracking, carriers, shopify_payloads,
order_reference, planner, signatures, supplier_model, cj, aliexpress,
generic_events and the supplier_events facade.
"""
