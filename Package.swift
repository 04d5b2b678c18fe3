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
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
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
    // POSIX helpers the daemon, the CLI and the workers share: spawn, pin, signals, files, fault seams.
    .target(name: "System", dependencies: ["CSupport"]),
    .target(
      name: "Worker",
      dependencies: ["CSupport", "System", "Engine"]),
    // Where the store lives, the error every module throws, escaping of user text.
    .target(name: "OrchCore", dependencies: ["Store", "System"]),
    // Sweep YAML -> configs: templates, axes, `when`, `derive`, hashing, listing, the regex engine.
    .target(
      name: "Registry",
      dependencies: [
        "OrchCore", "SlurmSyntax", "Engine", "CPCRE2", .product(name: "Yams", package: "Yams"),
        .product(name: "Crypto", package: "swift-crypto"),
      ]),
    // SLURM's languages: array specs, selectors, dependencies, times, output patterns, options, getopt.
    .target(name: "SlurmSyntax", dependencies: ["OrchCore", "Store", "System", "Worker"]),
    // Where jobs run: local and SLURM behind one protocol.
    .target(
      name: "Backends",
      dependencies: [
        "OrchCore", "SlurmSyntax", "Store", "System", "Worker", "Engine", .product(name: "GRDB", package: "GRDB.swift"),
      ]),
    // What users ask of the store: submit, sbatch, cancel, hold, release, retry.
    .target(
      name: "Operations",
      dependencies: [
        "OrchCore", "Registry", "SlurmSyntax", "Backends", "Store", "System", "Worker", "Engine",
        .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Crypto", package: "swift-crypto"),
      ]),
    // What SLURM's clients show of orch's jobs: squeue's and scontrol's records, TRES, the --json documents.
    .target(
      name: "SlurmViews",
      dependencies: ["Operations", "Backends", "SlurmSyntax", "Worker", "Store"]),
    // The scheduler: daemon loop, recovery, dependencies, event ingestion, control socket, foreground runs.
    .target(
      name: "Orchestrator",
      dependencies: [
        "OrchCore", "Registry", "SlurmSyntax", "Backends", "Operations", "Store", "System", "Worker", "CSupport",
        .product(name: "GRDB", package: "GRDB.swift"),
      ]),
    // The papers' analyses, statistics and charts; reads the store, submits through Operations.
    .target(name: "Analysis", dependencies: ["OrchCore", "Registry", "Backends", "Store", "Engine"]),
    // `orch ui`: the store in a browser (SwiftNIO's HTTP/1 server), its own process reading read-only; actions through Operations.
    .target(
      name: "UI",
      dependencies: [
        "OrchCore", "Analysis", "Operations", "Orchestrator", "Backends", "SlurmSyntax", "Worker", "Engine", "Store",
        "System", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "GRDB", package: "GRDB.swift"),
      ]),
    // One command per file; the executable is a one-line main.
    .target(
      name: "CLI",
      dependencies: [
        "OrchCore", "Registry", "SlurmSyntax", "SlurmViews", "Backends", "Operations", "Orchestrator", "Analysis", "UI",
        "Store", "System", "Worker", "Engine", "CSupport",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(name: "orch", dependencies: ["CLI"]),
    .executableTarget(name: "orch-worker", dependencies: ["Worker"]),
    .executableTarget(
      name: "engine-bench", dependencies: ["Engine"], path: "bench/engine",
      exclude: ["run.sh", "numpy_mlp.py", "torch_bench.py", "startup.sh"]),
    // A test target per module; IntegrationTests drive the real binaries.
    .target(name: "TestSupport", dependencies: ["OrchCore"], path: "Tests/Support"),
    .testTarget(name: "StoreTests", dependencies: ["Store"]),
    .testTarget(name: "WorkerTests", dependencies: ["Worker", "System"]),
    .testTarget(name: "EngineTests", dependencies: ["Engine"], exclude: ["Fixtures"]),
    .testTarget(
      name: "OrchCoreTests", dependencies: ["OrchCore", "Registry", "SlurmSyntax", "Backends", "TestSupport"]),
    .testTarget(name: "RegistryTests", dependencies: ["Registry", "TestSupport"], exclude: ["Fixtures"]),
    .testTarget(name: "SlurmSyntaxTests", dependencies: ["SlurmSyntax", "TestSupport"]),
    .testTarget(name: "BackendsTests", dependencies: ["Backends"]),
    .testTarget(name: "OperationsTests", dependencies: ["Operations", "TestSupport"], exclude: ["Fixtures"]),
    .testTarget(name: "CLITests", dependencies: ["CLI"]),
    .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "Registry"], exclude: ["Fixtures"]),
    .testTarget(name: "IntegrationTests", dependencies: ["Store", "Worker", "System"], exclude: ["Browser"]),
    // `orch ui` driven over HTTP as a real process: token, CSRF, paths, escaping, events.
    .testTarget(name: "UITests", dependencies: ["Store"]),
    // Mutation fuzzing of every parser that takes outside input; `make fuzz` runs it longer.
    .testTarget(
      name: "FuzzTests",
      dependencies: [
        "CLI", "Orchestrator", "Analysis", "Operations", "Backends", "Registry", "SlurmSyntax", "Engine", "Worker",
        "Store",
      ],
      exclude: ["Corpus"]),
  ],
  swiftLanguageModes: [.v6]
)
