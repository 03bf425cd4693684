import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// An error talking to S3: the operation, the HTTP status and S3's own error code.
public struct S3Error: Error, CustomStringConvertible, Sendable {
    public var description: String
    /// The HTTP status, or 0 when no response came.
    public var status: Int
}

/// AWS Signature Version 4 for S3 requests (HMAC-SHA-256 from OpenSSL).
public struct SigV4Signer: Sendable {
    public var accessKey: String
    public var secretKey: String
    public var region: String

    public init(accessKey: String, secretKey: String, region: String = "us-east-1") {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.region = region
    }

    /// The headers to add to a request (`Authorization`, `x-amz-date`,
    /// `x-amz-content-sha256`), given its method, path, query items, other headers to sign
    /// (`host` among them), the payload's SHA-256 and the time.
    public func sign(method: String, path: String, query: [(String, String)] = [], headers: [String: String],
                     payloadSHA256: String, date: Date) -> [String: String] {
        let stamp = Self.timestamp(date)
        let day = String(stamp.prefix(8))
        var all = headers.reduce(into: [String: String]()) { $0[$1.key.lowercased()] = $1.value.trimmingCharacters(in: .whitespaces) }
        all["x-amz-date"] = stamp
        all["x-amz-content-sha256"] = payloadSHA256
        let names = all.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(all[$0]!)\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let canonicalQuery = query.map { (Self.uriEncode($0.0, slash: true), Self.uriEncode($0.1, slash: true)) }
            .sorted { $0 < $1 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let canonicalRequest = [method, Self.uriEncode(path, slash: false), canonicalQuery, canonicalHeaders,
                                signedHeaders, payloadSHA256].joined(separator: "\n")
        let scope = "\(day)/\(region)/s3/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", stamp, scope, Encoding.hex(Digest.sha256(Array(canonicalRequest.utf8)))]
            .joined(separator: "\n")
        var key = Digest.hmacSHA256(key: Array("AWS4\(secretKey)".utf8), Array(day.utf8))
        for part in [region, "s3", "aws4_request"] { key = Digest.hmacSHA256(key: key, Array(part.utf8)) }
        let signature = Encoding.hex(Digest.hmacSHA256(key: key, Array(stringToSign.utf8)))
        return [
            "Authorization": "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)",
            "x-amz-date": stamp,
            "x-amz-content-sha256": payloadSHA256,
        ]
    }

    /// `20130524T000000Z`.
    static func timestamp(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return f.string(from: date)
    }

    /// RFC 3986 encoding as SigV4 wants it: unreserved characters kept, everything else
    /// %XX; `/` kept in paths (`slash: false`), encoded in query items.
    static func uriEncode(_ s: String, slash: Bool) -> String {
        var out = ""
        for b in s.utf8 {
            let c = Character(Unicode.Scalar(b))
            if c.isASCII && (c.isLetter || c.isNumber || "-_.~".contains(c)) || (c == "/" && !slash) {
                out.append(c)
            } else {
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }
}

/// A small S3 client: path-style requests signed with SigV4, on the process's `HTTPPool`
/// (a PUT whose connection died is never re-sent without its body).
public struct S3Client: Sendable {
    public var endpoint: URL
    public var signer: SigV4Signer
    /// How long a request may take, answer included.
    public var timeout: TimeAmount = .seconds(30)
    /// The largest object read.
    static let maxObjectBytes = 256 << 20

    public init(endpoint: URL, accessKey: String, secretKey: String, region: String = "us-east-1") {
        self.endpoint = endpoint
        signer = SigV4Signer(accessKey: accessKey, secretKey: secretKey, region: region)
    }

    /// Creates the bucket; one that exists already (and is ours) is fine.
    public func createBucket(_ bucket: String) async throws {
        let (status, body) = try await send("PUT", bucket: bucket, key: nil, body: [])
        guard (200..<300).contains(status) || Self.code(in: body) == "BucketAlreadyOwnedByYou" else {
            throw error("create bucket \(bucket)", status, body)
        }
    }

    public func put(bucket: String, key: String, data: [UInt8], contentType: String = "application/octet-stream") async throws {
        let (status, body) = try await send("PUT", bucket: bucket, key: key, body: data, headers: ["content-type": contentType])
        guard (200..<300).contains(status) else { throw error("put \(bucket)/\(key)", status, body) }
    }

    /// The object's bytes, or nil when there is no such key.
    public func get(bucket: String, key: String) async throws -> [UInt8]? {
        let (status, body) = try await send("GET", bucket: bucket, key: key, body: [])
        if status == 404 { return nil }
        guard (200..<300).contains(status) else { throw error("get \(bucket)/\(key)", status, body) }
        return body
    }

    /// True when the store answers a signed request for the bucket.
    public func bucketExists(_ bucket: String) async throws -> Bool {
        let (status, body) = try await send("HEAD", bucket: bucket, key: nil, body: [])
        if status == 404 { return false }
        guard (200..<300).contains(status) else { throw error("head \(bucket)", status, body) }
        return true
    }

    private func send(_ method: String, bucket: String, key: String?, body: [UInt8],
                      headers extra: [String: String] = [:]) async throws -> (Int, [UInt8]) {
        let path = "/" + bucket + (key.map { "/" + $0 } ?? "")
        let encodedPath = SigV4Signer.uriEncode(path, slash: false)
        guard let url = URL(string: endpoint.absoluteString.trimmingCharacters(in: ["/"]) + encodedPath),
              let host = url.host else {
            throw S3Error(description: "S3: cannot form a URL from \(endpoint) and \(path)", status: 0)
        }
        var headers = extra
        headers["host"] = url.port.map { "\(host):\($0)" } ?? host
        let signed = signer.sign(method: method, path: path, headers: headers,
                                 payloadSHA256: Encoding.hex(Digest.sha256(body)), date: Date())
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = HTTPMethod(rawValue: method)
        for (k, v) in headers.merging(signed, uniquingKeysWith: { $1 }) { request.headers.replaceOrAdd(name: k, value: v) }
        if !body.isEmpty { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await HTTPPool.shared.execute(request, timeout: timeout)
            let answer = try await response.body.collect(upTo: Self.maxObjectBytes)
            return (Int(response.status.code), Array(answer.readableBytesView))
        } catch {
            throw S3Error(description: "S3 \(method) \(path) at \(endpoint): \(error)", status: 0)
        }
    }

    private func error(_ what: String, _ status: Int, _ body: [UInt8]) -> S3Error {
        let code = Self.code(in: body).map { " (\($0))" } ?? ""
        return S3Error(description: "S3 \(what) failed: HTTP \(status)\(code)", status: status)
    }

    /// S3's `<Code>` from an error body.
    static func code(in body: [UInt8]) -> String? {
        let text = String(decoding: body, as: UTF8.self)
        guard let a = text.range(of: "<Code>"), let b = text.range(of: "</Code>", range: a.upperBound..<text.endIndex) else {
            return nil
        }
        return String(text[a.upperBound..<b.lowerBound])
    }
}
