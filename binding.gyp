{
  # The native kernels (src/engine/native): C++17, OpenMP, oneDNN's sgemm (Debian: libdnnl-dev).
  # Built by scripts/build-native.mjs (npm install / npm run build:native) into build/Release/icl_native.node.
  #
  # ISA: -mavx2 -mfma, not -march=native, so that a binary built on one machine runs on any x86-64
  # CPU from Haswell (2013) on. The GEMMs (most of the FLOPs) are oneDNN's, which picks AVX-512 /
  # AMX kernels at run time by itself; our fused kernels are memory-bound or exp-bound loops where
  # 8-wide AVX2 is close to what AVX-512 gives on 2 cores. The exception is attention.cc (flash
  # attention, FMA-bound): its tiles are compiled twice, AVX2 and, inside functions marked
  # target("avx512f,avx512bw,avx512vl"), AVX-512, chosen at run time (ICL_LAB_NO_AVX512=1: AVX2).
  # No -ffast-math: it would let the compiler assume no NaN/Inf, and the kernels must propagate them.
  # -fno-math-errno / -fno-trapping-math only let sqrt and conditional loops vectorise.
  "targets": [
    {
      "target_name": "icl_native",
      "sources": [
        "src/engine/native/addon.cc",
        "src/engine/native/attention.cc",
        "src/engine/native/bf16.cc",
        "src/engine/native/common.cc",
        "src/engine/native/elementwise.cc",
        "src/engine/native/nn.cc",
        "src/engine/native/rnn.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": [
        "-std=gnu++17", "-O3", "-fexceptions", "-fopenmp", "-mavx2", "-mfma",
        "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wno-unused-function"
      ],
      "ldflags": ["-fopenmp"],
      "libraries": ["-ldnnl"]
    }
  ]
}
