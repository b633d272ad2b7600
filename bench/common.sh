# Shared by the bench scripts: the static binary, s3s-fs and the TLS front on loopback,
# credentials, and `measure` (wall, user+sys CPU, peak RSS of one whole process).
# Sourced after `cd` to the project root and `source scripts/lib.sh`; sets s3push, out,
# work, tls_port.
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time=1.9-0.2; }
s3push=${S3PUSH_BIN:-$(scripts/build-static)}  # S3PUSH_BIN: a binary built elsewhere
front=${TLS_FRONT:-${CARGO_TARGET_DIR:-target}/release/examples/tls_front}  # TLS_FRONT: likewise
[ -n "${TLS_FRONT:-}" ] || cargo build --release --quiet --example tls_front
out=bench/out; mkdir -p "$out"
work=$(mktemp -d)
tls_pid=
trap 'set +e; [ -n "$tls_pid" ] && kill $tls_pid 2>/dev/null; s3_stop; rm -rf "$work"' EXIT  # set +e: a front already gone must not skip the rest
mkdir "$work/store" "$work/store/bench"
s3_start "$work/store"
"$front" "$S3_PORT" "$work/ca.pem" "$work/tls_port" &
tls_pid=$!
deadline=$((SECONDS + 30))
until [ -s "$work/tls_port" ]; do
  [ $SECONDS -lt $deadline ] && kill -0 $tls_pid || { echo "TLS front did not start" >&2; exit 1; }
  sleep 0.05
done
tls_port=$(cat "$work/tls_port")
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY AWS_REGION=us-east-1

# measure NAME SCHEME SIZE CMD...: one run; appends a CSV row of wall, user+sys, peak RSS.
measure() {
  local name=$1 scheme=$2 size=$3; shift 3
  /usr/bin/time -o "$work/time" -f '%e %U %S %M' "$@" >/dev/null 2>"$work/err" || {
    echo "FAILED: $name $scheme $size: $(cat "$work/err")" >&2; return 1; }
  read -r wall user sys rss <"$work/time"
  echo "$name,$scheme,$size,$wall,$(awk "BEGIN{print $user + $sys}"),$rss" >>"$csv"
}

