import XCTest

@testable import SlurmSyntax

final class SlurmDependencyRuleTests: XCTestCase {
  typealias Kind = DependencySpec.Kind
  typealias Term = DependencySpec.Term
  typealias Element = DependencyRule.Element
  typealias Peer = DependencyRule.SingletonPeer

  private let states: [JobStateLite] = [.pending, .running, .completed, .failed, .cancelled, .timeout, .outOfMemory]

  /// Expected status for one target in each state, in the order of `states`. W waiting,
  /// S satisfied, N never.
  private let singleTable: [(Kind, String)] = [
    (.after, "WSSSSSS"),
    (.afterany, "WWSSSSS"),
    (.afterok, "WWSNNNN"),
    (.afternotok, "WWNSSSS"),
    (.aftercorr, "WWSNNNN"),
    (.singleton, "WWSSSSS"),
  ]

  private func status(_ c: Character) -> DependencyStatus {
    switch c {
    case "S": .satisfied
    case "N": .never
    default: .waiting
    }
  }

  func testStatesCoverEveryCase() {
    XCTAssertEqual(Set(states), Set(JobStateLite.allCases))
    XCTAssertEqual(Set(singleTable.map(\.0)), Set(Kind.allCases))
  }

  func testSingleTargetTable() {
    for (kind, row) in singleTable {
      for (state, expected) in zip(states, row) {
        XCTAssertEqual(DependencyRule.evaluate(kind, states: [state]), status(expected), "\(kind) \(state)")
      }
    }
  }

  func testWholeArrayTable() {
    let cases: [(Kind, [JobStateLite], DependencyStatus)] = [
      (.after, [.running, .pending], .waiting),
      (.after, [.completed, .running], .satisfied),
      (.after, [.cancelled, .failed], .satisfied),
      (.after, [.cancelled, .pending], .waiting),
      (.afterany, [.completed, .running], .waiting),
      (.afterany, [.completed, .pending], .waiting),
      (.afterany, [.failed, .completed, .timeout], .satisfied),
      (.afterok, [.completed, .completed, .completed], .satisfied),
      (.afterok, [.completed, .pending], .waiting),
      // SLURM gives its verdict only once every element has ended.
      (.afterok, [.failed, .running], .waiting),
      (.afterok, [.failed, .completed], .never),
      (.afterok, [.completed, .outOfMemory], .never),
      (.afternotok, [.completed, .running], .waiting),
      (.afternotok, [.failed, .pending], .waiting),
      (.afternotok, [.completed, .failed], .satisfied),
      (.afternotok, [.completed, .cancelled, .completed], .satisfied),
      (.afternotok, [.completed, .completed], .never),
      (.singleton, [.completed, .running], .waiting),
      (.singleton, [.failed, .completed], .satisfied),
    ]
    for (kind, targetStates, expected) in cases {
      XCTAssertEqual(DependencyRule.evaluate(kind, states: targetStates), expected, "\(kind) \(targetStates)")
    }
  }

  /// Every pair and triple of element states against the rules restated directly.
  func testAllCombinationsAgainstRestatedRules() {
    var combos: [[JobStateLite]] = []
    for a in states {
      for b in states {
        combos.append([a, b])
        for c in states { combos.append([a, b, c]) }
      }
    }
    for s in combos {
      let ended = s.allSatisfy { $0 != .pending && $0 != .running }
      let allOK = s.allSatisfy { $0 == .completed }
      let expected: [Kind: DependencyStatus] = [
        .after: s.contains(.pending) ? .waiting : .satisfied,
        .afterany: ended ? .satisfied : .waiting,
        .afterok: !ended ? .waiting : allOK ? .satisfied : .never,
        .aftercorr: !ended ? .waiting : allOK ? .satisfied : .never,
        .afternotok: !ended ? .waiting : allOK ? .never : .satisfied,
        .singleton: ended ? .satisfied : .waiting,
      ]
      for kind in Kind.allCases {
        XCTAssertEqual(DependencyRule.evaluate(kind, states: s), expected[kind], "\(kind) \(s)")
      }
    }
  }

