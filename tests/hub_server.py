"""The local Hub the tests use is the product's bundled one (``localhub.server``), with its fault injection."""

from localhub.server import Fault, HubServer, Request

__all__ = ["Fault", "HubServer", "Request"]
