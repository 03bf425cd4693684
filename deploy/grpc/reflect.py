"""A stock gRPC client (Python grpcio with grpcio-reflection, from PyPI) against
`honeycomb serve --grpc-port`, knowing nothing but the address: it lists the services by
server reflection, loads the executor service's descriptors from it (with their imports),
and makes calls with message classes built from them alone.

    python3 deploy/grpc/reflect.py 127.0.0.1:9090 [ENROLLMENT_TOKEN]

Prints one JSON object: the services, the executor service's methods, and what the calls
answered (an enrollment refused for a bad token; with a real enrollment token, the executor
enrolled, registered, and its heartbeat over the Connect stream answered)."""
import json
import sys

import grpc
from google.protobuf import descriptor_pool, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

SERVICE = "honeycomb.executor.v1.ExecutorService"


def main():
    target = sys.argv[1]
    enrollment = sys.argv[2] if len(sys.argv) > 2 else None
    out = {}
    with grpc.insecure_channel(target) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        db = ProtoReflectionDescriptorDatabase(channel)
        out["services"] = sorted(db.get_services())
        pool = descriptor_pool.DescriptorPool(db)
        service = pool.FindServiceByName(SERVICE)
        out["methods"] = {m.name: {"input": m.input_type.full_name, "output": m.output_type.full_name,
                                   "clientStreaming": m.client_streaming, "serverStreaming": m.server_streaming}
                          for m in service.methods}

        def cls(name):
            return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))

        def unary(method, request, token=None):
            m = service.methods_by_name[method]
            call = channel.unary_unary(f"/{SERVICE}/{method}", request_serializer=lambda r: r.SerializeToString(),
                                       response_deserializer=cls(m.output_type.full_name).FromString)
            metadata = [("authorization", f"Bearer {token}")] if token else None
            return call(request, metadata=metadata, timeout=10)

        enroll = cls("honeycomb.executor.v1.EnrollRequest")
        try:
            unary("Enroll", enroll(enrollment_token="hce_not-a-token", name="reflect-bad"))
            out["badEnrollment"] = "accepted"
        except grpc.RpcError as e:
            out["badEnrollment"] = {"code": e.code().name, "details": e.details()}
        try:
            unary("Register", cls("honeycomb.executor.v1.RegisterRequest")(slots=1), token="forged")
            out["forgedRegister"] = "accepted"
        except grpc.RpcError as e:
            out["forgedRegister"] = {"code": e.code().name, "details": e.details()}

        if enrollment:
            enrolled = unary("Enroll", enroll(enrollment_token=enrollment, name="reflect-executor"))
            out["enrolled"] = {"id": enrolled.id, "subject": enrolled.subject}
            register = cls("honeycomb.executor.v1.RegisterRequest")(cpu_millis=1000, memory_bytes=1 << 30, slots=2)
            register.labels["client"] = "python"
            out["registered"] = unary("Register", register, token=enrolled.token).id
            message = cls("honeycomb.executor.v1.ExecutorMessage")
            hello = message(seq=7)
            hello.heartbeat.SetInParent()
            bad = message(seq=8)
            bad.progress.task = 1
            bad.progress.attempt = 1
            bad.progress.fraction = 2.0
            connect = channel.stream_stream(f"/{SERVICE}/Connect", request_serializer=lambda r: r.SerializeToString(),
                                            response_deserializer=cls("honeycomb.executor.v1.PlaneMessage").FromString)
            answers = []
            for answer in connect(iter([hello, bad]), metadata=[("authorization", f"Bearer {enrolled.token}")], timeout=10):
                kind = answer.WhichOneof("kind")
                entry = {"seq": answer.seq, "kind": kind}
                if kind == "heartbeat":
                    entry["reregister"] = answer.heartbeat.reregister
                if kind == "problem":
                    entry["status"] = answer.problem.status
                    entry["detail"] = answer.problem.detail
                answers.append(entry)
            out["stream"] = sorted(answers, key=lambda a: a["seq"])
    print(json.dumps(out, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
