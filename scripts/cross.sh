# Shared by build-static, test-arm and release: what each shipped target needs on this
# Debian 12 (bookworm) host, and installing it, pinned, when it is missing.
# Usage: source scripts/cross.sh; cross_target TRIPLE (sets CROSS_*); cross_install_tools

# The targets that ship, in the order release builds them.
CROSS_TARGETS="x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf riscv64gc-unknown-linux-musl"

# Sets, for TRIPLE:
#   CROSS_STD   rustup: Rust's prebuilt std for the target (`rustup target add`), musl and its
#               crt objects from Rust's self-contained set, CROSS_CC compiling ring's C and
#               assembly and linking;
#               build-std: the prebuilt std for the target is not reachable from this
#               project's machines (static.rust-lang.org answers 404 for
#               rust-std-1.95.0-armv7-unknown-linux-musleabihf and -riscv64gc-unknown-linux-musl
#               there, while it serves x86_64 and aarch64 musl), so std is compiled from the
#               same toolchain's rust-src (`-Z build-std`, allowed on stable by RUSTC_BOOTSTRAP)
#               and zig (PyPI ziglang, through cargo-zigbuild, both pinned) brings musl, its crt
#               objects and libunwind, compiles ring's C and links;
#   CROSS_CC    the C compiler for ring (rustup method), the same program links;
#   CROSS_PKGS  Debian packages, pinned, that provide it;
#   CROSS_QEMU  the qemu-user program that runs the binary on this x86_64 host (empty for
#               x86_64 itself).
cross_target() {
  CROSS_STD=rustup
  case "$1" in
    x86_64-unknown-linux-musl)
      # Today's build: musl-gcc when installed (musl-tools), else the host's cc.
      CROSS_CC=$(command -v musl-gcc || echo cc); CROSS_PKGS=""; CROSS_QEMU="" ;;
    aarch64-unknown-linux-musl)
      CROSS_CC=aarch64-linux-gnu-gcc; CROSS_QEMU=qemu-aarch64
      CROSS_PKGS="gcc-aarch64-linux-gnu=4:12.2.0-3 gcc-12-aarch64-linux-gnu=12.2.0-14cross1 libc6-dev-arm64-cross=2.36-8cross1" ;;
    armv7-unknown-linux-musleabihf)
      CROSS_STD=build-std; CROSS_CC=zig; CROSS_PKGS=""; CROSS_QEMU=qemu-arm ;;
    riscv64gc-unknown-linux-musl)
      CROSS_STD=build-std; CROSS_CC=zig; CROSS_PKGS=""; CROSS_QEMU=qemu-riscv64 ;;
    *)
      echo "unknown target $1; one of: $CROSS_TARGETS" >&2; return 2 ;;
  esac
}

# qemu-user runs a foreign static binary directly (no sysroot, no binfmt registration).
QEMU_PKGS="qemu-user=1:7.2+dfsg-7+deb12u18+b3"

# Installs Debian packages given as NAME=VERSION, those not installed yet, with one
# apt-get update first when the archive does not know the pinned version. A pinned version
# that the archive no longer carries (a Debian point release replaced it) is installed at
# the archive's version instead, saying so on stderr: the version used is what
# `dpkg-query -W NAME` then prints, and release records it in dist/.
apt_install_pinned() {
  local want=() spec name version
  for spec in "$@"; do
    name=${spec%%=*}
    dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q 'install ok installed' || want+=("$spec")
  done
  [ ${#want[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || { echo "missing: ${want[*]} (apt-get not found: install them)" >&2; return 1; }
  if ! apt-cache show "${want[@]}" >/dev/null 2>&1; then
    echo "apt-get update (for ${want[*]})" >&2
    apt-get update -qq >&2
  fi
  local args=()
  for spec in "${want[@]}"; do
    name=${spec%%=*}; version=${spec#*=}
    if apt-cache show "$spec" >/dev/null 2>&1; then
      args+=("$spec")
    else
      echo "WARNING: $name $version is no longer in the archive; installing its current version: update the pin in scripts/cross.sh" >&2
      args+=("$name")
    fi
  done
  echo "apt-get install ${args[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${args[@]}" >&2
}

# cargo-zigbuild and zig, from PyPI, pinned, in a virtual environment in the cache.
ZIGBUILD_VERSION=0.24.0
ZIG_VERSION=0.17.0
ZIGBUILD_DIR="${S3PUSH_CACHE:-$HOME/.cache/s3push}/zigbuild-$ZIGBUILD_VERSION-zig-$ZIG_VERSION"

# Installs what building for the target set by cross_target needs: the rustup target (or
# rust-src and cargo-zigbuild for build-std) and the C cross compiler.
cross_install_tools() {
  local triple=$1
  if [ "$CROSS_STD" = build-std ]; then
    if ! rustup component list --installed 2>/dev/null | grep -qx rust-src; then
      rustup component add rust-src >&2 || { echo "rust-src is missing: rustup component add rust-src" >&2; return 1; }
    fi
    if [ ! -x "$ZIGBUILD_DIR/bin/cargo-zigbuild" ]; then
      echo "installing cargo-zigbuild $ZIGBUILD_VERSION and zig $ZIG_VERSION into $ZIGBUILD_DIR" >&2
      python3 -m venv "$ZIGBUILD_DIR" >&2
      "$ZIGBUILD_DIR/bin/pip" install -q "cargo-zigbuild==$ZIGBUILD_VERSION" "ziglang==$ZIG_VERSION" >&2
    fi
    return 0
  fi
  if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
    rustup target add "$triple" >&2 || {
      echo "the $triple target is missing and rustup could not add it: rustup target add $triple" >&2; return 1; }
  fi
  # shellcheck disable=SC2086 # a list of packages
  [ -z "$CROSS_PKGS" ] || apt_install_pinned $CROSS_PKGS
}

cross_install_qemu() {
  # shellcheck disable=SC2086
  apt_install_pinned $QEMU_PKGS
}
