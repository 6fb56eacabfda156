"""``ConnectionMode`` and ``ConnectorManagerFactory``: the one place a store picks its connection manager."""

from __future__ import annotations

from enum import Enum
from typing import Any

from ..errors import InvalidArgumentError
from ..options import option_error
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

    @classmethod
    def parse(cls, value: object, backend: str | None = None) -> ConnectionMode:
        """``value`` (a mode or its name, ``"single"``/``"pooled"``) as a mode; ``InvalidArgumentError``
        naming ``backend`` otherwise (``InvalidURLError`` when it came from a URL query)."""
        try:
            return cls(value)
        except ValueError:
            raise option_error(
                ["connection_mode"], f"connection_mode must be 'single' or 'pooled', got {value!r}", backend
            ) from None


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
        mode = ConnectionMode.parse(
            connection_mode or ConnectionMode.SINGLE, getattr(connector_class, "backend_name", None)
        )
        if mode is ConnectionMode.POOLED:
            return PooledConnectorManager(connector_class, connector_config, **kwargs)
        unknown = set(kwargs) - {"retry"}
        if unknown:
            raise InvalidArgumentError(
                f"options {sorted(unknown)} apply to connection_mode='pooled' only",
                backend=getattr(connector_class, "backend_name", None),
            )
        return SingleConnectorManager(connector_class, connector_config, **kwargs)
