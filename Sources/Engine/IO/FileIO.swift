#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

// POSIX file access with errors that name the path and the failing call.

private func posixError(_ call: String, _ path: String) -> EngineError {
  EngineError(.io, "\(call) \(path): \(String(cString: strerror(errno)))")
}

/// Whole file contents. `regularOnly` refuses anything but a regular file (a data file that is
/// a FIFO or a device would block or never end) without blocking in `open`.
public func readFile(_ path: String, regularOnly: Bool = false) throws -> [UInt8] {
  let fd = open(path, O_RDONLY | O_CLOEXEC | (regularOnly ? O_NONBLOCK : 0))
  guard fd >= 0 else { throw posixError("cannot open", path) }
  defer { close(fd) }
  var info = stat()
  guard fstat(fd, &info) == 0 else { throw posixError("cannot stat", path) }
  if regularOnly && info.st_mode & S_IFMT != S_IFREG { throw EngineError(.io, "\(path) is not a regular file") }
  let size = Int(info.st_size)
  var bytes = [UInt8](repeating: 0, count: size)
  var done = 0
  try bytes.withUnsafeMutableBytes { buf in
    while done < size {
      let n = read(fd, buf.baseAddress! + done, size - done)
      if n < 0 && errno == EINTR { continue }
      guard n >= 0 else { throw posixError("cannot read", path) }
      if n == 0 { break }
      done += n
    }
  }
  if done < size { bytes.removeLast(size - done) }
  return bytes
}

/// A file open for reading at offsets (`pread`); closed when released.
final class ReadOnlyFile {
  let path: String
  let fd: Int32
  let size: Int

  init(_ path: String) throws {
    self.path = path
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else { throw posixError("cannot open", path) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      close(fd)
      throw posixError("cannot stat", path)
    }
    guard info.st_mode & S_IFMT == S_IFREG else {
      close(fd)
      throw EngineError(.io, "\(path) is not a regular file")
    }
    size = Int(info.st_size)
  }

  deinit { close(fd) }

  /// Fills `buffer` from `offset`; a file shorter than that is an error.
  func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
    var done = 0
    while done < buffer.count {
      let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
      if n < 0 && errno == EINTR { continue }
      guard n >= 0 else { throw posixError("cannot read", path) }
      guard n > 0 else {
        throw EngineError(.io, "\(path) ended at byte \(offset + done), expected \(offset + buffer.count)")
      }
      done += n
    }
  }

  func read(at offset: Int, count: Int) throws -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    try bytes.withUnsafeMutableBytes { try read(at: offset, into: $0) }
    return bytes
  }
}

/// Writes to a temporary file next to `path`, fsyncs it, renames it over `path` and fsyncs
/// the directory, so readers see either the old file or the complete new one.
public func writeFileAtomically(_ path: String, _ bytes: [UInt8]) throws {
  let temp = "\(path).tmp-\(getpid())"
  let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
  guard fd >= 0 else { throw posixError("cannot create", temp) }
  var ok = false
  defer {
    if !ok { unlink(temp) }
  }
  do {
    defer { close(fd) }
    var done = 0
    try bytes.withUnsafeBytes { buf in
      while done < buf.count {
        let n = write(fd, buf.baseAddress! + done, buf.count - done)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { throw posixError("cannot write", temp) }
        done += n
      }
    }
    guard fsync(fd) == 0 else { throw posixError("cannot fsync", temp) }
  }
  guard rename(temp, path) == 0 else { throw posixError("cannot rename \(temp) to", path) }
  ok = true
  let slash = path.lastIndex(of: "/")
  let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
  let dfd = open(directory, O_RDONLY | O_CLOEXEC)
  if dfd >= 0 {
    _ = fsync(dfd)
    close(dfd)
  }
}
