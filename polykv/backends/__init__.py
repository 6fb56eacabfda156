"""Stores that need no server: memory and sqlite."""
