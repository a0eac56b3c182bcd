"""The JSON contract of the API as pydantic models: the OpenAPI page (``/docs``) shows them.
Routes answer with ready JSON (faster than validating a page of orders again); the tests
check that answers match these models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class _Open(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShippingAddress(_Open):
    firstname: str
    lastname: str
    address1: str
    address2: str
    city: str
    state: str
    postal_code: str
    country: str
    phone: str


class Item(_Open):
    id: str
    shipped: bool
    status: Literal["pending", "acknowledged", "shipped", "cancelled"]
    product_name: str
    product_type: str
    product_id: str
    sku_id: str
    sku_attributes: dict[str, str] | str
    factory_sku: str
    sku_upc: str
    quantity: int
    shipping_date: str | None
    tracking_type: str | None
    tracking_code: str | None


class Order(_Open):
    id: str
    created_at: str
    created_at_time: str
    fan: str
    shipping_address: ShippingAddress
    items: list[Item]


class ViewOrdersResponse(_Open):
    response: list[Order]
    current_page: int
    page_size: int
    total_entries: int
    total_pages: int
    status: Literal["ok"]


class OneOrderResponse(_Open):
    response: Order
    status: Literal["ok"]


class UpdateResult(_Open):
    email: Literal[0, 1]
    modified: Literal[0, 1]
    items_modified: int


class UpdateResponse(_Open):
    response: UpdateResult
    status: Literal["ok"]


class OrdersInResult(_Open):
    orders: int
    orders_new: int
    orders_updated: int
    items: int
    items_new: int
    items_updated: int
    items_kept_shipped: int
    unrouted: int


class OrdersInResponse(_Open):
    response: OrdersInResult
    status: Literal["ok"]


# --------------------------------------------------------------------------- issue 14
# The SKU API (web/skus.py).


class Weight(_Open):
    US: str
    SI: str


class Sku(_Open):
    id: str
    product_name: str
    product_id: str
    attributes: dict[str, str] | str
    factory_sku: str
    upc: str
    weight: Weight | None
    available: Literal[0, 1]
    in_stock_quantity: int
    max_backorder_quantity: int
    reserve_quantity: int
    sold_unshipped_quantity: int
    sold_shipped_quantity: int
    updated_at: str


class SkuList(_Open):
    skus: list[Sku]


class ViewSkusResponse(_Open):
    response: SkuList
    current_page: int
    page_size: int
    total_entries: int
    total_pages: int
    status: Literal["ok"]


class SkuChange(_Open):
    id: str
    modified: Literal[0, 1]
    in_stock_quantity: int


class SkuChangeResponse(_Open):
    response: SkuChange
    status: Literal["ok"]


class Problem(_Open):
    index: int | None = None
    order_id: str | None = None
    item_id: str | None = None
    field: str | None = None
    reason: str


class ErrorResponse(_Open):
    status: Literal["error"]
    reason: str
    hint: str | None = None
    errors: list[Problem] | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in (
        (400, "bad parameters: the reason names the parameter"),
        (401, "no key, or an unknown or revoked key"),
        (403, "the key may not do this (read-only, or a partner's key)"),
        (404, "no such order or item (or not in the key's scope)"),
        (408, "the body did not arrive in time"),
        (413, "the body is over [api] max_body_bytes"),
        (422, "refused by the rules: every refused item is listed"),
        (503, "the store cannot be used, or did not answer in time"),
    )
}
