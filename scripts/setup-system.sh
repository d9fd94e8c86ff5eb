#!/usr/bin/env bash
# Installs the Debian packages bluetill needs, only those missing.
#   libpcsclite-dev  headers to build nfc-pcsc's @pokusew/pcsclite
#   pcscd            the PC/SC daemon (the phone's card reader stack)
#   vsmartcard-vpcd  pcscd's virtual reader driver (tests plug the simulated card into it)
#   opensc           opensc-tool, an independent PC/SC client used in a test
#   chromium         the browser the UI tests drive through playwright-core
#   build-essential python3  node-gyp toolchain for native addons
#   postgresql-15    PostgreSQL server binaries (/usr/lib/postgresql/15/bin); tests start their own servers
#   postgresql-15-auto-failover  pg_autoctl: monitor + keepers for the failover cluster (make cluster)
#   openssl          openssl s_client: an independent TLS client the backend's transport tests use
#   prometheus       promtool, which checks the backend's /metrics exposition in a test
#   python3-grpcio   Python's gRPC (an outside client in a fault test, /usr/bin/python3)
#   iproute2         ip and tc: network namespaces and veth pairs for the partition fault test
set -euo pipefail
PKGS=(libpcsclite-dev pcscd vsmartcard-vpcd opensc chromium build-essential python3 pkg-config postgresql-15 postgresql-15-auto-failover openssl prometheus python3-grpcio iproute2)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "setup-system: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=sudo; else
    echo "setup-system: run as root:  apt-get update && apt-get install -y ${missing[*]}" >&2; exit 1; fi
else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
