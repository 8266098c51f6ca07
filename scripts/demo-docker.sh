#!/usr/bin/env bash
# The main job on a docker pool: the runtime image built from Debian's and PyPI's packages
# (cached), a docker pool, a worker that runs each run in a container of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
export NBORCH_HOME="${NBORCH_HOME:-$PWD/.demo}"
export PATH="$PWD/.venv/bin:$PATH"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

CI=true bash scripts/install-docker.sh  # an engine must answer: fail loudly if it cannot

say nborch image build-runtime
nborch image build-runtime

say nborch work-pool create demo-docker-pool --type docker
nborch work-pool inspect demo-docker-pool >/dev/null 2>&1 \
  && echo "(work pool 'demo-docker-pool' exists already)" \
  || nborch work-pool create demo-docker-pool --type docker

say nborch deploy notebooks/hello.ipynb --name in-docker --pool demo-docker-pool \
  --job-var image_pull_policy=Never
nborch deploy notebooks/hello.ipynb --name in-docker --pool demo-docker-pool \
  --job-var image_pull_policy=Never

say nborch deployment run hello/in-docker -p name=container -p times=2
RUN_ID=$(nborch deployment run hello/in-docker -p name=container -p times=2 --json \
         | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')

say nborch worker start --pool demo-docker-pool --run-once
nborch worker start --pool demo-docker-pool --run-once

say nborch flow-run inspect "$RUN_ID"
nborch flow-run inspect "$RUN_ID"
STATE=$(nborch flow-run inspect "$RUN_ID" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
[ "$STATE" = COMPLETED ]
