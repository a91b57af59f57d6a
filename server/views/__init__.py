"""Server-rendered pages, one blueprint per audience."""
