import AsyncHTTPClient
import Foundation
import HoneycombLive
import NIOCore
import NIOHTTP1

/// A failed call to the API: the status and the problem's detail.
public struct APIError: Error, CustomStringConvertible, Sendable {
    public var status: Int
    public var detail: String
    public var description: String { status == 0 ? detail : "HTTP \(status): \(detail)" }
}

/// A small JSON client of Honeycomb's API, for the reference executor, the live benchmark and
/// the tests, on the process's `HTTPPool` (it never sends a request again by itself).
public struct APIClient: Sendable {
    public var base: URL
    public var token: String?
    /// How long a request may take, answer included.
    public var timeout: TimeAmount = .seconds(30)
    /// The largest answer read.
    static let maxAnswerBytes = 64 << 20

    public init(base: URL, token: String? = nil) {
        self.base = base
        self.token = token
    }

    public func with(token: String) -> APIClient {
        var c = self
        c.token = token
        return c
    }

    /// Sends a request and returns the status and body, whatever the status.
    public func send(_ method: String, _ path: String, json: (any Encodable)? = nil, body: Data? = nil,
                     headers: [String: String] = [:]) async throws -> (status: Int, body: Data) {
        let r = try await exchange(method, path, json: json, body: body, headers: headers)
        return (r.status, r.body)
    }

    /// Sends a request and returns the status, body and the answer's headers (names in lower
    /// case), whatever the status.
    public func exchange(_ method: String, _ path: String, json: (any Encodable)? = nil, body: Data? = nil,
                         headers: [String: String] = [:]) async throws -> (status: Int, body: Data, headers: [String: String]) {
        guard let url = URL(string: path, relativeTo: base) else { throw APIError(status: 0, detail: "bad path \(path)") }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = HTTPMethod(rawValue: method)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (k, v) in headers { request.headers.replaceOrAdd(name: k, value: v) }
        var payload: Data?
        if let json {
            request.headers.replaceOrAdd(name: "Content-Type", value: "application/json")
            payload = try JSONEncoder().encode(json)
        } else if let body {
            payload = body
        }
        if let payload { request.body = .bytes(ByteBuffer(bytes: payload)) }
        do {
            let response = try await HTTPPool.shared.execute(request, timeout: timeout)
            let answer = try await response.body.collect(upTo: Self.maxAnswerBytes)
            var fields: [String: String] = [:]
            for (k, v) in response.headers { fields[k.lowercased()] = fields[k.lowercased()].map { "\($0), \(v)" } ?? v }
            return (Int(response.status.code), Data(answer.readableBytesView), fields)
        } catch {
            throw APIError(status: 0, detail: "\(method) \(url.absoluteString): \(error)")
        }
    }

    /// Sends a request and decodes a 2xx answer as `T`; anything else throws with the problem's detail.
    public func call<T: Decodable>(_ method: String, _ path: String, json: (any Encodable)? = nil,
                                   as: T.Type = T.self) async throws -> T {
        let (status, data) = try await send(method, path, json: json)
        guard (200..<300).contains(status) else {
            let detail = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["detail"] as? String
            throw APIError(status: status, detail: detail ?? String(decoding: data.prefix(300), as: UTF8.self))
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw APIError(status: status, detail: "\(method) \(path): unexpected answer \(String(decoding: data.prefix(300), as: UTF8.self))")
        }
    }
}
