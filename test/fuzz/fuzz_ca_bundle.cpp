// PEM CA bundles from arbitrary bytes: a bundle or an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "probes/ca_bundle.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto bundle = meshprobe::CaBundle::from_pem(
      std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  if (bundle && (*bundle)->certificate_count() == 0) __builtin_trap();
  return 0;
}
