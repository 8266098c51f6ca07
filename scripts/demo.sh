#!/usr/bin/env bash
# The main job on the embedded default: SQLite under .demo/, a process pool, a worker and a
# scheduled, parameterised run of notebooks/hello.ipynb, then its output.
set -euo pipefail
cd "$(dirname "$0")/.."
export NBORCH_HOME="${NBORCH_HOME:-$PWD/.demo}"
export PATH="$PWD/.venv/bin:$PATH"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say nborch work-pool create demo-pool --type process
nborch work-pool inspect demo-pool >/dev/null 2>&1 \
  && echo "(work pool 'demo-pool' exists already)" \
  || nborch work-pool create demo-pool --type process

say nborch deploy notebooks/hello.ipynb --name demo --pool demo-pool --tag demo
nborch deploy notebooks/hello.ipynb --name demo --pool demo-pool --tag demo

say nborch deployment run hello/demo -p name=nborch -p times=3 -p excited=true --start-in 2
RUN_ID=$(nborch deployment run hello/demo -p name=nborch -p times=3 -p excited=true \
         --start-in 2 --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
echo "Scheduled flow run $RUN_ID to start in 2 s."

say nborch worker start --pool demo-pool "&"
nborch worker start --pool demo-pool --poll-interval 0.5 &
WORKER=$!
trap 'kill -TERM $WORKER 2>/dev/null || true' EXIT

say nborch flow-run logs "$RUN_ID" --follow
nborch flow-run logs "$RUN_ID" --follow

say nborch flow-run inspect "$RUN_ID"
nborch flow-run inspect "$RUN_ID"

say nborch work-pool ls
nborch work-pool ls

kill -TERM $WORKER; wait $WORKER || true
trap - EXIT
STATE=$(nborch flow-run inspect "$RUN_ID" --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["state"])')
OUTPUT=$(nborch flow-run inspect "$RUN_ID" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["output_path"])')
printf '\nThe run ended %s. Output notebook: %s\n' "$STATE" "$OUTPUT"
[ "$STATE" = COMPLETED ]
