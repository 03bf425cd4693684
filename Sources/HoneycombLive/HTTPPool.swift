import AsyncHTTPClient

/// The process's one pool of HTTP connections, for S3 and for the API's clients, on
/// AsyncHTTPClient: it never sends a request again by itself, so whether to try again is the
/// caller's. (URLSession on Linux does: its libcurl re-sends a request whose reused
/// connection died before an answer, and Foundation cannot rewind the body, so the copy goes
/// without it and hangs until the timeout — seen when a replica was killed under load.)
public enum HTTPPool {
    /// A static, so it is never shut down under a request. Up to 256 connections to a host: a
    /// process of reference executors runs one request per busy slot (a bundle download can
    /// take long), and their heartbeats must not queue behind those. A connection that cannot
    /// be made fails its request at once (no retrying in the pool, which would hold a request
    /// up to the connect timeout): a server away is answered fast, and the caller decides.
    public static let shared: HTTPClient = {
        var c = HTTPClient.Configuration()
        c.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 256
        c.connectionPool.retryConnectionEstablishment = false
        c.timeout.connect = .seconds(5)
        c.decompression = .disabled
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: c)
    }()
}
