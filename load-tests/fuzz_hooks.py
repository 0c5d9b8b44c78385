"""schemathesis hooks for scripts/fuzz-api (load-tests/schemathesis.toml names this file).

The document (`/api/openapi.json`) states every rule JSON Schema can express; these hooks hold
the ones it cannot, so that `positive_data_acceptance` judges only what the document promises:

1. `filter_case`: schema-valid requests that break a rule stated in words in the document
   (cross-parameter and cross-field rules) are not generated as *valid* data. Negative cases are
   left alone (they are refused anyway).
2. `filter_failure`: a schema-valid request refused for the state of the stores (no such coupon,
   not enough stock, a reset token that was never issued, a category that does not exist...) is
   not a schema mismatch: no document can say which ids or codes exist. Such refusals are
   recognised by their problem `code` (docs/api.md lists them), never by operation or status,
   so a refusal with any other code (`validation_failed` for a field rule, `invalid_parameter`)
   still fails the run.

docs/api.md ("Contract run") lists each rule and code with its reason.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import schemathesis

# shop_core::pagination: `page × limit` at most 10,000 (limit defaults to 20).
MAX_WINDOW = 10_000
DEFAULT_LIMIT = 20
# orders' stats: `from` defaults to 30 days before `to`, `to` to now; at most 366 days.
MAX_STATS_DAYS = 366

# Problem codes that name the state of the stores, not the shape of the request.
STATE_CODES = {
    "invalid_coupon",  # cart: no such coupon, expired, not yet valid, used up, empty cart, subtotal too low
    "insufficient_stock",  # cart: more than the stock
    "product_inactive",  # cart: a product its seller has not activated (or deleted)
    "invalid_reset_token",  # accounts: a reset token that was never issued (or expired)
    "signature_invalid",  # payments' webhook: no generator can sign a body with the endpoint secret
    "signature_expired",
}
# `validation_failed` field codes that do the same.
STATE_FIELD_CODES = {
    "unknown_category",  # catalog: `categoryId` / `parentId` names no category
    "incorrect",  # accounts: `currentPassword` is not the caller's password
    "line_limit",  # cart: the line would pass 99 units with what the cart already holds
    "unknown_product",  # inventory: a bulk row's `productId` names no product
    "not_found",  # orders: `shippingAddressId` is not one of the caller's saved addresses
}

# catalog's image URLs (domain.rs, `image_url_problem`: an `https://` URI with a host, no user
# information, no whitespace, as `http::Uri` parses it) - a rule the document states in words;
# only plainly valid ones are generated as valid data.
PLAIN_HTTPS_URL = re.compile(r"^https://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?:/[A-Za-z0-9._~/-]*)?$")


def _is_positive(case: Any) -> bool:
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode.is_positive


def _int(value: Any, default: int | None) -> int | None:
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _password_policy(value: Any) -> bool:
    """accounts' policy (password.rs): an upper-case letter, a lower-case letter, a digit or symbol."""
    if not isinstance(value, str):
        return True
    return (
        any(c.isupper() for c in value)
        and any(c.islower() for c in value)
        and any(not c.isalpha() and not c.isspace() for c in value)
    )


def _query_ok(label: str, query: dict[str, Any]) -> bool:
    if "page" in query or "limit" in query:
        page = _int(query.get("page"), 1)
        limit = _int(query.get("limit"), DEFAULT_LIMIT)
        if page is not None and limit is not None and page * limit > MAX_WINDOW:
            return False
    low, high = _int(query.get("minPrice"), 0), _int(query.get("maxPrice"), None)
    if low is not None and high is not None and low > high:
        return False
    start, end = _time(query.get("from")), _time(query.get("to"))
    if start is not None and end is not None and start >= end:
        return False
    if label == "GET /api/orders/stats":
        end = end or datetime.now(timezone.utc)
        start = start or end - timedelta(days=30)
        if start >= end or end - start > timedelta(days=MAX_STATS_DAYS):
            return False
    return True


