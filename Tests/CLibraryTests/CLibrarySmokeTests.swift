import CGSL
import CHiredis
import CLibPQ
import CNats
import COpenSSL
import Testing

/// One call into each C library, so that a missing or broken install fails here, loudly,
/// rather than deep inside a later feature.
@Suite struct CLibrarySmokeTests {
    @Test func gslDrawsFromMersenneTwister() {
        _ = gsl_set_error_handler_off()
        let r = gsl_rng_alloc(honeycomb_gsl_mt19937())!
        defer { gsl_rng_free(r) }
        gsl_rng_set(r, 5489)
        // The reference first output of MT19937 seeded 5489.
        #expect(gsl_rng_get(r) == 3_499_211_612)
        #expect(String(cString: honeycomb_gsl_version()).hasPrefix("2."))
    }

    @Test func libpqReportsItsVersionAndRefusesAMalformedConninfo() {
        #expect(PQlibVersion() >= 150_000)
        var err: UnsafeMutablePointer<CChar>?
        let opts = PQconninfoParse("host=127.0.0.1 port=notaport= =", &err)
        #expect(opts == nil)
        if let err { PQfreemem(err) }
    }

    @Test func hiredisParsesARedisReply() {
        #expect(honeycomb_hiredis_major() >= 0)
        let reader = redisReaderCreate()!
        defer { redisReaderFree(reader) }
        let wire = "*2\r\n$4\r\nPONG\r\n:42\r\n"
        _ = wire.withCString { redisReaderFeed(reader, $0, wire.utf8.count) }
        var reply: UnsafeMutableRawPointer?
        #expect(redisReaderGetReply(reader, &reply) == REDIS_OK)
        let r = reply!.assumingMemoryBound(to: redisReply.self)
        #expect(r.pointee.type == REDIS_REPLY_ARRAY && r.pointee.elements == 2)
        #expect(String(cString: r.pointee.element[0]!.pointee.str) == "PONG")
        #expect(r.pointee.element[1]!.pointee.integer == 42)
        freeReplyObject(reply)
    }

    @Test func natsLibraryInitialisesAndReportsItsVersion() {
        #expect(String(cString: nats_GetVersion()).hasPrefix("3."))
        #expect(nats_Open(-1) == NATS_OK)
        var opts: OpaquePointer?
        #expect(natsOptions_Create(&opts) == NATS_OK)
        #expect(natsOptions_SetURL(opts, "nats://127.0.0.1:4222") == NATS_OK)
        natsOptions_Destroy(opts)
    }

    @Test func openSSLHashesTheStandardTestVector() {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        _ = "abc".withCString { SHA256(UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self), 3, &digest) }
        let hex = digest.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        #expect(hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(OpenSSL_version_num() >= 0x3000_0000)
    }
}
