# Shared by the project's scripts: start and stop a local s3s-fs on a free loopback port.
# Usage: source scripts/lib.sh; s3_start ROOT_DIR; ... ; s3_stop
S3_ACCESS_KEY=${S3_ACCESS_KEY:-s3push-demo-key}
S3_SECRET_KEY=${S3_SECRET_KEY:-s3push-demo-secret}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Starts s3s-fs on 127.0.0.1 and polls its port (deadline 30 s); sets S3_PID and S3_PORT.
s3_start() {
  local root=$1 bin deadline
  bin=$("$(dirname "${BASH_SOURCE[0]}")/install-s3s-fs")
  S3_PORT=$(free_port)
  "$bin" --host 127.0.0.1 --port "$S3_PORT" --access-key "$S3_ACCESS_KEY" \
    --secret-key "$S3_SECRET_KEY" "$root" >"$root.log" 2>&1 &
  S3_PID=$!
  deadline=$((SECONDS + 30))
  until (exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT") 2>/dev/null; do
    if ! kill -0 "$S3_PID" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      echo "s3s-fs did not start; its log:" >&2; cat "$root.log" >&2; return 1
    fi
    sleep 0.05
  done
}

# Stops the server started by s3_start; always succeeds (the server's own exit status,
# 143 after SIGTERM, is not the caller's).
s3_stop() {
  if [ -n "${S3_PID:-}" ]; then
    kill "$S3_PID" 2>/dev/null || true
    wait "$S3_PID" 2>/dev/null || true
  fi
  S3_PID=
}
