#!/bin/sh
# The image's entry point: each service listens on the container's own address
# (US_BIND), which compose publishes on the host's 127.0.0.1 only; the other
# services are reached by their service names (compose.yaml's environment).
set -e
if [ -z "${US_BIND:-}" ] || [ "$US_BIND" = container ]; then
    US_BIND=$(hostname -i | awk '{print $1}')
    export US_BIND
fi
exec /opt/userstream/userstream "$@"
