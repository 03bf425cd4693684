import Foundation

/// Who may do what.
public enum Role: String, Sendable, Codable, CaseIterable {
    case admin, user, executor
}

/// What a token says of its bearer.
public struct TokenClaims: Sendable, Codable, Equatable {
    /// The subject: a user's name, or an executor's id.
    public var sub: String
    public var role: Role
    /// Issued at and expires at, in seconds since 1970.
    public var iat: Int64
    public var exp: Int64

    public init(sub: String, role: Role, iat: Int64, exp: Int64) {
        self.sub = sub
        self.role = role
        self.iat = iat
        self.exp = exp
    }
}

/// Why a token was refused. The message is safe to show to the client.
public enum TokenError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    case algorithmNotAllowed(String)
    case badSignature
    case expired(secondsAgo: Int64)
    case notYetValid

    public var description: String {
        switch self {
        case .malformed(let why): "the token is malformed: \(why)"
        case .algorithmNotAllowed(let alg): "the token's algorithm \"\(alg)\" is not allowed (only EdDSA)"
        case .badSignature: "the token's signature does not verify"
        case .expired(let s): "the token expired \(s) s ago"
        case .notYetValid: "the token was issued in the future"
        }
    }
}

/// Signed bearer tokens: JWS compact serialization (RFC 7515) with EdDSA over Ed25519
/// (RFC 8037), the only algorithm accepted, and an expiry always required.
public struct TokenAuthority: Sendable {
    public let signingKey: Ed25519PrivateKey?
    public let verifyingKey: Ed25519PublicKey
    /// Clock skew tolerated on `iat` and `exp`, in seconds.
    public var leeway: Int64 = 30

    private static let header = Encoding.base64url(Array(#"{"alg":"EdDSA","typ":"JWT"}"#.utf8))

    public init(signingKey: Ed25519PrivateKey) {
        self.signingKey = signingKey
        self.verifyingKey = signingKey.publicKey
    }

    /// An authority that verifies only.
    public init(verifyingKey: Ed25519PublicKey) {
        self.signingKey = nil
        self.verifyingKey = verifyingKey
    }

    /// A token for `claims`.
    public func issue(_ claims: TokenClaims) throws -> String {
        guard let signingKey else { throw CryptoError("this authority holds no signing key") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let payload = Encoding.base64url(try encoder.encode(claims))
        let signingInput = Self.header + "." + payload
        return signingInput + "." + Encoding.base64url(try signingKey.sign(Array(signingInput.utf8)))
    }

    /// A token for `subject` in `role`, valid for `ttl` seconds from `now`.
    public func issue(subject: String, role: Role, ttl: Int64, now: Int64 = Self.now()) throws -> String {
        try issue(TokenClaims(sub: subject, role: role, iat: now, exp: now + ttl))
    }

    /// The claims of a token that verifies and has not expired at `now`.
    public func verify(_ token: String, now: Int64 = Self.now()) throws -> TokenClaims {
        guard token.utf8.count <= 4096 else { throw TokenError.malformed("longer than 4096 bytes") }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw TokenError.malformed("expected three dot-separated parts, found \(parts.count)") }
        guard let headerBytes = Encoding.unbase64url(parts[0]),
              let header = try? JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any] else {
            throw TokenError.malformed("the header is not base64url JSON")
        }
        guard let alg = header["alg"] as? String else { throw TokenError.malformed("the header names no algorithm") }
        guard alg == "EdDSA" else { throw TokenError.algorithmNotAllowed(alg) }
        if let crit = header["crit"] { throw TokenError.malformed("unsupported critical header \(crit)") }
        guard let signature = Encoding.unbase64url(parts[2]) else { throw TokenError.malformed("the signature is not base64url") }
        let signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard verifyingKey.verify(signature, of: signingInput) else { throw TokenError.badSignature }
        guard let payload = Encoding.unbase64url(parts[1]),
              let claims = try? JSONDecoder().decode(TokenClaims.self, from: Data(payload)) else {
            throw TokenError.malformed("the payload lacks sub, role, iat or exp, or names an unknown role")
        }
        if claims.exp + leeway <= now { throw TokenError.expired(secondsAgo: now - claims.exp) }
        if claims.iat > now + leeway { throw TokenError.notYetValid }
        return claims
    }

    /// Seconds since 1970, from the wall clock.
    public static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }
}

extension Ed25519PrivateKey {
    /// Reads a key file: the 32-byte seed as 64 hex digits (whitespace ignored).
    public convenience init(file path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8).filter { !$0.isWhitespace }
        guard let seed = Encoding.unhex(text), seed.count == 32 else {
            throw CryptoError("\(path): expected an Ed25519 seed as 64 hexadecimal digits")
        }
        try self.init(seed: seed)
    }
}
