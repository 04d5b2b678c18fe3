import Foundation
import XCTest

@testable import Backends

final class JobConfigTests: XCTestCase {
  /// The daemon's scanner against Foundation's JSON parser, on configs shaped like the registry's
  /// and on awkward ones (escapes, nesting, other types under the three names).
  func testScannerAgreesWithJSONSerialization() throws {
    let cases = [
      #"{"bindings":{"i":3,"lr":0.1},"command":["/bin/echo","{i}","a b"],"env":{"A":"1","B":"x=y"},"key":"noop/3"}"#,
      #"{"command":["python3","-c","print(\"hi\\n\")","\u00e9\ud83d\ude00"],"engine":null}"#,
      #"{"engine":"train","bindings":{"model":{"arch":"mlp","width":[1,2,{"x":"]}"}]}},"env":{}}"#,
      #"{ "command" : [ ] , "env" : { "K" : "v\/w\t" } }"#,
      #"{"command":"not-a-list","env":{"A":1},"engine":{"nested":true}}"#,
      #"{"command":["a",1],"env":["x"],"x":-1.5e3,"y":true,"z":false}"#,
      "{}",
    ]
    for json in cases {
      let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
      let config = JobConfig.parse(json)
      XCTAssertEqual(config.argv, object["command"] as? [String], json)
      XCTAssertEqual(config.env, object["env"] as? [String: String] ?? [:], json)
      XCTAssertEqual(config.engine, object["engine"] as? String, json)
    }
  }

  func testMalformedJSONIsAnEmptyConfig() {
    for json in [#"{"command":["a""#, #"{"command" ["a"]}"#, "", "[1]", #"{"env":{"A":"1"}"#] {
      let config = JobConfig.parse(json)
      XCTAssertNil(config.argv, json)
      XCTAssertEqual(config.env, [:], json)
      XCTAssertNil(config.engine, json)
    }
  }
}
