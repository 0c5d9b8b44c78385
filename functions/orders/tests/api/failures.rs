//! Failure injection: see the issue notes (to come).
