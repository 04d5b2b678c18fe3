/// Values a command holds until the process exits instead of freeing them when its `run` returns:
/// a million-config registry's configs and key index were freed one by one (a third of a second
/// of a submission's wall clock) just before `exit` hands the whole address space back anyway.
enum HeldUntilExit {
  nonisolated(unsafe) private static var held: [Any] = []

  static func hold(_ value: Any) {
    held.append(value)
  }
}
