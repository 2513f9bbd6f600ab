/* Hands libFuzzer its coverage callbacks back when gcc's ASan runtime is preloaded.
 *
 * gcc's libasan.so defines (weak, empty) versions of the __sanitizer_cov_* and
 * __sanitizer_weak_hook_* functions. Preloaded, it comes first in symbol lookup, so atheris's
 * registration of its Python coverage counters (inside its own copy of libFuzzer) reaches those
 * stubs and libFuzzer fuzzes blind ("no interesting inputs were found"). scripts/run_fuzzers.sh
 * builds this file and preloads it before libasan.so: each function forwards to the definition in
 * the atheris module named by $ATHERIS_CORE once that module is loaded, and does nothing before.
 * -O2 turns each forward into a tail jump, so libFuzzer still sees the caller's return address.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Set once atheris registers its counters: before that (interpreter start-up, where ASan's
 * interceptors call the strcmp hooks constantly) nothing is looked up. */
static int ready;

static void* target(const char* name) {
  static void* core;
  if (!ready) return NULL;
  if (core == NULL) {
    const char* path = getenv("ATHERIS_CORE");
    if (path == NULL) return NULL;
    core = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (core == NULL) return NULL;
  }
  return dlsym(core, name);
}

#define FORWARD(name, params, args)                     \
  void name params {                                    \
    static void(*fn) params;                            \
    if (fn == NULL) fn = (void(*) params)target(#name); \
    if (fn != NULL) fn args;                            \
  }

void __sanitizer_cov_8bit_counters_init(uint8_t* a, uint8_t* b) {
  ready = 1;
  void (*fn)(uint8_t*, uint8_t*) = (void (*)(uint8_t*, uint8_t*))target("__sanitizer_cov_8bit_counters_init");
  if (fn != NULL) fn(a, b);
}

void __sanitizer_cov_pcs_init(const uintptr_t* a, const uintptr_t* b) {
  ready = 1;
  void (*fn)(const uintptr_t*, const uintptr_t*) =
      (void (*)(const uintptr_t*, const uintptr_t*))target("__sanitizer_cov_pcs_init");
  if (fn != NULL) fn(a, b);
}

FORWARD(__sanitizer_cov_trace_cmp1, (uint8_t a, uint8_t b), (a, b))
FORWARD(__sanitizer_cov_trace_cmp2, (uint16_t a, uint16_t b), (a, b))
FORWARD(__sanitizer_cov_trace_cmp4, (uint32_t a, uint32_t b), (a, b))
FORWARD(__sanitizer_cov_trace_cmp8, (uint64_t a, uint64_t b), (a, b))
FORWARD(__sanitizer_cov_trace_const_cmp1, (uint8_t a, uint8_t b), (a, b))
FORWARD(__sanitizer_cov_trace_const_cmp2, (uint16_t a, uint16_t b), (a, b))
FORWARD(__sanitizer_cov_trace_const_cmp4, (uint32_t a, uint32_t b), (a, b))
FORWARD(__sanitizer_cov_trace_const_cmp8, (uint64_t a, uint64_t b), (a, b))
FORWARD(__sanitizer_cov_trace_div4, (uint32_t a), (a))
FORWARD(__sanitizer_cov_trace_div8, (uint64_t a), (a))
FORWARD(__sanitizer_cov_trace_gep, (uintptr_t a), (a))
FORWARD(__sanitizer_cov_trace_pc_guard, (uint32_t * a), (a))
FORWARD(__sanitizer_cov_trace_pc_guard_init, (uint32_t * a, uint32_t* b), (a, b))
FORWARD(__sanitizer_cov_trace_pc_indir, (uintptr_t a), (a))
FORWARD(__sanitizer_cov_trace_switch, (uint64_t a, uint64_t* b), (a, b))
FORWARD(__sanitizer_weak_hook_memcmp, (void* pc, const void* a, const void* b, size_t n, int r), (pc, a, b, n, r))
FORWARD(__sanitizer_weak_hook_strncmp, (void* pc, const char* a, const char* b, size_t n, int r), (pc, a, b, n, r))
FORWARD(__sanitizer_weak_hook_strcmp, (void* pc, const char* a, const char* b, int r), (pc, a, b, r))
FORWARD(__sanitizer_weak_hook_strncasecmp, (void* pc, const char* a, const char* b, size_t n, int r), (pc, a, b, n, r))
FORWARD(__sanitizer_weak_hook_strcasecmp, (void* pc, const char* a, const char* b, int r), (pc, a, b, r))
FORWARD(__sanitizer_weak_hook_strstr, (void* pc, const char* a, const char* b, char* r), (pc, a, b, r))
FORWARD(__sanitizer_weak_hook_strcasestr, (void* pc, const char* a, const char* b, char* r), (pc, a, b, r))
FORWARD(__sanitizer_weak_hook_memmem, (void* pc, const void* a, size_t n, const void* b, size_t m, void* r),
        (pc, a, n, b, m, r))
