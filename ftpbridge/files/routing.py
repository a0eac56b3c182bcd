"""Which partner an order's item goes to: the first whose ``skus`` globs match the item's
warehouse SKU or SKU id, else the partner with ``default = true`` (orders in, and the SKU
catalogue of ``skus load``)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from ftpbridge.settings import PartnerSettings


def route(partners: Iterable[PartnerSettings], warehouse_sku: str, sku_id: str) -> str | None:
    """The partner an item goes to: the first whose ``skus`` glob matches the warehouse sku
    or sku id (case-insensitive), else the one with ``default = true``, else None."""
    default: str | None = None
    for partner in partners:
        for pattern in partner.skus:
            lowered = pattern.casefold()
            if (warehouse_sku and fnmatch.fnmatchcase(warehouse_sku.casefold(), lowered)) or (
                sku_id and fnmatch.fnmatchcase(sku_id.casefold(), lowered)
            ):
                return partner.name
        if partner.default and default is None:
            default = partner.name
    return default
