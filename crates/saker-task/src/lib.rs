//! saker-task
