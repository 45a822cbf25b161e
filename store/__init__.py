"""The store room, below the feature rooms: records and their contract, request states, and the local and
Hub backends every room reads and writes through."""
