#!/usr/bin/env bash
# Python packages of the DeepMind Lab bridge (and its tests), from Debian: pyzmq, msgpack, numpy for
# /usr/bin/python3, and protobuf (the tests read TensorBoard event files back with it). Does nothing
# when they are already importable.
set -euo pipefail
if /usr/bin/python3 -c 'import zmq, msgpack, numpy, google.protobuf' 2>/dev/null; then
  echo "python: zmq, msgpack, numpy and protobuf present for /usr/bin/python3"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
pkgs="python3-zmq python3-msgpack python3-numpy python3-protobuf"
$sudo apt-get install -y -qq $pkgs || { $sudo apt-get update -qq && $sudo apt-get install -y -qq $pkgs; }
/usr/bin/python3 -c 'import zmq, msgpack, numpy, google.protobuf as pb; print("python: zmq", zmq.__version__, "msgpack", msgpack.version, "numpy", numpy.__version__, "protobuf", pb.__version__)'
