import Foundation
import HoneycombLive
@testable import HoneycombServer
import Testing

/// The contract's own consistency, without servers: every example is valid by the schema it
/// illustrates (with the very check the server runs on requests), and every body the document
/// names is a component.
struct ContractDocumentTests {
    static let components = Contract.components(maxBundleBytes: 16 << 20)

    @Test func everyExampleIsValidByItsOwnSchema() throws {
        for (name, example) in Contract.examples.sorted(by: { $0.key < $1.key }) {
            let schema = try #require(Self.components[name], "an example of \(name), which is no component")
            let node = try StrictJSON.parse(Array(example.utf8))
            #expect(throws: Never.self, "the example of \(name)") { try schema.check(node, Self.components) }
        }
    }

    @Test func thePublishExampleIsSignedForReal() throws {
        struct Body: Decodable { var bundle, signature, publisherKey: String }
        let body = try JSONDecoder().decode(Body.self, from: Data(Contract.examples["PublishRequest"]!.utf8))
        let key = try Ed25519PublicKey(raw: try #require(Encoding.unhex(body.publisherKey)))
        let bundle = try #require(Data(base64Encoded: body.bundle))
        #expect(key.verify(try #require(Encoding.unhex(body.signature)), of: Array(bundle)))
        #expect(BundleCheck.failure(of: Array(bundle), publisherKey: body.publisherKey, signature: body.signature,
                                    sha256: Encoding.hex(Digest.sha256(Array(bundle)))) == nil)
    }

    @Test func theChecksRefuseWhatTheDocumentRefuses() throws {
        func refused(_ name: String, _ text: String) -> String? {
            do { try Self.components[name]!.check(try StrictJSON.parse(Array(text.utf8)), Self.components); return nil }
            catch let p as Problem { return p.detail } catch { return "\(error)" }
        }
        #expect(refused("TaskRequest", #"{"agent": "echo", "extra": 1}"#)?.contains("at extra: not a member") == true)
        #expect(refused("TaskRequest", #"{"agent": "-echo"}"#)?.contains("at agent") == true)
        #expect(refused("TaskRequest", #"{"agent": "echo", "priority": 72.0}"#) == nil)
        #expect(refused("TaskRequest", #"{"agent": "echo", "priority": 1.5}"#) == "at priority: expected an integer, found 1.5")
        #expect(refused("UserRequest", #"{"name": "bob", "role": "executor"}"#)?.contains("expected one of admin, user") == true)
        #expect(refused("UserRequest", #"{"name": "bob", "role": "user", "ttlSeconds": null}"#)?.contains("found null") == true)
        #expect(refused("ReportsRequest", #"{"reports": [{"task": 1, "attempt": 1, "kind": "result"}]}"#)
                    == "at reports[0].succeeded: required, missing")
        #expect(refused("TaskBatchRequest", #"{"tasks": []}"#)?.contains("expected 1 to 1000 items") == true)
        // A client's string comes back with its control characters escaped, never raw.
        let echoed = refused("TaskRequest", #"{"agent": "e\u0001x"}"#)
        #expect(echoed?.contains(#""e\u0001x""#) == true && echoed?.unicodeScalars.contains("\u{1}") == false, "\(echoed ?? "")")
        // A described integer parameter is read as an integer.
        #expect(try Parameter(name: "n", schema: Schema.integer(min: 1, max: 9).described("n"), note: "").read("2.0") == "2")
    }
}
