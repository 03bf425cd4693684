/// The checks a signed agent bundle must pass: on upload, before the service offers it, and
/// again at the executor. One place, so the three cannot drift apart.
public enum BundleCheck {
    /// Why `bytes` fail, or nil when they pass: the publisher's key must be an Ed25519 public
    /// key (hex), the signature (hex) must verify over the bytes with it, and, when given, the
    /// bytes' SHA-256 (hex) must be the one published.
    public static func failure(of bytes: [UInt8], publisherKey: String?, signature: String?,
                               sha256: String? = nil) -> String? {
        if let sha256, Encoding.hex(Digest.sha256(bytes)) != sha256 { return "its SHA-256 differs from the one published" }
        guard let key = publisherKey.flatMap(Encoding.unhex).flatMap({ try? Ed25519PublicKey(raw: $0) }) else {
            return "the publisher key is not an Ed25519 public key as 64 hexadecimal digits"
        }
        guard let s = signature.flatMap(Encoding.unhex), key.verify(s, of: bytes) else {
            return "its Ed25519 signature does not verify with the publisher key"
        }
        return nil
    }
}
