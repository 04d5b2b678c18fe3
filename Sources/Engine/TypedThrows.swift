/// Runs `body` (from the untyped-throwing IO layer) for the typed-throwing public API: an
/// `EngineError` passes through with `context` prepended, anything else becomes an `.io` error.
func rethrowingEngineError<T>(_ context: String? = nil, _ body: () throws -> T) throws(EngineError) -> T {
  do {
    return try body()
  } catch let error as EngineError {
    throw context.map { error.adding(context: $0) } ?? error
  } catch {
    throw EngineError(.io, "\(error)", context: context.map { [$0] } ?? [])
  }
}
