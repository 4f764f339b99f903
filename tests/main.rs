//! End-to-end tests: the workspace's crates together, against the real local services
//! that `scripts/test` starts.

mod harness;
