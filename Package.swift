// swift-tools-version:6.1
import PackageDescription

let package = Package(
  name: "orch",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "orch", targets: ["orch"]),
    .executable(name: "orch-worker", targets: ["orch-worker"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
  ],
  targets: [
    // Linux-only bits Swift's Glibc does not import: CPU affinity, pidfd, spawn helpers.
    .target(name: "CSupport", linkerSettings: [.linkedLibrary("sqlite3")]),
    // OpenBLAS through the system library (libopenblas-dev).
    .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
    // PCRE2 through the system library (libpcre2-dev): the JIT behind the registry's Python regexes.
    .systemLibrary(name: "CPCRE2", path: "Sources/CPCRE2"),
    .target(
      name: "Store",
      dependencies: [
        "CSupport", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift"),
      ]),
    .target(name: "Engine", dependencies: ["CBLAS", .product(name: "Crypto", package: "swift-crypto")]),
    .target(
      name: "Worker",
      dependencies: ["CSupport", "Engine"]),
    .target(
      name: "Orchestrator",
      dependencies: [
        "Store", "Worker", "Engine", "CSupport", "CPCRE2",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Yams", package: "Yams"),
        .product(name: "Crypto", package: "swift-crypto"),
      ]),
    .executableTarget(name: "orch", dependencies: ["Orchestrator"]),
    .executableTarget(name: "orch-worker", dependencies: ["Worker"]),
    .executableTarget(
      name: "engine-bench", dependencies: ["Engine"], path: "bench/engine",
      exclude: ["run.sh", "numpy_mlp.py", "torch_bench.py", "startup.sh"]),
    .testTarget(name: "StoreTests", dependencies: ["Store"]),
    .testTarget(name: "OrchestratorTests", dependencies: ["Orchestrator"], exclude: ["Fixtures"]),
    .testTarget(name: "WorkerTests", dependencies: ["Worker"]),
    .testTarget(name: "EngineTests", dependencies: ["Engine"], exclude: ["Fixtures"]),
    .testTarget(name: "IntegrationTests", dependencies: ["Store", "Worker"]),
    // Mutation fuzzing of every parser that takes outside input; `make fuzz` runs it longer.
    .testTarget(
      name: "FuzzTests", dependencies: ["Orchestrator", "Engine", "Worker", "Store"], exclude: ["Corpus"]),
  ],
  swiftLanguageModes: [.v6]
)
