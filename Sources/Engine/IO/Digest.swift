import Crypto

/// Lowercase hex of a SHA-256 digest (config hashes, checkpoint digests in events and metadata).
func hex(_ digest: SHA256.Digest) -> String {
  digest.map { byte in
    let s = String(byte, radix: 16)
    return byte < 16 ? "0" + s : s
  }.joined()
}

/// Lowercase hex SHA-256 of bytes.
public func sha256Hex(_ bytes: [UInt8]) -> String { hex(SHA256.hash(data: bytes)) }
