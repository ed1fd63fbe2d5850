"""Generated protobuf and gRPC modules of package ``evidence_gateway.v1``.

Do not edit: regenerate with `make protos`.
"""
