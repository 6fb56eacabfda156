"""``polykv demo``: the main job in one go (KV pairs, records, filters) on a store."""

from __future__ import annotations

import click

from ..context import opened
from ..params import url_option

__all__ = ["demo"]


@click.command()
@url_option
def demo(url: str) -> None:
    """The main job in one go: write KV pairs and records, read them back, filter, print a summary."""
    from dataclasses import dataclass as record_dataclass

    from ...records import Record

    @record_dataclass
    class Book(Record):
        __schema_name__ = "demo-books"
        __record_key__ = "isbn"
        isbn: str
        title: str
        author: str
        year: int

    books = [
        Book("9780141439518", "Pride and Prejudice", "Jane Austen", 1813),
        Book("9780451524935", "Nineteen Eighty-Four", "George Orwell", 1949),
        Book("9780061120084", "To Kill a Mockingbird", "Harper Lee", 1960),
        Book("9780544003415", "The Lord of the Rings", "J. R. R. Tolkien", 1954),
        Book("9780140449136", "Crime and Punishment", "Fyodor Dostoevsky", 1866),
    ]
    with opened(url) as store:
        store.set_many({"demo:greeting": "hello from polykv", "demo:config": {"theme": "dark", "retries": 3}})
        store.set("demo:visits", store.get("demo:visits", 0) + 1)
        for book in books:
            store.save(book)
        greeting = store["demo:greeting"]
        config = store.get("demo:config")
        first = store.get_record("demo-books", Book, books[0].isbn)
        modern = store.filter_record("demo-books", Book, year__gte=1900)
        by_orwell = store.filter_record("demo-books", Book, author__contains="Orwell")
        click.echo(f"store      : {store!r}")
        click.echo(f"kv pairs   : {store.count(prefix='demo:')} under 'demo:': greeting={greeting!r}, config={config}")
        click.echo(f"visits     : {store['demo:visits']} (run the demo again to count up)")
        click.echo(f"records    : {store.count('demo-books')} books in schema 'demo-books'")
        click.echo(f"read back  : {first.title} by {first.author} ({first.year})")
        titles = ", ".join(sorted(b.title for b in modern))
        click.echo(f"filter     : year >= 1900 -> {len(modern)} books: {titles}")
        click.echo(f"filter     : author contains 'Orwell' -> {[b.title for b in by_orwell]}")
        click.echo(f"schemas    : {store.list_schemas()}")
