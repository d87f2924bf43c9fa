#!/bin/sh
# Build a service's virtualenv in /opt/venv from /tmp/req/service/requirements.txt (a lock written by
# scripts/lock.sh: exact versions, each file's hash checked), then /tmp/req/service/torch.txt where there is
# one (the trainer's PyTorch CPU build, hashed too; its own requirements are in the lock), then trim it for a
# runtime image. Extra arguments go to pip (the trainer's wheel directory and PyTorch's index). What the
# trim removes:
# - pip/setuptools/wheel: no build tools in the final stage;
# - test suites, type stubs, bytecode caches (the images run with PYTHONDONTWRITEBYTECODE and a read-only root);
# - build inputs: C/C++ headers, static libraries, Cython declarations, numpy.distutils and f2py
#   (Fortran build tools), torch's headers (only torch.compile and C++ extensions read them) and its
#   test programs and bundled protoc; torch_shm_manager stays, torch.multiprocessing runs it;
# - ONNX Runtime's Python tooling (but where the trainer quantizes) and what only that tooling imports;
# - every botocore service model but those of the S3 client.
set -eu
venv=/opt/venv
python3 -m venv "$venv"
"$venv/bin/pip" install --no-cache-dir --require-hashes "$@" -r /tmp/req/service/requirements.txt
if [ -f /tmp/req/service/torch.txt ]; then
  "$venv/bin/pip" install --no-cache-dir --require-hashes --no-deps "$@" -r /tmp/req/service/torch.txt
fi
"$venv/bin/pip" uninstall --yes --quiet pip setuptools wheel 2>/dev/null || true
site=$(echo "$venv"/lib/python3*/site-packages)
find "$site" -depth -type d \( -name tests -o -name test -o -name __pycache__ \) -prune -exec rm -rf {} +
find "$site" -type f \( -name '*.pyi' -o -name '*.h' -o -name '*.hpp' -o -name '*.cuh' -o -name '*.a' \
  -o -name '*.pxd' -o -name '*.pyx' \) -delete
rm -rf "$site/numpy/f2py" "$site/numpy/distutils" "$site/numpy/_core/include" "$site/numpy/_core/lib" \
  "$site"/numpy/_core/_simd.* "$site"/numpy/_core/_*_tests.* "$venv"/bin/f2py "$venv"/bin/numpy-config
if [ -d "$site/torch" ]; then
  rm -rf "$site/torch/include" "$site/torch/share" "$site"/torch/lib/lib*test*.so \
    "$site/torch/lib/libaoti_custom_ops.so" "$site/torch/lib/libbackend_with_compiler.so"
  find "$site/torch/bin" -mindepth 1 -maxdepth 1 ! -name torch_shm_manager -exec rm -rf {} +
fi
# ONNX Runtime's Python tooling (model conversion, quantisation) and what only that tooling imports:
# inference needs onnxruntime/capi alone. The trainer (where the onnx package is) keeps the
# quantisation tooling, which imports tools/ and transformers/, to publish int8 models. sympy and
# mpmath (symbolic shape inference) stay where PyTorch is installed, which imports them; protobuf
# stays where the onnx package is, which needs it.
rm -rf "$site/onnxruntime/datasets"
if [ ! -d "$site/onnx" ]; then
  rm -rf "$site/onnxruntime/transformers" "$site/onnxruntime/quantization" "$site/onnxruntime/tools"
fi
if [ ! -d "$site/torch" ]; then
  rm -rf "$site"/sympy "$site"/sympy-*.dist-info "$site"/mpmath "$site"/mpmath-*.dist-info
fi
if [ ! -d "$site/onnx" ]; then
  rm -rf "$site"/google/protobuf "$site"/google/_upb "$site"/protobuf-*.dist-info \
    "$site"/coloredlogs* "$site"/humanfriendly* "$site"/flatbuffers* "$venv"/bin/coloredlogs "$venv"/bin/humanfriendly
  rmdir "$site/google" 2>/dev/null || true
fi
if [ -d "$site/botocore/data" ]; then
  find "$site/botocore/data" -mindepth 1 -maxdepth 1 -type d ! -name s3 ! -name sts -exec rm -rf {} +
fi
rm -f "$venv"/bin/activate* "$venv"/bin/pip*
