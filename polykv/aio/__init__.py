"""polykv.aio: the asyncio face of polykv (see docs/guide/aio.rst)."""
