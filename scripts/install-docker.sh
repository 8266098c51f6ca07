#!/usr/bin/env bash
# Makes sure a Docker engine answers, for the docker tests (and that debootstrap is there,
# for `nborch image build-runtime`, and docker-registry, for the push test's throw-away
# registry). Idempotent: does nothing when all is there and an engine answers.
#   root, no engine:     installs Debian's docker.io (debootstrap, docker-registry) when
#                        missing, starts dockerd in the background (log: /tmp/dockerd.log)
#                        and waits for it.
#   not root, no engine: says why on stderr; the docker tests are then skipped with a reason.
# With CI=true, an engine that cannot be started is an error (the docker tests must run).
set -euo pipefail

fail() {
  echo "$*" >&2
  if [ -n "${CI:-}" ]; then exit 1; fi
  exit 0
}

engine_answers() { command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1; }

tools_missing() { ! command -v debootstrap >/dev/null || ! command -v docker-registry >/dev/null; }

if engine_answers && { [ "$(id -u)" != 0 ] || ! tools_missing; }; then
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  engine_answers || fail "No Docker engine answers to user '$(id -un)', who is not root: the" \
    "docker tests will be skipped (start one and join the docker group, or run" \
    "make services as root: it installs and starts dockerd)."
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v docker-registry >/dev/null || missing+=(docker-registry)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "Installing ${missing[*]} (Debian's packages) for the docker tests..."
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed: the docker tests cannot run."
fi

if engine_answers; then
  exit 0
fi
if ! pgrep -x dockerd >/dev/null; then
  echo "Starting dockerd (log: /tmp/dockerd.log)..."
  setsid dockerd >/tmp/dockerd.log 2>&1 < /dev/null &
fi
for _ in $(seq 1 60); do
  if engine_answers; then
    echo "Docker engine $(docker version --format '{{.Server.Version}}') is up."
    exit 0
  fi
  sleep 1
done
fail "dockerd did not answer within 60 s: the docker tests cannot run. Its log:" \
  "$(tail -n 20 /tmp/dockerd.log 2>/dev/null)"