  func testGoneTargetIsSatisfied() {
    for kind in Kind.allCases {
      XCTAssertEqual(DependencyRule.evaluate(kind, states: []), .satisfied, "\(kind)")
    }
  }

  func testTermPicksItsElement() {
    let target = [
      Element(index: 0, state: .completed), Element(index: 1, state: .failed), Element(index: 2, state: .running),
    ]
    XCTAssertEqual(
      DependencyRule.evaluate(Term(kind: .afterok, jobID: 9, arrayIndex: 0), target: target, ownIndex: nil), .satisfied)
    XCTAssertEqual(
      DependencyRule.evaluate(Term(kind: .afterok, jobID: 9, arrayIndex: 1), target: target, ownIndex: nil), .never)
    XCTAssertEqual(
      DependencyRule.evaluate(Term(kind: .afterok, jobID: 9, arrayIndex: 2), target: target, ownIndex: nil), .waiting)
    XCTAssertEqual(DependencyRule.evaluate(Term(kind: .afterok, jobID: 9), target: target, ownIndex: nil), .waiting)
    XCTAssertEqual(
      DependencyRule.evaluate(Term(kind: .afternotok, jobID: 9, arrayIndex: 1), target: target, ownIndex: nil),
      .satisfied)
    XCTAssertEqual(DependencyRule.evaluate(Term(kind: .after, jobID: 9), target: target, ownIndex: nil), .satisfied)
    XCTAssertEqual(
      DependencyRule.evaluate(Term(kind: .afterok, jobID: 9, arrayIndex: 7), target: target, ownIndex: nil), .satisfied)
  }

  func testAftercorr() {
    let target = [
      Element(index: 0, state: .completed), Element(index: 1, state: .failed), Element(index: 2, state: .pending),
    ]
    let term = Term(kind: .aftercorr, jobID: 9)
    XCTAssertEqual(DependencyRule.evaluate(term, target: target, ownIndex: 0), .satisfied)
    XCTAssertEqual(DependencyRule.evaluate(term, target: target, ownIndex: 1), .never)
    XCTAssertEqual(DependencyRule.evaluate(term, target: target, ownIndex: 2), .waiting)
    // No element 5 in the target: afterok on the whole target, as in SLURM.
    XCTAssertEqual(DependencyRule.evaluate(term, target: target, ownIndex: 5), .waiting)
    let done = [Element(index: 0, state: .completed), Element(index: 1, state: .completed)]
    XCTAssertEqual(DependencyRule.evaluate(term, target: done, ownIndex: 5), .satisfied)
    let doneBadly = [Element(index: 0, state: .completed), Element(index: 1, state: .timeout)]
    XCTAssertEqual(DependencyRule.evaluate(term, target: doneBadly, ownIndex: 5), .never)
    XCTAssertEqual(DependencyRule.evaluate(term, target: doneBadly, ownIndex: 0), .satisfied)
    // Not an array on either side: plain afterok.
    XCTAssertEqual(DependencyRule.evaluate(term, target: [Element(state: .completed)], ownIndex: nil), .satisfied)
    XCTAssertEqual(DependencyRule.evaluate(term, target: [Element(state: .completed)], ownIndex: 3), .satisfied)
    XCTAssertEqual(DependencyRule.evaluate(term, target: [Element(state: .failed)], ownIndex: 3), .never)
    XCTAssertEqual(DependencyRule.evaluate(term, target: done, ownIndex: nil), .satisfied)
  }

