"""Map supplier carrier names to Shopify's tracking company names.

Shopify builds the clickable tracking link and updates ``shipment_status`` only for
companies on its supported list, written exactly as listed ("capitalization matters").
For any other carrier the tracking URL has to be sent with the fulfilment; the push
planner does that when :attr:`CarrierResolution.known_to_shopify` is false.

Sources and what is verified:

* :data:`SHOPIFY_TRACKING_COMPANIES` is copied verbatim from the description of
  ``FulfillmentTrackingInfo.company`` in Shopify's Admin GraphQL 2026-10 schema
  (``/work/shared/shopify-schema/admin-2026-10.json.gz``, "The following tracking
  companies display for shops located in any country"). Verified.
* :data:`SHOPIFY_REGIONAL_TRACKING_COMPANIES` is the same description's per-country
  list. Those names display only for shops in that country, so they do not count as
  known here: we cannot tell from core where the shop is, and sending the URL as well
  is harmless.
* ``Cainiao``, ``Yanwen``, ``CJPacket``, ``China EMS (ePacket)``, ``Sunyou`` and
  ``Hongkong Post`` are NOT on the 2026-10 list (verified by absence).
* The alias table (supplier spelling -> company) is our own reading of CJdropshipping's
  logistic names and AliExpress logistics service names; it is not from a supplier
  document. In particular, mapping ePacket/EMS to ``China Post`` (ePacket is a China
  Post EMS product) and the AliExpress shipping products to ``Cainiao`` (the AliExpress
  logistics arm) are assumptions. Merchants correct any of it with overrides.

Lookups ignore case, spaces and punctuation: ``"yun express"`` finds ``YunExpress``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "SHOPIFY_REGIONAL_TRACKING_COMPANIES",
    "SHOPIFY_TRACKING_COMPANIES",
    "CarrierMatch",
    "CarrierResolution",
    "carrier_key",
    "resolve_carrier",
]


def _split_names(text: str) -> frozenset[str]:
    return frozenset(name.strip() for name in text.split("|"))


SHOPIFY_TRACKING_COMPANIES: frozenset[str] = _split_names(
    """4PX|AGS|Amazon|Amazon Logistics UK|An Post|Anjun Logistics|APC|Asendia USA|
    Australia Post|Bonshaw|BPost|BPost International|Canada Post|Canpar|CDL Last Mile|
    China Post|Chronopost|Chukou1|Colissimo|Comingle|Coordinadora|Correios|Correos|CTT|
    CTT Express|Cyprus Post|Delnext|Deutsche Post|DHL eCommerce|DHL eCommerce Asia|
    DHL Express|DPD|DPD Local|DPD UK|DTD Express|DX|Eagle|Estes|Evri|FedEx|
    First Global Logistics|First Line|FSC|Fulfilla|GLS|
    Guangdong Weisuyi Information Technology (WSE)|
    Heppner Internationale Spedition GmbH & Co.|Iceland Post|IDEX|Israel Post|
    Japan Post (EN)|Japan Post (JA)|La Poste Colissimo|La Poste Burkina Faso|Lasership|
    Latvia Post|Lietuvos Paštas|Logisters|Lone Star Overnight|M3 Logistics|Meteor Space|
    Mondial Relay|New Zealand Post|NinjaVan|North Russia Supply Chain (Shenzhen) Co.|
    OnTrac|Packeta|Pago Logistics|Ping An Da Tengfei Express|Pitney Bowes|
    Portal PostNord|Poste Italiane|PostNL|PostNord DK|PostNord NO|PostNord SE|Purolator|
    Qxpress|Qyun Express|Royal Mail|Royal Shipments|Sagawa (EN)|Sagawa (JA)|Sendle|
    SF Express|SFC Fulfillment|ShipBob|SHREE NANDAN COURIER|Singapore Post|
    Southwest Air Cargo|StarTrack|Step Forward Freight|Swiss Post|TForce Final Mile|
    Tinghao|TNT|Toll IPEC|United Delivery Service|UPS|USPS|Venipak|We Post|Whistl|
    Wizmo|WMYC|Xpedigo|XPO Logistics|Yamato (EN)|Yamato (JA)|YiFan Express|YunExpress"""
)

SHOPIFY_REGIONAL_TRACKING_COMPANIES: Mapping[str, frozenset[str]] = {
    "AU": frozenset(
        {
            "Australia Post",
            "Sendle",
            "Aramex Australia",
            "TNT Australia",
            "Hunter Express",
            "Couriers Please",
            "Bonds",
            "Allied Express",
            "Direct Couriers",
            "Northline",
            "GO Logistics",
        }
    ),
    "AT": frozenset({"Österreichische Post"}),
    "BG": frozenset({"Speedy"}),
    "CA": frozenset({"Intelcom", "BoxKnight", "Loomis", "GLS"}),
    "CN": frozenset(
        {
            "China Post",
            "DHL eCommerce Asia",
            "WanbExpress",
            "YunExpress",
            "Anjun Logistics",
            "SFC Fulfillment",
            "FSC",
        }
    ),
    "CZ": frozenset({"Zásilkovna"}),
    "DE": frozenset(
        {
            "Deutsche Post (DE)",
            "Deutsche Post (EN)",
            "DHL",
            "DHL Express",
            "Swiship",
            "Hermes",
            "GLS",
        }
    ),
    "ES": frozenset({"SEUR"}),
    "FR": frozenset({"Colissimo", "Mondial Relay", "Colis Privé", "GLS"}),
    "GB": frozenset(
        {"Evri", "DPD UK", "Parcelforce", "Yodel", "DHL Parcel", "Tuffnells"}
    ),
    "GR": frozenset({"ACS Courier"}),
    "HK": frozenset({"SF Express"}),
    "IE": frozenset({"Fastway", "DPD Ireland"}),
    "IN": frozenset(
        {
            "DTDC",
            "India Post",
            "Delhivery",
            "Gati KWE",
            "Professional Couriers",
            "XpressBees",
            "Ecom Express",
            "Ekart",
            "Shadowfax",
            "Bluedart",
        }
    ),
    "IT": frozenset({"BRT", "GLS Italy"}),
    "NL": frozenset({"DHL Parcel", "DPD"}),
    "NO": frozenset({"Bring"}),
    "PL": frozenset({"Inpost"}),
    "TR": frozenset({"PTT", "Yurtiçi Kargo", "Aras Kargo", "Sürat Kargo"}),
    "US": frozenset(
        {
            "GLS",
            "Alliance Air Freight",
            "Pilot Freight",
            "LSO",
            "Old Dominion",
            "Pandion",
            "R+L Carriers",
            "Southwest Air Cargo",
        }
    ),
    "ZA": frozenset({"Fastway", "Skynet"}),
}


class CarrierMatch(StrEnum):
    """How a carrier name was resolved."""

    OVERRIDE = "override"  # the shop's own mapping
    SHOPIFY_NAME = "shopify_name"  # the name is on Shopify's list (any spelling)
    ALIAS = "alias"  # a known supplier spelling of a carrier
    UNKNOWN = "unknown"  # passed through as written
    MISSING = "missing"  # the supplier gave no carrier


@dataclass(frozen=True, slots=True, kw_only=True)
class CarrierResolution:
    """The tracking company to send to Shopify for one supplier carrier name.

    `company` is ``None`` only when the supplier gave no carrier at all.
    """

    company: str | None
    known_to_shopify: bool
    matched_by: CarrierMatch


def carrier_key(name: str) -> str:
    """Return the lookup key of a carrier name: upper-case ASCII letters and digits."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _NON_ALNUM.sub("", folded.upper())


