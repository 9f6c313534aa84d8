"""``python -m sim`` runs the command line (same as the ``citizensim`` script)."""

from sim.cli import cli

if __name__ == "__main__":  # not when a worker process started with "spawn" imports this module
    cli()