  func testAfterDelay() {
    let term = Term(kind: .after, jobID: 9, delayMinutes: 5)
    XCTAssertEqual(DependencyRule.evaluate(term, target: [Element(state: .pending)], ownIndex: nil), .waiting)
    XCTAssertEqual(
      DependencyRule.evaluate(term, target: [Element(state: .running, secondsSinceStart: 299)], ownIndex: nil), .waiting
    )
    XCTAssertEqual(
      DependencyRule.evaluate(term, target: [Element(state: .running, secondsSinceStart: 300)], ownIndex: nil),
      .satisfied)
    XCTAssertEqual(
      DependencyRule.evaluate(term, target: [Element(state: .cancelled, secondsSinceStart: 301)], ownIndex: nil),
      .satisfied)
    XCTAssertEqual(DependencyRule.evaluate(term, target: [Element(state: .running)], ownIndex: nil), .waiting)
    let array = [
      Element(index: 0, state: .completed, secondsSinceStart: 900),
      Element(index: 1, state: .running, secondsSinceStart: 60),
    ]
    XCTAssertEqual(DependencyRule.evaluate(term, target: array, ownIndex: nil), .waiting)
    XCTAssertEqual(
      DependencyRule.evaluate(
        Term(kind: .after, jobID: 9, arrayIndex: 0, delayMinutes: 5), target: array, ownIndex: nil),
      .satisfied)
    XCTAssertEqual(DependencyRule.evaluate(Term(kind: .after, jobID: 9), target: array, ownIndex: nil), .satisfied)
  }

  func testSingleton() {
    XCTAssertEqual(DependencyRule.singleton(peers: []), .satisfied)
    XCTAssertEqual(DependencyRule.singleton(peers: [Peer(state: .running, submittedBefore: false)]), .waiting)
    XCTAssertEqual(DependencyRule.singleton(peers: [Peer(state: .running, submittedBefore: true)]), .waiting)
    XCTAssertEqual(DependencyRule.singleton(peers: [Peer(state: .pending, submittedBefore: true)]), .waiting)
    XCTAssertEqual(DependencyRule.singleton(peers: [Peer(state: .pending, submittedBefore: false)]), .satisfied)
    for state in states where state.isTerminal {
      XCTAssertEqual(DependencyRule.singleton(peers: [Peer(state: state, submittedBefore: true)]), .satisfied)
    }
  }

  func testCombine() {
    let all: [DependencyStatus] = [.satisfied, .waiting, .never]
    let and: [[String]] = [
      // rows: first status; columns: second status (S, W, N)
      ["S", "W", "N"],
      ["W", "W", "N"],
      ["N", "N", "N"],
    ]
    let or: [[String]] = [
      ["S", "S", "S"],
      ["S", "W", "W"],
      ["S", "W", "N"],
    ]
    for (i, a) in all.enumerated() {
      for (j, b) in all.enumerated() {
        XCTAssertEqual(DependencyRule.combine([a, b], isOr: false), status(Character(and[i][j])), "\(a) AND \(b)")
        XCTAssertEqual(DependencyRule.combine([a, b], isOr: true), status(Character(or[i][j])), "\(a) OR \(b)")
      }
    }
    for s in all {
      XCTAssertEqual(DependencyRule.combine([s], isOr: false), s)
      XCTAssertEqual(DependencyRule.combine([s], isOr: true), s)
    }
    XCTAssertEqual(DependencyRule.combine([], isOr: false), .satisfied)
    XCTAssertEqual(DependencyRule.combine([], isOr: true), .satisfied)
  }

