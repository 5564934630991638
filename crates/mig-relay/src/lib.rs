//! How commands, results and heartbeats travel between the platform and agents (filled by the server and scale-out issues).
