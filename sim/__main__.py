"""``python -m sim`` runs the command line (same as the ``citizensim`` script)."""

from sim.cli import app

app(prog_name="citizensim")
