"""polykv.compat.volnux.HDFSStoreBackend against the real HDFS the session fixture starts."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import pytest

from polykv.compat import volnux
from polykv.errors import RecordExistsError, RecordNotFoundError


@dataclass
class Job(volnux.BackendIntegrationMixin):
    id: str
    state: str


def test_base_path_default_is_the_newer_documents() -> None:
    assert inspect.signature(volnux.HDFSStoreBackend.__init__).parameters["base_path"].default == "/volnux"


def test_hdfs_store_backend_record_api(hdfs_server, unique: str) -> None:  # type: ignore[no-untyped-def]
    backend = volnux.HDFSStoreBackend(host="127.0.0.1", port=hdfs_server.rpc_port, base_path=f"/{unique}")
    with backend as store:
        assert isinstance(store.connector_manager, volnux.SingleConnectorManager)
        store.insert_record("jobs", "a", Job("a", "queued"))
        store.insert_record("jobs", "b", Job("b", "done"))
        with pytest.raises(RecordExistsError):
            store.insert_record("jobs", "a", Job("a", "again"))
        assert store.exists("jobs", "a") and store.count("jobs") == 2
        store.update_record("jobs", "a", Job("a", "running"))
        old = Job("a", "queued")
        store.reload_record("jobs", old)
        assert old.state == "running"
        assert store.filter_record("jobs", Job, state="done") == [Job("b", "done")]
        store.delete_record("jobs", "b")
        with pytest.raises(RecordNotFoundError):
            store.get_record("jobs", Job, "b")
    assert backend.connector_manager is not None and backend.connector_manager.stats()["total"] == 0
