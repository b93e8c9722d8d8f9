#!/usr/bin/env bash
# `make docker-test`: the Docker image end to end. Builds it, checks its size
# and user, runs `serve --sandbox` in it with the sandbox's control port
# published, creates a session through the API, links it through the
# sandbox, restarts the container and checks the session comes back
# CONNECTED with no new scan. Cleans up what it created.
#
# Where Docker cannot run it (no docker, no daemon, base images neither
# present nor pullable) it prints "skipped: <reason>" and exits 0: it is not
# part of `make test`.
#
# Environment: CHROMIUM=full builds the full-Chromium variant (no size
# limit then); MAX_IMAGE_MB (600); DOCKER_BUILDKIT=0 forces the classic
# builder; KEEP_IMAGE=1 keeps the image tag.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGES=(rust:1-bookworm node:20-bookworm-slim debian:bookworm-slim)
CHROMIUM="${CHROMIUM:-headless-shell}"
MAX_IMAGE_MB="${MAX_IMAGE_MB:-600}"
RUN_ID="wabridge-docker-test-$$"
IMAGE="wabridge:docker-test-$$"
CONTAINER="$RUN_ID"
VOLUME="$RUN_ID"
KEY="wab_docker_test_$$_${RANDOM}${RANDOM}"
SESSION=dockertest
PHONE=15550001111
WORK="$(mktemp -d)"
API_URL=""
SB_URL=""
CREATED=()

say() { echo "docker-test: $*"; }
skip() {
  say "skipped: $*"
  exit 0
}
fail() {
  say "FAILED: $*" >&2
  if created container; then
    say "last lines of the container's log:" >&2
    docker logs --tail 40 "$CONTAINER" 2>&1 | sed 's/^/    /' >&2 || true
  fi
  exit 1
}

created() { [[ " ${CREATED[*]} " == *" $1 "* ]]; }

# The container first: Docker does not remove a volume still in use.
cleanup() {
  if created container; then docker rm -f "$CONTAINER" >/dev/null 2>&1 || true; fi
  if created volume; then docker volume rm -f "$VOLUME" >/dev/null 2>&1 || true; fi
  if created image && [ "${KEEP_IMAGE:-0}" != 1 ]; then docker rmi "$IMAGE" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- HTTP and JSON helpers (curl, python3)

# api METHOD PATH [JSON]: sets CODE and BODY (the daemon's answer).
api() {
  local method="$1" path="$2" data="${3:-}" args=()
  [ -n "$data" ] && args=(-H 'content-type: application/json' --data "$data")
  rm -f "$WORK/body"
  CODE=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 15 -X "$method" \
    -H "Authorization: Bearer $KEY" "${args[@]}" "$API_URL$path") || CODE=000
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
}

# sandbox PATH JSON: a POST to the sandbox's control API; sets CODE and BODY.
sandbox() {
  rm -f "$WORK/body"
  CODE=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 15 -X POST \
    -H 'content-type: application/json' --data "$2" "$SB_URL$1") || CODE=000
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
}

# json FIELD: prints that top-level field of the JSON on stdin ("" if none).
json() {
  python3 -c '
import json, sys
try:
    v = json.load(sys.stdin).get(sys.argv[1])
except Exception:
    v = None
print("" if v is None else v if isinstance(v, str) else json.dumps(v))
' "$1"
}

wait_health() {
  local deadline=$((SECONDS + $1))
  until curl -fsS --max-time 3 "$API_URL/health" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$API_URL/health did not answer within $1 s"
    sleep 1
  done
}

# wait_status WANT SECONDS [FORBIDDEN]: until the session's status is WANT;
# fails at once on FORBIDDEN or FAILED, and at the deadline.
wait_status() {
  local want="$1" deadline=$((SECONDS + $2)) forbidden="${3:-}" status=""
  while :; do
    api GET "/api/sessions/$SESSION"
    status=$(json status <<<"$BODY")
    [ "$status" = "$want" ] && return 0
    if [ -n "$forbidden" ] && [ "$status" = "$forbidden" ]; then
      fail "session $SESSION is $status, expected $want: $BODY"
    fi
    [ "$status" = FAILED ] && fail "session $SESSION FAILED: $BODY"
    [ "$SECONDS" -lt "$deadline" ] || fail "session $SESSION not $want within $2 s (last: HTTP $CODE ${BODY:-no answer})"
    sleep 1
  done
}

# link: "scans" the session's current QR with the sandbox's phone. A QR can
# rotate between reading and scanning (410): read it again.
link() {
  local qr tries=0
  while :; do
    api GET "/api/sessions/$SESSION/qr"
    [ "$CODE" = 200 ] || fail "GET /api/sessions/$SESSION/qr answered $CODE: $BODY"
    qr=$(json qr <<<"$BODY")
    [ -n "$qr" ] || fail "no qr in $BODY"
    sandbox /_sandbox/link "$(python3 -c 'import json,sys; print(json.dumps({"qr": sys.argv[1], "phone": sys.argv[2], "name": "Docker Test"}))' "$qr" "$PHONE")"
    [ "$CODE" = 200 ] && return 0
    tries=$((tries + 1))
    { [ "$CODE" = 410 ] || [ "$CODE" = 404 ]; } && [ "$tries" -lt 5 ] || fail "POST $SB_URL/_sandbox/link answered $CODE: $BODY"
    sleep 1
  done
}

