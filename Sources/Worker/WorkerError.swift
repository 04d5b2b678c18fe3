import System

/// The worker's failures are system failures: a message naming what was attempted.
public typealias WorkerError = SystemError
