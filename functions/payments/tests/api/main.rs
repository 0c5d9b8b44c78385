//! Black-box tests of the payments function (see the modules).
#![allow(clippy::unwrap_used, clippy::expect_used)]