  func testWholeSpec() throws {
    let jobs: [Int: [Element]] = [
      10: [Element(state: .completed)],
      11: [Element(state: .failed)],
      12: [Element(index: 0, state: .completed), Element(index: 1, state: .running)],
    ]
    var lookups: [Int] = []
    func evaluate(_ text: String, ownIndex: Int? = nil, peers: [Peer] = []) throws -> DependencyStatus {
      DependencyRule.evaluate(
        try DependencySpec.parse(text), ownIndex: ownIndex,
        target: { id in
          lookups.append(id)
          return jobs[id] ?? []
        },
        singletonPeers: { peers })
    }
    XCTAssertEqual(try evaluate("afterok:10"), .satisfied)
    XCTAssertEqual(try evaluate("afterok:10,afterok:11"), .never)
    XCTAssertEqual(try evaluate("afterok:10?afterok:11"), .satisfied)
    XCTAssertEqual(try evaluate("afterok:11?afterok:12"), .waiting)
    XCTAssertEqual(try evaluate("afterok:11?afterok:12_0"), .satisfied)
    XCTAssertEqual(try evaluate("afterok:11?afternotok:10"), .never)
    XCTAssertEqual(try evaluate("afterany:11,after:12"), .satisfied)
    XCTAssertEqual(try evaluate("aftercorr:12", ownIndex: 0), .satisfied)
    XCTAssertEqual(try evaluate("aftercorr:12", ownIndex: 1), .waiting)
    XCTAssertEqual(try evaluate("10,singleton"), .satisfied)
    XCTAssertEqual(try evaluate("10,singleton", peers: [Peer(state: .running, submittedBefore: false)]), .waiting)
    XCTAssertEqual(try evaluate("afterok:99"), .satisfied)
    lookups = []
    _ = try evaluate("afterok:12_0:12_1,afterany:12")
    XCTAssertEqual(lookups, [12], "each target is looked up once")
  }

  /// A range (`12_[0-3]`, one stored row) is evaluated exactly as SLURM's one term per element
  /// (`12_0:12_1:…`), joined with ',' or '?' as the spec is: every combination of states of a
  /// three-element target, with an element the range names that is gone (3) and without.
  func testRangeIsItsElementsJoinedAsTheSpecJoins() throws {
    for kind in [Kind.after, .afterany, .afterok, .afternotok] {
      for a in states {
        for b in states {
          for c in states {
            let target = [Element(index: 0, state: a), Element(index: 1, state: b), Element(index: 2, state: c)]
            let jobs = [12: target, 13: [Element(state: .running)]]
            for (range, expanded) in [("12_[0-2]", "12_0:12_1:12_2"), ("12_[0-3]", "12_0:12_1:12_2:12_3")] {
              for tail in ["", ",afterany:13", "?afterany:13"] {
                let ranged = try DependencySpec.parse("\(kind):\(range)\(tail)")
                let each = try DependencySpec.parse("\(kind):\(expanded)\(tail)")
                XCTAssertEqual(
                  DependencyRule.evaluate(ranged, ownIndex: nil, target: { jobs[$0] ?? [] }),
                  DependencyRule.evaluate(each, ownIndex: nil, target: { jobs[$0] ?? [] }),
                  "\(ranged) with \(a), \(b), \(c)")
              }
            }
          }
        }
      }
    }
    let stepped = try DependencySpec.parse("afterok:12_[0-4:2]")
    let target = [
      Element(index: 0, state: .completed), Element(index: 1, state: .failed), Element(index: 2, state: .completed),
      Element(index: 3, state: .running), Element(index: 4, state: .completed),
    ]
    XCTAssertEqual(DependencyRule.evaluate(stepped, ownIndex: nil, target: { _ in target }), .satisfied)
  }

  /// Issue 13 item 2: a delay stored by an older orch (or written into the store by hand) that is
  /// too long to count in seconds keeps waiting; `minutes * 60` trapped the daemon on it.
  func testStoredDelayTooLongForSecondsKeepsWaiting() {
    for minutes in [999_999_999_999_999_999, Int.max, Int.max / 60 + 1] {
      let term = Term(kind: .after, jobID: 9, delayMinutes: minutes)
      for since in [0, 1_000_000, Int.max] {
        XCTAssertEqual(
          DependencyRule.evaluate(term, target: [Element(state: .running, secondsSinceStart: since)], ownIndex: nil),
          .waiting, "\(minutes) minutes, \(since) s")
      }
    }
    let longest = Term(kind: .after, jobID: 9, delayMinutes: Int.max / 60)
    XCTAssertEqual(
      DependencyRule.evaluate(longest, target: [Element(state: .running, secondsSinceStart: Int.max)], ownIndex: nil),
      .satisfied)
  }
}
