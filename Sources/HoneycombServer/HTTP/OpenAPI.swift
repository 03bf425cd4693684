import Foundation
import HoneycombDriver

/// The OpenAPI 3.1 document of the API, made from the very route table the router is built
/// from and the contract's schemas the server checks requests against, so a route cannot
/// exist undocumented nor a limit be enforced unstated.
enum OpenAPI {
    static func document(_ routes: [RouteSpec], contract: [String: Schema]) -> [UInt8] {
        var paths: [String: [String: Any]] = [:]
        for r in routes {
            var op: [String: Any] = ["summary": r.summary, "operationId": r.operationID, "responses": responses(r)]
            var params: [[String: Any]] = r.path.split(separator: "/").filter { $0.hasPrefix(":") }.map { p in
                let name = String(p.dropFirst())
                return ["name": name, "in": "path", "required": true, "schema": Contract.path[name]!.document]
            }
            params += r.query.map { ["name": $0.name, "in": "query", "required": false, "schema": $0.schema.document,
                                     "description": $0.note] }
            if r.idempotent {
                params.append(["name": "Idempotency-Key", "in": "header", "required": false, "schema": Contract.idempotencyKey.document,
                               "description": "The same key again from the same user returns the same tasks (200); "
                                   + "the key used for another request is refused (422)."])
            }
            if !params.isEmpty { op["parameters"] = params }
            if let body = r.requestBody {
                op["requestBody"] = ["required": true,
                                     "content": ["application/json": ["schema": ["$ref": "#/components/schemas/\(body.contract)"]]]]
            }
            op["security"] = r.roles.isEmpty ? [] : [["bearer": []]]
            if !r.roles.isEmpty {
                op["x-roles"] = r.roles.map(\.rawValue).sorted()
                op["description"] = "For \(r.roles.map(\.rawValue).sorted().joined(separator: " or ")) tokens."
            }
            paths[r.openAPIPath, default: [:]][r.method.rawValue.lowercased()] = op
        }
        var schemas: [String: Any] = contract.mapValues { $0.document }
        for (name, example) in Contract.examples {
            guard var schema = schemas[name] as? [String: Any],
                  let value = try? JSONSerialization.jsonObject(with: Data(example.utf8)) else { continue }
            schema["examples"] = [value]
            schemas[name] = schema
        }
        schemas["JSONValue"] = Schema.jsonValueDocument
        let doc: [String: Any] = [
            "openapi": "3.1.0",
            "info": ["title": "Honeycomb", "version": "1",
                     "description": "HiveFabric's control plane. Errors are RFC 9457 problem+json; an unavailable dependency "
                         + "is a 503 with Retry-After."],
            "paths": paths,
            "components": ["securitySchemes": ["bearer": ["type": "http", "scheme": "bearer", "bearerFormat": "JWT (EdDSA)"]],
                           "schemas": schemas],
        ]
        return Array(try! JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys]))
    }

    /// The route's answers, and every problem it may answer with.
    private static func responses(_ r: RouteSpec) -> [String: Any] {
        var out: [String: Any] = [:]
        for a in r.answers {
            var answer: [String: Any] = ["description": a.note]
            answer["content"] = [a.type: ["schema": a.body.map { ["$ref": "#/components/schemas/\($0)"] } ?? ["type": "string"]]]
            if !a.links.isEmpty {
                answer["links"] = Dictionary(uniqueKeysWithValues: a.links.map { ($0.name, ["operationId": $0.operation,
                                                                                           "parameters": $0.parameters]) })
            }
            out[String(a.status)] = answer
        }
        out["default"] = ["description": "A problem: what was wrong, and where",
                          "content": ["application/problem+json": ["schema": ["$ref": "#/components/schemas/Problem"]]]]
        return out
    }
}
