"""A lean azure-core HTTP transport for the table and queue clients (see ``transport``)."""

from shared.adapters.lean_http.transport import LeanTransport

__all__ = ["LeanTransport"]
