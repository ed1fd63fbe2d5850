"""Who may do what: roles, the authorization table and the object rules (pure).

Nothing here imports gRPC or SQL: the server's interceptor
(:mod:`gateway.api.authz`) and the store apply what this package decides.
"""
