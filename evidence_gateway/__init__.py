"""Generated Python stubs of the gateway's protobuf API (see protos/README.md).

Do not edit: regenerate with `make protos`.
"""
