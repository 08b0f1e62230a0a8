"""The built-in rule-kind plugins: validate, mutate, generate, verifyImages.

Each is declared under the ``verno`` entry-point group exactly as a third-party plugin would be, and imports
only the core (verifyImages also ``verno.registry``), never another rule kind, the server or the CLI; the
import contract in ``pyproject.toml`` checks it (``tests/test_boundaries.py``).
"""
