"""Tracking URLs Shopify builds for carriers it knows, when the app sends no URL."""

from __future__ import annotations

__all__ = ["tracking_url_for"]

_TEMPLATES: dict[str, str] = {
    "4PX": "https://track.4px.com/#/result/0/{number}",
    "China Post": "https://track.aftership.com/china-post/{number}",
    "DHL Express": "https://www.dhl.com/en/express/tracking.html?AWB={number}",
    "DHL eCommerce Asia": "https://www.logistics.dhl/global-en/home/tracking.html?tracking-id={number}",
    "FedEx": "https://www.fedex.com/fedextrack/?trknbr={number}",
    "UPS": "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums={number}",
    "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
    "YunExpress": "https://www.yuntrack.com/parcelTracking?id={number}",
}


def tracking_url_for(company: str | None, number: str | None) -> str | None:
    """Return the URL Shopify would build, or None for an unknown carrier.

    Capitalisation matters, as on Shopify: `ups` is not `UPS`.
    """
    if company is None or number is None:
        return None
    template = _TEMPLATES.get(company)
    return template.format(number=number) if template else None
