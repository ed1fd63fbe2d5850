"""The gRPC edge of the gateway: servicers, protobuf conversion and error mapping.

Servicers validate a request, call the ledger and build the response; nothing
more. Generated ``*_pb2`` types do not go past this package.
"""
