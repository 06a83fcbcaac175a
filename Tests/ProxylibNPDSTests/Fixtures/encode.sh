#!/bin/sh
# Encodes each fixture *.txt (protobuf text format) into the *.bin beside it with protoc, an encoder
# independent of the code under test. A fixture names its message type on a line
#   # proto-message: <fully.qualified.Name>
# Types come from Proto/ and from wire_variants.proto here (test-only shapes protoc would not otherwise
# produce: unpacked repeated fields, out-of-range enums, non-UTF-8 strings).
# Run from anywhere: Tests/ProxylibNPDSTests/Fixtures/encode.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
protoc=${PROTOC:-protoc}
# google/protobuf/any.proto: protoc's own include directory (Debian: libprotobuf-dev).
wkt=""
for dir in /usr/include /usr/local/include; do
    if [ -f "$dir/google/protobuf/any.proto" ]; then wkt="-I$dir"; break; fi
done
for txt in "$here"/*.txt; do
    type=$(sed -n 's/^# proto-message: *//p' "$txt" | head -n 1)
    if [ -z "$type" ]; then
        echo "$txt: no '# proto-message:' line" >&2
        exit 1
    fi
    "$protoc" -I"$root/Proto" -I"$here" $wkt --encode="$type" \
        cilium/api/npds.proto envoy/service/discovery/v3/discovery.proto wire_variants.proto \
        < "$txt" > "${txt%.txt}.bin.tmp"
    mv "${txt%.txt}.bin.tmp" "${txt%.txt}.bin"
done
