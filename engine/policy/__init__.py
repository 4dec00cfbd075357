"""What audience SQL may not do, as data: the refused-function list both parsers' checks apply."""
