import Foundation

/// The store's file on disk, before SQLite sees it. Only a missing store is created, and it
/// appears complete: it is built and migrated under a private name, closed, and linked into
/// place, so a crash never leaves an empty `orch.db` behind. An existing file that is empty,
/// not an SQLite database or shorter than its own header says is an error naming it: SQLite
/// would take a 0-byte file for a new empty database and lose every job silently.
enum StoreFile {
  /// Creates the store at `path` when nothing is there: `build` makes and migrates a database at
  /// the path it is given and closes it. Losing a race to another creator is fine: its store is
  /// used.
  static func createIfMissing(_ path: String, build: (String) throws -> Void) throws(StoreError) {
    var info = stat()
    if lstat(path, &info) == 0 { return }
    guard errno == ENOENT else { throw StoreError("cannot stat store \(path): \(errorText())") }
    if lstat(path + "-wal", &info) == 0 && info.st_size > 0 {
      throw StoreError(
        "store \(path) is missing but its write-ahead log \(path)-wal (\(info.st_size) bytes) is there: the store was"
          + " removed or lost, and the log alone cannot restore it; restore \(path), or move \(path)-wal away to start"
          + " an empty store")
    }
    // Unique per call: two threads of one process may create the same store at once too.
    let temporary = "\(path).new-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let files = [temporary, temporary + "-wal", temporary + "-shm"]
    for file in files { unlink(file) }
    defer { for file in files { unlink(file) } }
    // SQLite creates the -wal and -shm files with the database file's permissions.
    let fd = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
    if fd < 0 { throw StoreError("cannot create store \(path): \(temporary): \(errorText())") }
    close(fd)
    try StoreError.wrap("while creating store \(path)") { try build(temporary) }
    if lstat(temporary + "-wal", &info) == 0 && info.st_size > 0 {
      throw StoreError("cannot create store \(path): \(temporary)-wal was not checkpointed on close")
    }
    if link(temporary, path) != 0 && errno != EEXIST {
      throw StoreError("cannot create store \(path): cannot link \(temporary): \(errorText())")
    }
  }

  /// Refuses an existing store file SQLite would misread (see the type's comment).
  static func checkExisting(_ path: String) throws(StoreError) {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else { throw StoreError("cannot read store \(path): \(errorText())") }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw StoreError("cannot stat store \(path): \(errorText())") }
    guard info.st_mode & S_IFMT == S_IFREG else { throw StoreError("store \(path) is not a regular file") }
    let size = Int(info.st_size)
    let restore = "restore it from a backup, or move it away to start an empty store"
    guard size > 0 else {
      throw StoreError("store \(path) is empty (0 bytes), not a database orch wrote; \(restore)")
    }
    var header = [UInt8](repeating: 0, count: 100)
    let n = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 100, 0) }
    guard n >= 0 else { throw StoreError("cannot read store \(path): \(errorText())") }
    guard Array(header.prefix(16)) == Array("SQLite format 3\0".utf8) else {
      let shown = header.prefix(min(n, 16)).map { String(format: "%02x", $0) }.joined(separator: " ")
      throw StoreError("store \(path) is not an SQLite database (it starts with \(shown)); \(restore)")
    }
    guard n == 100 else {
      throw StoreError("store \(path) is truncated: \(size) bytes, less than the 100-byte SQLite header; \(restore)")
    }
    func bigEndian(_ offset: Int, _ count: Int) -> Int {
      header[offset..<(offset + count)].reduce(0) { $0 << 8 | Int($1) }
    }
    let rawPageSize = bigEndian(16, 2)
    let pageSize = rawPageSize == 1 ? 65536 : rawPageSize
    guard pageSize >= 512, pageSize & (pageSize - 1) == 0 else {
      throw StoreError("store \(path) has a corrupt header (page size \(rawPageSize)); \(restore)")
    }
    // With a write-ahead log the file may lag behind: SQLite completes it from the log.
    var walInfo = stat()
    if lstat(path + "-wal", &walInfo) == 0 && walInfo.st_size > 0 { return }
    guard size % pageSize == 0 else {
      throw StoreError(
        "store \(path) is truncated: \(size) bytes is not a whole number of \(pageSize)-byte pages; \(restore)")
    }
    // The header's page count is valid when its change counter matches "version-valid-for".
    let pages = bigEndian(28, 4)
    if pages > 0, bigEndian(24, 4) == bigEndian(92, 4), pages * pageSize > size {
      throw StoreError(
        "store \(path) is truncated: its header says \(pages) pages (\(pages * pageSize) bytes), the file has"
          + " \(size) bytes; \(restore)")
    }
  }

  private static func errorText() -> String { String(cString: strerror(errno)) }
}
