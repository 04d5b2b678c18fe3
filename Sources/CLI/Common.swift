import ArgumentParser
import Foundation
import OrchCore
import SlurmSyntax
import Store

/// Job ids as users type them (`12`, `12_3`, `12_[1-3]`) resolved against the store.
enum JobIDs {
  static func resolve(_ texts: [String], store: JobStore) throws(OrchError) -> [Int64] {
    var ids: [Int64] = []
    for text in texts {
      let selector = try JobSelector.parse(text)
      let found: [Int64]
      switch selector {
      case .job(let id):
        found = try storeCall { () throws(StoreError) in try store.resolve(array: Int64(id), indices: nil) }
      case .elements(let id, let indices):
        found = try storeCall { () throws(StoreError) in try store.resolve(array: Int64(id), indices: indices) }
      }
      if found.isEmpty { throw OrchError.badInput("no such job: \(text)") }
      ids += found
    }
    return ids
  }

  /// One job for commands that take exactly one (`logs`, `metrics`).
  static func single(_ text: String, store: JobStore) throws(OrchError) -> JobRow {
    let ids = try resolve([text], store: store)
    guard ids.count == 1 else {
      throw OrchError.badInput("'\(text)' names \(ids.count) jobs; give one element such as \(text)_0")
    }
    let rows = try storeCall { () throws(StoreError) in try store.jobs(JobFilter(jobs: ids)) }
    guard let row = rows.first else { throw OrchError.badInput("no such job: \(text)") }
    return row
  }
}
