"""Tests for core.carriers: supplier carrier names to Shopify tracking companies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.carriers import (
    SHOPIFY_REGIONAL_TRACKING_COMPANIES,
    SHOPIFY_TRACKING_COMPANIES,
    CarrierMatch,
    CarrierResolution,
    carrier_key,
    resolve_carrier,
)


@pytest.mark.parametrize(
    ("supplier_name", "company", "known"),
    [
        ("CJPacket Ordinary", "CJPacket", False),
        ("CJPacket Sensitive", "CJPacket", False),
        ("USPS", "USPS", True),
        ("USPS+", "USPS", True),
        ("YunExpress", "YunExpress", True),
        ("Yun Express Sensitive", "YunExpress", True),
        ("4PX", "4PX", True),
        ("CAINIAO_STANDARD", "Cainiao", False),
        ("CAINIAO_SUPER_ECONOMY", "Cainiao", False),
        ("AliExpress Standard Shipping", "Cainiao", False),
        ("AliExpress Premium Shipping", "Cainiao", False),
        ("China Post", "China Post", True),
        ("China Post Registered Air Mail", "China Post", True),
        ("ePacket", "China Post", True),
        ("EMS_ZX_ZX_US", "China Post", True),
        ("YANWEN_JYT", "Yanwen", False),
        ("DHL", "DHL Express", True),
        ("DHL eCommerce", "DHL eCommerce", True),
        ("DHL_ECOMMERCE_ASIA", "DHL eCommerce Asia", True),
        ("FEDEX_IE", "FedEx", True),
        ("S.F Express", "SF Express", True),
        ("royal mail", "Royal Mail", True),
        ("Canada Post", "Canada Post", True),
        ("Australia Post", "Australia Post", True),
        ("La Poste", "La Poste Colissimo", True),
        ("Deutsche Post", "Deutsche Post", True),
        ("PostNL", "PostNL", True),
        ("HKpost", "Hongkong Post", False),
    ],
)
def test_resolve_carrier_maps_supplier_names(supplier_name: str, company: str, known: bool) -> None:
    resolution = resolve_carrier(supplier_name, overrides={})
    assert resolution.company == company
    assert resolution.known_to_shopify is known


def test_resolve_carrier_passes_unknown_names_through() -> None:
    assert resolve_carrier("  Wintop Express ", overrides={}) == CarrierResolution(
        company="Wintop Express",
        known_to_shopify=False,
        matched_by=CarrierMatch.UNKNOWN,
    )


@pytest.mark.parametrize("name", [None, "", "   "])
def test_resolve_carrier_reports_missing_carrier(name: str | None) -> None:
    assert resolve_carrier(name, overrides={}) == CarrierResolution(
        company=None, known_to_shopify=False, matched_by=CarrierMatch.MISSING
    )


def test_override_wins_and_is_canonicalised_when_on_shopify_list() -> None:
    overrides = {"cjpacket ordinary": "usps"}
    assert resolve_carrier("CJPacket Ordinary", overrides=overrides) == CarrierResolution(
        company="USPS", known_to_shopify=True, matched_by=CarrierMatch.OVERRIDE
    )


def test_override_to_unlisted_company_is_not_known() -> None:
    resolution = resolve_carrier("CJPacket", overrides={"CJPacket": " CJ Packet "})
    assert resolution == CarrierResolution(
        company="CJ Packet", known_to_shopify=False, matched_by=CarrierMatch.OVERRIDE
    )


def test_override_for_other_name_does_not_apply() -> None:
    resolution = resolve_carrier("4PX", overrides={"CJPacket": "USPS", "": "UPS"})
    assert resolution.matched_by is CarrierMatch.SHOPIFY_NAME


def test_punctuation_only_name_does_not_match_empty_override_key() -> None:
    resolution = resolve_carrier("---", overrides={"": "UPS"})
    assert resolution.matched_by is CarrierMatch.UNKNOWN


@given(company=st.sampled_from(sorted(SHOPIFY_TRACKING_COMPANIES)))
def test_every_shopify_name_resolves_to_itself(company: str) -> None:
    for spelling in (company, company.lower(), company.upper().replace(" ", "_")):
        assert resolve_carrier(spelling, overrides={}) == CarrierResolution(
            company=company, known_to_shopify=True, matched_by=CarrierMatch.SHOPIFY_NAME
        )


def test_unlisted_china_carriers_are_not_on_the_2026_10_list() -> None:
    for name in ("Cainiao", "Yanwen", "CJPacket", "China EMS (ePacket)"):
        assert name not in SHOPIFY_TRACKING_COMPANIES
    assert "WanbExpress" in SHOPIFY_REGIONAL_TRACKING_COMPANIES["CN"]


def test_carrier_key_folds_accents_and_punctuation() -> None:
    assert carrier_key("Lietuvos Paštas") == "LIETUVOSPASTAS"
    assert carrier_key("s.f-express") == "SFEXPRESS"
