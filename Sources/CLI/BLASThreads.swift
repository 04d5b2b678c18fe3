import Foundation

/// OpenBLAS, linked for the engine, starts a server thread per extra core as it loads, and each
/// spins on `sched_yield` for its first ~0.1 s: on two busy cores that takes a CPU from a short
/// command such as `orch configs`. The `orch` process ends them as it starts; OpenBLAS starts them
/// again on the first call that needs them (as it does after a fork).
enum BLASThreads {
  static func release() {
    guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "blas_thread_shutdown_") else { return }
    typealias Shutdown = @convention(c) () -> Int32
    _ = unsafeBitCast(symbol, to: Shutdown.self)()
  }
}
