#!/usr/bin/env bash
# GPU speed check, for a machine with a GPU (run it whenever one is lent):
#   test/bench/gpu-check.sh
# At most 5 minutes; installs nothing and reaches nothing outside the machine. It prints what
# WebGPU adapter Dawn finds, then the training benchmark on WebGPU against the same architectures
# in PyTorch on CUDA when torch.cuda is available (else PyTorch on the CPU, said so), with ratios.
# Target (issue 12): WebGPU training >= 0.5x PyTorch CUDA on the same GPU.
set -u
cd "$(dirname "$0")/../.."
LIMIT_S="${GPU_CHECK_LIMIT_S:-290}"

echo "== GPU"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
else
  echo "no nvidia-smi (not an NVIDIA machine, or no driver)"
fi

echo "== PyTorch CUDA"
TORCH_DEVICE=cpu
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  "$PY" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, torch.cuda.get_device_name(0))'
  TORCH_DEVICE=cuda
else
  echo "PyTorch with CUDA is not available here: the WebGPU figures are compared with PyTorch on the CPU instead"
fi

echo "== Fovea preflight (webgpu row)"
timeout 60 node --import tsx electron/cli/main.ts info --json --library "$(mktemp -d)/lib" 2>/dev/null \
  | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const i=JSON.parse(s);const w=i.ml.backends.find(b=>b.name==="webgpu");console.log(JSON.stringify({available:w&&w.available,adapter:w&&w.adapter,reason:w&&w.reason,chosen:i.ml.chosen},null,1))})' \
  || echo "fovea info failed"

echo "== Training benchmark: WebGPU vs PyTorch ($TORCH_DEVICE), 1 round of the quick sizes (limit ${LIMIT_S}s)"
timeout "$LIMIT_S" npx tsx test/bench/training.bench.ts --quick --rounds 1 --backend webgpu --skip-wasm --torch-device "$TORCH_DEVICE" \
  | grep -v '^BENCH '
rc=${PIPESTATUS[0]}
[ "$rc" = 124 ] && echo "gpu-check: stopped at the ${LIMIT_S}s limit; the figures above are what finished"
exit "$rc"
