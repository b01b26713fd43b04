"""Tests for core.supplier_events: the facade exposes every adapter and model."""

from __future__ import annotations

from core import (
    aliexpress,
    cj,
    generic_events,
    signatures,
    supplier_events,
    supplier_model,
)
from core.supplier_model import TrackingStatus, tracking_status_from_cj


def test_facade_reexports_the_real_objects() -> None:
    modules = (aliexpress, cj, generic_events, signatures, supplier_model)
    for name in supplier_events.__all__:
        value = getattr(supplier_events, name)
        assert any(getattr(module, name, None) is value for module in modules), name


def test_cj_tracking_codes_cover_zero_to_fourteen() -> None:
    assert sorted(supplier_model.CJ_TRACKING_STATUS) == list(range(15))
    assert tracking_status_from_cj(12) is TrackingStatus.DELIVERED
    assert tracking_status_from_cj(13) is TrackingStatus.EXCEPTION
    assert tracking_status_from_cj(15) is None
