import CSupport
import Foundation

/// Starts a job process with `posix_spawn`: its own process group, stdin from /dev/null,
/// stdout/stderr to the given descriptors and the event stream on fd 3. It inherits the calling
/// thread's CPU affinity, so callers pin themselves first.
public enum Spawn {
  public static func start(
    argv: [String], env: [String], cwd: String?, stdout: Int32, stderr: Int32, events: Int32,
    newSession: Bool = false
  ) throws(SystemError) -> pid_t {
    guard let path = argv.first, !path.isEmpty else { throw SystemError("empty command") }
    var pid: pid_t = 0
    let rc = withCStrings(argv) { cargv in
      withCStrings(env) { cenv in
        orch_spawn(&pid, path, cargv, cenv, cwd, stdout, stderr, events, newSession ? 1 : 0)
      }
    }
    if rc != 0 { throw SystemError("cannot execute '\(path)': \(Posix.errorText(rc))") }
    return pid
  }

  private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return body(pointers)
  }
}
