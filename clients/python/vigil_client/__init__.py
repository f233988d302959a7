"""A Python client for vigil, written from docs/PROTOCOL.md and web/proto/vigil.ts only."""
from .http import AdminApi, ApiError, HttpClient, ProctorApi, StudentApi
from .server import VigilServer
from .sockets import (Connection, HandshakeRefused, ProctorConnection, StudentConnection,
                      now_ms)
from . import schema

__all__ = ["AdminApi", "ApiError", "HttpClient", "ProctorApi", "StudentApi", "VigilServer",
           "Connection", "HandshakeRefused", "ProctorConnection", "StudentConnection", "now_ms",
           "schema"]
