#!/usr/bin/env bash
# Puts the pinned Deno and Zig on PATH, installing them into the vmctl cache when missing.
# Source it (`. tools/toolchain.sh`); it changes nothing but PATH and the cache folder.
VMCTL_DENO_VERSION=2.9.6
VMCTL_ZIG_VERSION=0.14.1
VMCTL_CACHE=${VMCTL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmctl}
export VMCTL_CACHE

vmctl_tools=$VMCTL_CACHE/tools
vmctl_deno_dir=$vmctl_tools/deno-$VMCTL_DENO_VERSION
vmctl_zig_dir=$vmctl_tools/zig-$VMCTL_ZIG_VERSION

vmctl_toolchain_fail() {
  echo "vmctl: $1" >&2
  return 1
}

if [ ! -x "$vmctl_deno_dir/node_modules/deno/deno" ]; then
  command -v npm >/dev/null || { vmctl_toolchain_fail "npm is needed to install Deno $VMCTL_DENO_VERSION: install Node.js (apt-get install npm)"; return 1 2>/dev/null || exit 1; }
  echo "vmctl: installing Deno $VMCTL_DENO_VERSION into $vmctl_deno_dir" >&2
  mkdir -p "$vmctl_deno_dir"
  npm install --silent --no-save --no-audit --no-fund --prefix "$vmctl_deno_dir" "deno@$VMCTL_DENO_VERSION" >&2 ||
    { vmctl_toolchain_fail "could not install Deno from the npm registry (see above)"; return 1 2>/dev/null || exit 1; }
fi
if [ ! -x "$vmctl_zig_dir/ziglang/zig" ]; then
  command -v python3 >/dev/null || { vmctl_toolchain_fail "python3 with pip is needed to install Zig $VMCTL_ZIG_VERSION"; return 1 2>/dev/null || exit 1; }
  echo "vmctl: installing Zig $VMCTL_ZIG_VERSION into $vmctl_zig_dir" >&2
  python3 -m pip install --quiet --disable-pip-version-check --target "$vmctl_zig_dir" "ziglang==$VMCTL_ZIG_VERSION" >&2 ||
    { vmctl_toolchain_fail "could not install Zig from PyPI (see above)"; return 1 2>/dev/null || exit 1; }
fi
export PATH="$vmctl_deno_dir/node_modules/deno:$vmctl_zig_dir/ziglang:$PATH"
