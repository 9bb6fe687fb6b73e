"""I/O adapters: the only code in tinysip that touches clocks, sockets, ssl and select."""
