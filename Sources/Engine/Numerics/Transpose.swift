/// Reorders images from NCHW (PyTorch, most `.npy` datasets) to the NHWC layout the
/// convolutional models run on.
public func nchwToNHWC(
  _ x: [Float],  // [N, C, H, W]
  batch n: Int, channels c: Int, height h: Int, width w: Int
) -> [Float] {  // [N, H, W, C]
  precondition(x.count == n * c * h * w, "expected \(n * c * h * w) values, got \(x.count)")
  return [Float](unsafeUninitializedCapacity: x.count) { out, done in
    x.withUnsafeBufferPointer { src in
      for s in 0..<n {
        for ch in 0..<c {
          let plane = src.baseAddress! + (s * c + ch) * h * w
          let dst = out.baseAddress! + s * h * w * c + ch
          for p in 0..<(h * w) { dst[p * c] = plane[p] }
        }
      }
    }
    done = x.count
  }
}
