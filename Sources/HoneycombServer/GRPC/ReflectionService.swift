import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import HoneycombGRPC
import ServiceLifecycle
import SwiftProtobuf

/// gRPC server reflection (v1alpha, what stock clients ask for): the services served, and
/// the file descriptors (each with the files it imports, transitively) that define a symbol
/// or bear a name, from the descriptor set `deploy/proto/generate.sh` embedded.
struct ReflectionService: Grpc_Reflection_V1alpha_ServerReflection.ServiceProtocol {
    typealias Request = Grpc_Reflection_V1alpha_ServerReflectionRequest
    typealias Response = Grpc_Reflection_V1alpha_ServerReflectionResponse

    /// Each file's serialized descriptor and the names of the files it imports.
    let files: [String: (bytes: Data, imports: [String])]
    /// The file defining each fully qualified symbol: packages' services, methods, messages
    /// (nested too), enums and fields.
    let symbols: [String: String]
    /// The fully qualified names of the services served.
    let services: [String]

    init(services: [String]) throws {
        guard let data = Data(base64Encoded: descriptorSetBase64) else { throw ServeError("the embedded descriptor set is not base64") }
        let set = try Google_Protobuf_FileDescriptorSet(serializedBytes: data)
        var files: [String: (Data, [String])] = [:]
        var symbols: [String: String] = [:]
        for file in set.file {
            files[file.name] = (try file.serializedData(), file.dependency)
            let prefix = file.package.isEmpty ? "" : file.package + "."
            func add(_ message: Google_Protobuf_DescriptorProto, _ scope: String) {
                let name = scope + message.name
                symbols[name] = file.name
                for f in message.field { symbols[name + "." + f.name] = file.name }
                for e in message.enumType { symbols[name + "." + e.name] = file.name }
                for n in message.nestedType { add(n, name + ".") }
            }
            for m in file.messageType { add(m, prefix) }
            for e in file.enumType { symbols[prefix + e.name] = file.name }
            for s in file.service {
                symbols[prefix + s.name] = file.name
                for m in s.method { symbols[prefix + s.name + "." + m.name] = file.name }
            }
        }
        for s in services where symbols[s] == nil { throw ServeError("the descriptor set does not define the service \(s)") }
        self.files = files
        self.symbols = symbols
        self.services = services
    }

    func serverReflectionInfo(request: StreamingServerRequest<Request>,
                              context: ServerContext) async throws -> StreamingServerResponse<Response> {
        StreamingServerResponse { writer in
            for try await r in request.messages { try await writer.write(answer(r)) }
            return [:]
        }
    }

    func answer(_ request: Request) -> Response {
        var out = Response()
        out.validHost = request.host
        out.originalRequest = request
        switch request.messageRequest {
        case .listServices?:
            var list = Grpc_Reflection_V1alpha_ListServiceResponse()
            list.service = services.map { var s = Grpc_Reflection_V1alpha_ServiceResponse(); s.name = $0; return s }
            out.listServicesResponse = list
        case .fileByFilename(let name)?:
            out.messageResponse = files[name] == nil ? notFound("no file \(name)") : descriptors(from: name)
        case .fileContainingSymbol(let symbol)?:
            out.messageResponse = symbols[symbol].map(descriptors(from:)) ?? notFound("no symbol \(symbol)")
        case .fileContainingExtension(let e)?:
            out.messageResponse = notFound("no extension \(e.extensionNumber) of \(e.containingType): these files declare none")
        case .allExtensionNumbersOfType(let type)?:
            if symbols[type] == nil {
                out.messageResponse = notFound("no type \(type)")
            } else {
                var numbers = Grpc_Reflection_V1alpha_ExtensionNumberResponse()
                numbers.baseTypeName = type
                out.allExtensionNumbersResponse = numbers
            }
        case nil:
            var e = Grpc_Reflection_V1alpha_ErrorResponse()
            e.errorCode = Int32(RPCError.Code.invalidArgument.rawValue)
            e.errorMessage = "the request asks nothing"
            out.errorResponse = e
        }
        return out
    }

    /// A file and every file it imports, transitively, the file itself first.
    func descriptors(from name: String) -> Response.OneOf_MessageResponse {
        var seen: Set<String> = []
        var order: [String] = []
        var stack = [name]
        while let next = stack.popLast() {
            guard seen.insert(next).inserted, let file = files[next] else { continue }
            order.append(next)
            stack.append(contentsOf: file.imports.reversed())
        }
        var response = Grpc_Reflection_V1alpha_FileDescriptorResponse()
        response.fileDescriptorProto = order.compactMap { files[$0]?.bytes }
        return .fileDescriptorResponse(response)
    }

    func notFound(_ message: String) -> Response.OneOf_MessageResponse {
        var e = Grpc_Reflection_V1alpha_ErrorResponse()
        e.errorCode = Int32(RPCError.Code.notFound.rawValue)
        e.errorMessage = message
        return .errorResponse(e)
    }
}

/// The gRPC server (executor service and reflection) as a service of the application's group,
/// beside the HTTP server: on SIGTERM it stops taking calls and lets those in hand finish.
struct GRPCService: Service {
    let service: HoneycombService
    let port: Int

    func run() async throws {
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: service.config.host, port: port), transportSecurity: .plaintext,
            config: .defaults {
                // A reports message carries up to 1,000 reports, as REST's 8 MiB body does.
                $0.rpc.maxRequestPayloadSize = 8 << 20
                // A connection without calls is closed after `--idle-timeout`, as HTTP's are; one
                // whose peer went silent (a machine gone without a reset) is pinged after 30 s
                // and closed 20 s later, ending its stream.
                $0.connection.maxIdleTime = .nanoseconds(Int64(service.config.idleTimeout * 1e9))
                $0.connection.keepalive.time = .seconds(30)
            })
        let server = GRPCServer(transport: transport, services: [
            ExecutorGRPCService(service: service),
            try ReflectionService(services: [Honeycomb_Executor_V1_ExecutorService.descriptor.fullyQualifiedService,
                                             Grpc_Reflection_V1alpha_ServerReflection.descriptor.fullyQualifiedService]),
        ])
        service.logger.info("gRPC (executors, reflection) on \(service.config.host):\(port)")
        try await withGracefulShutdownHandler {
            try await server.serve()
        } onGracefulShutdown: {
            server.beginGracefulShutdown()
        }
    }
}
