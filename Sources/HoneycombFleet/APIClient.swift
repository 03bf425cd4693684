import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A failed call to the API: the status and the problem's detail.
public struct APIError: Error, CustomStringConvertible, Sendable {
    public var status: Int
    public var detail: String
    public var description: String { status == 0 ? detail : "HTTP \(status): \(detail)" }
}

/// A small JSON client of Honeycomb's API (URLSession), for the reference executor, the
/// live benchmark and the tests.
public struct APIClient: Sendable {
    public var base: URL
    public var token: String?
    let session: URLSession

    public init(base: URL, token: String? = nil, session: URLSession? = nil) {
        self.base = base
        self.token = token
        self.session = session ?? {
            let c = URLSessionConfiguration.ephemeral
            c.timeoutIntervalForRequest = 30
            c.httpMaximumConnectionsPerHost = 64
            return URLSession(configuration: c)
        }()
    }

    public func with(token: String) -> APIClient { APIClient(base: base, token: token, session: session) }

    /// Sends a request and returns the status and body, whatever the status.
    public func send(_ method: String, _ path: String, json: (any Encodable)? = nil, body: Data? = nil,
                     headers: [String: String] = [:]) async throws -> (status: Int, body: Data) {
        let r = try await exchange(method, path, json: json, body: body, headers: headers)
        return (r.status, r.body)
    }

    /// Sends a request and returns the status, body and the answer's headers, whatever the status.
    public func exchange(_ method: String, _ path: String, json: (any Encodable)? = nil, body: Data? = nil,
                         headers: [String: String] = [:]) async throws -> (status: Int, body: Data, headers: [String: String]) {
        guard let url = URL(string: path, relativeTo: base) else { throw APIError(status: 0, detail: "bad path \(path)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        if let json {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONEncoder().encode(json)
        } else if let body {
            request.httpBody = body
        }
        do {
            let (data, response) = try await session.data(for: request)
            let http = response as? HTTPURLResponse
            var fields: [String: String] = [:]
            for (k, v) in http?.allHeaderFields ?? [:] { fields[String(describing: k).lowercased()] = String(describing: v) }
            return (http?.statusCode ?? 0, data, fields)
        } catch {
            throw APIError(status: 0, detail: "\(method) \(url.absoluteString): \(error.localizedDescription)")
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
