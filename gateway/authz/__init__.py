"""Authorization rules, pure: who a caller is and what each role may do.

Nothing here imports gRPC or SQL; the server's edges translate to and from it.
"""
