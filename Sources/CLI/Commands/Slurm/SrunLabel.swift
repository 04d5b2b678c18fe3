import Foundation
import Glibc

/// `srun -l`: the task's stdout and stderr pass through pipes, and each line is written to where
/// it was going (srun's own stream or the step's file) prefixed with the task number, `0: `, as
/// SLURM does; a last line without a newline gets one when the task closes the stream.
final class LabelRelay: @unchecked Sendable {
  /// The descriptors the task writes to.
  private(set) var taskOutput: Int32 = -1
  private(set) var taskError: Int32 = -1
  private var writeEnds: [Int32] = []
  private var streams: [Stream] = []
  private let done = DispatchSemaphore(value: 0)
  private var started = false
  /// Set once the task has exited: what it wrote is in the pipes by then, and a process it left
  /// behind holding them must not keep srun waiting (SLURM ends the step's processes with it).
  private let taskEnded = Flag()

  final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
  }

  struct Stream {
    var source: Int32
    var destination: Int32
    var pending: [UInt8] = []
    var open = true
  }

  /// `output` and `error` are the step's files (-1: srun's own stdout and stderr).
  init(output: Int32, error: Int32, sameFile: Bool) {
    taskOutput = pipe(to: output < 0 ? 1 : output) ?? output
    taskError = sameFile ? taskOutput : pipe(to: error < 0 ? 2 : error) ?? error
    guard !streams.isEmpty else { return }
    started = true
    let streams = self.streams
    let done = self.done
    let taskEnded = self.taskEnded
    Thread.detachNewThread {
      Self.relay(streams, taskEnded: taskEnded)
      done.signal()
    }
  }

  private func pipe(to destination: Int32) -> Int32? {
    var fds: [Int32] = [0, 0]
    guard Glibc.pipe(&fds) == 0 else { return nil }
    // Only the task's descriptors 1 and 2 (dup2'd in the spawn) are to outlive exec.
    for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    writeEnds.append(fds[1])
    streams.append(Stream(source: fds[0], destination: destination))
    return fds[1]
  }

  /// The task holds its own copies of the write ends now: srun's are closed so the relay ends
  /// when the task's do.
  func spawned() {
    for fd in writeEnds { close(fd) }
    writeEnds = []
  }

  /// Waits until every line the task wrote has been relayed.
  func finish() {
    spawned()
    taskEnded.set()
    if started { done.wait() }
    started = false
  }

  /// One thread for both streams, reading whatever is ready in a round before acting on a
  /// stream's end, so a line written to stderr before the task exits precedes stdout's last,
  /// unterminated line as in SLURM's output.
  static func relay(_ initial: [Stream], taskEnded: Flag, prefix: String = "0: ") {
    let label = Array(prefix.utf8)
    var streams = initial
    var buffer = [UInt8](repeating: 0, count: 65536)
    while streams.contains(where: \.open) {
      var polls = streams.map { pollfd(fd: $0.open ? $0.source : -1, events: Int16(POLLIN), revents: 0) }
      let ending = taskEnded.isSet
      let ready = poll(&polls, nfds_t(polls.count), ending ? 0 : 100)
      if ready < 0 && errno == EINTR { continue }
      var ended: [Int] = []
      // Nothing left to read once the task is gone: end every stream, flushing its last line.
      if ready < 0 || (ready == 0 && ending) { ended = streams.indices.filter { streams[$0].open } }
      for k in streams.indices where streams[k].open && polls[k].revents != 0 {
        let n = read(streams[k].source, &buffer, buffer.count)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 {
          ended.append(k)
          continue
        }
        streams[k].pending += buffer[0..<n]
        var text: [UInt8] = []
        var start = 0
        while let newline = streams[k].pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
          text += label
          text += streams[k].pending[start...newline]
          start = newline + 1
        }
        streams[k].pending.removeFirst(start)
        writeAll(streams[k].destination, text)
      }
      for k in ended {
        if !streams[k].pending.isEmpty {
          writeAll(streams[k].destination, label + streams[k].pending + [UInt8(ascii: "\n")])
        }
        close(streams[k].source)
        streams[k].open = false
      }
    }
  }

  static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
      let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { return }
      offset += n
    }
  }
}
