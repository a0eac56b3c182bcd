#!/usr/bin/env bash
# The README's SKU API lines with curl alone (run by test_skus_api.py).
# $API is the service's base URL, $KEY an API key scoped to partner acme.
set -euo pipefail
fail() { echo "curl skus: $*" >&2; exit 1; }

# View SKUs (the key's partner's): the README's line.
listed=$(curl -sS --fail-with-body -u "you:$KEY" "$API/api/v1/sku")
echo "$listed" | grep -q '"status":"ok"' || fail "View SKUs: $listed"
echo "$listed" | grep -q '"id":"27"' || fail "SKU 27 is not listed: $listed"

# Update SKUs as Topspin documents it: form fields.
updated=$(curl -sS --fail-with-body -u "you:$KEY" \
    --data 'id=27&available=true&factory_sku=55666&in_stock_quantity=12' "$API/api/v1/sku/update")
[ "$updated" = '{"status":"ok","response":{"id":"27","modified":1,"in_stock_quantity":12}}' ] \
    || fail "Update SKUs: $updated"

# Stock that came back (a return) and a reshipment.
added=$(curl -sS --fail-with-body -u "you:$KEY" --data 'id=27&quantity=3' "$API/api/v1/sku/add")
echo "$added" | grep -q '"in_stock_quantity":15' || fail "add: $added"
removed=$(curl -sS --fail-with-body -u "you:$KEY" --data 'id=27&quantity=1' "$API/api/v1/sku/remove")
echo "$removed" | grep -q '"in_stock_quantity":14' || fail "remove: $removed"

# Changed since a day.
since=$(curl -sS --fail-with-body -u "you:$KEY" --data "updated_after=$(date -u +%Y-%m-%d)" \
    "$API/api/v1/sku")
echo "$since" | grep -q '"in_stock_quantity":14' || fail "updated_after: $since"

# Removing more than there is: 422, nothing changed.
status=$(curl -s -o /dev/null -w '%{http_code}' -u "you:$KEY" --data 'id=27&quantity=100' \
    "$API/api/v1/sku/remove")
[ "$status" = 422 ] || fail "removing too many got $status"
echo "curl skus: ok"
