import Foundation
import HoneycombLive
import Testing

/// OpenSSL's primitives against published vectors, and the token rules.
struct CryptoTests {
    @Test func digestsMatchPublishedVectors() {
        #expect(Encoding.hex(Digest.sha256(Array("abc".utf8)))
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // RFC 4231, test case 2.
        #expect(Encoding.hex(Digest.hmacSHA256(key: Array("Jefe".utf8), Array("what do ya want for nothing?".utf8)))
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func ed25519MatchesRFC8032() throws {
        // RFC 8032 §7.1, test 2 (a one-byte message).
        let key = try Ed25519PrivateKey(seed: Encoding.unhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")!)
        #expect(Encoding.hex(key.publicKey.raw) == "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
        let signature = try key.sign([0x72])
        #expect(Encoding.hex(signature) == "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
            + "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00")
        #expect(key.publicKey.verify(signature, of: [0x72]))
        #expect(!key.publicKey.verify(signature, of: [0x73]))
        var bent = signature
        bent[10] ^= 1
        #expect(!key.publicKey.verify(bent, of: [0x72]))
        #expect(throws: CryptoError.self) { try Ed25519PrivateKey(seed: [1, 2, 3]) }
    }

    @Test func sigV4MatchesAWSsExample() {
        // The GET Object example of AWS's "Signature Calculations for the Authorization Header".
        let signer = SigV4Signer(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        let headers = signer.sign(method: "GET", path: "/test.txt",
                                  headers: ["Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9"],
                                  payloadSHA256: Encoding.hex(Digest.sha256([UInt8]())),
                                  date: Date(timeIntervalSince1970: 1_369_353_600))
        #expect(headers["Authorization"] == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test func base64urlIsStrict() {
        #expect(Encoding.base64url([0xfb, 0xff]) == "-_8")
        #expect(Encoding.unbase64url("-_8") == [0xfb, 0xff])
        #expect(Encoding.unbase64url("ab+c") == nil)
        #expect(Encoding.unbase64url("abc=") == nil)
        #expect(Encoding.unbase64url("a") == nil)
    }
}

struct BundleCheckTests {
    @Test func eachFailureIsNamed() throws {
        let publisher = try Ed25519PrivateKey()
        let bundle: [UInt8] = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]
        let key = Encoding.hex(publisher.publicKey.raw), signature = Encoding.hex(try publisher.sign(bundle))
        let sha = Encoding.hex(Digest.sha256(bundle))
        #expect(BundleCheck.failure(of: bundle, publisherKey: key, signature: signature, sha256: sha) == nil)
        #expect(BundleCheck.failure(of: bundle + [0], publisherKey: key, signature: signature, sha256: sha)?.contains("SHA-256") == true)
        #expect(BundleCheck.failure(of: bundle + [0], publisherKey: key, signature: signature)?.contains("signature") == true)
        #expect(BundleCheck.failure(of: bundle, publisherKey: "zz", signature: signature)?.contains("publisher key") == true)
        #expect(BundleCheck.failure(of: bundle, publisherKey: key, signature: nil)?.contains("signature") == true)
        let other = Encoding.hex(try Ed25519PrivateKey().publicKey.raw)
        #expect(BundleCheck.failure(of: bundle, publisherKey: other, signature: signature)?.contains("signature") == true)
    }
}

struct TokenTests {
    let authority = TokenAuthority(signingKey: try! Ed25519PrivateKey())

    @Test func aTokenCarriesItsClaims() throws {
        let token = try authority.issue(subject: "alice", role: .user, ttl: 60, now: 1000)
        #expect(try authority.verify(token, now: 1010) == TokenClaims(sub: "alice", role: .user, iat: 1000, exp: 1060))
    }

    @Test func forgedTamperedAndExpiredTokensAreRefused() throws {
        let token = try authority.issue(subject: "alice", role: .user, ttl: 60, now: 1000)
        // Signed by someone else's key.
        let forger = TokenAuthority(signingKey: try Ed25519PrivateKey())
        let forged = try forger.issue(subject: "alice", role: .admin, ttl: 60, now: 1000)
        #expect(throws: TokenError.badSignature) { try authority.verify(forged, now: 1010) }
        // The payload swapped for one that says admin, the signature kept.
        let parts = token.split(separator: ".")
        let admin = Encoding.base64url(Array(#"{"exp":1060,"iat":1000,"role":"admin","sub":"alice"}"#.utf8))
        #expect(throws: TokenError.badSignature) { try authority.verify("\(parts[0]).\(admin).\(parts[2])", now: 1010) }
        // Expired (past the leeway).
        #expect(throws: TokenError.expired(secondsAgo: 40)) { try authority.verify(token, now: 1100) }
        #expect(throws: TokenError.notYetValid) { try authority.verify(token, now: 900) }
    }

    @Test func onlyEdDSAIsAccepted() throws {
        let token = try authority.issue(subject: "alice", role: .user, ttl: 60, now: 1000)
        let parts = token.split(separator: ".")
        for alg in ["none", "HS256", "RS256", "ES256"] {
            let header = Encoding.base64url(Array(#"{"alg":"\#(alg)","typ":"JWT"}"#.utf8))
            #expect(throws: TokenError.algorithmNotAllowed(alg)) {
                try authority.verify("\(header).\(parts[1]).\(parts[2])", now: 1010)
            }
        }
        let unsigned = Encoding.base64url(Array(#"{"alg":"none"}"#.utf8)) + "." + parts[1] + "."
        #expect(throws: TokenError.algorithmNotAllowed("none")) { try authority.verify(unsigned, now: 1010) }
        for junk in ["", "a.b", "a.b.c.d", "!!.??.**", String(repeating: "a", count: 5000)] {
            #expect(throws: TokenError.self) { try authority.verify(junk, now: 1010) }
        }
    }
}
