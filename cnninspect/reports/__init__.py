"""Reports: the numbers each command shows, as plain data (the JSON documents)."""
