import XCTest

@testable import Engine

final class SchemaTests: XCTestCase {
  func message(_ bindings: [String: ConfigValue]) -> String? {
    do {
      _ = try EngineSchema.validate(bindings)
      return nil
    } catch {
      return error.message
    }
  }

  func testUnknownNameSuggestsTheClosestValidName() {
    XCTAssertEqual(
      message(["optimizer.base_lrr": 0.1]), "unknown binding 'optimizer.base_lrr'; did you mean 'optimizer.base_lr'?")
    XCTAssertEqual(
      message(["train.epoch": 3]), "unknown binding 'train.epoch'; did you mean 'train.epochs'?")
    XCTAssertEqual(
      message(["lr_schedular.name": "cosine"]), "unknown binding 'lr_schedular.name'; did you mean 'lr_scheduler.name'?"
    )
    // Nothing close: the namespace's names are listed instead.
    let far = message(["data.something_else_entirely": 1]) ?? ""
    XCTAssertTrue(far.hasPrefix("unknown binding 'data.something_else_entirely' (data.* bindings: data.name,"), far)
  }

  func testNamesOutsideEngineNamespacesPassThrough() throws {
    let config = try EngineSchema.validate(["init": "random", "seed": 3, "blocks": [1, 2], "model.arch": "linear"])
    XCTAssertEqual(config.extraBindings, ["init": "random", "seed": 3, "blocks": [1, 2]])
    XCTAssertEqual(config.architecture, .linear)
    XCTAssertTrue(config.resolvedJSON.contains("\"init\":\"random\""))
    // Key-only bindings do not change what is trained.
    XCTAssertEqual(config.hash, try EngineSchema.validate(["model.arch": "linear"]).hash)
  }

  func testWrongTypesAndValuesSayWhatWasExpected() {
    XCTAssertEqual(message(["train.epochs": "10"]), "binding 'train.epochs' expects an integer, got the string '10'")
    XCTAssertEqual(message(["train.epochs": 2.5]), "binding 'train.epochs' expects an integer, got the number 2.5")
    XCTAssertEqual(
      message(["optimizer.base_lr": true]), "binding 'optimizer.base_lr' expects a number, got the boolean true")
    XCTAssertEqual(
      message(["data.augment.flip": 1]), "binding 'data.augment.flip' expects true or false, got the integer 1")
    XCTAssertEqual(
      message(["model.arch": "mlpp"]),
      "binding 'model.arch' expects one of linear, mlp, cnn, resnet, got the string 'mlpp'; did you mean 'mlp'?")
    XCTAssertEqual(
      message(["lr_scheduler.milestones": [30, "60"]]),
      "binding 'lr_scheduler.milestones' expects a list of integers, got the list [30,\"60\"]")
    XCTAssertEqual(
      message(["model.dropout": 1.0]), "binding 'model.dropout' expects a value in [0, 1), got the number 1.0")
    XCTAssertEqual(
      message(["train.batch_size": 0]), "binding 'train.batch_size' expects a value > 0, got the integer 0")
    XCTAssertEqual(
      message(["train.transfer": "PARTIAL"]),
      "binding 'train.transfer' expects one of FULL, FIXED, got the string 'PARTIAL'")
    XCTAssertEqual(
      message(["optimizer.nesterov": true, "optimizer.momentum": 0]),
      "binding 'optimizer.nesterov' needs 'optimizer.momentum' > 0")
    XCTAssertEqual(
      message(["sweep/optimizer.base_lr": 0.1]),
      "scoped binding 'sweep/optimizer.base_lr' is not supported; bind 'optimizer.base_lr'")
  }

  func testEveryProblemIsReportedInNameOrder() {
    XCTAssertEqual(
      message(["train.epochs": "x", "model.widht": 3]),
      "unknown binding 'model.widht'; did you mean 'model.width'?\n"
        + "binding 'train.epochs' expects an integer, got the string 'x'")
  }

