import Analysis
import ArgumentParser
import Backends

// Enumerations the commands take as option values: ArgumentParser lists their values in --help
// and refuses anything else.

extension Backend: ExpressibleByArgument {}

extension AccuracyLink: ExpressibleByArgument {}

/// `--shift` of `analyze effective-robustness`: one shift, or all of them.
enum ShiftChoice: String, CaseIterable, ExpressibleByArgument {
  case tint, vflip, all

  var shifts: [EffectiveRobustnessAnalysis.Shift] {
    EffectiveRobustnessAnalysis.Shift(rawValue: rawValue).map { [$0] } ?? EffectiveRobustnessAnalysis.Shift.allCases
  }
}
