"""The ``verno`` command line: apply, test, jp, plugins."""
