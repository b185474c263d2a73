//! Several executors in one process on the in-memory store and inbox (the PostgreSQL run of
//! the same scenario is in `saker-queue-pg`).

use std::sync::Arc;

use saker_storage::MemoryStore;
use saker_task::memory::{MemoryKvStore, MemoryStorage};

use crate::Runtime;
use crate::inbox::MemoryInbox;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_executors_share_the_executions_and_take_over_a_dead_one() {
    let rt = Runtime::new(
        Arc::new(MemoryStore::new()),
        Arc::new(MemoryStorage::new()),
        Arc::new(MemoryKvStore::new()),
    );
    crate::inbox::suite::two_executors(rt, Arc::new(MemoryInbox::new())).await;
}
