//! saker-core
