"""Project sessions: tests, lint, typecheck, docs, plugins, bench.

``.ci/run`` runs ``nox -s lint typecheck docs tests`` (``CI_SESSIONS``); plain ``nox`` runs the same four.
``nox -s tests -- tests/test_sqlite.py -x`` runs only the paths given (options alone keep the default paths).
"""

from __future__ import annotations

from pathlib import Path

import nox

#: What CI checks, cheapest first: lint and typecheck fail in seconds, the tests take minutes.
CI_SESSIONS = ["lint", "typecheck", "docs", "tests"]
nox.options.sessions = CI_SESSIONS
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"

ROOT = Path(__file__).parent
#: Parallel test workers. The slow cases wait on servers (HDFS closes a file in about 0.5 s), not on the CPU,
#: so more workers than the CI machine's 2 cores still shorten the run.
WORKERS = 4
PLUGINS = ["plugins/polykv-redis[test]", "plugins/polykv-fsspec[s3,hdfs,test]", "plugins/polykv-postgres[test]"]


def existing_plugins() -> list[str]:
    """Plugin install specs whose folder exists (a plugin is optional until it is added)."""
    return [spec for spec in PLUGINS if (ROOT / spec.split("[")[0]).is_dir()]


def test_paths(session: nox.Session, default: list[str]) -> list[str]:
    """``default`` followed by the session's arguments, unless an argument names a path: then only the arguments."""
    if any(not arg.startswith("-") and Path(arg.split("::")[0]).exists() for arg in session.posargs):
        return list(session.posargs)
    return [*default, *session.posargs]


def install_all(session: nox.Session, *extras: str) -> None:
    names = ",".join(("test", *extras))
    args = ["-e", f".[{names}]"]
    for spec in existing_plugins():
        args += ["-e", spec]
    session.install(*args)


@nox.session
def tests(session: nox.Session) -> None:
    """Every test: core and plugins, against real servers the tests start on 127.0.0.1."""
    session.run("bash", "scripts/system-deps.sh", external=True)
    install_all(session)
    paths = ["tests", "docs/examples", *[f"{spec.split('[')[0]}/tests" for spec in existing_plugins()]]
    session.run("pytest", *workers(session), *test_paths(session, paths))


#: Arguments that need one process: a debugger, or xdist turned off.
ONE_PROCESS = ("--pdb", "--trace", "no:xdist")


def workers(session: nox.Session) -> list[str]:
    """pytest-xdist's options: ``WORKERS`` processes, each test class on one worker (so a class's servers
    start once per worker). Arguments that choose the workers (``-n 0``: one process) or need one process
    (``--pdb``, ``--trace``, ``-p no:xdist``) replace it; ``--dist`` alone keeps ``-n``."""
    args = session.posargs
    if any(arg.startswith(("-n", "--numprocesses")) or arg in ONE_PROCESS for arg in args):
        return []
    if any(arg.startswith("--dist") for arg in args):
        return ["-n", str(WORKERS)]
    return ["-n", str(WORKERS), "--dist", "loadscope"]


@nox.session
def plugins(session: nox.Session) -> None:
    """Only the plugin distributions' tests."""
    session.run("bash", "scripts/system-deps.sh", external=True)
    install_all(session)
    session.run("pytest", *test_paths(session, [f"{spec.split('[')[0]}/tests" for spec in existing_plugins()]))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the whole tree: lint rules, then formatting (checked, not applied)."""
    session.install("ruff>=0.15,<0.18")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the core package and on each plugin package (from its own folder, its own config)."""
    install_all(session, "msgpack")
    session.install("mypy>=1.11", "types-greenlet")
    session.run("mypy", "--strict", "polykv")
    with session.chdir("plugins/polykv-redis"):
        session.run("mypy", "--strict", "polykv_redis")
    with session.chdir("plugins/polykv-fsspec"):  # its test-server scripts and benchmarks too
        session.run("mypy", "--strict", "polykv_fsspec", "scripts", "benchmarks")
    with session.chdir("plugins/polykv-postgres"):  # strict through its own [tool.mypy] config
        session.run("mypy", "--strict", "polykv_postgres")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the Sphinx site with warnings as errors, and run its doctests."""
    install_all(session, "docs")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "doctest", "docs", "docs/_build/doctest")


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmark scripts (they print ratios; they assert nothing about time)."""
    session.run("bash", "scripts/system-deps.sh", external=True)
    install_all(session, "bench")
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("python", str(script))
    for spec in existing_plugins():
        for script in sorted((ROOT / spec.split("[")[0] / "benchmarks").glob("bench_*.py")):
            session.run("python", str(script))
