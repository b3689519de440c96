"""An example third-party block package for Waymark (see docs/block-authors.md)."""
