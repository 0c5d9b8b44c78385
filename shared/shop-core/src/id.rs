//! Identifiers: UUIDv7, time-ordered, so ids sort by creation.

use uuid::Uuid;

/// A new UUIDv7.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}
