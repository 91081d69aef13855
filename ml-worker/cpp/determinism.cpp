// What tch does not expose of libtorch's global context: the CPU kernel width ATen dispatches to,
// and the switches that make CUDA runs deterministic. Called from src/profile.rs.
#include <ATen/Context.h>
#include <ATen/Version.h>

#include <cstring>
#include <exception>
#include <string>

namespace {
// Copies `text` into `buf` (NUL-terminated, cut to fit); returns the full length.
int copy_out(const std::string& text, char* buf, int len) {
  if (buf != nullptr && len > 0) {
    size_t n = text.size() < static_cast<size_t>(len - 1) ? text.size() : static_cast<size_t>(len - 1);
    std::memcpy(buf, text.data(), n);
    buf[n] = '\0';
  }
  return static_cast<int>(text.size());
}
}  // namespace

extern "C" {

// ATen's CPU capability ("DEFAULT", "AVX2", "AVX512", ...). Computed once, from
// ATEN_CPU_CAPABILITY and the CPU, when first asked: by this call or by the first kernel.
// Returns its length, or -1 (the error in `buf`).
int pol_aten_cpu_capability(char* buf, int len) {
  try {
    return copy_out(at::get_cpu_capability(), buf, len);
  } catch (const std::exception& e) {
    copy_out(e.what(), buf, len);
    return -1;
  }
}

// Deterministic algorithms only (an operation without one raises an error), cuDNN deterministic
// and not autotuned, TF32 off for cuBLAS and cuDNN. Returns 0, or -1 (the error in `err`).
int pol_set_deterministic(char* err, int len) {
  try {
    auto& ctx = at::globalContext();
    ctx.setDeterministicAlgorithms(true, false);
    ctx.setDeterministicCuDNN(true);
    ctx.setBenchmarkCuDNN(false);
    ctx.setAllowTF32CuBLAS(false);
    ctx.setAllowTF32CuDNN(false);
    return 0;
  } catch (const std::exception& e) {
    copy_out(e.what(), err, len);
    return -1;
  }
}

// 1 when every switch of pol_set_deterministic reads back as set, else 0.
int pol_is_deterministic() {
  try {
    auto& ctx = at::globalContext();
    return ctx.deterministicAlgorithms() && !ctx.deterministicAlgorithmsWarnOnly() &&
                   ctx.deterministicCuDNN() && !ctx.benchmarkCuDNN() && !ctx.allowTF32CuBLAS() &&
                   !ctx.allowTF32CuDNN()
               ? 1
               : 0;
  } catch (const std::exception&) {
    return 0;
  }
}
}
