"""Connectors and connection managers shared by every networked backend.

A *connector* (``BackendConnectorBase`` subclass) knows how to open one connection (or one client that pools
by itself) to a server. A *manager* hands connections to callers: ``SingleConnectorManager`` keeps one,
``PooledConnectorManager`` keeps up to ``max_connections``. ``ConnectorManagerFactory.create_manager`` picks
one by ``ConnectionMode``. Managers retry only transient faults (refused/reset connections, timeouts), with
bounded backoff (``RetryPolicy``), and turn an unreachable server into ``BackendUnavailableError`` within
one total deadline. This package imports no client library: it is the core's, and the core has no server
dependency.

Every name is importable from here; each lives in the module of its job:

* ``polykv.connectors.secret``: ``Secret``, a credential that never prints;
* ``polykv.connectors.retry``: ``RetryPolicy``, tries, backoff and the total deadline;
* ``polykv.connectors.connector``: ``BackendConnectorBase``, what a backend implements;
* ``polykv.connectors.managers``: ``BaseConnectorManager``, check-out/check-in and the retry loop;
* ``polykv.connectors.single``: ``SingleConnectorManager``;
* ``polykv.connectors.pool``: ``PooledConnectorManager``;
* ``polykv.connectors.factory``: ``ConnectionMode`` and ``ConnectorManagerFactory``.
"""

from __future__ import annotations

from .connector import BackendConnectorBase
from .factory import ConnectionMode, ConnectorManagerFactory
from .managers import BaseConnectorManager
from .pool import PooledConnectorManager
from .retry import RetryPolicy
from .secret import Secret
from .single import SingleConnectorManager

__all__ = [
    "BackendConnectorBase",
    "BaseConnectorManager",
    "ConnectionMode",
    "ConnectorManagerFactory",
    "PooledConnectorManager",
    "RetryPolicy",
    "Secret",
    "SingleConnectorManager",
]
