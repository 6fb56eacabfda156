"""Adapters that plug polykv stores into other projects (dogpile.cache...). Each module imports its
third-party package only when it is imported itself; ``import polykv`` imports none of them."""
