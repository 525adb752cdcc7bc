#!/usr/bin/env bash
# The same streams, fed by hand with redis-cli: what any language with a Redis client can do.
# Usage: REDIS_URL=redis://localhost:6379/0 bash examples/feed_with_redis_cli.sh
set -euo pipefail
url=${REDIS_URL:-redis://localhost:6379/0}
cli() { redis-cli -u "$url" "$@" >/dev/null; }
preds='mlmon:{fraud}:predictions'
labels='mlmon:{fraud}:labels'

# One record per entry: the field `data` holds one JSON object.
cli XADD "$preds" MAXLEN '~' 1000000 '*' data \
  '{"id":"cli-1","version":"by-hand","features":{"amount":129.5,"country":"DE","age":41,"channel":"web"},"prediction":1,"scores":{"0":0.09,"1":0.91},"latency_ms":14.2}'

# Many records per entry: the field `batch` holds a JSON array (at most 10,000 records).
cli XADD "$preds" MAXLEN '~' 1000000 '*' batch \
  '[{"id":"cli-2","version":"by-hand","features":{"amount":12,"country":"FR","age":33,"channel":"app"},"prediction":0,"scores":0.04},
    {"id":"cli-3","version":"by-hand","features":{"amount":980,"country":"US","age":29,"channel":"web"},"prediction":1,"scores":0.77}]'

# A failed call: status error, no prediction needed.
cli XADD "$preds" MAXLEN '~' 1000000 '*' data \
  '{"id":"cli-4","version":"by-hand","features":{"amount":55,"country":"GB","age":61,"channel":"app"},"status":"error","latency_ms":250}'

# Labels, later, with the ids of their predictions; trimmed by age (MINID: one day ago).
day_ago=$(( ($(date +%s) - 86400) * 1000 ))
cli XADD "$labels" MINID '~' "$day_ago" '*' data '{"id":"cli-1","label":1}'
cli XADD "$labels" MINID '~' "$day_ago" '*' batch '[{"id":"cli-2","label":0},{"id":"cli-3","label":0}]'
echo "wrote 4 predictions and 3 labels for model fraud"
