"""Built-in block types, one module each. They register through the ``waymark.blocks`` entry points in
pyproject.toml, exactly as a third-party package would."""
