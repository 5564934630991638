//! Persistence for the server (filled by the server issue).
