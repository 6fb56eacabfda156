"""The reference systems' documented names and signatures, mapped onto polykv's own classes.

``polykv.compat.volnux``, ``polykv.compat.polystore``, ``polykv.compat.bigchaindb`` and
``polykv.compat.eric_sse`` let code written for those systems run with only its import line changed.
Nothing here is imported by ``import polykv``; each module is imported on use.
"""
