#!/usr/bin/env bash
# Builds the container image and checks that it answers /health, where a Docker engine runs.
# Without one (a docker client alone, or none) it says so and succeeds: the GitHub workflow's
# image job builds and checks the image there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1 </dev/null; then
  echo "docker-smoke: no Docker engine on this machine: the image build is skipped (ci.yml's image job builds it)"
  exit 0
fi
tag="tessera:smoke-$$"
name="tessera-smoke-$$"
trap 'docker rm -f "$name" >/dev/null 2>&1 || true; docker rmi "$tag" >/dev/null 2>&1 || true' EXIT
docker build -t "$tag" "$root" </dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
docker run -d --name "$name" -p "127.0.0.1:$port:8080" "$tag" >/dev/null
for _ in $(seq 1 60); do
  if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
    echo "docker-smoke: the image answers /health on port $port"
    # The image's own health check (the binary asks itself: distroless has no curl).
    docker exec "$name" /usr/local/bin/tessera healthcheck
    exit 0
  fi
  sleep 1
done
docker logs "$name" >&2 || true
echo "docker-smoke: the image never answered /health" >&2
exit 1
