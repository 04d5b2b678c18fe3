/// The characters no error may carry raw: what the tests check for, written independently of
/// `UserText`.
public enum UserTextProbe {
  public static func refused(_ s: Unicode.Scalar) -> Bool {
    s.value < 0x20 || (0x7F...0x9F).contains(s.value) || s.value == 0x2028 || s.value == 0x2029
      || s.value == 0x200E || s.value == 0x200F || s.value == 0x061C || (0x202A...0x202E).contains(s.value)
      || (0x2066...0x2069).contains(s.value)
  }
}
