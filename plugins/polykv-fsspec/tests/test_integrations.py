"""polykv.integrations.zarr on a real S3 server (SeaweedFS): zarr's StoreTests, and a chunked array reads back."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

pytest.importorskip("zarr")

import numpy as np
import zarr
from s3_fixtures import open_s3, s3_url

from polykv.integrations.zarr import ZarrStore
from polykv.testing.zarr import ZarrStoreTests


def test_zarr_chunked_array_round_trip_on_s3(s3_server, unique: str) -> None:  # type: ignore[no-untyped-def]
    data = np.arange(50 * 24, dtype="int64").reshape(50, 24) * 3
    with open_s3(s3_server, unique, codec="bytes") as s3:
        array = zarr.create_array(ZarrStore(s3), name="runs/r1", shape=data.shape, chunks=(20, 10), dtype="i8")
        array[:] = data
        assert "runs/r1/zarr.json" in s3
        assert len(list(s3.keys_by_prefix("runs/r1/c/"))) == 3 * 3  # one object per chunk

    with ZarrStore(s3_url(s3_server, unique), read_only=True) as reader:  # a new S3 client over the same objects
        np.testing.assert_array_equal(zarr.open_array(reader, path="runs/r1")[:], data)
        assert s3_server.secret_key not in repr(reader)
        copy = pickle.loads(pickle.dumps(reader))
        try:
            np.testing.assert_array_equal(zarr.open_array(copy, path="runs/r1")[7:41, 3:19], data[7:41, 3:19])
        finally:
            copy.close()


class TestZarrStoreTestsS3(ZarrStoreTests):
    """zarr's own StoreTests, the store opened from an s3:// URL in a folder of its own."""

    repr_prefix = "ZarrStore(<S3Store"

    @pytest.fixture
    def store_kwargs(self, s3_server, unique: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        return {"store": s3_url(s3_server, unique)}
