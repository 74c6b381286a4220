#!/usr/bin/env bash
# Installs overlayd on this host as a systemd service:
#   /opt/overlayd (the built package), /usr/local/bin/overlayd, the unit, /etc/default/overlayd
#   (kept if present) and the name of overlayd's route protocol for `ip route`.
# Run from a built checkout (npm ci && npm run build) as root. --prefix DIR installs under DIR
# instead of / (for packaging and for the tests).
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
root=""
if [ "${1:-}" = "--prefix" ]; then root="${2:?--prefix needs a directory}"; fi
[ -f "$src/dist/bundle/main.js" ] || { echo "install.sh: $src is not built; run npm ci && npm run build first" >&2; exit 1; }
[ -f "$src/build/Release/overlayd_sys.node" ] || { echo "install.sh: native addon missing; run npm ci" >&2; exit 1; }

dest="$root/opt/overlayd"
mkdir -p "$dest" "$root/usr/local/bin" "$root/etc/systemd/system" "$root/etc/default" "$root/etc/iproute2/rt_protos.d"
rm -rf "$dest/dist" "$dest/build" "$dest/node_modules"
cp -r "$src/dist" "$src/package.json" "$src/package-lock.json" "$src/binding.gyp" "$dest/"
mkdir -p "$dest/build/Release" && cp "$src/build/Release/overlayd_sys.node" "$dest/build/Release/"
(cd "$dest" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null)
# Relative, so a --prefix install is as runnable as one at /.
ln -sf ../../../opt/overlayd/dist/bundle/main.js "$root/usr/local/bin/overlayd"
chmod +x "$dest/dist/bundle/main.js"
install -m 0644 "$src/deploy/systemd/overlayd.service" "$root/etc/systemd/system/overlayd.service"
[ -f "$root/etc/default/overlayd" ] || install -m 0644 "$src/deploy/systemd/overlayd.default" "$root/etc/default/overlayd"
echo "77 overlayd" > "$root/etc/iproute2/rt_protos.d/overlayd.conf"
echo "installed overlayd to ${root:-/}; edit /etc/default/overlayd, then: systemctl daemon-reload && systemctl enable --now overlayd"
