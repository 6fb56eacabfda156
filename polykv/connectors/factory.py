"""``ConnectionMode`` and ``ConnectorManagerFactory``: the one place a store picks its connection manager."""

from __future__ import annotations

from enum import Enum
from typing import Any

from ..errors import InvalidArgumentError
from .connector import BackendConnectorBase
from .managers import BaseConnectorManager
from .pool import PooledConnectorManager
from .single import SingleConnectorManager

__all__ = ["ConnectionMode", "ConnectorManagerFactory"]


class ConnectionMode(str, Enum):
    """How a store holds its connections: one shared connection, or a bounded pool."""

    SINGLE = "single"
    POOLED = "pooled"

    def __str__(self) -> str:
        return self.value


class ConnectorManagerFactory:
    """Builds the manager for a connection mode (the reference API's entry point)."""

    @staticmethod
    def create_manager(
        connector_class: type[BackendConnectorBase],
        connector_config: dict[str, Any],
        connection_mode: ConnectionMode | str | None = None,
        **kwargs: Any,
    ) -> BaseConnectorManager:
        """``SINGLE`` (the default) -> ``SingleConnectorManager``; ``POOLED`` -> ``PooledConnectorManager``
        with ``max_connections``, ``connection_timeout``, ``idle_timeout`` from ``kwargs``."""
        try:
            mode = ConnectionMode(connection_mode or ConnectionMode.SINGLE)
        except ValueError:
            raise InvalidArgumentError(
                f"connection_mode must be 'single' or 'pooled', got {connection_mode!r}",
                backend=getattr(connector_class, "backend_name", None),
            ) from None
        if mode is ConnectionMode.POOLED:
            return PooledConnectorManager(connector_class, connector_config, **kwargs)
        unknown = set(kwargs) - {"retry"}
        if unknown:
            raise InvalidArgumentError(
                f"options {sorted(unknown)} apply to connection_mode='pooled' only",
                backend=getattr(connector_class, "backend_name", None),
            )
        return SingleConnectorManager(connector_class, connector_config, **kwargs)
