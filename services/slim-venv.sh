#!/bin/sh
# Trim a virtualenv for a runtime image: no pip/setuptools (no build tools in the final stage),
# no test suites, no bytecode caches, no ONNX Runtime tooling, and only the botocore service models
# the S3 client uses.
set -eu
venv=$1
"$venv/bin/pip" uninstall --yes --quiet pip setuptools wheel 2>/dev/null || true
site=$(echo "$venv"/lib/python3*/site-packages)
find "$site" -depth -type d \( -name tests -o -name test -o -name __pycache__ \) -prune -exec rm -rf {} +
# Type stubs are for editors, and numpy's f2py is a Fortran build tool: neither runs in a service.
find "$site" -name '*.pyi' -delete
rm -rf "$site/numpy/f2py" "$venv"/bin/f2py
# ONNX Runtime's Python tooling (model conversion, quantisation) and what only that tooling imports
# (sympy, mpmath: symbolic shape inference): inference needs onnxruntime/capi alone. The torch image
# keeps sympy, which PyTorch itself imports.
rm -rf "$site/onnxruntime/transformers" "$site/onnxruntime/quantization" "$site/onnxruntime/tools" \
  "$site/onnxruntime/datasets"
if [ ! -d "$site/torch" ]; then
  rm -rf "$site"/sympy "$site"/sympy-*.dist-info "$site"/mpmath "$site"/mpmath-*.dist-info
fi
if [ -d "$site/botocore/data" ]; then
  find "$site/botocore/data" -mindepth 1 -maxdepth 1 -type d ! -name s3 ! -name sts -exec rm -rf {} +
fi
rm -f "$venv"/bin/activate* "$venv"/bin/pip*
