import OrchCore

/// Parses `0-3,6` CPU lists.
public enum CPUList {
  public static func parse(_ text: String) throws(OrchError) -> [Int] {
    var cpus: [Int] = []
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
      let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
      guard (1...2).contains(bounds.count), let lo = Int(bounds[0]), let hi = Int(bounds.last!), lo >= 0, lo <= hi
      else {
        throw OrchError.badInput("bad CPU list '\(text)': expected numbers and ranges such as 0-3,6")
      }
      cpus += Array(lo...hi)
    }
    return Array(Set(cpus)).sorted()
  }
}
