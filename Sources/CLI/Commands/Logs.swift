import ArgumentParser
import Foundation
import OrchCore
import SlurmSyntax
import Store
import Worker

struct Logs: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print a job's log; -f follows it until the job ends.",
    discussion: "Examples:\n  orch logs 12_3\n  orch logs 12_3 -f")

  @Argument(help: "One job: 12 or 12_3.") var job: String
  @Flag(name: .shortAndLong, help: "Follow the log until the job ends.") var follow = false

  func run() throws {
    let home = try OrchHome()
    let store = try home.openStore()
    let row = try JobIDs.single(job, store: store)
    let launch = try LaunchSpec.decode(
      try storeCall { () throws(StoreError) in try store.launch(arrayID: row.arrayID) })
    let identity = JobIdentity(
      jobID: row.id, arrayID: row.arrayID, arrayIndex: row.arrayIndex, isArray: row.isArray, attempt: row.attempt,
      name: row.name, key: row.key, runDir: row.runDir, home: home.path)
    let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
    let path = OutputPaths.resolve(launch: launch, job: identity, host: host).stdout
    var offset: UInt64 = 0
    var following = follow
    while true {
      if let handle = FileHandle(forReadingAtPath: path) {
        try? handle.seek(toOffset: offset)
        if let data = try? handle.readToEnd(), !data.isEmpty {
          FileHandle.standardOutput.write(data)
          offset += UInt64(data.count)
        }
        try? handle.close()
      } else if !following {
        throw OrchError.failure("no log yet for \(row.display) (\(path)); it is \(row.state.rawValue)")
      }
      guard following else { return }
      let state = try storeCall { () throws(StoreError) in try store.jobs(JobFilter(jobs: [row.id])).first?.state }
      if let state, state.isTerminal {
        following = false  // one last read picks up what was written before the end
        continue
      }
      usleep(200_000)
    }
  }
}
