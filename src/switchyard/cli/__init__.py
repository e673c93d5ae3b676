"""The ``switchyard`` command line: the server, and operator commands acting on the database directly.

One module per command group; ``runtime`` holds what they share (settings, a started container, the CLI
principal) and ``output`` how they print (``--json`` on stdout, errors as one line on stderr).
"""
