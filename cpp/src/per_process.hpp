// The one fork-safety policy for the core's process-wide objects (the thread pool, the pool of
// learned piece caches). Internal to the core library.
//
// PyTorch's DataLoader forks, and a fork copies only the forking thread: a mutex another thread held
// stays locked forever in the child, and the threads an object waits for do not exist there. So the
// child forgets the parent's object (leaked, never touched again; a pthread_atfork child handler
// drops the pointer) and makes a fresh one on first use. The pointer is published with a
// compare-and-swap, never under a lock a forking thread could leave held. Without pthreads
// (Windows) there is no fork and no handler.
#pragma once

#include <atomic>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define LLMPREP_HAVE_PTHREAD_ATFORK 1
#endif

namespace llmprep {

// PerProcess<T>::get(): this process's T, default-constructed on first use and never destroyed
// (threads may still use it while static destructors run). T's constructor must not start threads
// or take locks: two threads may each build one, and the loser's is deleted unused.
template <class T>
class PerProcess {
 public:
  static T& get() {
    T* current = instance_.load(std::memory_order_acquire);
    if (current != nullptr) return *current;
#ifdef LLMPREP_HAVE_PTHREAD_ATFORK
    // Handlers are inherited by children, so one registration serves every later generation.
    if (!registered_.exchange(true)) pthread_atfork(nullptr, nullptr, forget_in_child);
#endif
    T* fresh = new T();
    if (!instance_.compare_exchange_strong(current, fresh, std::memory_order_acq_rel)) {
      delete fresh;  // another thread published one first
      return *current;
    }
    return *fresh;
  }

 private:
  static void forget_in_child() { instance_.store(nullptr, std::memory_order_relaxed); }
  static inline std::atomic<T*> instance_{nullptr};
  static inline std::atomic<bool> registered_{false};
};

}  // namespace llmprep