# ---- Docker

# host_url PORT: the host address Docker published the container's PORT on.
host_url() {
  local hp
  hp=$(docker port "$CONTAINER" "$1/tcp" 2>/dev/null | grep -m1 '^127\.0\.0\.1:' || true)
  [ -n "$hp" ] || fail "container port $1 is not published"
  echo "http://$hp"
}

uid_of() { # uid_of PROCESS-NAME: the uid of that process in the container
  docker exec "$CONTAINER" sh -c \
    'for d in /proc/[0-9]*; do [ "$(cat "$d/comm" 2>/dev/null)" = "$1" ] && awk "/^Uid:/ {print \$2; exit}" "$d/status" && exit; done' \
    sh "$1"
}

main() {
  command -v docker >/dev/null 2>&1 || skip "docker is not installed"
  local err
  if ! err=$(timeout 20 docker info 2>&1 >/dev/null); then
    skip "the Docker daemon is not reachable ($(grep -m1 -v '^\s*$' <<<"$err" || echo "docker info failed"))"
  fi
  local tool
  for tool in curl python3; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is needed (Debian: apt-get install $tool)"
  done
  local img
  for img in "${BASE_IMAGES[@]}"; do
    docker image inspect "$img" >/dev/null 2>&1 && continue
    say "pulling base image $img"
    timeout 300 docker pull -q "$img" >/dev/null 2>&1 ||
      skip "base image $img is not present locally and cannot be pulled"
  done

  say "building $IMAGE (CHROMIUM=$CHROMIUM; a first build takes minutes)"
  CREATED+=(image)
  if ! docker build --build-arg "CHROMIUM=$CHROMIUM" -t "$IMAGE" . >"$WORK/build.log" 2>&1; then
    tail -n 40 "$WORK/build.log" | sed 's/^/    /' >&2
    fail "docker build failed (last lines above)"
  fi

  local size mb
  size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
  mb=$((size / 1000000))
  if [ "$CHROMIUM" = headless-shell ]; then
    [ "$mb" -le "$MAX_IMAGE_MB" ] || fail "image is $mb MB, more than $MAX_IMAGE_MB MB"
    say "ok: image is $mb MB (<= $MAX_IMAGE_MB MB)"
  else
    say "image is $mb MB (CHROMIUM=$CHROMIUM: no size limit)"
  fi
  local user
  user=$(docker image inspect -f '{{.Config.User}}' "$IMAGE")
  [ "$user" = 10001:10001 ] || fail "image runs as '$user', expected 10001:10001"

  CREATED+=(volume)
  docker volume create "$VOLUME" >/dev/null || fail "docker volume create failed"
  CREATED+=(container)
  # The sandbox's listen address comes from the image (0.0.0.0:8003), as the
  # README says; only the host ports are picked here (random, loopback).
  docker run -d --name "$CONTAINER" \
    -e "WABRIDGE_API_KEY=$KEY" \
    -p 127.0.0.1::8002 -p 127.0.0.1::8003 \
    -v "$VOLUME:/sessions" \
    "$IMAGE" serve --sandbox >/dev/null || fail "docker run failed"
  API_URL=$(host_url 8002)
  SB_URL=$(host_url 8003)
  say "daemon at $API_URL, sandbox control API at $SB_URL/_sandbox"
  wait_health 60
  say "ok: /health answers"

  local pid1 uid
  pid1=$(docker exec "$CONTAINER" cat /proc/1/comm)
  [ "$pid1" = tini ] || fail "PID 1 is '$pid1', expected tini"
  uid=$(uid_of wabridge)
  [ "$uid" = 10001 ] || fail "wabridge runs as uid '${uid:-?}', expected 10001"
  say "ok: tini is PID 1, wabridge runs as uid 10001"

  api POST /api/sessions "{\"id\": \"$SESSION\"}"
  [ "$CODE" = 201 ] || fail "POST /api/sessions answered $CODE: $BODY"
  wait_status SCAN_QR 90
  link
  wait_status CONNECTED 60
  say "ok: session $SESSION linked through the sandbox: CONNECTED"

  # The image's HEALTHCHECK (its first probe runs 30 s after start).
  local health deadline=$((SECONDS + 90))
  while :; do
    health=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$CONTAINER")
    [ "$health" = healthy ] && break
    [ "$health" = unhealthy ] && fail "the container's healthcheck says unhealthy"
    [ "$SECONDS" -lt "$deadline" ] || fail "the container's health is '${health:-none}' after 90 s, expected healthy"
    sleep 2
  done
  say "ok: the container's healthcheck says healthy"

  docker restart -t 20 "$CONTAINER" >/dev/null || fail "docker restart failed"
  # Host ports may change on restart.
  API_URL=$(host_url 8002)
  SB_URL=$(host_url 8003)
  wait_health 60
  # No link this time: a session that asks for a scan has lost its link.
  wait_status CONNECTED 60 SCAN_QR
  say "ok: after docker restart, $SESSION is CONNECTED with no new scan"
  say "passed"
}

main "$@"
