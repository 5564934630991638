//! Investigation modules (filled by the file-module issue).
