// Linked into every fuzz target: a bound on the live heap that fails fast.
//
// libFuzzer's own -rss_limit_mb check, on tripping, first prints ASan's heap
// profile, which stops the process and walks the whole heap: on the
// gigabytes a runaway input leaves that takes many minutes (seen: over 15
// on fuzz_config), and the input is saved only after it. This hook instead
// traps as soon as the live heap passes the bound; libFuzzer's crash handler
// then saves the input (crash-...) and exits at once. run.sh keeps
// -rss_limit_mb above this bound, as a backstop.
#include <sanitizer/allocator_interface.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>

namespace {

// MESHPROBE_FUZZ_HEAP_MB overrides it.
std::size_t limit_bytes = std::size_t{1536} << 20;
unsigned long allocations = 0;
bool tripped = false;

void on_malloc(const volatile void* /*pointer*/, std::size_t size) {
  // Totalling ASan's per-thread statistics costs; every 256th allocation
  // and every large one is often enough to stop well short of the RSS limit.
  if (tripped || (++allocations % 256 != 0 && size < (std::size_t{1} << 20))) return;
  if (__sanitizer_get_current_allocated_bytes() <= limit_bytes) return;
  tripped = true;
  static const char message[] =
      "\n==heap_bound== ERROR: the live heap passed MESHPROBE_FUZZ_HEAP_MB "
      "(an input that allocates without bound); the input follows as crash-*\n";
  [[maybe_unused]] const ssize_t ignored = ::write(2, message, sizeof message - 1);
  __builtin_trap();
}

void on_free(const volatile void* /*pointer*/) {}

[[gnu::constructor]] void install() {
  if (const char* mb = std::getenv("MESHPROBE_FUZZ_HEAP_MB")) {
    limit_bytes = static_cast<std::size_t>(std::strtoull(mb, nullptr, 10)) << 20;
  }
  // The runtime takes both hooks or neither.
  if (__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free) == 0) {
    static const char message[] = "heap_bound: cannot install the malloc hook\n";
    [[maybe_unused]] const ssize_t ignored = ::write(2, message, sizeof message - 1);
    std::abort();
  }
}

}  // namespace