def resolve_carrier(
    name: str | None, *, overrides: Mapping[str, str]
) -> CarrierResolution:
    """Resolve a supplier carrier name to a Shopify tracking company.

    Order of precedence: the shop's `overrides` (keyed by supplier carrier name, any
    spelling), then Shopify's list, then the alias table, then the name as written.

    Parameters
    ----------
    name
        The carrier as the supplier wrote it (``"CJPacket Ordinary"``,
        ``"CAINIAO_STANDARD"``); ``None`` or blank when unknown.
    overrides
        Per-shop mapping from supplier carrier name to the company to send.
    """
    if name is None or not name.strip():
        return CarrierResolution(
            company=None, known_to_shopify=False, matched_by=CarrierMatch.MISSING
        )
    key = carrier_key(name)
    for supplier_name, company in overrides.items():
        if key and carrier_key(supplier_name) == key:
            canonical = _SHOPIFY_BY_KEY.get(carrier_key(company))
            return CarrierResolution(
                company=canonical or company.strip(),
                known_to_shopify=canonical is not None,
                matched_by=CarrierMatch.OVERRIDE,
            )
    if key in _SHOPIFY_BY_KEY:
        return CarrierResolution(
            company=_SHOPIFY_BY_KEY[key],
            known_to_shopify=True,
            matched_by=CarrierMatch.SHOPIFY_NAME,
        )
    alias = _alias_for(key)
    if alias is not None:
        return CarrierResolution(
            company=alias,
            known_to_shopify=alias in SHOPIFY_TRACKING_COMPANIES,
            matched_by=CarrierMatch.ALIAS,
        )
    return CarrierResolution(
        company=name.strip(), known_to_shopify=False, matched_by=CarrierMatch.UNKNOWN
    )


