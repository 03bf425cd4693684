import Foundation
import HoneycombAPI
import HoneycombDriver
import SwiftProtobuf

// The executor service's messages and the REST API's bodies, each way. The server turns each
// gRPC request into the body the REST route takes and checks it against the same contract
// (`Contract`), so a rule is stated once; the reference executor turns its bodies into
// messages. Both sides use these, so the mapping is written once too.

public typealias GRPCExecutorMessage = Honeycomb_Executor_V1_ExecutorMessage
public typealias GRPCPlaneMessage = Honeycomb_Executor_V1_PlaneMessage

extension Google_Protobuf_Value {
    /// The protobuf form of a JSON value.
    public init(_ json: JSONValue) {
        self.init()
        switch json {
        case .null: nullValue = .nullValue
        case .bool(let b): boolValue = b
        case .number(let n): numberValue = n
        case .string(let s): stringValue = s
        case .array(let a): listValue = Google_Protobuf_ListValue(values: a.map(Google_Protobuf_Value.init))
        case .object(let o): structValue = Google_Protobuf_Struct(fields: o.mapValues(Google_Protobuf_Value.init))
        }
    }

    /// The JSON value (an unset kind is null).
    public var json: JSONValue {
        switch kind {
        case .nullValue?, nil: .null
        case .boolValue(let b)?: .bool(b)
        case .numberValue(let n)?: .number(n)
        case .stringValue(let s)?: .string(s)
        case .listValue(let l)?: .array(l.values.map(\.json))
        case .structValue(let s)?: .object(s.fields.mapValues(\.json))
        }
    }
}

extension Honeycomb_Executor_V1_EnrollRequest {
    package var body: EnrollRequest { EnrollRequest(enrollmentToken: enrollmentToken, name: name) }
}

extension Honeycomb_Executor_V1_RegisterRequest {
    package init(_ body: ExecutorSpecBody) {
        self.init()
        labels = body.labels
        cpuMillis = body.cpuMillis
        memoryBytes = body.memoryBytes
        slots = body.slots
        localModels = (body.localModels ?? []).map { m in
            var p = Honeycomb_Executor_V1_LocalModel()
            p.model = m.model
            p.slots = Int64(m.slots)
            p.tokensPerSecond = m.tokensPerSecond
            if let q = m.queueLimit { p.queueLimit = Int64(q) }
            return p
        }
    }

    package var body: ExecutorSpecBody {
        ExecutorSpecBody(labels: labels, cpuMillis: cpuMillis, memoryBytes: memoryBytes, slots: slots,
                         localModels: localModels.isEmpty ? nil : localModels.map { m in
                             .init(model: m.model, slots: Int(m.slots), tokensPerSecond: m.tokensPerSecond,
                                   queueLimit: m.hasQueueLimit ? Int(m.queueLimit) : nil)
                         })
    }
}

extension Honeycomb_Executor_V1_Reports {
    package init(_ body: ReportsRequest) {
        self.init()
        reports = body.reports.map { r in
            var p = Honeycomb_Executor_V1_Report()
            p.task = r.task
            p.attempt = Int32(clamping: r.attempt)
            if r.kind == "start" {
                p.start = Honeycomb_Executor_V1_Start()
            } else if r.kind == "result" {
                var result = Honeycomb_Executor_V1_Result()
                result.succeeded = r.succeeded ?? false
                if let output = r.output { result.output = Google_Protobuf_Value(output) }
                p.result = result
            }
            return p
        }
    }

    /// The REST body; a report of neither kind keeps an empty kind, for the contract to refuse.
    package var body: ReportsRequest {
        ReportsRequest(reports: reports.map { r in
            switch r.kind {
            case .start?: .init(task: r.task, attempt: Int(r.attempt), kind: "start")
            case .result(let result)?: .init(task: r.task, attempt: Int(r.attempt), kind: "result", succeeded: result.succeeded,
                                             output: result.hasOutput ? result.output.json : nil)
            case nil: .init(task: r.task, attempt: Int(r.attempt), kind: "")
            }
        })
    }
}

extension Honeycomb_Executor_V1_RouteLLMRequest {
    package init(_ body: LLMRouteBody) {
        self.init()
        executor = body.executor
        model = body.model
        promptTokens = Int64(body.promptTokens)
        maxCompletionTokens = Int64(body.maxCompletionTokens)
        if let e = body.expectedCompletionTokens { expectedCompletionTokens = Int64(e) }
        latencyTargetMs = Int64(body.latencyTargetMs)
        localOnly = body.localOnly ?? false
        allowSmallerModel = body.allowSmallerModel ?? false
    }

    package var body: LLMRouteBody {
        LLMRouteBody(executor: executor, model: model, promptTokens: Int(promptTokens), maxCompletionTokens: Int(maxCompletionTokens),
                     expectedCompletionTokens: hasExpectedCompletionTokens ? Int(expectedCompletionTokens) : nil,
                     latencyTargetMs: Int(latencyTargetMs), localOnly: localOnly, allowSmallerModel: allowSmallerModel)
    }
}

extension Honeycomb_Executor_V1_CompleteLLMRequest {
    package init(call: Int64, _ body: LLMCompletion) {
        self.init()
        self.call = call
        succeeded = body.succeeded
        if let n = body.inputTokens { inputTokens = Int64(n) }
        if let n = body.outputTokens { outputTokens = Int64(n) }
        if let n = body.retryAfterMs { retryAfterMs = Int64(n) }
    }

    package var body: LLMCompletion {
        LLMCompletion(succeeded: succeeded, inputTokens: hasInputTokens ? Int(inputTokens) : nil,
                      outputTokens: hasOutputTokens ? Int(outputTokens) : nil, retryAfterMs: hasRetryAfterMs ? Int(retryAfterMs) : nil)
    }
}
