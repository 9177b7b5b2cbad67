#!/usr/bin/env bash
# Vendored from the workplace's shared/interop so CI builds it from a clean clone.
# Builds Eclipse Wakaama's example LwM2M client (lwm2mclient, plain UDP, no DTLS) from the source snapshot
# beside this script: a real LwM2M 1.1 device stack that nobody on this project wrote.
#   build-wakaama.sh OUT_DIR      -> OUT_DIR/lwm2mclient   (needs cmake, make and a C compiler:
#                                    apt-get install -y cmake build-essential)
# Snapshot: eclipse/wakaama at fc4c4315638df9d4e44567e6197828637a1ae4cf (BSD-3-Clause / EPL-2.0, see its LICENSE files).
# Run:  OUT_DIR/lwm2mclient -h ::1 -p RD_PORT -n ENDPOINT -t LIFETIME_S -l LOCAL_PORT [-4 for IPv4]
#       It registers at /rd, sends updates, serves objects /1 /3 /4 /5 /6 /7 /31024 (SenML JSON 110, text 0;
#       this build has no TLV), and - like every client that connect()s its socket - ignores any datagram that
#       does not come from the exact address and port it registered to.
# WAKAAMA_BINDING=UQ build-wakaama.sh OUT_DIR builds the same client with the binding "UQ" (the sample
#       application's default is "U"): it then registers in LwM2M 1.1 queue mode (`b=U&Q`), a sleepy device.
set -euo pipefail
out=${1:?usage: build-wakaama.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"; out=$(cd "$out" && pwd)
[ -x "$out/lwm2mclient" ] && { echo "$out/lwm2mclient"; exit 0; }
work=$(mktemp -d)
tar -xzf "$here/wakaama-fc4c431.tar.gz" -C "$work"
# The DTLS variant needs the tinydtls submodule, which the snapshot does not hold: build the plain client only.
sed -i '/# Client with DTLS support provided by tinydtls/,$d' "$work/wakaama/examples/client/CMakeLists.txt"
binding=${WAKAAMA_BINDING:-U}
case "$binding" in U|UQ) ;; *) echo "WAKAAMA_BINDING must be U or UQ" >&2; exit 2 ;; esac
sed -i "s/get_server_object(serverId, \"U\", lifetime, false)/get_server_object(serverId, \"$binding\", lifetime, false)/" \
  "$work/wakaama/examples/client/lwm2mclient.c"
cmake -S "$work/wakaama/examples/client" -B "$work/build" -DCMAKE_BUILD_TYPE=Release >"$work/cmake.log" 2>&1 \
  || { tail -20 "$work/cmake.log" >&2; exit 1; }
make -C "$work/build" -j2 lwm2mclient >"$work/make.log" 2>&1 || { tail -20 "$work/make.log" >&2; exit 1; }
cp "$work/build/lwm2mclient" "$out/"
rm -rf "$work"
echo "$out/lwm2mclient"
