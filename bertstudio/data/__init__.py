"""Reading the user's files into validated examples: bytes, tables, columns, cleaning, quality findings, the split."""
