#!/usr/bin/env bash
# A fulfiller's round against the Orders API with curl alone (run by test_demo_and_curl.py).
# $API is the service's base URL, $KEY an API key scoped to partner acme.
set -euo pipefail
fail() { echo "curl flow: $*" >&2; exit 1; }

# 1. View Orders as Topspin documents it: form fields, the key as the Basic password.
listed=$(curl -sS --fail-with-body -u "warehouse@example.com:$KEY" \
    --data-urlencode 'search={"filter":"not_shipped","page_size":1}' \
    --data 'set_acknowledged=true' "$API/api/v1/order")
echo "$listed" | grep -q '"status":"ok"' || fail "View Orders: $listed"
echo "$listed" | grep -q '"id":"1016","shipped":false,"status":"acknowledged"' \
    || fail "item 1016 was not returned acknowledged: $listed"

# 2. Push tracking for it: Update Orders with a JSON body, the key as a Bearer token.
today=$(date -u +%Y-%m-%d)
updated=$(curl -sS --fail-with-body -X PUT -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' \
    --data "{\"orders\":[{\"id\":\"11\",\"items\":[{\"id\":\"1016\",\"status\":\"shipped\",\"shipping_date\":\"$today\",\"tracking_type\":\"UPS\",\"tracking_code\":\"1Z5R89390357567127\"}]}]}" \
    "$API/api/v1/order/update")
[ "$updated" = '{"response":{"email":0,"modified":1,"items_modified":1},"status":"ok"}' ] \
    || fail "Update Orders: $updated"

# 3. See it shipped (GET with the search in the query string).
shipped=$(curl -sS --fail-with-body -u "x:$KEY" -G \
    --data-urlencode 'search={"filter":"shipped"}' "$API/api/v1/order")
echo "$shipped" | grep -q '"tracking_code":"1Z5R89390357567127"' || fail "not shipped: $shipped"

# 4. A wrong key gets 401 with WWW-Authenticate.
status=$(curl -s -o /dev/null -w '%{http_code}' -u "x:wrong" "$API/api/v1/order")
[ "$status" = 401 ] || fail "a wrong key got $status"
echo "curl flow: ok"
