#!/usr/bin/env bash
# tools/apt-packages.txt に並ぶ Debian パッケージを、足りないものだけ入れる。
# Installs the Debian packages listed in the file, only those that are missing.
set -euo pipefail
list="${1:-tools/apt-packages.txt}"
mapfile -t wanted < <(grep -vE '^\s*(#|$)' "$list")
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "apt: すべて導入済み (${wanted[*]})"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "apt: 次のパッケージが必要です (root で入れてください): ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