def _body_ok(label: str, body: Any) -> bool:
    if not isinstance(body, dict):
        return True
    if label in ("POST /api/auth/register",):
        return _password_policy(body.get("password"))
    if label in ("POST /api/auth/reset-password", "POST /api/users/me/password"):
        return _password_policy(body.get("newPassword"))
    if label == "PATCH /api/orders/{id}/status":
        # A tracking number (and carrier) only with SHIPPED, which needs one.
        shipped = body.get("status") == "SHIPPED"
        has_tracking = body.get("trackingNumber") is not None
        return shipped == has_tracking and (shipped or body.get("carrier") is None)
    if label in ("POST /api/products", "POST /api/categories") and body.get("slug") is None:
        # Without a slug one is derived from the name, which then needs an ASCII letter or digit.
        name = body.get("name")
        if isinstance(name, str) and not re.search(r"[A-Za-z0-9]", name):
            return False
    if label == "POST /api/orders":
        # A shipping address, given or saved: exactly one of the two.
        return (body.get("shippingAddress") is None) != (body.get("shippingAddressId") is None)
    if label in ("POST /api/products", "PUT /api/products/{id}"):
        # `attributes`' rules (at most 50 names of 1 to 64 characters, 10 levels, 64 KiB, DynamoDB's
        # number range, no control characters) are not in its schema yet: not generated as valid.
        if body.get("attributes") is not None:
            return False
        images = body.get("images") or []
        return all(isinstance(url, str) and PLAIN_HTTPS_URL.match(url) and len(url) <= 2048 for url in images)
    if label == "POST /api/inventory/{productId}/adjust":
        return body.get("delta") != 0
    if label == "POST /api/inventory/bulk":
        ids = [item.get("productId") for item in body.get("items", []) if isinstance(item, dict)]
        return len(ids) == len(set(ids))
    if label in ("POST /api/coupons", "PUT /api/coupons/{code}"):
        # A percent coupon's value is 1 to 100; a window ends after it starts.
        value = body.get("value")
        if body.get("type") == "percent" and isinstance(value, (int, float)) and value > 100:
            return False
        start, end = _time(body.get("startsAt")), _time(body.get("endsAt"))
        return start is None or end is None or start < end
    if label == "PUT /api/reviews/{id}":
        return any(body.get(name) is not None for name in ("rating", "title", "content"))
    return True


def _undeclared_fields(case: Any) -> bool:
    """A body with properties its schema forbids (`additionalProperties: false`).

    schemathesis 4.32.5 sometimes labels such a body valid (e.g. with a header's name as a
    property); the document says it is not, and the API refuses it (`unknown_field`).
    """
    if not isinstance(case.body, dict):
        return False
    try:
        from schemathesis.specs.openapi.checks import BUNDLE_STORAGE_KEY, _collect_declared_properties

        body = case.operation.get_body_for_media_type(case.media_type)
        raw = body.raw_schema if body is not None else None
        if not isinstance(raw, dict):
            return False
        declared, forbids_extras = _collect_declared_properties(raw, raw.get(BUNDLE_STORAGE_KEY) or {}, set())
    except Exception:  # noqa: BLE001 - a hook must not abort the run; the case is then kept
        return False
    return bool(forbids_extras) and bool(set(case.body) - declared)


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    if not _is_positive(case):
        return True
    label = f"{case.method.upper()} {case.path}"
    return _query_ok(label, case.query or {}) and _body_ok(label, case.body) and not _undeclared_fields(case)


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    if type(failure).__name__ != "RejectedPositiveData":
        return True
    try:
        problem = json.loads(response.content)
    except (ValueError, TypeError):
        return True
    if not isinstance(problem, dict):
        return True
    if problem.get("code") in STATE_CODES:
        return False
    errors = problem.get("errors") or []
    if problem.get("code") == "validation_failed" and errors:
        if all(isinstance(e, dict) and e.get("code") in STATE_FIELD_CODES for e in errors):
            return False
    return True
