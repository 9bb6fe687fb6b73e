"""tinysip: a memory-lean, sans-IO SIP user agent for MicroPython and CPython."""