_NON_ALNUM = re.compile(r"[^0-9A-Z]+")

_SHOPIFY_BY_KEY: Mapping[str, str] = {
    carrier_key(company): company for company in SHOPIFY_TRACKING_COMPANIES
}

# Exact aliases (after carrier_key) for supplier spellings that are not prefixes.
_EXACT_ALIASES: Mapping[str, str] = {
    "EMS": "China Post",
    "CHINAEMS": "China Post",
    "CHINAEMSEPACKET": "China Post",
    "CPAM": "China Post",
    "SF": "SF Express",
    "DHL": "DHL Express",
    "DHLOFFICIAL": "DHL Express",
    "HERMES": "Evri",
    "HKPOST": "Hongkong Post",
    "HONGKONGPOST": "Hongkong Post",
    "CK1": "Chukou1",
    "SFC": "SFC Fulfillment",
    "ANJUN": "Anjun Logistics",
}

# Prefix aliases: the longest matching prefix wins, so "DHLECOMMERCE..." beats "DHL...".
_PREFIX_ALIASES: tuple[tuple[str, str], ...] = tuple(
    sorted(
        {
            "CJPACKET": "CJPacket",
            "CAINIAO": "Cainiao",
            "ALIEXPRESS": "Cainiao",
            "AECNSUPERECONOMY": "Cainiao",
            "CHINAPOST": "China Post",
            "EPACKET": "China Post",
            "EMSZX": "China Post",
            "YANWEN": "Yanwen",
            "YUNEXPRESS": "YunExpress",
            "YUNTU": "YunExpress",
            "4PX": "4PX",
            "FOURPX": "4PX",
            "USPS": "USPS",
            "UPS": "UPS",
            "FEDEX": "FedEx",
            "DHLEXPRESS": "DHL Express",
            "DHLECOMMERCEASIA": "DHL eCommerce Asia",
            "DHLECOMMERCE": "DHL eCommerce",
            "DHLGLOBALMAIL": "DHL eCommerce",
            "SFEXPRESS": "SF Express",
            "SUNYOU": "Sunyou",
            "WANB": "WanbExpress",
            "ROYALMAIL": "Royal Mail",
            "CANADAPOST": "Canada Post",
            "AUSTRALIAPOST": "Australia Post",
            "LAPOSTE": "La Poste Colissimo",
            "DEUTSCHEPOST": "Deutsche Post",
            "POSTNL": "PostNL",
            "SINGAPOREPOST": "Singapore Post",
            "SWISSPOST": "Swiss Post",
            "JAPANPOST": "Japan Post (EN)",
            "NEWZEALANDPOST": "New Zealand Post",
        }.items(),
        key=lambda item: -len(item[0]),
    )
)


def _alias_for(key: str) -> str | None:
    if key in _EXACT_ALIASES:
        return _EXACT_ALIASES[key]
    for prefix, company in _PREFIX_ALIASES:
        if key.startswith(prefix):
            return company
    return None
