"""`warung web`: the terminal client `warung` served to web browsers by textual-serve."""
