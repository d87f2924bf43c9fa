#!/bin/sh
# Trim a virtualenv for a runtime image: no pip/setuptools (no build tools in the final stage),
# no test suites, no bytecode caches, no ONNX Runtime tooling, and only the botocore service models
# the S3 client uses.
set -eu
venv=$1
"$venv/bin/pip" uninstall --yes --quiet pip setuptools wheel 2>/dev/null || true
site=$(echo "$venv"/lib/python3*/site-packages)
find "$site" -depth -type d \( -name tests -o -name test -o -name __pycache__ \) -prune -exec rm -rf {} +
# ONNX Runtime's Python tooling (model conversion, quantisation): inference needs only capi/.
rm -rf "$site/onnxruntime/transformers" "$site/onnxruntime/quantization" "$site/onnxruntime/tools" \
  "$site/onnxruntime/datasets"
if [ -d "$site/botocore/data" ]; then
  find "$site/botocore/data" -mindepth 1 -maxdepth 1 -type d ! -name s3 ! -name sts -exec rm -rf {} +
fi
rm -f "$venv"/bin/activate* "$venv"/bin/pip*
