import OrchCore
import XCTest

@testable import Backends
@testable import SlurmSyntax

final class GPURequestTests: XCTestCase {
  func testGresAsSlurmParsesIt() throws {
    XCTAssertEqual(try GPURequest.parseGres("gpu"), GPURequest(count: 1))
    XCTAssertEqual(try GPURequest.parseGres("gpu:2"), GPURequest(count: 2))
    XCTAssertEqual(try GPURequest.parseGres("gpu:A100:2"), GPURequest(count: 2, type: "a100"))
    XCTAssertEqual(try GPURequest.parseGres("gpu:a100"), GPURequest(count: 1, type: "a100"))
    XCTAssertEqual(try GPURequest.parseGres("gres/gpu:1"), GPURequest(count: 1))
    XCTAssertEqual(try GPURequest.parseGres("gpu:1k"), GPURequest(count: 1024))
    XCTAssertNil(try GPURequest.parseGres("gpu:0"))
    XCTAssertNil(try GPURequest.parseGres("none"))
    for bad in ["gpu:-1", "gpu:x:y", "foo:1", "gpu:1,gpu:2", "gpu:a:1:2", "", "gpu:", "gpu:_x:1"] {
      XCTAssertThrowsError(try GPURequest.parseGres(bad), bad) {
        XCTAssertEqual(($0 as? OrchError)?.message, GPURequest.invalidGres)
      }
    }
    XCTAssertGreaterThan(try XCTUnwrap(GPURequest.parseGres("gpu:1p")).count, GPURequest.maxCount)
  }

  func testGpusCounts() throws {
    XCTAssertEqual(try GPURequest.parseCount("2"), GPURequest(count: 2))
    XCTAssertEqual(try GPURequest.parseCount("v100:1"), GPURequest(count: 1, type: "v100"))
    XCTAssertNil(try GPURequest.parseCount("0"))
    for bad in ["abc", "1:1", "a:b:1", "", "-2"] { XCTAssertThrowsError(try GPURequest.parseCount(bad), bad) }
    XCTAssertEqual(
      try GPURequest.combine([GPURequest(count: 2, type: "a100"), GPURequest(count: 2)]),
      GPURequest(count: 2, type: "a100"))
    XCTAssertThrowsError(try GPURequest.combine([GPURequest(count: 2), GPURequest(count: 1)]))
  }

  func testInventoryParsers() throws {
    let csv = "0, GPU-a, NVIDIA A100-SXM4-40GB, 40960 MiB\n1, GPU-b, Tesla V100, PCIe, 16160 MiB\n"
    let devices = try GPUInventory.parseSmiCSV(csv)
    XCTAssertEqual(devices.map(\.index), [0, 1])
    XCTAssertEqual(devices[1].name, "Tesla V100, PCIe")
    XCTAssertEqual(devices[1].memoryMiB, 16160)
    XCTAssertTrue(devices[0].matches(type: "a100"))
    XCTAssertTrue(devices[0].matches(type: "a100-sxm4-40gb"))
    XCTAssertTrue(devices[0].matches(type: "nvidia_a100-sxm4-40gb"))
    XCTAssertFalse(devices[0].matches(type: "a10"))
    XCTAssertThrowsError(try GPUInventory.parseSmiCSV("0, GPU-a, x, 1 MiB\n0, GPU-b, y, 1 MiB\n"))
    XCTAssertEqual(try GPUInventory.parseSmiCSV(""), [])
    let topo =
      "\t\u{1b}[4mGPU0\tGPU1\tCPU Affinity\tNUMA Affinity\u{1b}[0m\nGPU0\t X \tSYS\t0-3,8-11\t0\nGPU1\tSYS\t X \t4-7\t1\n"
    XCTAssertEqual(GPUInventory.parseTopology(topo), [0: [0, 1, 2, 3, 8, 9, 10, 11], 1: [4, 5, 6, 7]])
    XCTAssertEqual(try GPUInventory.parseList("0-2,5:a100", what: "--gpus").map(\.index), [0, 1, 2, 5])
    XCTAssertEqual(try GPUInventory.parseList("none", what: "--gpus"), [])
    for bad in ["x", "1-0", "0,0", "0:", "99999999", "0-999999", "4096"] {
      XCTAssertThrowsError(try GPUInventory.parseList(bad, what: "--gpus"), bad)
    }
  }
}
