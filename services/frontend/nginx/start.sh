#!/bin/sh
# Start nginx for the built SPA with a read-only root filesystem: check WEB_UPSTREAM, render the config
# into /tmp (sed, not envsubst: it is in Debian and Alpine nginx images alike) and exec nginx as PID 1.
set -eu
here=$(dirname "$0")
upstream=${WEB_UPSTREAM:-http://web:8080}
# proxy_pass takes scheme://host[:port]; anything else would end up in the config unchecked.
if ! printf '%s' "$upstream" | grep -Eq '^https?://[A-Za-z0-9._-]+(:[0-9]{1,5})?/?$'; then
  echo "frontend: WEB_UPSTREAM=$upstream is not a URL like http://web:8080 (scheme://host[:port])" >&2
  exit 2
fi
upstream=${upstream%/}
sed "s|\${WEB_UPSTREAM}|$upstream|g" "$here/default.conf.template" >/tmp/nginx.conf
exec nginx -e stderr -c /tmp/nginx.conf -g 'daemon off;'
