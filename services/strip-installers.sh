#!/bin/sh
# Run in a Python image's final stage: remove the base interpreter's package installers (pip,
# setuptools, wheel, ensurepip's bundled wheels) from the official image's /usr/local and Debian's
# /usr paths alike. They are build tools: nothing is installed at run time, and image scans stop
# reporting their CVEs. The service's own virtualenv is trimmed by slim-venv.sh in the build stage.
set -eu
for site in /usr/local/lib/python3*/site-packages /usr/lib/python3/dist-packages; do
  rm -rf "$site"/pip "$site"/pip-* "$site"/setuptools "$site"/setuptools-* "$site"/wheel "$site"/wheel-* \
    "$site"/pkg_resources "$site"/_distutils_hack "$site"/distutils-precedence.pth
done
rm -rf /usr/local/bin/pip* /usr/bin/pip* /usr/local/lib/python3*/ensurepip/_bundled /usr/share/python-wheels
