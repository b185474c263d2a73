//! saker-tasks
