import CHiredis
import CLibPQ
import CNats
import Foundation
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The servers the README's test command starts on loopback, reached through the C
/// libraries live mode is built on. `deploy/local/run-tests.sh` exports their addresses; a
/// bare `swift test` without them skips these tests (and says so).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["HONEYCOMB_PG_URL"] != nil,
                "servers not started: run the README's test command"))
struct ServerConnectionTests {
    let env = ProcessInfo.processInfo.environment

    @Test func postgresAnswersAQueryThroughLibpq() throws {
        let conn = PQconnectdb(env["HONEYCOMB_PG_URL"]!)
        defer { PQfinish(conn) }
        #expect(PQstatus(conn) == CONNECTION_OK, "\(String(cString: PQerrorMessage(conn)))")
        let result = PQexec(conn, "SELECT current_setting('server_version_num')::int / 10000")
        defer { PQclear(result) }
        #expect(PQresultStatus(result) == PGRES_TUPLES_OK)
        #expect(Int(String(cString: PQgetvalue(result, 0, 0))) ?? 0 >= 15)
    }

    @Test func redisAnswersPingThroughHiredis() throws {
        let url = try #require(URL(string: env["HONEYCOMB_REDIS_URL"]!))
        let ctx = try #require(redisConnect(url.host!, Int32(url.port!)))
        defer { redisFree(ctx) }
        #expect(ctx.pointee.err == 0)
        let args = ["PING"]
        var argv: [UnsafePointer<CChar>?] = args.map { UnsafePointer(strdup($0)) }
        defer { argv.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
        var lens = args.map { $0.utf8.count }
        let raw = try #require(redisCommandArgv(ctx, 1, &argv, &lens))
        defer { freeReplyObject(raw) }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        #expect(String(cString: reply.pointee.str) == "PONG")
    }

    @Test func natsHasJetStreamEnabled() throws {
        var conn: OpaquePointer?
        #expect(natsConnection_ConnectTo(&conn, env["HONEYCOMB_NATS_URL"]!) == NATS_OK)
        defer { natsConnection_Destroy(conn) }
        var js: OpaquePointer?
        #expect(natsConnection_JetStream(&js, conn, nil) == NATS_OK)
        defer { jsCtx_Destroy(js) }
        var info: UnsafeMutablePointer<jsAccountInfo>?
        var code = jsErrCode(0)
        #expect(js_GetAccountInfo(&info, js, nil, &code) == NATS_OK, "JetStream error \(code)")
        if let info { jsAccountInfo_Destroy(info) }
    }

    @Test func seaweedFSServesTheS3API() async throws {
        let url = try #require(URL(string: env["HONEYCOMB_S3_URL"]! + "/honeycomb-bundles/?list-type=2"))
        let (data, response) = try await URLSession.shared.data(from: url)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let body = String(decoding: data, as: UTF8.self)
        // Anonymous or not, an S3 endpoint answers in S3's XML.
        #expect([200, 403].contains(status), "status \(status): \(body)")
        #expect(body.contains("ListBucketResult") || body.contains("<Error>"))
    }
}
