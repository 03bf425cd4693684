import Foundation
import HoneycombDriver

/// The OpenAPI 3.1 document of the API, made from the very route table the router is built
/// from, so a route cannot exist undocumented (a test also checks every documented route
/// answers).
enum OpenAPI {
    static func document(_ routes: [RouteSpec]) -> [UInt8] {
        var paths: [String: [String: Any]] = [:]
        for r in routes {
            var op: [String: Any] = [
                "summary": r.summary,
                "operationId": r.method.rawValue.lowercased() + r.openAPIPath.split(separator: "/")
                    .map { $0.replacingOccurrences(of: "{", with: "").replacingOccurrences(of: "}", with: "").capitalized }.joined(),
                "responses": responses(r),
            ]
            let params = r.path.split(separator: "/").filter { $0.hasPrefix(":") }.map { p -> [String: Any] in
                let name = String(p.dropFirst())
                let integer = ["id", "task", "attempt", "call"].contains(name)
                return ["name": name, "in": "path", "required": true, "schema": ["type": integer ? "integer" : "string"]]
            }
            if !params.isEmpty { op["parameters"] = params }
            if (r.path == "/v1/tasks" || r.path == "/v1/task-batches") && r.method == .post {
                op["parameters"] = [["name": "Idempotency-Key", "in": "header", "required": false, "schema": ["type": "string", "maxLength": 200],
                                     "description": "The same key again (same user) returns the same task with 200."]]
            }
            if r.path == "/v1/tasks" && r.method == .get {
                op["parameters"] = ["state", "agent", "user", "limit", "after"].map { name -> [String: Any] in
                    ["name": name, "in": "query", "required": false,
                     "schema": ["type": ["limit", "after"].contains(name) ? "integer" : "string"]]
                }
            }
            if let body = r.requestBody {
                op["requestBody"] = ["required": true,
                                     "content": ["application/json": ["schema": ["$ref": "#/components/schemas/\(body)"]]]]
            }
            op["security"] = r.roles.isEmpty && r.path != "/v1/executors/enroll" ? [] : [["bearer": []]]
            if !r.roles.isEmpty { op["x-roles"] = r.roles.map(\.rawValue).sorted() }
            paths[r.openAPIPath, default: [:]][r.method.rawValue.lowercased()] = op
        }
        let doc: [String: Any] = [
            "openapi": "3.1.0",
            "info": ["title": "Honeycomb", "version": "1",
                     "description": "HiveFabric's control plane. Errors are RFC 9457 problem+json."],
            "paths": paths,
            "components": ["securitySchemes": ["bearer": ["type": "http", "scheme": "bearer", "bearerFormat": "JWT (EdDSA)"]],
                           "schemas": schemas],
        ]
        return Array(try! JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys]))
    }

    private static func responses(_ r: RouteSpec) -> [String: Any] {
        let problem: [String: Any] = ["description": "A problem", "content": ["application/problem+json": ["schema": ["$ref": "#/components/schemas/Problem"]]]]
        var out: [String: Any] = ["default": problem]
        let created = r.method == .post && ["/v1/users", "/v1/tasks", "/v1/task-batches", "/v1/agents/:name/versions", "/v1/enrollment-tokens",
                                            "/v1/executors/enroll"].contains(r.path)
        out[created ? "201" : "200"] = ["description": "Done"]
        return out
    }

    private static func object(_ required: [String], _ properties: [String: [String: Any]]) -> [String: Any] {
        ["type": "object", "required": required, "properties": properties, "additionalProperties": false]
    }

    private static var int: [String: Any] { ["type": "integer"] }
    private static var str: [String: Any] { ["type": "string"] }
    private static var num: [String: Any] { ["type": "number"] }
    private static var bool: [String: Any] { ["type": "boolean"] }
    private static var labels: [String: Any] { ["type": "object", "additionalProperties": ["type": "string"]] }

    private static var schemas: [String: Any] { [
        "Problem": ["type": "object", "properties": ["type": str, "title": str, "status": int, "detail": str, "instance": str]],
        "UserRequest": object(["name", "role"], ["name": str, "role": ["enum": ["admin", "user"]], "ttlSeconds": int]),
        "TaskRequest": object(["agent"], ["agent": str, "version": str, "input": [:], "priority": int, "latencyTargetMs": int]),
        "TaskBatchRequest": object(["tasks"], ["tasks": ["type": "array", "maxItems": 1000,
                                                          "items": ["$ref": "#/components/schemas/TaskRequest"]]]),
        "ReportsRequest": object(["reports"], ["reports": ["type": "array", "maxItems": 1000, "items": object(
            ["task", "attempt", "kind"], ["task": int, "attempt": int, "kind": ["enum": ["start", "result"]], "succeeded": bool,
                                          "output": [:]])]]),
        "PublishRequest": object(["version", "cpuMillis", "memoryBytes", "bundle", "signature", "publisherKey"],
                                 ["version": str, "description": str, "cpuMillis": int, "memoryBytes": int, "labels": labels,
                                  "maxAttempts": int, "profile": ["type": "object"],
                                  "bundle": ["type": "string", "contentEncoding": "base64"],
                                  "signature": ["type": "string", "description": "Ed25519 signature of the bundle, hex"],
                                  "publisherKey": ["type": "string", "description": "Ed25519 public key, hex"]]),
        "LLMRouteBody": object(["executor", "model", "promptTokens", "maxCompletionTokens", "latencyTargetMs"],
                               ["executor": int, "model": str, "promptTokens": int, "maxCompletionTokens": int,
                                "expectedCompletionTokens": int, "latencyTargetMs": int, "localOnly": bool,
                                "allowSmallerModel": bool]),
        "LLMCompletion": object(["succeeded"], ["succeeded": bool, "inputTokens": int, "outputTokens": int, "retryAfterMs": int]),
        "EnrollRequest": object(["enrollmentToken", "name"], ["enrollmentToken": str, "name": str]),
        "ExecutorSpecBody": object(["labels", "cpuMillis", "memoryBytes", "slots"],
                                   ["labels": labels, "cpuMillis": int, "memoryBytes": int, "slots": int,
                                    "localModels": ["type": "array", "items": object(["model", "slots", "tokensPerSecond"],
                                        ["model": str, "slots": int, "tokensPerSecond": num, "queueLimit": int])]]),
        "ProgressRequest": object(["fraction"], ["fraction": num]),
        "ResultRequest": object(["succeeded"], ["succeeded": bool, "output": [:]]),
    ] }
}