  func testDefaultsAndNormalisation() throws {
    let c = try EngineSchema.validate([:])
    XCTAssertEqual(c.dataName, "digits")
    XCTAssertEqual(c.architecture, .mlp)
    XCTAssertEqual(c.optimizerName, .sgd)
    XCTAssertEqual(c.baseLR, 0.1)
    XCTAssertEqual(c.scheduleName, .constant)
    XCTAssertEqual(c.epochs, 10)
    XCTAssertEqual(c.batchSize, 128)
    XCTAssertEqual(c.effectiveEvalBatchSize, 128)
    XCTAssertEqual(c.checkpointEvery, 5)
    XCTAssertNil(c.finetuneFrom)
    XCTAssertEqual(c.transfer, .full)
    // The select step's bindings only appear with select.from.
    XCTAssertEqual(Set(c.bindings.keys), Set(EngineSchema.names.filter { !$0.hasPrefix("select.") }))

    let d = try EngineSchema.validate([
      "optimizer.base_lr": 1, "lr_scheduler.name": "multisteplr", "lr_scheduler.milestones": [2, 4],
      "train.transfer": "fixed", "train.finetune_from": "/x/ckpt-E003.safetensors", "data.layout": "nchw",
    ])
    XCTAssertEqual(d.bindings["optimizer.base_lr"], .double(1))
    XCTAssertEqual(d.scheduleName, .multiStep)
    XCTAssertEqual(d.bindings["lr_scheduler.name"], "MultiStepLR")
    XCTAssertEqual(d.schedule, .multiStep(milestones: [2, 4], gamma: 0.1))
    XCTAssertEqual(d.transfer, .fixed)
    XCTAssertEqual(d.layout, .nchw)
    XCTAssertEqual(d.finetuneFrom, "/x/ckpt-E003.safetensors")
  }

  func testHashIgnoresSpellingOfTheSameConfig() throws {
    let a = try EngineSchema.validate(["optimizer.base_lr": 1, "model.arch": "MLP"])
    let b = try EngineSchema.validate(["model.arch": "mlp", "optimizer.base_lr": 1.0, "train.epochs": 10])
    XCTAssertEqual(a.hash, b.hash)
    XCTAssertNotEqual(a.hash, try EngineSchema.validate(["optimizer.base_lr": 0.5]).hash)
    XCTAssertEqual(a.hash.count, 64)
  }

  func testJobConfigJSON() throws {
    let json = """
      {"bindings":{"data.name":"mnist1d","init":"random","lr_scheduler.milestones":[2,3],"model.arch":"cnn",\
      "model.dropout":0.25,"optimizer.base_lr":0.05,"train.finetune_from":"runs/a/checkpoints/ckpt-E030.safetensors"},\
      "engine":"train"}
      """
    let c = try EngineSchema.validate(configJSON: json)
    XCTAssertEqual(c.dataName, "mnist1d")
    XCTAssertEqual(c.architecture, .cnn)
    XCTAssertEqual(c.dropout, 0.25)
    XCTAssertEqual(c.baseLR, 0.05)
    XCTAssertEqual(c.milestones, [2, 3])
    XCTAssertEqual(c.extraBindings, ["init": "random"])
    // Resolved JSON parses back to the same config.
    XCTAssertEqual(try EngineSchema.validate(configJSON: c.resolvedJSON), c)
    XCTAssertThrowsError(try EngineSchema.validate(configJSON: #"{"bindings":{},"engine":"eval"}"#))
    XCTAssertThrowsError(try EngineSchema.validate(configJSON: #"{"bindings":{"#))
  }

  func testJSONValuesKeepTheirTypes() throws {
    let v = try ConfigValue.parse(
      json: #" {"a": 1, "b": 1.0, "c": true, "d": [1e-3, -2, "x\"\u00e9\ud83d\ude00"], "e": null} "#)
    XCTAssertEqual(
      v, .map(["a": .int(1), "b": .double(1), "c": .bool(true), "d": [.double(0.001), .int(-2), "x\"é😀"], "e": .null]))
    XCTAssertEqual(v.json, #"{"a":1,"b":1.0,"c":true,"d":[0.001,-2,"x\"é😀"],"e":null}"#)
    XCTAssertEqual(try ConfigValue.parse(json: v.json), v)
  }

  func testSchemaListsNamesOnceWithDocs() {
    let names = EngineSchema.names
    XCTAssertEqual(Set(names).count, names.count)
    for required in [
      "data.name", "data.normalize", "data.augment.crop_padding", "data.augment.flip", "model.arch", "model.width",
      "model.depth", "model.dropout", "model.batch_norm", "optimizer.name", "optimizer.base_lr", "optimizer.momentum",
      "optimizer.nesterov", "optimizer.weight_decay", "lr_scheduler.name", "lr_scheduler.milestones",
      "lr_scheduler.gamma", "lr_scheduler.step_size", "lr_scheduler.warmup_epochs", "lr_scheduler.peak_epoch",
      "train.epochs", "train.batch_size", "train.seed", "train.label_smoothing", "train.grad_clip",
      "train.checkpoint_every", "train.finetune_from", "train.transfer", "train.eval_batch_size",
    ] {
      XCTAssertTrue(names.contains(required), required)
    }
    XCTAssertTrue(names.allSatisfy(EngineSchema.isEngineName))
    XCTAssertTrue(EngineSchema.documentation.contains("| `optimizer.base_lr` | float | `0.1` |"))
  }
}
