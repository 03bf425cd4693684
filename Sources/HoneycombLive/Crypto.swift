import COpenSSL
import Foundation

/// A failure inside OpenSSL, with OpenSSL's own reason when it gave one.
public struct CryptoError: Error, CustomStringConvertible, Sendable {
    public var description: String

    init(_ what: String) {
        let code = ERR_get_error()
        if code == 0 {
            description = what
        } else {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            description = "\(what): \(String(cString: buffer))"
        }
    }
}

/// Hashes and MACs from OpenSSL.
public enum Digest {
    /// SHA-256 of `data`.
    public static func sha256(_ data: some ContiguousBytes) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        data.withUnsafeBytes { p in _ = SHA256(p.baseAddress?.assumingMemoryBound(to: UInt8.self), p.count, &out) }
        return out
    }

    /// HMAC-SHA-256 of `data` under `key`.
    public static func hmacSHA256(key: some ContiguousBytes, _ data: some ContiguousBytes) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        key.withUnsafeBytes { k in
            data.withUnsafeBytes { d in
                _ = HMAC(EVP_sha256(), k.baseAddress, Int32(k.count),
                         d.baseAddress?.assumingMemoryBound(to: UInt8.self), d.count, &out, &length)
            }
        }
        return Array(out.prefix(Int(length)))
    }

    /// `count` bytes from OpenSSL's cryptographically secure generator.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        precondition(RAND_bytes(&out, Int32(count)) == 1, "OpenSSL's random generator failed")
        return out
    }

    /// Constant-time equality, for comparing secrets and MACs.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in CRYPTO_memcmp(pa.baseAddress, pb.baseAddress, a.count) == 0 } }
    }
}

/// An Ed25519 key pair (RFC 8032) held by OpenSSL: signs tokens and agent bundles.
public final class Ed25519PrivateKey: @unchecked Sendable {
    // @unchecked: the EVP_PKEY is immutable after creation; OpenSSL allows concurrent use of
    // a key with a fresh context per operation.
    fileprivate let key: OpaquePointer
    /// The 32-byte seed the key derives from.
    public let seed: [UInt8]

    /// A new random key.
    public convenience init() throws { try self.init(seed: Digest.randomBytes(32)) }

    /// The key of a 32-byte seed.
    public init(seed: [UInt8]) throws {
        guard seed.count == 32 else { throw CryptoError("an Ed25519 private key is 32 bytes, not \(seed.count)") }
        guard let k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, seed, 32) else {
            throw CryptoError("OpenSSL refused the Ed25519 private key")
        }
        key = k
        self.seed = seed
    }

    deinit { EVP_PKEY_free(key) }

    /// The matching public key.
    public var publicKey: Ed25519PublicKey {
        var raw = [UInt8](repeating: 0, count: 32)
        var length = 32
        precondition(EVP_PKEY_get_raw_public_key(key, &raw, &length) == 1 && length == 32)
        return try! Ed25519PublicKey(raw: raw)
    }

    /// The 64-byte signature of `message`.
    public func sign(_ message: some ContiguousBytes) throws -> [UInt8] {
        guard let ctx = EVP_MD_CTX_new() else { throw CryptoError("no memory for a signing context") }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestSignInit(ctx, nil, nil, nil, key) == 1 else { throw CryptoError("cannot start an Ed25519 signature") }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        let ok = message.withUnsafeBytes { m in
            EVP_DigestSign(ctx, &signature, &length, m.baseAddress?.assumingMemoryBound(to: UInt8.self), m.count)
        }
        guard ok == 1, length == 64 else { throw CryptoError("Ed25519 signing failed") }
        return signature
    }
}

/// An Ed25519 public key: verifies tokens and bundle signatures.
public final class Ed25519PublicKey: @unchecked Sendable {
    // @unchecked: immutable after creation, as above.
    private let key: OpaquePointer
    public let raw: [UInt8]

    public init(raw: [UInt8]) throws {
        guard raw.count == 32 else { throw CryptoError("an Ed25519 public key is 32 bytes, not \(raw.count)") }
        guard let k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, raw, 32) else {
            throw CryptoError("OpenSSL refused the Ed25519 public key")
        }
        key = k
        self.raw = raw
    }

    deinit { EVP_PKEY_free(key) }

    /// True when `signature` is this key's signature of `message`.
    public func verify(_ signature: [UInt8], of message: some ContiguousBytes) -> Bool {
        guard signature.count == 64, let ctx = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestVerifyInit(ctx, nil, nil, nil, key) == 1 else { return false }
        return message.withUnsafeBytes { m in
            EVP_DigestVerify(ctx, signature, 64, m.baseAddress?.assumingMemoryBound(to: UInt8.self), m.count) == 1
        }
    }
}

/// Text encodings of bytes.
public enum Encoding {
    /// Lower-case hexadecimal.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of a hexadecimal string, or nil if it is not one.
    public static func unhex(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let h = nibble(chars[i]), let l = nibble(chars[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }

    /// Base64url without padding (RFC 4648 §5), as tokens use.
    public static func base64url(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The bytes of unpadded base64url, or nil if `text` is not strictly that.
    public static func unbase64url(_ text: some StringProtocol) -> [UInt8]? {
        guard text.utf8.allSatisfy({ c in
            (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")
        }), text.utf8.count % 4 != 1 else { return nil }
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.utf8.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map(Array.init)
    }
}
